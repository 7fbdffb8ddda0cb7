"""The ``offline`` provider: a rule-based research report computed from the numbers, no LLM.

For deployments without an LLM key and for demos: the same document shape as LLM research, but
every section is built from explicit rules and says so (``models.provider == "offline"``,
``method == "rule-based"``, and the summary opens with 【离线规则分析】). Rules, each scoring −2…+2:

- trend: close vs MA5/MA20/MA60 (indicator fields when present, else computed from the
  forward-adjusted closes); full bullish alignment +2, full bearish −2, otherwise ±1 by MA20;
- momentum: MACD DIF vs DEA (±1) and RSI overbought ≥70 (−1) / oversold ≤30 (+1);
- valuation: PE(TTM) ≤0 (loss) −1, <15 +1, >60 −1; PB >8 −0.5;
- news tone: mean lexicon score of recent news, > 0.2 → +1, < −0.2 → −1.

Sum ≥ 2 → 买入, ≤ −2 → 卖出, else 持有; confidence = min(0.9, 0.5 + 0.1 × |sum|); risk level from
annualised volatility (< 25 % 低, < 45 % 中, else 高).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from ta_scheduler.llm.context import ResearchContext, volatility_risk_level
from ta_scheduler.llm.parsing import ACTIONS_EN

OFFLINE_LABEL = "【离线规则分析，非大模型生成】"

POSITIVE_WORDS = (
    "利好", "增长", "上涨", "大涨", "涨停", "突破", "超预期", "中标", "回购", "增持", "创新高", "盈利", "扭亏",
    "签约", "分红", "获批", "提升", "强劲", "景气", "订单",
)  # fmt: skip
NEGATIVE_WORDS = (
    "利空", "下跌", "大跌", "跌停", "亏损", "处罚", "减持", "违规", "下滑", "暴跌", "退市", "立案", "诉讼",
    "风险提示", "问询", "质押", "预亏", "下调", "爆雷", "停产",
)  # fmt: skip


def text_tone(text: str) -> float:
    """Lexicon tone of one text in [-1, 1]: (positive − negative hits) / all hits, 0 without hits."""
    pos = sum(text.count(w) for w in POSITIVE_WORDS)
    neg = sum(text.count(w) for w in NEGATIVE_WORDS)
    return 0.0 if pos + neg == 0 else (pos - neg) / (pos + neg)


def _indicator(ctx: ResearchContext, *names: str) -> float | None:
    lowered = {k.lower(): v for k, v in ctx.indicators.items()}
    for n in names:
        if n in lowered:
            return lowered[n]
    return None


def _sma(values: list[float], n: int) -> float | None:
    return statistics.fmean(values[-n:]) if len(values) >= n else None


def _ema(values: list[float], n: int) -> list[float]:
    k = 2 / (n + 1)
    out = [values[0]]
    for v in values[1:]:
        out.append(out[-1] + k * (v - out[-1]))
    return out


def _rsi(values: list[float], n: int = 14) -> float | None:
    if len(values) <= n:
        return None
    diffs = [b - a for a, b in zip(values[:-1], values[1:], strict=True)][-n:]
    gain = sum(d for d in diffs if d > 0) / n
    loss = -sum(d for d in diffs if d < 0) / n
    return 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)


@dataclass
class OfflineResearch:
    """Sections, decision and the per-rule scores behind it."""

    reports: dict[str, str]
    decision: dict[str, Any]
    risk_level: str
    key_points: list[str]
    scores: dict[str, float] = field(default_factory=dict)


def _trend(close: float, closes: list[float], ctx: ResearchContext) -> tuple[float, str]:
    """Trend score and its sentence: close against MA5/MA20/MA60."""
    ma = {n: _indicator(ctx, f"ma{n}", f"ma_{n}") or _sma(closes, n) for n in (5, 20, 60)}
    ma5, ma20, ma60 = ma[5], ma[20], ma[60]
    if ma5 and ma20 and ma60 and close > ma5 > ma20 > ma60:
        return 2.0, "均线多头排列（收盘>MA5>MA20>MA60），趋势向上"
    if ma5 and ma20 and ma60 and close < ma5 < ma20 < ma60:
        return -2.0, "均线空头排列（收盘<MA5<MA20<MA60），趋势向下"
    if ma20:
        return (1.0 if close > ma20 else -1.0,
                f"收盘价{'高于' if close > ma20 else '低于'}MA20，趋势{'偏强' if close > ma20 else '偏弱'}")
    return 0.0, "K线不足20日，趋势无法判断"


def _momentum(closes: list[float], ctx: ResearchContext) -> tuple[float, list[str]]:
    """Momentum score and its phrases: MACD DIF against DEA, RSI overbought / oversold."""
    dif = _indicator(ctx, "macd_dif", "dif")
    dea = _indicator(ctx, "macd_dea", "dea", "macd_signal")
    if (dif is None or dea is None) and len(closes) >= 26:
        dif_series = [a - b for a, b in zip(_ema(closes, 12), _ema(closes, 26), strict=True)]
        dif, dea = dif_series[-1], _ema(dif_series, 9)[-1]
    rsi = _indicator(ctx, "rsi6", "rsi_6", "rsi12", "rsi_12", "rsi14", "rsi_14") or _rsi(closes)
    momentum, parts = 0.0, []
    if dif is not None and dea is not None:
        momentum += 1 if dif > dea else -1
        parts.append(f"MACD DIF {dif:.3f} {'高于' if dif > dea else '低于'} DEA {dea:.3f}")
    if rsi is not None:
        if rsi >= 70:
            momentum -= 1
            parts.append(f"RSI {rsi:.1f} 超买")
        elif rsi <= 30:
            momentum += 1
            parts.append(f"RSI {rsi:.1f} 超卖")
        else:
            parts.append(f"RSI {rsi:.1f} 中性")
    return momentum, parts


def _valuation(last: dict[str, Any]) -> tuple[float, list[str]]:
    """Valuation score and its phrases: PE(TTM) (else PE) and PB of the last day."""
    pe = last.get("pe_ttm") if last.get("pe_ttm") is not None else last.get("pe")
    pb = last.get("pb")
    valuation, parts = 0.0, []
    if pe is not None:
        pe = float(pe)
        if pe <= 0:
            valuation -= 1
            parts.append("PE为负（亏损）")
        elif pe < 15:
            valuation += 1
            parts.append(f"PE {pe:.1f} 偏低")
        elif pe > 60:
            valuation -= 1
            parts.append(f"PE {pe:.1f} 偏高")
        else:
            parts.append(f"PE {pe:.1f} 适中")
    if pb is not None:
        parts.append(f"PB {float(pb):.2f}")
        if float(pb) > 8:
            valuation -= 0.5
    if not parts:
        parts.append("缺少估值数据")
    return valuation, parts


def offline_research(ctx: ResearchContext) -> OfflineResearch:
    """Score trend, momentum, valuation and news tone and derive the decision (rules above)."""
    closes = ctx.adjusted_closes()
    trend, trend_text = _trend(closes[-1], closes, ctx)
    momentum, mom_parts = _momentum(closes, ctx)
    valuation, val_parts = _valuation(ctx.last)

    tones = [text_tone(f"{n.get('title') or ''} {n.get('content') or ''}") for n in ctx.news]
    tone = statistics.fmean(tones) if tones else 0.0
    news = 1.0 if tone > 0.2 else -1.0 if tone < -0.2 else 0.0
    tone_word = "正面" if news > 0 else "负面" if news < 0 else "中性"

    total = trend + momentum + valuation + news
    action = "买入" if total >= 2 else "卖出" if total <= -2 else "持有"
    vol = ctx.stats()["volatility_ann_pct"]
    risk_level = volatility_risk_level(ctx)
    confidence = round(min(0.9, 0.5 + 0.1 * abs(total)), 2)
    fin = ctx.financials
    fin_text = "，".join(f"{k}={v:.2f}" for k, v in list(fin.items())[:6]) if fin else "暂无财务数据"
    headlines = "；".join(re.sub(r"\s+", " ", str(n.get("title") or ""))[:40] for n in ctx.news[:3]) or "无近期新闻"

    reports = {
        "market_report": f"{OFFLINE_LABEL}技术面：{trend_text}；" + ("，".join(mom_parts) or "动量指标缺失") + "。",
        "fundamentals_report": (
            f"{OFFLINE_LABEL}基本面：{'，'.join(val_parts)}；财务（{ctx.financials_period or '—'}）：{fin_text}。"
        ),
        "news_report": f"{OFFLINE_LABEL}新闻：{len(ctx.news)}条，词典情绪均值 {tone:+.2f}（{tone_word}）。{headlines}",
        "investment_debate": f"{OFFLINE_LABEL}未进行多空辩论（规则模式）。",
        "risk_debate": f"{OFFLINE_LABEL}未进行风险讨论（规则模式）；年化波动率 "
        + ("—" if vol is None else f"{vol:.1f}%")
        + f"，风险等级{risk_level}。",
    }
    reasoning = (
        f"规则评分合计 {total:+.1f}（趋势 {trend:+.1f}，动量 {momentum:+.1f}，估值 {valuation:+.1f}，新闻 {news:+.1f}），"
        f"≥2 买入、≤−2 卖出、其余持有。"
    )
    reports["final_trade_decision"] = f"{OFFLINE_LABEL}最终交易建议：{action}。{reasoning}"
    decision = {
        "action": action,
        "action_en": ACTIONS_EN[action],
        "target_price": None,
        "confidence": confidence,
        "risk_level": risk_level,
        "reasoning": reasoning,
        "key_points": [trend_text, "，".join(mom_parts) or "动量指标缺失", "，".join(val_parts), f"新闻情绪{tone_word}"],
        "parsed_from": "rules",
    }
    return OfflineResearch(
        reports=reports,
        decision=decision,
        risk_level=risk_level,
        key_points=decision["key_points"],
        scores={"trend": trend, "momentum": momentum, "valuation": valuation, "news": news, "total": total},
    )
