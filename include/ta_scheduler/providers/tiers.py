"""Tushare account tiers: what a token of 120, 2000 or 5000 points may call, and how often.

tushare grants endpoints by points (积分) and sets per-minute and per-day call limits by tier.
The numbers below are tushare's documentation as far as it could be checked (see the tier table
in README.md, which says which thresholds are confirmed); the token's real rights are found out
at run time anyway: a permission error marks the endpoint ``not_permitted`` for the day
(``ratelimit.CallStore.refuse``), whatever this table says.

Choose the tier with env ``TA_TUSHARE_TIER`` (``120``, ``2000``, ``5000`` or ``custom``), else
the ``tier`` extra of connection ``tushare_default`` (``configured_tier``); default ``2000``.
Per-endpoint limits overlay any tier: env ``TA_TUSHARE_RATE_LIMITS`` / Variable
``tushare_rate_limits`` (calls per minute, ``{"daily": 500, "*": 200}``) and env
``TA_TUSHARE_DAILY_LIMITS`` / Variable ``tushare_daily_limits`` (calls per day, ``"total"`` for
all endpoints together, ``"*"`` for each endpoint not named). ``custom`` starts from the
120-point limits, so an overlay is all it takes to describe any account.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ta_scheduler.providers.errors import ProviderConfigError

#: Points (积分) each endpoint we call needs; ``None``: a separate permission bought on its own.
REQUIRED_POINTS: dict[str, int | None] = {
    "daily": 120,
    "stock_basic": 2000,
    "trade_cal": 2000,
    "adj_factor": 2000,
    "daily_basic": 2000,
    "stk_limit": 2000,
    "index_daily": 2000,
    "income": 2000,
    "balancesheet": 2000,
    "cashflow": 2000,
    "fina_indicator": 2000,
    "income_vip": 5000,
    "balancesheet_vip": 5000,
    "cashflow_vip": 5000,
    "fina_indicator_vip": 5000,
    "news": None,
    "rt_k": None,
}

TIER_NAMES = ("120", "2000", "5000", "custom")
DEFAULT_TIER = "2000"
TOTAL = "total"  # per-day key: all endpoints together


def required(endpoint: str) -> str:
    """What ``endpoint`` needs, in words, for messages: ``"2000 points"``."""
    if endpoint not in REQUIRED_POINTS:
        return "more points"
    points = REQUIRED_POINTS[endpoint]
    return f"{points} points" if points is not None else f"the separate {endpoint} permission"


@dataclass(frozen=True)
class Tier:
    """Limits of one tier. ``per_minute`` and ``per_day`` map endpoint -> calls (``"*"``: any
    endpoint not named; ``per_day["total"]``: all endpoints together; absent: unlimited)."""

    name: str
    per_minute: Mapping[str, int]
    per_day: Mapping[str, int] = field(default_factory=dict)
    #: Slots of the Airflow pool ``tushare_api`` (tasks calling tushare at once, all workers).
    pool_slots: int = 4

    def minute_limit(self, endpoint: str) -> int:
        return self.per_minute.get(endpoint, self.per_minute["*"])

    def day_limit(self, endpoint: str) -> int | None:
        return self.per_day.get(endpoint, self.per_day.get("*"))

    def overlay(self, per_minute: Mapping[str, int] | None = None, per_day: Mapping[str, int] | None = None) -> Tier:
        """This tier with some limits replaced (the ``TA_TUSHARE_*_LIMITS`` overlays)."""
        return Tier(self.name, {**self.per_minute, **(per_minute or {})}, {**self.per_day, **(per_day or {})},
                    self.pool_slots)

    def minutes_for(self, calls: Mapping[str, int]) -> float:
        """Minutes ``calls`` (endpoint -> count) take at this tier's per-minute limits; endpoints
        are limited separately, so the slowest one decides."""
        return max((n / self.minute_limit(e) for e, n in calls.items() if n > 0), default=0.0)


_2000_PER_MINUTE = {
    "*": 200, "stock_basic": 50, "daily": 500, "adj_factor": 500, "news": 100, "rt_k": 100,
}

TIERS: dict[str, Tier] = {
    "120": Tier("120", {"*": 50}, {TOTAL: 8000}, pool_slots=1),
    "2000": Tier("2000", _2000_PER_MINUTE, {"*": 100_000}, pool_slots=4),
    "5000": Tier("5000", {**{e: 500 for e in REQUIRED_POINTS}, "*": 500, "stock_basic": 50, "news": 100, "rt_k": 100},
                 {}, pool_slots=8),
    "custom": Tier("custom", {"*": 50}, {TOTAL: 8000}, pool_slots=4),
}


def tier(name: str) -> Tier:
    """The built-in tier ``name``; a clear error for anything else."""
    key = str(name).strip().lower()
    if key not in TIERS:
        raise ProviderConfigError(f"tushare tier {name!r}: unknown; use one of {', '.join(TIER_NAMES)} "
                                  "(env TA_TUSHARE_TIER or the 'tier' extra of connection tushare_default)")
    return TIERS[key]


def parse_limits(raw: str, origin: str) -> dict[str, int]:
    """Validate a JSON object of ``endpoint -> calls`` (positive integers)."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ProviderConfigError(f"{origin}: not valid JSON ({exc}); expected e.g. {{\"daily\": 500, \"*\": 200}}") from exc
    if not isinstance(data, Mapping):
        raise ProviderConfigError(f"{origin}: expected a JSON object of endpoint -> calls")
    out: dict[str, int] = {}
    for name, value in data.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ProviderConfigError(f"{origin}: limit for {name!r} must be a positive integer, got {value!r}")
        out[str(name)] = value
    return out


def configured_overlay(knob: str) -> dict[str, int]:
    """Limits set by ``knob`` (``TA_TUSHARE_RATE_LIMITS`` / ``TA_TUSHARE_DAILY_LIMITS``, or their
    Variables, see ``config``); empty when unset."""
    from ta_scheduler.config import setting_with_origin

    raw, origin = setting_with_origin(knob)
    return parse_limits(raw, origin) if raw else {}


def configured_tier() -> Tier:
    """The tushare account tier (``providers.tiers.Tier``) with any per-endpoint overlays.

    Tier: env ``TA_TUSHARE_TIER``, else the ``tier`` extra of connection ``tushare_default``
    (``{"tier": "120"}``), else ``2000``. Overlays: env ``TA_TUSHARE_RATE_LIMITS`` / Variable
    ``tushare_rate_limits`` (calls per minute) and env ``TA_TUSHARE_DAILY_LIMITS`` / Variable
    ``tushare_daily_limits`` (calls per day), JSON objects endpoint -> calls.
    """
    from ta_scheduler.config import airflow_connection, setting
    from ta_scheduler.constants import Conns

    name = setting("TA_TUSHARE_TIER")
    if not name:
        conn = airflow_connection(Conns.TUSHARE)
        name = str(conn.extra_dejson.get("tier") or "") if conn is not None else ""
    base = tier(name or DEFAULT_TIER)
    return base.overlay(configured_overlay("TA_TUSHARE_RATE_LIMITS"),
                        configured_overlay("TA_TUSHARE_DAILY_LIMITS"))
