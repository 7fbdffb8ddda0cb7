"""The trigger the daily report defers to: polls the store from the triggerer until the day's
analysis is there or the deadline passes. No worker slot is held while it waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class AnalysisReadyTrigger(BaseTrigger):
    """Fires once: ``{"status": "ready"}`` when ``market_sentiment`` and ``technical_indicators``
    of ``trade_date`` are stored, else ``{"status": "timeout", "detail": <what is missing>}`` at
    ``deadline`` (ISO 8601, timezone-aware).

    The store is reached with the URI the task resolved on the worker (Airflow encrypts trigger
    kwargs in the metadata DB with the Fernet key and leaves them out of REST responses; our
    ``repr`` redacts the URI), so the triggerer needs no store settings of its own. Each check runs in a thread (pymongo is blocking); a store that is down or restarting
    is logged and polled again until the deadline.
    """

    def __init__(self, trade_date: str, mongo_uri: str, database: str, deadline: str, poll_seconds: float = 60.0):
        super().__init__()
        self.trade_date = trade_date
        self.mongo_uri = mongo_uri
        self.database = database
        self.deadline = deadline
        self.poll_seconds = float(poll_seconds)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"trade_date": self.trade_date, "mongo_uri": self.mongo_uri, "database": self.database,
             "deadline": self.deadline, "poll_seconds": self.poll_seconds},
        )

    def __repr__(self) -> str:  # Airflow's default shows the kwargs: keep the URI's credentials out of logs
        from ta_scheduler.config import redact_url

        return (f"<AnalysisReadyTrigger {self.trade_date} store={redact_url(self.mongo_uri)} db={self.database} "
                f"deadline={self.deadline} poll={self.poll_seconds:g}s>")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from ta_scheduler.config import MongoTarget
        from ta_scheduler.reports.readiness import analysis_missing
        from ta_scheduler.storage.mongo import get_db

        deadline = datetime.fromisoformat(self.deadline)
        db = get_db(MongoTarget(self.mongo_uri, self.database, "trigger"))  # pooled client, shared by the process
        checks = 0
        while True:
            missing = await asyncio.to_thread(analysis_missing, db, self.trade_date)
            checks += 1
            if missing is None:
                self.log.info("analysis for %s is stored (check %d)", self.trade_date, checks)
                yield TriggerEvent({"status": "ready", "trade_date": self.trade_date, "checks": checks})
                return
            remaining = (deadline - datetime.now(timezone.utc)).total_seconds()
            if remaining <= 0:
                yield TriggerEvent({"status": "timeout", "trade_date": self.trade_date, "checks": checks, "detail": missing})
                return
            self.log.info("waiting for the analysis of %s (%s); next check in %.0f s", self.trade_date, missing,
                          min(self.poll_seconds, remaining))
            await asyncio.sleep(min(self.poll_seconds, remaining))
