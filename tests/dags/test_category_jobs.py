"""Category DAGs run only the jobs due at a scheduled run's time; the rest are skipped.

Every run's tick, day and kind come from ``ta_scheduler.calendar.runs`` (one definition)."""

from __future__ import annotations

import runpy
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from paths import DAGS_DIR
from ta_scheduler.calendar.runs import Run, job_tasks, jobs_for_run, run_tick

TZ = ZoneInfo("Asia/Shanghai")


def _dag_module(dag_file: str) -> dict:
    return runpy.run_path(str(DAGS_DIR / f"{dag_file}.py"))


def _run(when: datetime, run_type: str = "scheduled") -> Run:
    return Run.of(None, SimpleNamespace(run_type=run_type, run_after=when), data_interval_end=when)


@pytest.mark.parametrize(
    ("when", "due"),
    [
        (datetime(2026, 11, 29, 1, 0, tzinfo=TZ), ["cleanup", "health_check"]),  # Sunday 01:00
        (datetime(2026, 11, 27, 2, 0, tzinfo=TZ), ["backup", "health_check"]),
        (datetime(2026, 11, 27, 0, 30, tzinfo=TZ), ["cache_refresh", "log_archive", "health_check"]),
        (datetime(2026, 11, 27, 10, 30, tzinfo=TZ), ["cache_refresh", "health_check"]),
        (datetime(2026, 11, 27, 10, 40, tzinfo=TZ), ["health_check"]),
    ],
)
def test_maintenance_runs_only_due_jobs(when, due):
    assert jobs_for_run(_dag_module("maintenance")["SCHEDULES"], _run(when), ["backup"]) == due


def test_reports_daily_only_on_trading_days_weekly_on_sunday():
    schedules = _dag_module("reports")["SCHEDULES"]
    assert jobs_for_run(schedules, _run(datetime(2026, 11, 27, 20, 0, tzinfo=TZ)), []) == ["daily"]
    assert jobs_for_run(schedules, _run(datetime(2026, 10, 1, 20, 0, tzinfo=TZ)), []) == []  # National Day
    assert jobs_for_run(schedules, _run(datetime(2026, 11, 29, 21, 0, tzinfo=TZ)), []) == ["weekly"]


def test_manual_runs_choose_jobs_and_default_to_all():
    schedules = _dag_module("maintenance")["SCHEDULES"]
    when = datetime(2026, 11, 27, 10, 41, tzinfo=TZ)
    assert jobs_for_run(schedules, _run(when, "manual"), ["backup"]) == ["backup"]
    assert jobs_for_run(schedules, _run(when, "manual"), []) == list(schedules)
    assert jobs_for_run(schedules, _run(when, "manual"), ["all"]) == list(schedules)


@pytest.mark.parametrize("dag_file", ["maintenance", "reports"])
def test_every_category_dag_has_the_same_jobs_param(dag_file):
    from airflow.dag_processing.dagbag import DagBag
    from ta_scheduler.calendar.runs import jobs_param_schema

    module = _dag_module(dag_file)
    dag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_file}.py")).dags[dag_file]
    param = dag.params.get_param("jobs")
    assert {**param.schema, "description": param.description} == jobs_param_schema(module["SCHEDULES"])
    assert dag.params["jobs"] == []


@pytest.mark.parametrize(("dag_file", "entries"), [
    ("maintenance", {"cleanup", "cache_refresh", "log_archive", "backup", "health_check"}),
    ("reports", {"wait_for_analysis", "build_weekly"}),
    ("analysis_pipeline", {"indicators", "sentiment", "hot_stocks", "risk"}),
])
def test_one_branch_task_selects_the_jobs_and_skips_the_others(dag_file, entries):
    """The jobs' first tasks hang off one ``@task.branch`` (no task checks whether it is due)."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_file}.py")).dags[dag_file]
    branches = [t for t in dag.tasks if type(t).__name__ == "_BranchPythonDecoratedOperator"]
    assert len(branches) == 1
    assert set(branches[0].downstream_task_ids) == entries


def test_job_tasks_names_each_jobs_first_task():
    assert job_tasks(["daily", "weekly"], {"daily": "wait_for_analysis", "weekly": "build_weekly"}) == [
        "wait_for_analysis", "build_weekly"]
    assert job_tasks(["backup"]) == ["backup"]
    assert job_tasks([]) == []


def test_the_run_tick_is_the_interval_end_else_run_after_in_exchange_time():
    end = datetime(2026, 11, 27, 8, 30, tzinfo=ZoneInfo("UTC"))
    queued = datetime(2026, 11, 27, 9, 0, tzinfo=ZoneInfo("UTC"))
    assert run_tick(end, queued) == datetime(2026, 11, 27, 16, 30, tzinfo=TZ)
    assert run_tick(end, queued).tzinfo == TZ
    assert run_tick(None, queued) == datetime(2026, 11, 27, 17, 0, tzinfo=TZ)  # no logical date, no interval
    with pytest.raises(ValueError, match="run_after"):
        run_tick(None, None)


def test_a_manual_run_executes_the_chosen_job_and_airflow_skips_the_others():
    """Through ``airflow dags test`` (a run the scheduler would make): the branch follows only the
    requested job; Airflow marks every other job skipped."""
    import re

    from airflow_cli import dags_test

    res = dags_test("maintenance", None, {"jobs": ["log_archive"]})
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "state=success" in out, out[-6000:]
    assert "Following branch {'log_archive'}" in out, out[-6000:]
    skipped = re.search(r"Skipping tasks \[([^\]]*)\]", out)
    assert skipped is not None, out[-6000:]
    assert sorted(re.findall(r"\('(\w+)', -1\)", skipped.group(1))) == ["backup", "cache_refresh", "cleanup", "health_check"]
