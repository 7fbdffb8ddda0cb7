"""The SSE/SZSE trading calendar: sources, sync, schedules, runs and job selection.

Light to import (standard library only): the timetable plugin and DAG files use it at parse
time. The sync (:mod:`.sync`, tushare + MongoDB) and the XSHG baking script (:mod:`.xshg`,
exchange_calendars + pandas) are separate modules imported only by tasks and operators.
See docs/calendar.md.
"""

from __future__ import annotations

from ta_scheduler.calendar.files import CalendarFileError, YearCalendar, calendar_dir
from ta_scheduler.calendar.lookup import (
    calendar_coverage_report,
    coverage_end,
    date_status,
    get_calendar,
    is_session,
)
from ta_scheduler.calendar.merged import ASSUMED, PROVISIONAL, VERIFIED, TradingCalendar
from ta_scheduler.calendar.runs import jobs_due, select_jobs

__all__ = [
    "ASSUMED",
    "PROVISIONAL",
    "VERIFIED",
    "CalendarFileError",
    "TradingCalendar",
    "YearCalendar",
    "calendar_coverage_report",
    "calendar_dir",
    "coverage_end",
    "date_status",
    "get_calendar",
    "is_session",
    "jobs_due",
    "select_jobs",
]
