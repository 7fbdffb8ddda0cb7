"""Reading structured answers out of model text: the final decision and sentiment score lists.

Models wrap JSON in code fences, add prose around it, or use English labels; these functions
accept all of that and refuse (``LLMResponseError``) rather than invent a value they cannot read.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ta_scheduler.llm.base import LLMResponseError

ACTIONS_EN = {"买入": "buy", "持有": "hold", "卖出": "sell"}
_ACTION_ALIASES = {
    "买入": "买入", "强烈买入": "买入", "增持": "买入", "buy": "买入", "strong buy": "买入", "overweight": "买入",
    "持有": "持有", "观望": "持有", "中性": "持有", "hold": "持有", "neutral": "持有",
    "卖出": "卖出", "强烈卖出": "卖出", "减持": "卖出", "sell": "卖出", "strong sell": "卖出", "underweight": "卖出",
}  # fmt: skip
#: TradingAgents-CN's five risk levels (低/中低/中等/中高/高) from what a model may answer.
_RISK_ALIASES = {"低": "低", "low": "低", "中低": "中低", "较低": "中低", "medium-low": "中低", "中": "中等", "中等": "中等",
                 "medium": "中等", "moderate": "中等", "中高": "中高", "较高": "中高", "medium-high": "中高",
                 "高": "高", "high": "高"}  # fmt: skip
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_FINAL_ACTION = re.compile(r"最终(?:交易)?(?:建议|决策)\s*[:：]?\s*\**\s*(买入|持有|卖出)")


def extract_json(text: str) -> Any | None:
    """The last JSON value in ``text`` (fenced block first, then the outermost ``{...}``/``[...]``)."""
    candidates = [m.strip() for m in _FENCE.findall(text)][::-1]
    for open_, close in (("{", "}"), ("[", "]")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    candidates.append(text.strip())
    for c in candidates:
        try:
            return json.loads(c)
        except (json.JSONDecodeError, ValueError):
            continue
    return None


def normalize_action(value: Any) -> str | None:
    """买入/持有/卖出 for Chinese or English labels, or None."""
    if not isinstance(value, str):
        return None
    return _ACTION_ALIASES.get(value.strip().strip("*").lower()) or _ACTION_ALIASES.get(value.strip())


def normalize_risk(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return _RISK_ALIASES.get(value.strip().lower())


def _confidence(value: Any) -> float | None:
    try:
        c = float(str(value).rstrip("%"))
    except (TypeError, ValueError):
        return None
    if 1 < c <= 100:  # a percentage
        c /= 100
    return min(1.0, max(0.0, c))


def _price(value: Any) -> float | None:
    try:
        p = float(value)
    except (TypeError, ValueError):
        return None
    return round(p, 2) if p > 0 else None


def parse_decision(text: str) -> dict[str, Any]:
    """The decision in the final answer: ``action`` (买入/持有/卖出), ``action_en``, ``target_price``
    (yuan or None), ``confidence`` (0–1 or None), ``risk_level`` (低/中低/中等/中高/高 or None), ``reasoning``,
    ``key_points`` and ``parsed_from`` (``json`` or ``keywords`` when only the action could be read).
    """
    data = extract_json(text)
    if isinstance(data, dict):
        action = normalize_action(data.get("action") or data.get("decision") or data.get("recommendation"))
        if action:
            points = data.get("key_points") or []
            return {
                "action": action,
                "action_en": ACTIONS_EN[action],
                "target_price": _price(data.get("target_price")),
                "confidence": _confidence(data.get("confidence")),
                "risk_level": normalize_risk(data.get("risk_level")),
                "reasoning": str(data.get("reasoning") or "").strip(),
                "key_points": [str(p) for p in points if str(p).strip()] if isinstance(points, list) else [],
                "parsed_from": "json",
            }
    m = _FINAL_ACTION.search(text)
    found = [m.group(1)] if m else re.findall(r"买入|持有|卖出", text)
    if not found:
        raise LLMResponseError(f"final decision has neither the JSON block nor 买入/持有/卖出: {text[:200]!r}")
    action = found[-1]
    return {
        "action": action,
        "action_en": ACTIONS_EN[action],
        "target_price": None,
        "confidence": None,
        "risk_level": None,
        "reasoning": re.sub(r"\s+", " ", _FENCE.sub("", text)).strip()[:300],
        "key_points": [],
        "parsed_from": "keywords",
    }


def parse_score_list(text: str, n: int) -> list[float]:
    """``n`` sentiment scores in [-1, 1] from a reply holding a JSON list (or ``{"scores": [...]}``)."""
    data = extract_json(text)
    if isinstance(data, dict):
        data = data.get("scores")
    if not isinstance(data, list) or len(data) != n:
        got = f"{len(data)} items" if isinstance(data, list) else "no JSON list"
        raise LLMResponseError(f"sentiment reply for {n} texts has {got}: {text[:200]!r}")
    scores: list[float] = []
    for v in data:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise LLMResponseError(f"sentiment reply has a non-numeric score {v!r}: {text[:200]!r}") from None
        if f != f:  # NaN
            raise LLMResponseError(f"sentiment reply has a NaN score: {text[:200]!r}")
        scores.append(min(1.0, max(-1.0, f)))
    return scores
