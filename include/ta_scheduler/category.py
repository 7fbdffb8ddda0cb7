"""Category DAGs: several named jobs with their own schedules in one DAG (SPEC §3 rules).

The DAG's ``MultiScheduleTimetable`` fires at the union of the jobs' schedules; the first task
(:func:`jobs_for_run`) decides which jobs this run executes and every job's first task calls
:func:`skip_unless_due`, so jobs not due show as *skipped* in the grid. Manual runs execute the
jobs named in the ``jobs`` param (default: all). Parse-safe: standard library only at import.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)


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


def run_time(context: Mapping[str, Any]):
    """The instant a run stands for: its ``run_after`` (the timetable tick), aware."""
    dag_run = context["dag_run"]
    return getattr(dag_run, "run_after", None) or context.get("data_interval_end") or context.get("logical_date")


def jobs_for_run(schedules: Mapping[str, str], context: Mapping[str, Any]) -> list[str]:
    """Jobs this run executes: due ones for scheduled runs, the ``jobs`` param otherwise."""
    from ta_scheduler.calendar.jobs import select_jobs
    from ta_scheduler.params import check_run_conf

    check_run_conf(context)
    dag_run = context["dag_run"]
    kind = str(getattr(dag_run.run_type, "value", dag_run.run_type)).lower()
    requested = list(context["params"].get("jobs") or [])
    jobs = select_jobs(schedules, run_type=kind, run_time=run_time(context), requested_jobs=requested)
    log.info("%s run at %s executes: %s", kind, run_time(context), ", ".join(jobs) or "nothing")
    return jobs


def skip_unless_due(job: str, due: list[str]) -> None:
    """Raise AirflowSkipException unless ``job`` runs in this run (its downstream skips too)."""
    if job not in due:
        from airflow.sdk.exceptions import AirflowSkipException

        raise AirflowSkipException(f"{job} is not due in this run (this run executes: {', '.join(due) or 'nothing'})")
