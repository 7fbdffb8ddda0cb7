"""Which named jobs of a category DAG run in a given DAG run.

A category DAG (e.g. ``maintenance``) holds several jobs with their own schedules::

    SCHEDULES = {"cleanup": "0 2 * * *", "backup": "0 1 * * 0", "cache": "trading_day@09:00"}

Its timetable, ``MultiScheduleTimetable(SCHEDULES)``, fires at the union of those instants;
in each run a first task calls :func:`select_jobs` and the jobs not selected are skipped, so
the grid shows which job ran when. Pure functions: no Airflow import, no I/O except the
calendar files (through :func:`ta_scheduler.calendar.core.get_calendar`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from ta_scheduler.calendar.core import TradingCalendar, get_calendar
from ta_scheduler.calendar.schedules import DailyTicks, get_timezone, parse_schedule, to_local

DEFAULT_TIMEZONE = "Asia/Shanghai"

#: Run types whose jobs follow the schedule; every other run type (manual, asset-triggered)
#: runs the jobs it asks for.
SCHEDULED_RUN_TYPES = frozenset({"scheduled", "backfill"})


class ScheduleSet:
    """Named schedules, parsed once; the union of their ticks (local naive datetimes)."""

    def __init__(self, schedules: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        items = list(schedules.items()) if isinstance(schedules, Mapping) else [tuple(p) for p in schedules]
        if not items:
            raise ValueError("at least one named schedule is required")
        self.specs: dict[str, str] = {}
        self.ticks: dict[str, DailyTicks] = {}
        for name, spec in items:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"schedule names must be non-empty strings, got {name!r}")
            if name in self.specs:
                raise ValueError(f"schedule {name!r} is given twice")
            try:
                self.ticks[name] = parse_schedule(spec)
            except ValueError as exc:
                raise ValueError(f"schedule {name!r}: {exc}") from exc
            self.specs[name] = spec

    def next_tick(self, local: datetime, cal: TradingCalendar, *, inclusive: bool = False) -> datetime | None:
        """Earliest tick of any schedule after ``local`` (or at it, when ``inclusive``)."""
        found = [t for t in (s.next_tick(local, cal, inclusive=inclusive) for s in self.ticks.values()) if t]
        return min(found) if found else None

    def prev_tick(self, local: datetime, cal: TradingCalendar, *, inclusive: bool = True) -> datetime | None:
        """Latest tick of any schedule at or before ``local``."""
        found = [t for t in (s.prev_tick(local, cal, inclusive=inclusive) for s in self.ticks.values()) if t]
        return max(found) if found else None

    def due(self, local: datetime, cal: TradingCalendar) -> list[str]:
        """Names whose schedule fires exactly at ``local``, in declaration order."""
        return [name for name, ticks in self.ticks.items() if ticks.fires_at(local, cal)]


def jobs_due(
    schedules: Mapping[str, str], run_time: datetime, *, timezone: str = DEFAULT_TIMEZONE
) -> list[str]:
    """Names of the jobs whose schedule fires at ``run_time`` (aware; e.g. ``data_interval_end``).

    Trading-day schedules are due only on sessions; cron schedules follow the clock.
    """
    if run_time.tzinfo is None:
        raise ValueError(f"run_time {run_time!r} must be timezone-aware")
    local = to_local(run_time, get_timezone(timezone))
    return ScheduleSet(schedules).due(local, get_calendar())


def select_jobs(
    schedules: Mapping[str, str],
    *,
    run_type: str,
    run_time: datetime,
    requested_jobs: Iterable[str] | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[str]:
    """The jobs a run of a category DAG executes.

    Scheduled (and backfill) runs: the jobs due at ``run_time``. Manual and other runs: the
    jobs named in ``requested_jobs`` (the DAG's ``jobs`` param) in declaration order; ``None``,
    an empty list or ``["all"]`` means all jobs. An unknown name raises ValueError listing the
    valid ones, so a typo in a trigger fails loudly instead of silently doing nothing.
    """
    kind = str(getattr(run_type, "value", run_type)).lower()
    if kind in SCHEDULED_RUN_TYPES:
        return jobs_due(schedules, run_time, timezone=timezone)
    names = list(schedules)
    wanted = [str(j) for j in (requested_jobs or [])]
    if not wanted or wanted == ["all"]:
        return names
    unknown = [j for j in wanted if j not in schedules]
    if unknown:
        raise ValueError(f"unknown job(s) {unknown}: choose from {names} (or 'all')")
    return [n for n in names if n in set(wanted)]
