"""A DAG run as plain values (:class:`Run`: kind, tick, day, conf), and which jobs of a
category DAG it executes (docs/calendar.md "Category DAGs").

The tick is the run's data interval end, else its ``run_after`` (a run without a logical date
has no interval); never a ``logical_date`` lookup. Tasks build ``Run.of(...)`` from the values
TaskFlow injects by name and pass it, not the Airflow context, to ``include/``. A category DAG's
first task is a ``@task.branch`` returning :func:`job_tasks` of :func:`jobs_for_run`; Airflow
skips the other jobs. Parse-safe: standard library and the light calendar only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ta_scheduler.calendar.lookup import get_calendar
from ta_scheduler.calendar.merged import TradingCalendar
from ta_scheduler.calendar.schedules import CronTicks, DailyTicks, get_timezone, parse_schedule, to_local
from ta_scheduler.constants import TIMEZONE
from ta_scheduler.market import exchange_time

log = logging.getLogger(__name__)

#: Run types whose jobs follow the schedule; every other run type (manual, asset-triggered)
#: runs the jobs it asks for.
SCHEDULED_RUN_TYPES = frozenset({"scheduled", "backfill"})


# ---- the run ----------------------------------------------------------------------------------

def run_kind(run_type: Any) -> str:
    """``scheduled``, ``backfill``, ``manual`` or ``asset_triggered`` (from Airflow's ``DagRunType``
    or its value)."""
    return str(getattr(run_type, "value", run_type)).lower()


def run_tick(data_interval_end: datetime | None, run_after: datetime | None) -> datetime:
    """The instant a run stands for, in exchange time (aware, a plain ``datetime``): the end of its
    data interval, else its ``run_after``. Category timetables give every run an exact interval at
    its tick; a run without a logical date has no interval and stands for the moment it was queued."""
    moment = data_interval_end or run_after
    if moment is None:
        raise ValueError("a run has a data interval end or a run_after")
    return exchange_time(moment)


@dataclass(frozen=True)
class Run:
    """What a task needs to know about its DAG run, as plain values."""

    kind: str
    tick: datetime
    dag_id: str = ""
    conf: Mapping[str, Any] = field(default_factory=dict)
    #: the DAG's param schemas (``ta_scheduler.params.param_schemas``), for :meth:`check_conf`
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: start of the data interval, exchange time (None for runs without a logical date)
    interval_start: datetime | None = None

    @classmethod
    def of(cls, dag: Any, dag_run: Any, data_interval_start: datetime | None = None,
           data_interval_end: datetime | None = None) -> Run:
        """The run of a task, from the values TaskFlow injects by name."""
        from ta_scheduler.params import param_schemas

        return cls(
            kind=run_kind(dag_run.run_type),
            tick=run_tick(data_interval_end, getattr(dag_run, "run_after", None)),
            dag_id=getattr(dag, "dag_id", ""),
            conf=dict(getattr(dag_run, "conf", None) or {}),
            schemas=param_schemas(getattr(dag, "params", None)),
            interval_start=exchange_time(data_interval_start) if data_interval_start else None,
        )

    @property
    def day(self) -> date:
        """The exchange-local date the run stands for."""
        return self.tick.date()

    @property
    def scheduled(self) -> bool:
        return self.kind in SCHEDULED_RUN_TYPES

    def check_conf(self) -> None:
        """Refuse the run's conf as the trigger would (runs created any other way): raises
        ``AirflowFailException`` naming every problem, since retrying cannot fix a conf."""
        from ta_scheduler.params import conf_errors, format_errors

        errors = conf_errors(self.dag_id, dict(self.conf), self.schemas) if self.dag_id else []
        if errors:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(format_errors(self.dag_id, errors))


# ---- category DAGs ------------------------------------------------------------------------------

class ScheduleSet:
    """Named schedules, parsed once; the union of their ticks (local naive datetimes)."""

    def __init__(self, schedules: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        items = list(schedules.items()) if isinstance(schedules, Mapping) else [tuple(p) for p in schedules]
        if not items:
            raise ValueError("at least one named schedule is required")
        self.specs: dict[str, str] = {}
        self.ticks: dict[str, DailyTicks | CronTicks] = {}
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


def jobs_due(schedules: Mapping[str, str], run_time: datetime, *, timezone: str = TIMEZONE) -> list[str]:
    """Names of the jobs whose schedule fires at ``run_time`` (aware; a run's tick).

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
    timezone: str = TIMEZONE,
) -> list[str]:
    """The jobs a run of a category DAG executes.

    Scheduled (and backfill) runs: the jobs due at ``run_time``. Manual and other runs: the
    jobs named in ``requested_jobs`` (the DAG's ``jobs`` param) in declaration order; ``None``,
    an empty list or ``["all"]`` means all jobs. An unknown name raises ValueError listing the
    valid ones, so a typo in a trigger fails loudly instead of silently doing nothing.
    """
    if run_kind(run_type) in SCHEDULED_RUN_TYPES:
        return jobs_due(schedules, run_time, timezone=timezone)
    names = list(schedules)
    wanted = [str(j) for j in (requested_jobs or [])]
    if not wanted or wanted == ["all"]:
        return names
    unknown = [j for j in wanted if j not in schedules]
    if unknown:
        raise ValueError(f"unknown job(s) {unknown}: choose from {names} (or 'all')")
    return [n for n in names if n in set(wanted)]


def jobs_for_run(schedules: Mapping[str, str], run: Run, requested_jobs: Iterable[str] | None) -> list[str]:
    """A category DAG's first task: check the run's conf, then :func:`select_jobs` for the run."""
    run.check_conf()
    jobs = select_jobs(schedules, run_type=run.kind, run_time=run.tick, requested_jobs=requested_jobs)
    log.info("%s run at %s executes: %s", run.kind, run.tick.isoformat(), ", ".join(jobs) or "nothing")
    return jobs


def job_tasks(jobs: Iterable[str], first_tasks: Mapping[str, str] | None = None) -> list[str]:
    """What a category DAG's ``@task.branch`` returns: the first task id of each job that runs
    (``first_tasks`` maps a job to it; by default a job's first task has the job's name)."""
    return [(first_tasks or {}).get(job, job) for job in jobs]


def jobs_param_schema(schedules: Mapping[str, str]) -> dict[str, Any]:
    """``Param(**schema)`` for ``jobs``: a list of job names (or ``all``), checked at trigger time."""
    names = list(schedules)
    return {
        "type": "array",
        "items": {"type": "string", "enum": [*names, "all"]},
        "uniqueItems": True,
        "maxItems": len(names) + 1,
        "title": "Jobs",
        "description": f"Manual runs: which jobs to run ({', '.join(names)}); empty or 'all' = every job. "
        "Scheduled runs ignore it and run the jobs due at their time.",
    }
