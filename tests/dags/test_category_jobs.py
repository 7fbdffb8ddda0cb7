"""Category DAGs run only the jobs due at a scheduled run's time; the rest are skipped."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from paths import DAGS_DIR
from ta_scheduler.category import jobs_for_run, skip_unless_due

TZ = ZoneInfo("Asia/Shanghai")


def _schedules(dag_file: str) -> dict[str, str]:
    spec = importlib.util.spec_from_file_location(f"_dag_{dag_file}", DAGS_DIR / f"{dag_file}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SCHEDULES


def _context(when: datetime, run_type: str = "scheduled", jobs: list[str] | None = None) -> dict:
    return {"dag_run": SimpleNamespace(run_type=run_type, run_after=when), "params": {"jobs": jobs or []}}


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
    assert jobs_for_run(_schedules("maintenance"), _context(when)) == due


def test_reports_daily_only_on_trading_days_weekly_on_sunday():
    schedules = _schedules("reports")
    assert jobs_for_run(schedules, _context(datetime(2026, 11, 27, 20, 0, tzinfo=TZ))) == ["daily"]
    assert jobs_for_run(schedules, _context(datetime(2026, 10, 1, 20, 0, tzinfo=TZ))) == []  # National Day
    assert jobs_for_run(schedules, _context(datetime(2026, 11, 29, 21, 0, tzinfo=TZ))) == ["weekly"]


def test_manual_runs_choose_jobs_and_default_to_all():
    schedules = _schedules("maintenance")
    when = datetime(2026, 11, 27, 10, 41, tzinfo=TZ)
    assert jobs_for_run(schedules, _context(when, "manual", ["backup"])) == ["backup"]
    assert jobs_for_run(schedules, _context(when, "manual")) == list(schedules)


def test_a_job_not_due_is_skipped():
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="backup is not due"):
        skip_unless_due("backup", ["health_check"])
    skip_unless_due("health_check", ["health_check"])
