"""What the ``reports`` DAG's tasks call: the run's jobs and dates, then build and deliver."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from ta_scheduler.storage.mongo import get_db

if TYPE_CHECKING:
    from ta_scheduler.calendar.runs import Run

log = logging.getLogger(__name__)


def plan_reports(schedules: Mapping[str, str], params: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """``{"jobs": [...], "date": ..., "week_end": ..., "analysis_wait_minutes": ...}``: the jobs of
    the run (``calendar.runs.jobs_for_run``), the daily report's trading day (``date``, else the
    run's day, or the last session before it), the week-end date of the weekly report, and how
    long the daily report waits for the day's analysis."""
    from ta_scheduler.calendar.lookup import get_calendar
    from ta_scheduler.calendar.runs import jobs_for_run

    jobs = jobs_for_run(schedules, run, params.get("jobs"))
    day = date.fromisoformat(params["date"]) if params.get("date") else run.day
    cal = get_calendar()
    trading_day = day if cal.is_session(day) else cal.previous_session(day)
    return {"jobs": jobs, "date": trading_day.isoformat(), "week_end": day.isoformat(),
            "analysis_wait_minutes": float(params.get("analysis_wait_minutes", 120))}


def run_build_daily(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.reports.daily import build_daily_report

    return build_daily_report(get_db(), plan["date"])


def run_build_weekly(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.reports.weekly import build_weekly_report

    return build_weekly_report(get_db(), plan["week_end"])


def run_deliver(plan: Mapping[str, Any], kind: str) -> dict[str, Any]:
    from ta_scheduler.reports.delivery import deliver_report

    return deliver_report(get_db(), kind, plan["date"] if kind == "daily" else plan["week_end"])
