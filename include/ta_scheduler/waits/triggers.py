"""The deferrable waits' triggers (see the package doc): the polling loop, and what each wait checks.

Airflow stores a deferred task's trigger by class path (``serialize``) and the triggerer imports
it from there, so a trigger's module path is part of every deferral in flight. The triggers
formerly at ``ta_scheduler.vendor_trigger`` and ``ta_scheduler.reports.triggers`` are still
importable from those paths (aliases of these classes) for the deferrals stored before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class PollUntilReadyTrigger(BaseTrigger):
    """Fires once, ready or at ``deadline`` (ISO 8601, timezone-aware); see the package doc.

    Subclasses implement :meth:`check`, :meth:`waiting_for`, :meth:`event_fields` and
    ``serialize``, and may override :meth:`prepare` to open clients once before the first check.
    """

    def __init__(self, deadline: str, poll_seconds: float = 60.0):
        super().__init__()
        self.deadline = deadline
        self.poll_seconds = float(poll_seconds)

    def prepare(self) -> None:
        """Called once in the event loop before the first check (must not block)."""

    def check(self) -> str | None:  # pragma: no cover - abstract
        """None when ready, else what is missing (runs in a thread: may block)."""
        raise NotImplementedError

    def waiting_for(self) -> str:  # pragma: no cover - abstract
        """What the trigger waits for, for its log lines ("the analysis of 2026-11-27")."""
        raise NotImplementedError

    def event_fields(self) -> dict[str, Any]:
        return {}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = datetime.fromisoformat(self.deadline)
        self.prepare()
        checks = 0
        while True:
            missing = await asyncio.to_thread(self.check)
            checks += 1
            if missing is None:
                self.log.info("%s is ready (check %d)", self.waiting_for(), checks)
                yield TriggerEvent({"status": "ready", "checks": checks, **self.event_fields()})
                return
            remaining = (deadline - datetime.now(timezone.utc)).total_seconds()
            if remaining <= 0:
                yield TriggerEvent({"status": "timeout", "checks": checks, "detail": missing, **self.event_fields()})
                return
            self.log.info("waiting for %s (%s); next check in %.0f s", self.waiting_for(), missing,
                          min(self.poll_seconds, remaining))
            await asyncio.sleep(min(self.poll_seconds, remaining))


class VendorReadyTrigger(PollUntilReadyTrigger):
    """Fires once: ``{"status": "ready", "published": n}`` when tushare ``daily`` has at least
    ``min_share`` of ``expected`` stocks for ``trade_date`` (only ``symbols``, six-digit codes, if
    given), else ``{"status": "timeout", "detail": <the shortfall>}`` at ``deadline``.

    The token and URL are resolved on the worker and passed in (Airflow encrypts trigger kwargs
    in the metadata DB and leaves them out of REST responses; ``repr`` leaves the token out).
    An unreachable or rate-limited API is a reason to keep waiting; a refused token or missing
    permission ends the wait with the vendor's error.
    """

    def __init__(self, trade_date: str, expected: int, symbols: list[str] | None, min_share: float,
                 token: str, url: str, deadline: str, poll_seconds: float = 300.0):
        from ta_scheduler.market import to_code

        super().__init__(deadline, poll_seconds)
        self.trade_date = trade_date
        self.expected = int(expected)
        self.symbols = [to_code(s) for s in symbols] if symbols else None  # deferrals stored before passed ts codes
        self.min_share = float(min_share)
        self.token = token
        self.url = url
        self.published: int | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"trade_date": self.trade_date, "expected": self.expected, "symbols": self.symbols,
             "min_share": self.min_share, "token": self.token, "url": self.url, "deadline": self.deadline,
             "poll_seconds": self.poll_seconds},
        )

    def __repr__(self) -> str:  # Airflow's default shows the kwargs: keep the token out of logs
        return (f"<VendorReadyTrigger {self.trade_date} expected={self.expected} url={self.url} "
                f"deadline={self.deadline} poll={self.poll_seconds:g}s>")

    def prepare(self) -> None:
        from ta_scheduler.providers.ratelimit import RateLimiter
        from ta_scheduler.providers.tushare_pro import TushareProvider

        # one attempt per check: the next poll is the retry; default limits, no Variable lookups
        self._provider = TushareProvider(self.token, self.url, limiter=RateLimiter({}), max_attempts=1)

    def check(self) -> str | None:
        from ta_scheduler.providers.errors import RetryableProviderError
        from ta_scheduler.waits.vendor import published_count, shortfall

        try:
            self.published = published_count(self._provider, self.trade_date, self.symbols)
        except RetryableProviderError as exc:
            return f"tushare not answering: {exc}"
        return shortfall(self.trade_date, self.expected, self.published, self.min_share)

    def waiting_for(self) -> str:
        return f"tushare daily {self.trade_date}"

    def event_fields(self) -> dict[str, Any]:
        return {"trade_date": self.trade_date, "expected": self.expected, "published": self.published}


class AnalysisReadyTrigger(PollUntilReadyTrigger):
    """Fires once: ``{"status": "ready"}`` when ``market_sentiment`` and ``technical_indicators``
    of ``trade_date`` are stored, else ``{"status": "timeout", "detail": <what is missing>}`` at
    ``deadline`` (ISO 8601, timezone-aware).

    The store is reached with the URI the task resolved on the worker (Airflow encrypts trigger
    kwargs in the metadata DB with the Fernet key and leaves them out of REST responses; our
    ``repr`` redacts the URI), so the triggerer needs no store settings of its own. Each check
    runs in a thread (pymongo is blocking); a store that is down or restarting is logged and
    polled again until the deadline.
    """

    def __init__(self, trade_date: str, mongo_uri: str, database: str, deadline: str, poll_seconds: float = 60.0,
                 mongo_options: dict[str, Any] | None = None):
        super().__init__(deadline, poll_seconds)
        self.trade_date = trade_date
        self.mongo_uri = mongo_uri
        self.database = database
        self.mongo_options = dict(mongo_options or {})  # the connection's extras (MongoClient keywords)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"trade_date": self.trade_date, "mongo_uri": self.mongo_uri, "database": self.database,
             "deadline": self.deadline, "poll_seconds": self.poll_seconds, "mongo_options": self.mongo_options},
        )

    def __repr__(self) -> str:  # Airflow's default shows the kwargs: keep the URI's credentials out of logs
        from ta_scheduler.config import redact_url

        return (f"<AnalysisReadyTrigger {self.trade_date} store={redact_url(self.mongo_uri)} db={self.database} "
                f"deadline={self.deadline} poll={self.poll_seconds:g}s>")

    def prepare(self) -> None:
        from ta_scheduler.config import MongoTarget
        from ta_scheduler.storage.mongo import get_db

        self._db = get_db(MongoTarget(self.mongo_uri, self.database, "trigger", self.mongo_options))  # pooled client, shared by the process

    def check(self) -> str | None:
        from ta_scheduler.reports.readiness import analysis_missing

        return analysis_missing(self._db, self.trade_date)

    def waiting_for(self) -> str:
        return f"the analysis of {self.trade_date}"

    def event_fields(self) -> dict[str, Any]:
        return {"trade_date": self.trade_date}
