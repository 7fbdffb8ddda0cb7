"""Runs and markers are honest about time: a run without a logical date syncs the last session
that has closed; the financials "last complete" marker never passes today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from airflow_cli import dags_test
from paths import DAGS_DIR
from ta_scheduler.calendar.lookup import get_calendar
from ta_scheduler.calendar.runs import Run
from ta_scheduler.constants import Collections as C
from ta_scheduler.providers.demo import DemoProvider
from ta_scheduler.sync import sync_financials
from ta_scheduler.sync.tasks import last_closed_session, plan_daily_sync

TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(("moment", "day"), [
    (datetime(2026, 11, 27, 16, 30, tzinfo=TZ), "2026-11-27"),   # after Friday's close
    (datetime(2026, 11, 27, 14, 59, tzinfo=TZ), "2026-11-26"),   # Friday still trading
    (datetime(2026, 11, 29, 12, 0, tzinfo=TZ), "2026-11-27"),    # Sunday
    (datetime(2026, 10, 5, 20, 0, tzinfo=TZ), "2026-09-30"),     # National Day holiday
])
def test_last_closed_session(moment, day):
    assert last_closed_session(moment).isoformat() == day


def _manual_run_without_logical_date(dag_id: str, run_after: datetime) -> Run:
    """A run triggered with ``"logical_date": null``: no logical date (not even the attribute), no
    data interval; what the DAG's first task builds from the values TaskFlow injects."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py")).dags[dag_id]
    return Run.of(dag, SimpleNamespace(run_type="manual", run_after=run_after, conf={}), None, None)


def test_a_run_without_logical_date_plans_the_last_closed_session():
    run = _manual_run_without_logical_date("daily_sync", datetime(2026, 11, 27, 11, 0, tzinfo=TZ))
    plan = plan_daily_sync({}, run)
    assert plan == {"dates": ["2026-11-26"], "symbols": None, "mode": "run"}


def test_a_manual_run_whose_interval_ends_ahead_plans_the_session_closed_by_now():
    """A manual run queued on a trading day before its close: the timetable's manual interval
    ends at that day's tick, still ahead. The plan is the last session closed by now, never the
    one still ahead (the test runs at any hour, so the interval is put days ahead)."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS_DIR / "daily_sync.py")).dags["daily_sync"]
    queued = datetime.now(TZ)
    run = Run.of(dag, SimpleNamespace(run_type="manual", run_after=queued, conf={}),
                 queued + timedelta(days=2), queued + timedelta(days=3))
    before = last_closed_session(datetime.now(TZ)).isoformat()
    plan = plan_daily_sync({}, run)
    assert plan["dates"] in ([before], [last_closed_session(datetime.now(TZ)).isoformat()])


def test_category_runs_without_logical_date_plan_from_run_after():
    """The ``KeyError: 'logical_date'`` class of bug: a manual run has no logical date to look up."""
    from ta_scheduler.calendar.runs import jobs_for_run
    from ta_scheduler.reports.tasks import plan_reports

    run = _manual_run_without_logical_date("reports", datetime(2026, 11, 29, 12, 0, tzinfo=TZ))  # a Sunday
    assert plan_reports({"daily": "trading_day@20:00", "weekly": "0 21 * * 0"}, {"jobs": ["weekly"]}, run) == {
        "jobs": ["weekly"], "date": "2026-11-27", "week_end": "2026-11-29", "analysis_wait_minutes": 120.0}
    run = _manual_run_without_logical_date("maintenance", datetime(2026, 11, 29, 12, 0, tzinfo=TZ))
    assert jobs_for_run({"backup": "0 2 * * *", "health_check": "*/10 * * * *"}, run, []) == ["backup", "health_check"]


@pytest.mark.parametrize("as_of", ["2026-11-25", "2026-12-31", "2027-06-30"])
def test_financials_marker_never_passes_today(mongo_db, as_of):
    provider = DemoProvider(20)
    result = sync_financials(provider, mongo_db, as_of, today=TODAY)
    state = mongo_db[C.SYNC_STATE].find_one({"job": "financials", "key": "demo"})
    assert state["last_complete_date"] == (TODAY - timedelta(days=1)).isoformat()
    assert result["end"] == TODAY.isoformat()


def test_a_marker_left_in_the_future_is_pulled_back(mongo_db):
    provider = DemoProvider(20)
    mongo_db[C.SYNC_STATE].insert_one({"_id": "financials|demo", "job": "financials", "key": "demo",
                                       "last_complete_date": "2027-03-01"})
    result = sync_financials(provider, mongo_db, TODAY.isoformat(), today=TODAY)
    assert (result["start"], result["end"]) == (TODAY.isoformat(), TODAY.isoformat())
    state = mongo_db[C.SYNC_STATE].find_one({"job": "financials", "key": "demo"})
    assert state["last_complete_date"] == (TODAY - timedelta(days=1)).isoformat()


def test_daily_sync_without_a_logical_date_syncs_the_last_closed_session(mongo_db, monkeypatch, tmp_path):
    """``airflow dags test daily_sync`` with no date: the run has no logical date, as one made by
    ``airflow dags trigger`` or REST ``"logical_date": null``."""
    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    monkeypatch.setenv("TA_DEMO_STOCKS", "20")
    monkeypatch.setenv("TA_CALENDAR_DIR", str(tmp_path / "calendar"))
    before = last_closed_session(datetime.now(TZ))
    res = dags_test("daily_sync", None, {"repair_days": 0})
    out = res.stdout + res.stderr
    after = last_closed_session(datetime.now(TZ))
    assert res.returncode == 0 and "state=success" in out, out[-6000:]
    stored = sorted(mongo_db[C.STOCK_DAILY_QUOTES].distinct("trade_date"))
    assert stored in ([before.isoformat()], [after.isoformat()])
    assert get_calendar().is_session(date.fromisoformat(stored[0]))
    assert mongo_db[C.STOCK_DAILY_QUOTES].count_documents({}) == 20
