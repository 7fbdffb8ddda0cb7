"""Parameters of batch research (job M2): validation, the trigger-form JSON schema, the depth table.

Standard library only: DAG files import this at parse time for their ``Params``.

``research_depth`` (1–5) sets the rounds as in TradingAgents-CN: the three analysts (market,
fundamentals, news) always speak once; depth chooses the bull/bear **debate rounds** and the
aggressive/conservative/neutral **risk rounds**, and the quick/deep models. LLM calls per symbol::

    calls = 3 analysts + 2 × debate_rounds + 1 research manager + 1 trader
            + 3 × risk_rounds + 1 risk manager (final decision)
          = 6 + 2 × debate_rounds + 3 × risk_rounds

The research manager and the final decision use the deep model (2 calls); all others the quick one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ta_scheduler.market import code_schema, to_code, to_ts_code

LLM_PROVIDER_CHOICES = ("dashscope", "deepseek", "offline")
MAX_SYMBOLS = 50


@dataclass(frozen=True)
class DepthPlan:
    """Rounds and default models for one research depth."""

    depth: int
    label: str
    debate_rounds: int
    risk_rounds: int
    quick_models: dict[str, str]  # provider -> model for analysts, debaters, trader
    deep_models: dict[str, str]  # provider -> model for research manager and final decision

    @property
    def llm_calls(self) -> int:
        """LLM calls per symbol (see the module docstring for the formula)."""
        return 6 + 2 * self.debate_rounds + 3 * self.risk_rounds

    @property
    def deep_calls(self) -> int:
        return 2

    @property
    def quick_calls(self) -> int:
        return self.llm_calls - self.deep_calls


def _plan(
    depth: int, label: str, rounds: tuple[int, int], qwen: tuple[str, str], deepseek: tuple[str, str]
) -> DepthPlan:
    quick = {"dashscope": qwen[0], "deepseek": deepseek[0]}
    deep = {"dashscope": qwen[1], "deepseek": deepseek[1]}
    return DepthPlan(depth, label, rounds[0], rounds[1], quick, deep)


#: depth → plan. DashScope models follow SPEC §3 M2; DeepSeek uses deepseek-chat throughout and the
#: reasoning model for the two deep calls at depths 4–5. All names are overridable (``llm.config``).
DEPTHS: dict[int, DepthPlan] = {
    1: _plan(1, "快速", (1, 1), ("qwen-turbo", "qwen-plus"), ("deepseek-chat", "deepseek-chat")),
    2: _plan(2, "基础", (1, 1), ("qwen-plus", "qwen-plus"), ("deepseek-chat", "deepseek-chat")),
    3: _plan(3, "标准", (1, 2), ("qwen-plus", "qwen-max"), ("deepseek-chat", "deepseek-chat")),
    4: _plan(4, "深度", (2, 2), ("qwen-plus", "qwen-max"), ("deepseek-chat", "deepseek-reasoner")),
    5: _plan(5, "全面", (3, 3), ("qwen-max", "qwen-max"), ("deepseek-chat", "deepseek-reasoner")),
}

#: JSON schema of each trigger-time param of the batch research run (Airflow ``Param(**schema)``).
RESEARCH_PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "symbols": {
        "type": "array",
        "items": code_schema(),
        "minItems": 1,
        "maxItems": MAX_SYMBOLS,
        "uniqueItems": True,
        "description": "A-share codes (600000, 600000.SH or 600000.sh; the rule of ta_scheduler.market); 1–50",
    },
    "llm_provider": {
        "type": "string",
        "enum": list(LLM_PROVIDER_CHOICES),
        "description": "dashscope (Qwen), deepseek, or offline (rule-based, no LLM)",
    },
    "research_depth": {
        "type": "integer",
        "minimum": 1,
        "maximum": 5,
        "description": "1 快速 … 5 全面: debate/risk rounds 1/1, 1/1, 1/2, 2/2, 3/3",
    },
}

def validate_research_params(symbols: Sequence[str], llm_provider: str, research_depth: int) -> list[str]:
    """Check a batch's params against :data:`RESEARCH_PARAM_SCHEMAS` — the rules the trigger form
    and the conf check apply, so there is one set — and return the symbols de-duplicated by code
    (``600519`` and ``600519.SH`` are one stock; the first spelling is kept), in order.

    Raises ValueError naming every offending value and what is allowed (for calls from code).
    """
    from ta_scheduler.params import value_error

    given = {"symbols": symbols, "llm_provider": llm_provider, "research_depth": research_depth}
    errors = [f"{name}: {problem}" for name, value in given.items()
              if (problem := value_error(value, RESEARCH_PARAM_SCHEMAS[name]))]
    if errors:
        raise ValueError("research params: " + "; ".join(errors))
    seen: dict[str, str] = {}
    for s in symbols:
        seen.setdefault(to_code(s), s)
    return list(seen.values())


def split_symbol(symbol: str) -> tuple[str, str]:
    """``(code, ts_code)`` for ``600000``, ``600000.SH`` or ``600000.sh``; the exchange follows
    from the board (``ta_scheduler.market.to_ts_code``)."""
    ts_code = to_ts_code(symbol)
    return ts_code[:6], ts_code
