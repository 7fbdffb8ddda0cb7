"""The trigger the daily report defers to: polls the store from the triggerer until the day's
analysis is there or the deadline passes. No worker slot is held while it waits."""

from __future__ import annotations

from typing import Any

from ta_scheduler.deferral import PollUntilReadyTrigger


class AnalysisReadyTrigger(PollUntilReadyTrigger):
    """Fires once: ``{"status": "ready"}`` when ``market_sentiment`` and ``technical_indicators``
    of ``trade_date`` are stored, else ``{"status": "timeout", "detail": <what is missing>}`` at
    ``deadline`` (ISO 8601, timezone-aware). The polling loop is :class:`PollUntilReadyTrigger`'s.

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
