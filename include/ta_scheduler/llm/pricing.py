"""What LLM calls cost: the price table (元 per million tokens, input and output, per model) and
the tokens and cost of a research from its calls.

:data:`DEFAULT_PRICES`, overridden per model by the Airflow Variable ``ta_llm_prices`` or env
``TA_LLM_PRICES``; a model not in the table is priced at the ``"*"`` entry (deliberately high, so
an unknown model is never free). The ``offline`` provider costs nothing. Used by the research
(each stored report's ``cost``) and by the budget (``llm.budget``: estimates and the ledger).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ta_scheduler.config import setting_json

CURRENCY = "CNY"
PRICES_ENV = "TA_LLM_PRICES"

#: 元 per million tokens. DashScope list prices for Qwen (mainland China, non-thinking, first tier)
#: and DeepSeek's (cache miss). Providers change prices: keep ``ta_llm_prices`` current.
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "qwen-turbo": {"input": 0.3, "output": 0.6},
    "qwen-plus": {"input": 0.8, "output": 2.0},
    "qwen-max": {"input": 2.4, "output": 9.6},
    "deepseek-chat": {"input": 2.0, "output": 3.0},
    "deepseek-reasoner": {"input": 2.0, "output": 3.0},
    "*": {"input": 4.0, "output": 16.0},
}


def load_prices() -> dict[str, dict[str, float]]:
    """The price table: :data:`DEFAULT_PRICES` with the configured models merged over it."""
    data, origin = setting_json(PRICES_ENV)
    data = data or {}
    prices = {k: dict(v) for k, v in DEFAULT_PRICES.items()}
    for model, p in data.items():
        ok = isinstance(p, Mapping) and all(
            isinstance(p.get(k), (int, float)) and not isinstance(p.get(k), bool) and p[k] >= 0
            for k in ("input", "output")
        )
        if not ok:
            raise ValueError(
                f"{origin}: price of {model!r} must be {{\"input\": 元/M tokens, \"output\": 元/M tokens}} "
                f"with numbers >= 0, got {p!r}"
            )
        prices[str(model)] = {"input": float(p["input"]), "output": float(p["output"])}
    return prices


def price_of(model: str, prices: Mapping[str, Mapping[str, float]]) -> Mapping[str, float]:
    """The model's price, or the ``"*"`` fallback for a model the table does not list."""
    return prices.get(model) or prices["*"]


def cost_yuan(input_tokens: int, output_tokens: int, model: str, prices: Mapping[str, Mapping[str, float]]) -> float:
    """元 for one model's tokens (prices are per million tokens)."""
    p = price_of(model, prices)
    return (input_tokens * p["input"] + output_tokens * p["output"]) / 1_000_000


def usage_from_steps(
    steps: Iterable[Mapping[str, Any]], llm_provider: str, prices: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """Tokens and cost of a research from its calls (``CallLog.steps``), as stored in
    ``analysis_reports`` and ``llm_usage``::

        token_usage: {input_tokens, output_tokens, total_tokens, calls}
        cost: {yuan, currency, by_model: [{model, calls, input_tokens, output_tokens, yuan}]}

    Token counts are what the provider reported; ``offline`` costs 0.
    """
    per: dict[str, dict[str, Any]] = {}
    for s in steps:
        m = per.setdefault(s["model"], {"model": s["model"], "calls": 0, "input_tokens": 0, "output_tokens": 0})
        m["calls"] += 1
        m["input_tokens"] += int(s["prompt_tokens"])
        m["output_tokens"] += int(s["completion_tokens"])
    for m in per.values():
        free = llm_provider == "offline"
        m["yuan"] = 0.0 if free else round(cost_yuan(m["input_tokens"], m["output_tokens"], m["model"], prices), 6)
    by_model = sorted(per.values(), key=lambda m: m["model"])
    inp = sum(m["input_tokens"] for m in by_model)
    out = sum(m["output_tokens"] for m in by_model)
    return {
        "token_usage": {
            "input_tokens": inp,
            "output_tokens": out,
            "total_tokens": inp + out,
            "calls": sum(m["calls"] for m in by_model),
        },
        "cost": {"yuan": round(sum(m["yuan"] for m in by_model), 6), "currency": CURRENCY, "by_model": by_model},
    }
