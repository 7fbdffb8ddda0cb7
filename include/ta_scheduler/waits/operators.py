"""The deferrable wait operators (see the package doc): one base for the shape, one subclass a wait.

Imported by DAG files, so only the Task SDK at top level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

from ta_scheduler.waits.vendor import DEFAULT_DEADLINE

if TYPE_CHECKING:
    from ta_scheduler.waits.triggers import PollUntilReadyTrigger

#: Airflow's own deferral timeout = our deadline + this margin (our trigger answers first, clearly)
DEFERRAL_MARGIN = timedelta(minutes=10)


class DeferredWaitOperator(BaseOperator):
    """Check once; if not ready, defer to a trigger until a deadline; fail loudly past it.

    Subclasses implement ``execute`` (the first check, ending in :meth:`defer_until` when not
    ready), :meth:`ready_result` (the XCom once the trigger saw it ready) and
    :meth:`failure_message` (what failed and what to do).

    :param plan: the ``plan`` task's result (templated)
    """

    template_fields: tuple[str, ...] = ("plan",)
    ui_color = "#e8f0fe"

    def __init__(self, *, plan: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.plan = plan

    def defer_until(self, deadline: datetime, missing: str, trigger: Callable[[], PollUntilReadyTrigger]) -> NoReturn:
        """Fail now if ``deadline`` has passed, else defer to ``trigger()`` until it."""
        now = datetime.now(timezone.utc)
        if deadline <= now:
            self.fail(missing)
        self.log.info("%s; deferring until %s", missing, deadline.isoformat())
        self.defer(trigger=trigger(), method_name="execute_complete", timeout=deadline - now + DEFERRAL_MARGIN)

    def execute_complete(self, context: Mapping[str, Any], event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        event = event or {}
        if event.get("status") != "ready":
            self.fail(event.get("detail", f"unexpected trigger event {event!r}"))
        return {**self.ready_result(event), "deferred": True, "checks": event.get("checks")}

    def fail(self, missing: str) -> NoReturn:
        """Fail without retries (a retry would only wait again), naming what is missing."""
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(self.failure_message(missing))

    def ready_result(self, event: Mapping[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def failure_message(self, missing: str) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class WaitForVendorOperator(DeferredWaitOperator):
    """``daily_sync``: wait until tushare has ``plan``'s newest day for the market (or the run's
    ``symbols``, six-digit codes). The demo provider is always ready (its market is generated, not
    published); a run covering several days (a backfill) checks its newest day. The counts:
    :mod:`ta_scheduler.waits.vendor`.

    :param plan: the ``plan`` task's result (``dates``, ``symbols``)
    :param deadline: ``"HH:MM"`` exchange time on that day, or an ISO 8601 instant (templated)
    """

    template_fields = ("plan", "deadline")

    def __init__(self, *, plan: Any, deadline: str = DEFAULT_DEADLINE, **kwargs: Any):
        super().__init__(plan=plan, **kwargs)
        self.deadline = deadline

    @property
    def day(self) -> str:
        return self.plan["dates"][-1]

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        from ta_scheduler.providers import get_provider
        from ta_scheduler.storage.mongo import get_db
        from ta_scheduler.waits.vendor import deadline_for, listed_count, min_share, poll_seconds, published_count, shortfall

        provider = get_provider()
        day = self.day
        if provider.name != "tushare":
            self.log.info("provider %s publishes nothing to wait for: %s is ready", provider.name, day)
            return {"trade_date": day, "provider": provider.name, "deferred": False}
        symbols = self.plan.get("symbols")
        deadline = deadline_for(day, self.deadline)
        share = min_share()
        expected = listed_count(get_db(), provider.name, day, symbols)
        published = published_count(provider, day, symbols)
        missing = shortfall(day, expected, published, share)
        if missing is None:
            self.log.info("tushare has %s: %d of %d listed stocks", day, published, expected)
            return {"trade_date": day, "provider": provider.name, "expected": expected, "published": published,
                    "deferred": False}

        def trigger():
            from ta_scheduler.providers.tushare_pro import resolve_settings
            from ta_scheduler.waits.triggers import VendorReadyTrigger

            token, url = resolve_settings()
            return VendorReadyTrigger(trade_date=day, expected=expected, symbols=symbols, min_share=share,
                                      token=token, url=url, deadline=deadline.isoformat(), poll_seconds=poll_seconds())

        self.defer_until(deadline, missing, trigger)

    def ready_result(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return {"trade_date": self.day, "provider": "tushare", "expected": event.get("expected"),
                "published": event.get("published")}

    def failure_message(self, missing: str) -> str:
        from ta_scheduler.waits.vendor import deadline_for

        day = self.day
        return (f"daily_sync {day}: tushare has not published the day for the whole market by the deadline "
                f"{deadline_for(day, self.deadline).isoformat()} — {missing}. Nothing was synced for {day}; once "
                f'tushare has the day, clear this task or trigger daily_sync with {{"date": "{day}"}}.')


class WaitForAnalysisOperator(DeferredWaitOperator):
    """``reports``: wait until the analysis of ``plan["date"]`` is stored (the check:
    :mod:`ta_scheduler.reports.readiness`). A failure alert tells operators to run
    ``analysis_pipeline``: a report that would wait another two hours on a retry helps nobody.

    :param plan: the ``plan`` task's result: ``date``
        and ``analysis_wait_minutes`` (the deadline, counted from the first check; 0 = do not wait)
    """

    def execute(self, context: Mapping[str, Any]) -> dict[str, Any]:
        from ta_scheduler.config import mongo_target, setting_float
        from ta_scheduler.reports.readiness import analysis_missing
        from ta_scheduler.storage.mongo import get_db

        day = self.plan["date"]
        missing = analysis_missing(get_db(), day)
        if missing is None:
            return {"trade_date": day, "deferred": False}
        deadline = datetime.now(timezone.utc) + self._wait()

        def trigger():
            from ta_scheduler.waits.triggers import AnalysisReadyTrigger

            target = mongo_target()
            return AnalysisReadyTrigger(trade_date=day, mongo_uri=target.uri, database=target.database,
                                        deadline=deadline.isoformat(),
                                        poll_seconds=setting_float("TA_REPORTS_ANALYSIS_POLL_SECONDS"),
                                        mongo_options=dict(target.options))

        self.defer_until(deadline, missing, trigger)

    def _wait(self) -> timedelta:
        return timedelta(minutes=self.plan["analysis_wait_minutes"])

    def ready_result(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return {"trade_date": self.plan["date"]}

    def failure_message(self, missing: str) -> str:
        day = self.plan["date"]
        return (f"daily report {day}: the day's analysis was not stored within {self._wait()} — {missing}. "
                f"Run analysis_pipeline for {day}, then clear this task (or trigger reports with "
                f'{{"jobs": ["daily"], "date": "{day}"}}).')
