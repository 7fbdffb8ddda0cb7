"""Batch LLM research (job M2): one symbol's multi-role research, stored in ``analysis_reports``.

The ``analysis_pipeline`` DAG maps one task per symbol (in its provider's pool, within the run's
budget: ``llm.budget``) onto :func:`run_stock_research`. Per symbol: read the inputs from the store (``context``), run the
rounds the depth prescribes (``params.DEPTHS``) — analysts → bull/bear debate → research manager
→ trader → aggressive/conservative/neutral risk rounds → final decision — and upsert one
document. The number of LLM calls is ``6 + 2 × debate_rounds + 3 × risk_rounds`` (no retries
counted), so the cost of a batch is known before it starts.

Idempotent: ``analysis_id`` is derived from (symbol, analysis_date, provider, depth), so a retried
or re-run task overwrites its document; ``created_at`` keeps the first write's time.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.llm import prompts
from ta_scheduler.llm.base import ChatModel
from ta_scheduler.llm.config import ProviderSettings, provider_settings
from ta_scheduler.llm.context import ResearchContext, load_research_context, render_data_block, volatility_risk_level
from ta_scheduler.llm.params import DEPTHS, DepthPlan, split_symbol, validate_research_params
from ta_scheduler.llm.parsing import parse_decision

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

ANALYSTS = ("market", "fundamentals", "news")
#: ``decision.risk_score`` (0-1) of each of TradingAgents-CN's risk levels.
RISK_SCORES = {"低": 0.1, "中低": 0.3, "中等": 0.5, "中高": 0.7, "高": 0.9}
#: Sampling temperature and completion cap (tokens) per kind of call.
ANALYST_TEMPERATURE, DEBATE_TEMPERATURE, DECISION_TEMPERATURE = 0.3, 0.5, 0.1
REPORT_MAX_TOKENS, DECISION_MAX_TOKENS = 1200, 1500
DEFAULT_CONFIDENCE = 0.5  # stored when the model named an action but no confidence (decision.parsed_from=keywords)


@dataclass
class CallLog:
    """Usage of the LLM calls of one research, in call order."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(s["prompt_tokens"] for s in self.steps)

    @property
    def completion_tokens(self) -> int:
        return sum(s["completion_tokens"] for s in self.steps)

    def by_model(self) -> dict[str, int]:
        return dict(Counter(s["model"] for s in self.steps))


@dataclass
class LLMResearch:
    """Sections (``reports``) and parsed decision of one LLM research."""

    reports: dict[str, str]
    decision: dict[str, Any]
    calls: CallLog


class _Session:
    """Asks the model for one step at a time and logs progress (done/total, elapsed, ETA)."""

    def __init__(self, chat: ChatModel, code: str, total: int, calls: CallLog | None = None) -> None:
        self.chat, self.code, self.total = chat, code, total
        self.calls = calls if calls is not None else CallLog()
        self.started = time.monotonic()

    def ask(self, step: str, role: str, user: str, *, model: str, temperature: float, max_tokens: int) -> str:
        t0 = time.monotonic()
        res = self.chat.chat(prompts.messages(role, user), model=model, temperature=temperature, max_tokens=max_tokens)
        took = time.monotonic() - t0
        self.calls.steps.append(
            {
                "step": step,
                "model": res.model,
                "prompt_tokens": res.prompt_tokens,
                "completion_tokens": res.completion_tokens,
                "seconds": round(took, 3),
            }
        )
        done = len(self.calls.steps)
        elapsed = time.monotonic() - self.started
        log.info(
            "%s [%d/%d] %s (%s): %.1f s, %d tokens; elapsed %.0f s, ETA %.0f s",
            self.code, done, self.total, step, model, took, res.total_tokens,
            elapsed, elapsed / done * (self.total - done),
        )  # fmt: skip
        return res.text


def run_llm_research(
    chat: ChatModel, ctx: ResearchContext, plan: DepthPlan, *, quick_model: str, deep_model: str,
    calls: CallLog | None = None,
) -> LLMResearch:
    """The multi-role research of one stock; makes exactly ``plan.llm_calls`` successful calls.

    Each call's usage is appended to ``calls`` as it returns, so a caller that passes its own
    log still knows what a research that failed half-way used.
    """
    s = _Session(chat, ctx.code, plan.llm_calls, calls)
    data = render_data_block(ctx)
    reports: dict[str, str] = {}
    for analyst in ANALYSTS:
        role = f"{analyst}_analyst"
        reports[f"{analyst}_report"] = s.ask(
            role, role, prompts.analyst_prompt(role, data),
            model=quick_model, temperature=ANALYST_TEMPERATURE, max_tokens=REPORT_MAX_TOKENS,
        )  # fmt: skip

    debate: list[str] = []
    by_role: dict[str, list[str]] = {}  # TradingAgents-CN's per-role report keys
    for r in range(1, plan.debate_rounds + 1):
        for side, title in (("bull", "多头"), ("bear", "空头")):
            text = s.ask(
                f"{side}_round{r}", f"{side}_researcher",
                prompts.debate_prompt(side, data, reports, debate, r, plan.debate_rounds),
                model=quick_model, temperature=DEBATE_TEMPERATURE, max_tokens=REPORT_MAX_TOKENS,
            )  # fmt: skip
            debate.append(f"【第{r}轮 {title}】{text}")
            by_role.setdefault(f"{side}_researcher", []).append(f"【第{r}轮】{text}")
    reports["investment_debate"] = "\n\n".join(debate)
    reports["investment_plan"] = s.ask(
        "research_manager", "research_manager", prompts.manager_prompt(data, reports, reports["investment_debate"]),
        model=deep_model, temperature=ANALYST_TEMPERATURE, max_tokens=REPORT_MAX_TOKENS,
    )  # fmt: skip
    reports["trader_investment_plan"] = s.ask(
        "trader", "trader", prompts.trader_prompt(data, reports["investment_plan"]),
        model=quick_model, temperature=ANALYST_TEMPERATURE, max_tokens=REPORT_MAX_TOKENS,
    )  # fmt: skip

    risk: list[str] = []
    for r in range(1, plan.risk_rounds + 1):
        for stance, title in (("risky_analyst", "激进"), ("safe_analyst", "保守"), ("neutral_analyst", "中性")):
            text = s.ask(
                f"{stance}_round{r}", stance,
                prompts.risk_prompt(stance, data, reports["trader_investment_plan"], risk, r, plan.risk_rounds),
                model=quick_model, temperature=DEBATE_TEMPERATURE, max_tokens=REPORT_MAX_TOKENS,
            )  # fmt: skip
            risk.append(f"【第{r}轮 {title}】{text}")
            by_role.setdefault(stance, []).append(f"【第{r}轮】{text}")
    reports["risk_debate"] = "\n\n".join(risk)
    decision_user = prompts.decision_prompt(
        data, reports["investment_plan"], reports["trader_investment_plan"], reports["risk_debate"]
    )
    final = s.ask(
        "risk_manager", "risk_manager", decision_user,
        model=deep_model, temperature=DECISION_TEMPERATURE, max_tokens=DECISION_MAX_TOKENS,
    )  # fmt: skip
    reports["final_trade_decision"] = final
    reports.update({role: "\n\n".join(texts) for role, texts in by_role.items()})
    reports["research_team_decision"] = reports["investment_plan"]
    reports["risk_management_decision"] = final
    return LLMResearch(reports=reports, decision=parse_decision(final), calls=s.calls)


def analysis_id_for(symbol: str, analysis_date: str, llm_provider: str, research_depth: int) -> str:
    """The document key: one report per (symbol, date, provider, depth), e.g. ``600000_20261127_dashscope_d3``."""
    code, _ = split_symbol(symbol)
    return f"{code}_{analysis_date.replace('-', '')}_{llm_provider}_d{research_depth}"


def resolve_models(
    plan: DepthPlan, settings: ProviderSettings, quick_model: str | None, deep_model: str | None
) -> tuple[str, str]:
    """(quick, deep) model names: run params, else configured overrides, else the depth table."""
    return (
        quick_model or settings.quick_model or plan.quick_models[settings.provider],
        deep_model or settings.deep_model or plan.deep_models[settings.provider],
    )


def _clip(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def run_stock_research(
    db: Database,
    symbol: str,
    *,
    analysis_date: str,
    llm_provider: str,
    research_depth: int,
    quick_model: str | None = None,
    deep_model: str | None = None,
    run_id: str | None = None,
    call_log: CallLog | None = None,
) -> dict[str, Any]:
    """Research one stock as of ``analysis_date`` (``YYYY-MM-DD``) and upsert its ``analysis_reports``
    document. Returns a small summary for XCom: symbol, analysis_id, decision, confidence,
    tokens_used, llm_calls, cost_yuan. ``call_log`` (optional) receives every call's usage as it
    happens (``llm.budget`` settles a failed attempt's spend from it).

    Raises ValueError for bad params, ``NoMarketDataError`` when the store has no bars for the
    symbol, ``LLMAuthError`` (fails the task without retries) for a missing or refused key, and
    ``LLMRetryableError`` when rate limits or server errors outlast the retry policy.
    """
    validate_research_params([symbol], llm_provider, research_depth)
    try:
        valid_date = len(analysis_date) == 10 and date.fromisoformat(analysis_date).isoformat() == analysis_date
    except (TypeError, ValueError):
        valid_date = False
    if not valid_date:
        raise ValueError(f"analysis_date {analysis_date!r} is not a YYYY-MM-DD date")
    started = time.monotonic()
    plan = DEPTHS[research_depth]
    ctx = load_research_context(db, symbol, analysis_date)
    settings = None if llm_provider == "offline" else provider_settings(llm_provider)
    if settings is None:
        quick, deep = "rule-based", "rule-based"
    else:
        quick, deep = resolve_models(plan, settings, quick_model, deep_model)
    log.info(
        "%s %s: research depth %d (%s) with %s (quick %s, deep %s), %d LLM calls planned",
        ctx.code, analysis_date, research_depth, plan.label, llm_provider, quick, deep,
        0 if llm_provider == "offline" else plan.llm_calls,
    )  # fmt: skip

    if llm_provider == "offline":
        from ta_scheduler.llm.offline import offline_research

        off = offline_research(ctx)
        reports, decision, calls = off.reports, off.decision, CallLog()
        model_info = {"provider": "offline", "quick_model": quick, "deep_model": deep, "method": "rule-based"}
        summary_prefix = "【离线规则分析】"
    else:
        from ta_scheduler.llm.clients import chat_model

        chat = chat_model(llm_provider, settings=settings)
        research = run_llm_research(chat, ctx, plan, quick_model=quick, deep_model=deep, calls=call_log)
        reports, decision, calls = research.reports, research.decision, research.calls
        model_info = {"provider": llm_provider, "quick_model": quick, "deep_model": deep, "method": "llm"}
        summary_prefix = ""

    confidence = decision["confidence"] if decision.get("confidence") is not None else DEFAULT_CONFIDENCE
    risk_level = decision.get("risk_level") or volatility_risk_level(ctx)
    key_points = decision.get("key_points") or [
        _clip(reports[k], 60) for k in ("market_report", "fundamentals_report", "news_report")
    ]
    reasoning = decision.get("reasoning") or ""
    target = decision.get("target_price")
    target_text = f"，目标价 {target:.2f} 元" if target else ""
    summary = _clip(
        f"{summary_prefix}{ctx.name}（{ctx.ts_code}）{analysis_date}：{decision['action']}{target_text}，"
        f"置信度 {confidence:.0%}，风险{risk_level}。{reasoning}",
        300,
    )
    tokens_used = calls.prompt_tokens + calls.completion_tokens
    analysis_id = analysis_id_for(ctx.code, analysis_date, llm_provider, research_depth)
    doc: dict[str, Any] = {
        "analysis_id": analysis_id,
        "stock_symbol": ctx.code,
        "ts_code": ctx.ts_code,
        "stock_name": ctx.name,
        "market_type": "A股",
        "analysis_date": analysis_date,
        "summary": summary,
        "reports": reports,
        "decision": {**decision, "confidence": confidence, "risk_score": RISK_SCORES[risk_level]},
        "recommendation": _clip(f"{decision['action']}{target_text}。{reasoning}", 200),
        "confidence_score": confidence,
        "risk_level": risk_level,
        "key_points": key_points,
        "analysts": list(ANALYSTS),
        "research_depth": research_depth,
        "depth_label": plan.label,
        "debate_rounds": plan.debate_rounds,
        "risk_rounds": plan.risk_rounds,
        "model_info": deep,  # a model name, as TradingAgents-CN stores it; the full set is under "models"
        "models": model_info,
        "llm_provider": llm_provider,
        "tokens_used": tokens_used,
        "llm_calls": len(calls.steps),
        "llm_calls_by_model": calls.by_model(),
        "execution_time": round(time.monotonic() - started, 3),
        "status": "completed",
        "data_source": ctx.data_source,
        "data_as_of": ctx.data_as_of,
        "inputs": {
            "bars": len(ctx.bars),
            "indicators_date": ctx.indicators_date,
            "financials_period": ctx.financials_period,
            "news": len(ctx.news),
        },
        "source": "airflow",
        "run_id": run_id,
        "task_id": run_id,
    }
    from ta_scheduler.llm.pricing import load_prices, usage_from_steps

    doc.update(usage_from_steps(calls.steps, llm_provider, load_prices()))  # token_usage, cost
    from ta_scheduler.storage.writes import write_docs

    write_docs(db[C.ANALYSIS_REPORTS], [doc], created_field="created_at", natural_ids=False)
    log.info(
        "%s %s: %s (confidence %.2f, risk %s), %d calls, %d tokens, %.1f s -> analysis_reports %s",
        ctx.code, analysis_date, decision["action"], confidence, risk_level, len(calls.steps), tokens_used,
        doc["execution_time"], analysis_id,
    )  # fmt: skip
    return {
        "symbol": ctx.code,
        "analysis_id": analysis_id,
        "decision": decision["action"],
        "action": decision["action_en"],
        "confidence": confidence,
        "risk_level": risk_level,
        "tokens_used": tokens_used,
        "llm_calls": len(calls.steps),
        "cost_yuan": doc["cost"]["yuan"],
    }
