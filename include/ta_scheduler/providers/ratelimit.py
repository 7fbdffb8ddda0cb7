"""Tushare request limits: per endpoint per minute, per day, and the day's refused endpoints.

tushare counts calls per token per endpoint per minute, and low tiers also per day (120 points:
8,000 calls a day in all). :class:`RateLimiter` keeps us under both. The counts live in a
:class:`CallStore`: in this process (:class:`MemoryCallStore`, for scripts and unit tests), or in
Redis (``storage.cache.RedisCallStore``, what tasks use), where every Celery worker and task process that
holds the same token shares one sliding window per endpoint and one counter per day, updated
atomically by a Lua script. The Airflow pool ``tushare_api`` only bounds how many tushare tasks
run at once (its size comes from the tier too, see ``scripts/env.sh``).

The limits are the tier's (``providers.tiers``; ``tiers.configured_tier``), overlaid by Variable
``tushare_rate_limits`` / env ``TA_TUSHARE_RATE_LIMITS`` (per minute, JSON object
``{"daily": 500, "*": 200}``) and Variable ``tushare_daily_limits`` / env
``TA_TUSHARE_DAILY_LIMITS`` (per day, ``{"total": 8000, "*": 100000}``). tushare's day is the
calendar day in Asia/Shanghai.

The store also remembers, per day, the endpoints the token was refused (``refuse``), so a
permission error is met once a day and the endpoint is not called again until tomorrow.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from ta_scheduler.market import TZ
from ta_scheduler.providers.errors import QuotaExceeded
from ta_scheduler.providers.tiers import TOTAL, Tier

log = logging.getLogger(__name__)



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


class RateLimiter:
    """At most the tier's calls per endpoint in any ``window`` seconds, and per day.

    ``acquire(endpoint)`` blocks (sleeps) until a call is allowed, and raises
    :class:`QuotaExceeded` when the day's calls are used up (so we stop before tushare refuses).
    ``limits`` (endpoint -> calls per window, ``"*"`` for the rest) replaces the tier's
    per-minute limits; ``per_day`` its per-day ones. Thread-safe; with a ``storage.cache.RedisCallStore``
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
            from ta_scheduler.providers.tiers import configured_tier

            tier = configured_tier()
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
    from ta_scheduler.providers.tiers import configured_tier
    from ta_scheduler.storage.cache import RedisCallStore

    return RateLimiter(tier=configured_tier(), store=RedisCallStore(None, token))
