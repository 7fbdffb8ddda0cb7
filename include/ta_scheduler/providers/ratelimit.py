"""Per-endpoint request limits for tushare, enforced in-process with a sliding 60 s window.

tushare counts calls per token per endpoint per minute (e.g. ``daily`` 500/min, ``stock_basic``
50/min at the 2000-point tier; accounts with fewer points see far less). Within one worker
process the limiter below keeps us under the limit; across workers the Airflow pool
``tushare_api`` bounds how many tushare tasks run at once, so size the pool so that
``pool slots x per-task rate <= account limit``.

Limits come from (first found): env ``TA_TUSHARE_RATE_LIMITS`` (JSON object
``{"daily": 500, "*": 200}``), Airflow Variable ``tushare_rate_limits`` (same JSON), the
defaults below. ``"*"`` is the limit for endpoints not named.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

from ta_scheduler.providers.errors import ProviderConfigError

log = logging.getLogger(__name__)

#: Calls per minute at the 2000-point tier, from the tushare endpoint docs.
DEFAULT_LIMITS_PER_MINUTE: dict[str, int] = {
    "*": 200,
    "stock_basic": 50,
    "trade_cal": 200,
    "daily": 500,
    "adj_factor": 500,
    "daily_basic": 200,
    "stk_limit": 200,
    "index_daily": 200,
    "income_vip": 200,
    "balancesheet_vip": 200,
    "cashflow_vip": 200,
    "fina_indicator_vip": 200,
    "income": 200,
    "balancesheet": 200,
    "cashflow": 200,
    "fina_indicator": 200,
    "news": 100,
    "rt_k": 100,
}

ENV_VAR = "TA_TUSHARE_RATE_LIMITS"
VARIABLE = "tushare_rate_limits"


def parse_limits(raw: str, origin: str) -> dict[str, int]:
    """Validate a JSON object of ``endpoint -> calls per minute`` (positive integers)."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ProviderConfigError(f"{origin}: not valid JSON ({exc}); expected e.g. {{\"daily\": 500, \"*\": 200}}") from exc
    if not isinstance(data, Mapping):
        raise ProviderConfigError(f"{origin}: expected a JSON object of endpoint -> calls per minute")
    out: dict[str, int] = {}
    for name, value in data.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ProviderConfigError(f"{origin}: limit for {name!r} must be a positive integer, got {value!r}")
        out[str(name)] = value
    return out


def configured_limits() -> dict[str, int]:
    """Defaults overlaid with the env var or the Airflow Variable (see module doc)."""
    limits = dict(DEFAULT_LIMITS_PER_MINUTE)
    raw = os.environ.get(ENV_VAR)
    origin = f"env {ENV_VAR}"
    if not raw:
        raw = _airflow_variable(VARIABLE)
        origin = f"Airflow Variable {VARIABLE}"
    if raw:
        limits.update(parse_limits(raw, origin))
    return limits


def _airflow_variable(key: str) -> str | None:
    try:
        from airflow.sdk import Variable
    except ImportError:  # pragma: no cover - Airflow is installed with the project
        return None
    try:
        return Variable.get(key, default=None)
    except Exception:  # noqa: BLE001 - outside a task (plain script, no metadata DB) there are no Variables
        log.debug("Airflow Variable %s not readable here; using defaults", key)
        return None


class RateLimiter:
    """Sliding-window limiter: at most ``limit`` calls per endpoint in any ``window`` seconds.

    ``acquire(endpoint)`` blocks (sleeps) until a call is allowed. Thread-safe, so tasks that
    fetch with a thread pool share one budget per process.
    """

    def __init__(
        self,
        limits: Mapping[str, int] | None = None,
        *,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limits = dict(limits if limits is not None else configured_limits())
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def limit_for(self, endpoint: str) -> int:
        """Calls per window allowed for ``endpoint``."""
        return self.limits.get(endpoint, self.limits.get("*", DEFAULT_LIMITS_PER_MINUTE["*"]))

    def acquire(self, endpoint: str) -> float:
        """Wait for a slot; returns the seconds waited."""
        limit = self.limit_for(endpoint)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                calls = self._calls.setdefault(endpoint, deque())
                while calls and now - calls[0] >= self.window:
                    calls.popleft()
                if len(calls) < limit:
                    calls.append(now)
                    return waited
                delay = self.window - (now - calls[0]) + 0.01
            if waited == 0.0:
                log.info("tushare %s: local rate limit %s/%.0f s reached; waiting %.1f s", endpoint, limit, self.window, delay)
            self._sleep(delay)
            waited += delay
