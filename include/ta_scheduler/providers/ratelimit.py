"""Tushare request limits: per endpoint per minute, per day, and the day's refused endpoints.

tushare counts calls per token per endpoint per minute, and low tiers also per day (120 points:
8,000 calls a day in all). :class:`RateLimiter` keeps us under both. The counts live in a
:class:`CallStore`: in this process (:class:`MemoryCallStore`, for scripts and unit tests), or in
Redis (:class:`RedisCallStore`, what tasks use), where every Celery worker and task process that
holds the same token shares one sliding window per endpoint and one counter per day, updated
atomically by a Lua script. The Airflow pool ``tushare_api`` only bounds how many tushare tasks
run at once (its size comes from the tier too, see ``scripts/env.sh``).

The limits are the tier's (``providers.tiers``; ``config.tushare_tier``), overlaid by env
``TA_TUSHARE_RATE_LIMITS`` / Variable ``tushare_rate_limits`` (per minute, JSON object
``{"daily": 500, "*": 200}``) and env ``TA_TUSHARE_DAILY_LIMITS`` / Variable
``tushare_daily_limits`` (per day, ``{"total": 8000, "*": 100000}``). tushare's day is the
calendar day in Asia/Shanghai.

The store also remembers, per day, the endpoints the token was refused (``refuse``), so a
permission error is met once a day and the endpoint is not called again until tomorrow.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from ta_scheduler.market import TZ
from ta_scheduler.providers.errors import ProviderConfigError, QuotaExceeded
from ta_scheduler.providers.tiers import TOTAL, Tier

log = logging.getLogger(__name__)

ENV_VAR = "TA_TUSHARE_RATE_LIMITS"
VARIABLE = "tushare_rate_limits"
DAILY_ENV_VAR = "TA_TUSHARE_DAILY_LIMITS"
DAILY_VARIABLE = "tushare_daily_limits"
#: How long day counters and refusals are kept in Redis (they are keyed by day).
DAY_TTL_S = 3 * 86_400


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


def configured_overlay(env_var: str, variable: str) -> dict[str, int]:
    """Limits set by env ``env_var``, else Airflow Variable ``variable`` (empty when neither)."""
    raw = os.environ.get(env_var)
    origin = f"env {env_var}"
    if not raw:
        raw = _airflow_variable(variable)
        origin = f"Airflow Variable {variable}"
    return parse_limits(raw, origin) if raw else {}


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


def tushare_day(now: float) -> str:
    """tushare's day (Asia/Shanghai calendar date) of an epoch time."""
    return datetime.fromtimestamp(now, TZ).date().isoformat()


# ------------------------------------------------------------------------------ stores
class CallStore(Protocol):
    """Where call counts and refusals live (one process, or Redis for all of them)."""

    def take(self, endpoint: str, now: float, window: float, per_minute: int, day: str,
             day_limit: int | None, total_limit: int | None) -> tuple[str, float]:
        """Count one call if every limit allows it: ``("ok", 0)``; else ``("wait", seconds)``
        (per-minute window full), ``("day", limit)`` or ``("total", limit)`` (day used up)."""

    def used(self, day: str, endpoint: str) -> int:
        """Calls counted on ``day`` for ``endpoint`` (``"total"``: all endpoints)."""

    def refuse(self, day: str, endpoint: str, reason: str) -> bool:
        """Remember that ``endpoint`` was refused on ``day``; True the first time."""

    def refused(self, day: str) -> dict[str, str]:
        """``{endpoint: reason}`` refused on ``day``."""

    def first_time(self, day: str, key: str) -> bool:
        """True the first time ``key`` is asked on ``day`` (for once-a-day warnings)."""


class MemoryCallStore:
    """Counts in this process only (scripts, unit tests)."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._days: dict[tuple[str, str], int] = {}
        self._refused: dict[str, dict[str, str]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def take(self, endpoint, now, window, per_minute, day, day_limit, total_limit):
        with self._lock:
            if day_limit is not None and self._days.get((day, endpoint), 0) >= day_limit:
                return "day", float(day_limit)
            if total_limit is not None and self._days.get((day, TOTAL), 0) >= total_limit:
                return "total", float(total_limit)
            calls = self._calls.setdefault(endpoint, deque())
            while calls and now - calls[0] >= window:
                calls.popleft()
            if len(calls) >= per_minute:
                return "wait", window - (now - calls[0]) + 0.01
            calls.append(now)
            for key in ((day, endpoint), (day, TOTAL)):
                self._days[key] = self._days.get(key, 0) + 1
            return "ok", 0.0

    def used(self, day: str, endpoint: str) -> int:
        return self._days.get((day, endpoint), 0)

    def refuse(self, day: str, endpoint: str, reason: str) -> bool:
        with self._lock:
            first = endpoint not in self._refused.setdefault(day, {})
            self._refused[day].setdefault(endpoint, reason)
            return first

    def refused(self, day: str) -> dict[str, str]:
        return dict(self._refused.get(day, {}))

    def first_time(self, day: str, key: str) -> bool:
        with self._lock:
            if (day, key) in self._seen:
                return False
            self._seen.add((day, key))
            return True


_TAKE = """
local minute, day_key, total_key = KEYS[1], KEYS[2], KEYS[3]
local now, window, per_minute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local day_limit, total_limit, member, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
if day_limit > 0 and tonumber(redis.call('GET', day_key) or '0') >= day_limit then return {'day', ARGV[4]} end
if total_limit > 0 and tonumber(redis.call('GET', total_key) or '0') >= total_limit then return {'total', ARGV[5]} end
redis.call('ZREMRANGEBYSCORE', minute, '-inf', now - window)
if redis.call('ZCARD', minute) >= per_minute then
  local oldest = redis.call('ZRANGE', minute, 0, 0, 'WITHSCORES')
  return {'wait', tostring(window - (now - tonumber(oldest[2])) + 0.01)}
end
redis.call('ZADD', minute, now, member)
redis.call('EXPIRE', minute, ttl)
redis.call('INCR', day_key)
redis.call('EXPIRE', day_key, ttl)
redis.call('INCR', total_key)
redis.call('EXPIRE', total_key, ttl)
return {'ok', '0'}
"""


class RedisCallStore:
    """Counts shared by every process using the same Redis and token (keys ``ta:tushare:<token
    hash>:...``): a sorted set of call times per endpoint (the sliding minute), a counter per
    endpoint and day, one for the day's total, and a hash of the day's refused endpoints."""

    def __init__(self, url: str, token: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        self.prefix = f"ta:tushare:{hashlib.sha256(token.encode()).hexdigest()[:12]}"
        self._take = self.client.register_script(_TAKE)

    def take(self, endpoint, now, window, per_minute, day, day_limit, total_limit):
        keys = [f"{self.prefix}:minute:{endpoint}", f"{self.prefix}:day:{day}:{endpoint}", f"{self.prefix}:day:{day}:{TOTAL}"]
        args = [repr(now), repr(window), per_minute, day_limit or 0, total_limit or 0, uuid.uuid4().hex, DAY_TTL_S]
        kind, value = self._take(keys=keys, args=args)
        return kind.decode(), float(value)

    def used(self, day: str, endpoint: str) -> int:
        return int(self.client.get(f"{self.prefix}:day:{day}:{endpoint}") or 0)

    def refuse(self, day: str, endpoint: str, reason: str) -> bool:
        key = f"{self.prefix}:refused:{day}"
        first = bool(self.client.hsetnx(key, endpoint, reason))
        self.client.expire(key, DAY_TTL_S)
        return first

    def refused(self, day: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.client.hgetall(f"{self.prefix}:refused:{day}").items()}

    def first_time(self, day: str, key: str) -> bool:
        return bool(self.client.set(f"{self.prefix}:once:{day}:{key}", "1", nx=True, ex=DAY_TTL_S))


class RateLimiter:
    """At most the tier's calls per endpoint in any ``window`` seconds, and per day.

    ``acquire(endpoint)`` blocks (sleeps) until a call is allowed, and raises
    :class:`QuotaExceeded` when the day's calls are used up (so we stop before tushare refuses).
    ``limits`` (endpoint -> calls per window, ``"*"`` for the rest) replaces the tier's
    per-minute limits; ``per_day`` its per-day ones. Thread-safe; with a :class:`RedisCallStore`
    the budget is shared by every process. ``clock`` is epoch seconds (the day counters follow
    tushare's day in Asia/Shanghai); tests pass a fake ``clock`` and ``sleep``.
    """

    def __init__(
        self,
        limits: Mapping[str, int] | None = None,
        *,
        tier: Tier | None = None,
        per_day: Mapping[str, int] | None = None,
        store: CallStore | None = None,
        window: float = 60.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limits is not None or per_day is not None:
            base = tier or Tier("custom", {"*": 200})
            tier = Tier(base.name, {**base.per_minute, **(limits or {})}, {**base.per_day, **(per_day or {})},
                        base.pool_slots)
        elif tier is None:
            from ta_scheduler.config import tushare_tier

            tier = tushare_tier()
        self.tier = tier
        self.store: CallStore = store if store is not None else MemoryCallStore()
        self.window = window
        self._clock = clock
        self._sleep = sleep

    @property
    def limits(self) -> Mapping[str, int]:
        return self.tier.per_minute

    def limit_for(self, endpoint: str) -> int:
        """Calls per window allowed for ``endpoint``."""
        return self.tier.minute_limit(endpoint)

    def today(self) -> str:
        """tushare's current day (Asia/Shanghai)."""
        return tushare_day(self._clock())

    def acquire(self, endpoint: str) -> float:
        """Wait for a slot; returns the seconds waited. Raises :class:`QuotaExceeded` when the
        day's calls (of this endpoint or in all) are used up."""
        limit = self.limit_for(endpoint)
        waited = 0.0
        while True:
            now = self._clock()
            day = tushare_day(now)
            kind, value = self.store.take(endpoint, now, self.window, limit, day, self.tier.day_limit(endpoint),
                                          self.tier.per_day.get(TOTAL))
            if kind == "ok":
                return waited
            if kind in ("day", "total"):
                what = f"{endpoint}'s" if kind == "day" else "all endpoints'"
                raise QuotaExceeded(
                    f"tushare {endpoint}: {what} {int(value)} calls for {day} (tier {self.tier.name}) are used up; "
                    "stopped before tushare refuses. Re-run after 00:00 Asia/Shanghai to continue (finished work "
                    "is kept), or raise the account's points", endpoint=endpoint, params=day)
            if waited == 0.0:
                log.info("tushare %s: rate limit %s/%.0f s (tier %s) reached; waiting %.1f s", endpoint, limit,
                         self.window, self.tier.name, value)
            self._sleep(value)
            waited += value

    def remaining_today(self, endpoints: Mapping[str, int] | None = None) -> int | None:
        """Calls still allowed today before a per-day limit stops us, for the endpoints named
        (all counted when None); ``None`` when no per-day limit applies."""
        day = self.today()
        left: list[int] = []
        total = self.tier.per_day.get(TOTAL)
        if total is not None:
            left.append(total - self.store.used(day, TOTAL))
        for endpoint in endpoints or {}:
            limit = self.tier.day_limit(endpoint)
            if limit is not None:
                left.append(limit - self.store.used(day, endpoint))
        return max(0, min(left)) if left else None

    # --------------------------------------------------------------- refused endpoints
    def refuse(self, endpoint: str, reason: str) -> bool:
        """Remember that tushare refused ``endpoint`` today; True the first time."""
        return self.store.refuse(self.today(), endpoint, reason)

    def refused(self) -> dict[str, str]:
        """``{endpoint: reason}`` tushare refused today."""
        return self.store.refused(self.today())


def shared_limiter(token: str) -> RateLimiter:
    """The limiter tasks use: the configured tier, counts in Redis shared by all workers."""
    from ta_scheduler.config import redis_url, tushare_tier

    return RateLimiter(tier=tushare_tier(), store=RedisCallStore(redis_url(), token))
