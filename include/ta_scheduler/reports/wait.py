"""The daily report's wait for the day's analysis, as a deferrable operator.

``execute`` checks the store once; if the analysis is not there yet the task defers to
:class:`~ta_scheduler.reports.triggers.AnalysisReadyTrigger` and frees its worker slot. When the
trigger fires, ``execute_complete`` either returns (the report is built next) or fails the task
without retries, naming what is missing: a report that would wait another two hours on a retry
helps nobody, and the failure alert tells operators to run ``analysis_pipeline``.

This module is imported by the DAG file, so it imports only the Task SDK at top level.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import BaseOperator

def poll_seconds() -> float:
    """How often the trigger checks the store (seconds): ``TA_REPORTS_ANALYSIS_POLL_SECONDS``."""
    from ta_scheduler.config import setting_float

    return setting_float("TA_REPORTS_ANALYSIS_POLL_SECONDS")


class WaitForAnalysisOperator(BaseOperator):
    """Wait (deferred, in the triggerer) until the analysis of ``plan["date"]`` is stored.

    :param plan: the ``plan`` task's result: ``date``
        and ``analysis_wait_minutes`` (the deadline, counted from the first check; 0 = do not wait)
    """

    template_fields = ("plan",)
    ui_color = "#e8f0fe"

    def __init__(self, *, plan: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan = plan

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        from ta_scheduler.config import mongo_target
        from ta_scheduler.deferral import DEFERRAL_MARGIN
        from ta_scheduler.reports.readiness import analysis_missing
        from ta_scheduler.reports.triggers import AnalysisReadyTrigger
        from ta_scheduler.storage.mongo import get_db

        day = self.plan["date"]
        missing = analysis_missing(get_db(), day)
        if missing is None:
            return {"trade_date": day, "deferred": False}
        wait = self._wait()
        if wait <= timedelta(0):
            self._fail(day, wait, missing)
        deadline = datetime.now(timezone.utc) + wait
        self.log.info("analysis for %s not stored yet (%s); deferring until %s", day, missing, deadline.isoformat())
        target = mongo_target()
        self.defer(
            trigger=AnalysisReadyTrigger(trade_date=day, mongo_uri=target.uri, database=target.database,
                                         deadline=deadline.isoformat(), poll_seconds=poll_seconds(),
                                         mongo_options=dict(target.options)),
            method_name="execute_complete",
            timeout=wait + DEFERRAL_MARGIN,
        )

    def execute_complete(self, context: Mapping[str, Any], event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        event = event or {}
        day = self.plan["date"]
        if event.get("status") != "ready":
            self._fail(day, self._wait(), event.get("detail", f"unexpected trigger event {event!r}"))
        return {"trade_date": day, "deferred": True, "checks": event.get("checks")}

    def _wait(self) -> timedelta:
        return timedelta(minutes=self.plan["analysis_wait_minutes"])

    @staticmethod
    def _fail(day: str, wait: timedelta, missing: str) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"daily report {day}: the day's analysis was not stored within {wait} — {missing}. "
            f"Run analysis_pipeline for {day}, then clear this task (or trigger reports with "
            f'{{"jobs": ["daily"], "date": "{day}"}}).'
        )
