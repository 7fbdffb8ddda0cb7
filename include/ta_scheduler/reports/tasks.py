"""What the ``reports`` DAG's tasks call: the run's jobs and dates, then build and deliver."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from ta_scheduler.constants import TIMEZONE
from ta_scheduler.storage.mongo import get_db

log = logging.getLogger(__name__)


def plan_reports(schedules: Mapping[str, str], params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """``{"jobs": [...], "date": ..., "week_end": ..., "analysis_wait_minutes": ...}``: the daily
    report's trading day (the run's day, or the last session before it), the week-end date of the
    weekly report, and how long the daily report waits for the day's analysis."""
    from ta_scheduler.calendar.core import get_calendar
    from ta_scheduler.category import jobs_for_run, run_time

    ctx = dict(context)
    ctx["params"] = {"jobs": [params["kind"]] if params.get("kind") else []}
    jobs = jobs_for_run(schedules, ctx)
    day = run_time(context).astimezone(ZoneInfo(TIMEZONE)).date()
    if params.get("date"):
        from datetime import date

        day = date.fromisoformat(params["date"])
    cal = get_calendar()
    trading_day = day if cal.is_session(day) else cal.previous_session(day)
    return {"jobs": jobs, "date": trading_day.isoformat(), "week_end": day.isoformat(),
            "analysis_wait_minutes": float(params.get("analysis_wait_minutes", 120))}


def _skip_unless(job: str, plan: Mapping[str, Any]) -> None:
    from ta_scheduler.category import skip_unless_due

    skip_unless_due(job, plan["jobs"])


def run_build_daily(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.reports.daily import build_daily_report

    _skip_unless("daily", plan)
    return build_daily_report(get_db(), plan["date"])


def run_build_weekly(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.reports.weekly import build_weekly_report

    _skip_unless("weekly", plan)
    return build_weekly_report(get_db(), plan["week_end"])


def run_deliver(plan: Mapping[str, Any], kind: str) -> dict[str, Any]:
    from ta_scheduler.reports.delivery import deliver_report

    _skip_unless(kind, plan)
    return deliver_report(get_db(), kind, plan["date"] if kind == "daily" else plan["week_end"])
