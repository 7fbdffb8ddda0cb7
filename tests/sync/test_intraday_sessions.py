"""intraday_prices stores snapshots only inside the trading sessions: the DAG's own timetable
fires only at trading times, and a run at any other time (a manual trigger in the lunch break,
after the close or on a holiday) refreshes the latest quotes but appends no snapshot."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pendulum
import pytest
from airflow.timetables.base import TimeRestriction
from airflow_cli import dags_test
from paths import DAGS_DIR
from ta_scheduler.calendar.lookup import get_calendar
from ta_scheduler.constants import Collections as C

TZ = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("moment", "trading"),
    [
        (datetime(2026, 11, 27, 9, 29, 59), False),
        (datetime(2026, 11, 27, 9, 30), True),
        (datetime(2026, 11, 27, 11, 30), True),
        (datetime(2026, 11, 27, 11, 30, 1), False),
        (datetime(2026, 11, 27, 12, 0), False),
        (datetime(2026, 11, 27, 13, 0), True),
        (datetime(2026, 11, 27, 15, 0), True),
        (datetime(2026, 11, 27, 15, 5), False),
        (datetime(2026, 11, 28, 10, 0), False),  # Saturday
        (datetime(2026, 10, 7, 10, 0), False),  # National Day holiday, a Wednesday
        (datetime(2026, 11, 27, 2, 5, tzinfo=ZoneInfo("UTC")), True),  # 10:05 in Shanghai
    ],
)
def test_is_trading_time(moment, trading):
    assert get_calendar().is_trading_time(moment) is trading


def test_the_dags_timetable_fires_only_at_trading_times():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS_DIR / "intraday_prices.py")).get_dag("intraday_prices")
    start, end = pendulum.datetime(2026, 9, 28, tz="Asia/Shanghai"), pendulum.datetime(2026, 10, 10, tz="Asia/Shanghai")  # a Saturday
    restriction = TimeRestriction(earliest=start, latest=None, catchup=True)
    ticks, last = [], None
    while True:
        info = dag.timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info.run_after > end:
            break
        ticks.append(info.run_after)
        last = info.data_interval
    cal = get_calendar()
    assert ticks and all(cal.is_trading_time(t) for t in ticks)
    sessions = cal.sessions_between(start.date(), end.date())
    assert len(ticks) == 50 * len(sessions)
    assert {t.in_timezone("Asia/Shanghai").date() for t in ticks} == set(sessions)


def test_manual_runs_at_any_time_store_snapshots_only_at_session_ticks(mongo_db, monkeypatch):
    """Through ``airflow dags test`` on a database of its own (demo market): a manual run's
    interval ends at the last session tick, so its snapshot is labelled with that tick."""
    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    runs = {
        "2026-11-27T10:05:00+08:00": "2026-11-27T10:05:00+08:00",  # in the morning session
        "2026-11-27T12:00:00+08:00": "2026-11-27T11:30:00+08:00",  # lunch break: the morning's last tick
        "2026-11-27T15:30:00+08:00": "2026-11-27T15:00:00+08:00",  # after the close: the close
        "2026-10-07T10:05:00+08:00": "2026-09-30T15:00:00+08:00",  # National Day holiday: the last close before it
    }
    for logical_date, tick in runs.items():
        res = dags_test("intraday_prices", logical_date)
        out = res.stdout + res.stderr
        assert res.returncode == 0 and "state=success" in out, out[-5000:]
        assert mongo_db[C.INTRADAY_SNAPSHOTS].count_documents({"snapshot_time": datetime.fromisoformat(tick)}) > 100, out[-3000:]
    stored = mongo_db[C.INTRADAY_SNAPSHOTS].distinct("snapshot_time")
    assert sorted(stored) == sorted(datetime.fromisoformat(t) for t in runs.values())
    assert all(get_calendar().is_trading_time(t) for t in stored)


def test_a_tick_outside_the_sessions_refreshes_latest_quotes_but_stores_no_snapshot(mongo_db, monkeypatch):
    """A run whose interval was set by hand (REST ``data_interval_end``) outside the sessions."""
    from ta_scheduler.calendar.runs import Run
    from ta_scheduler.sync.tasks import run_intraday_snapshot

    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    monkeypatch.delenv("TUSHARE_TOKEN", raising=False)
    for tick in (datetime(2026, 11, 27, 12, 0, tzinfo=TZ), datetime(2026, 11, 28, 10, 5, tzinfo=TZ)):
        result = run_intraday_snapshot(Run("manual", tick))
        assert result["snapshot"] == {"skipped": "outside trading sessions"}
        assert result["latest"]["inserted"] + result["latest"]["updated"] > 100
        assert mongo_db[C.MARKET_QUOTES].count_documents({"snapshot_time": tick}) == result["quotes"]
    assert mongo_db[C.INTRADAY_SNAPSHOTS].count_documents({}) == 0
