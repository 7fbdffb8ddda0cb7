"""Chinese prompts for each role of the research workflow (TradingAgents style).

Every system prompt opens with ``你是<role>`` and asks for a focused Chinese report; every user
prompt carries the shared data block (``context.render_data_block``) plus the earlier reports the
role builds on, each cut to ``EXCERPT_CHARS`` so prompts stay compact at depth 5.
"""

from __future__ import annotations

EXCERPT_CHARS = 1200

_COMMON = "请使用简体中文，基于给定数据作答，不要编造数据中没有的数字；篇幅控制在300字以内。"

SYSTEM = {
    "market_analyst": "你是市场分析师，负责A股技术面分析：根据均线排列判断趋势，根据MACD、RSI、KDJ判断动量与超买超卖，"
    "结合布林带与ATR评估波动，结合量能判断资金参与度，给出支撑位与压力位。" + _COMMON,
    "fundamentals_analyst": "你是基本面分析师，负责评估公司估值（PE、PB、市值）与财务质量（盈利能力、成长性、偿债能力、现金流），"
    "判断估值相对合理区间的位置。" + _COMMON,
    "news_analyst": "你是新闻分析师，负责解读与该股相关的近期新闻与公告，判断舆情倾向（正面/中性/负面）及可能的股价影响。" + _COMMON,
    "bull_researcher": "你是多头研究员，请基于分析师报告为买入该股构建有力论证，并正面回应空头的观点。" + _COMMON,
    "bear_researcher": "你是空头研究员，请基于分析师报告指出该股的风险与高估之处，并正面回应多头的观点。" + _COMMON,
    "research_manager": "你是研究经理，负责主持多空辩论：权衡双方论据，给出明确的投资倾向（买入/持有/卖出）与投资计划。" + _COMMON,
    "trader": "你是交易员，请把研究经理的投资计划落实为具体交易计划：方向、仓位比例、入场区间、止损与止盈价位。" + _COMMON,
    "risky_analyst": "你是激进风险分析师，在风险讨论中强调收益机会，论证更积极的仓位与操作。" + _COMMON,
    "safe_analyst": "你是保守风险分析师，在风险讨论中强调下行风险与资金安全，论证更谨慎的仓位与止损。" + _COMMON,
    "neutral_analyst": "你是中性风险分析师，在风险讨论中平衡机会与风险，提出折中的仓位与风控方案。" + _COMMON,
    "risk_manager": "你是风险经理，负责综合交易计划与风险讨论做出最终交易决策，并严格按要求输出JSON。",
}

ANALYST_TASK = {
    "market_analyst": "请撰写技术面分析报告。",
    "fundamentals_analyst": "请撰写基本面分析报告。",
    "news_analyst": "请撰写新闻舆情分析报告。",
}

DECISION_FORMAT = (
    "请在报告最后给出一个```json代码块，字段如下：\n"
    '{"action": "买入|持有|卖出", "target_price": 目标价（元，数字，可为null）, '
    '"confidence": 置信度（0到1之间的小数）, "risk_level": "低|中低|中等|中高|高", '
    '"reasoning": "决策理由（100字以内）", "key_points": ["要点1", "要点2", "要点3"]}'
)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` cut to ``limit`` characters (marked), so later prompts do not grow without bound."""
    return text if len(text) <= limit else text[:limit] + "……（节选）"


def messages(role: str, user: str) -> list[dict[str, str]]:
    """System + user messages for ``role`` (a key of :data:`SYSTEM`)."""
    return [{"role": "system", "content": SYSTEM[role]}, {"role": "user", "content": user}]


def analyst_prompt(role: str, data: str) -> str:
    return f"{data}\n\n{ANALYST_TASK[role]}"


def reports_block(reports: dict[str, str]) -> str:
    titles = {"market_report": "技术面报告", "fundamentals_report": "基本面报告", "news_report": "新闻舆情报告"}
    return "\n\n".join(f"【{titles[k]}】\n{excerpt(v)}" for k, v in reports.items() if k in titles)


def debate_prompt(side: str, data: str, reports: dict[str, str], history: list[str], round_no: int, rounds: int) -> str:
    last = f"\n\n【辩论记录】\n{excerpt(chr(10).join(history), EXCERPT_CHARS * 2)}" if history else ""
    who = "多头" if side == "bull" else "空头"
    return f"{data}\n\n{reports_block(reports)}{last}\n\n这是第{round_no}/{rounds}轮多空辩论，请发表{who}观点。"


def manager_prompt(data: str, reports: dict[str, str], debate: str) -> str:
    return (
        f"{data}\n\n{reports_block(reports)}\n\n【多空辩论】\n{excerpt(debate, EXCERPT_CHARS * 2)}\n\n"
        "请评判辩论并给出投资计划，明确写出倾向：买入、持有或卖出。"
    )


def trader_prompt(data: str, plan: str) -> str:
    return f"{data}\n\n【研究经理投资计划】\n{excerpt(plan)}\n\n请制定交易计划。"


def risk_prompt(stance: str, data: str, trader_plan: str, history: list[str], round_no: int, rounds: int) -> str:
    last = f"\n\n【风险讨论记录】\n{excerpt(chr(10).join(history), EXCERPT_CHARS * 2)}" if history else ""
    name = {"risky_analyst": "激进", "safe_analyst": "保守", "neutral_analyst": "中性"}[stance]
    return f"{data}\n\n【交易计划】\n{excerpt(trader_plan)}{last}\n\n这是第{round_no}/{rounds}轮风险讨论，请发表{name}立场的意见。"


def decision_prompt(data: str, plan: str, trader_plan: str, risk_debate: str) -> str:
    return (
        f"{data}\n\n【投资计划】\n{excerpt(plan)}\n\n【交易计划】\n{excerpt(trader_plan)}\n\n"
        f"【风险讨论】\n{excerpt(risk_debate, EXCERPT_CHARS * 2)}\n\n"
        f"请做出最终交易决策（最终交易建议：买入、持有或卖出）。{DECISION_FORMAT}"
    )
