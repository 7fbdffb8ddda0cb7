"""Runs and markers are honest about time: a run without a logical date syncs the last session
that has closed; the financials "last complete" marker never passes today."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from airflow_cli import dags_test

from ta_scheduler.calendar.core import get_calendar
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


def test_a_run_without_logical_date_plans_the_last_closed_session():
    """The context of a run triggered with ``"logical_date": null``: no logical date, no interval."""
    run_after = datetime(2026, 11, 27, 11, 0, tzinfo=TZ)
    context = {"dag_run": SimpleNamespace(run_after=run_after, logical_date=None), "data_interval_start": None,
               "data_interval_end": None}
    plan = plan_daily_sync({}, context)
    assert plan == {"dates": ["2026-11-26"], "symbols": None, "mode": "run"}


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
