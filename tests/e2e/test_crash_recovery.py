"""Crashes in the middle of a sync, on the real CeleryExecutor deployment, recovered by
Airflow's own retry: the task process SIGKILLed halfway through a backfill (some days written,
others not), and the store killed and restarted under a running backfill. Afterwards every day holds exactly one copy of
each row, and every day is complete.

Each test waits for Airflow's retry of ``daily_sync``; the e2e deployment's cluster policy
(``tests/e2e/policy/airflow_local_settings.py``) shortens its delay from minutes to seconds.
Where exactly the kill lands is left to timing here; a kill right after each single write is
tested in ``tests/sync/test_crash_points.py``.
"""

from __future__ import annotations

import subprocess

import pytest
from pymongo import MongoClient
from ta_scheduler.calendar.lookup import get_calendar

from e2e.cluster import wait_until

pytestmark = pytest.mark.slow

BARS = "stock_daily_quotes"


def _sessions(first: str, last: str) -> list[str]:
    from datetime import date

    return [d.isoformat() for d in get_calendar().sessions_between(date.fromisoformat(first), date.fromisoformat(last))]


def _db(e2e_world, timeout_ms: int = 10_000):
    return MongoClient(e2e_world["mongo_uri"], serverSelectionTimeoutMS=timeout_ms)[e2e_world["db_name"]]


def _days_stored(db, days: list[str]) -> int:
    return len(db[BARS].distinct("trade_date", {"trade_date": {"$in": days}}))


def _start_backfill(cluster, e2e_world, days: list[str], seconds_per_day: float) -> str:
    """A backfill whose days each take ``seconds_per_day`` (the fake replies late to ``daily``)."""
    e2e_world["tushare"].inject("daily", "slow", times=2 * len(days), seconds=seconds_per_day)
    status, run = cluster.trigger("daily_sync", {"start_date": days[0], "end_date": days[-1]})
    assert status == 200, run
    return run["dag_run_id"]


def _ti(cluster, run_id: str) -> dict:
    return cluster.task_instances("daily_sync", run_id)["sync_daily_bars"]


def _assert_each_day_complete_once(e2e_world, days: list[str]) -> None:
    db = _db(e2e_world)
    tushare = e2e_world["tushare"]
    keys = [(d["symbol"], d["trade_date"], d["data_source"], d["period"])
            for d in db[BARS].find({"trade_date": {"$in": days}}, {"symbol": 1, "trade_date": 1, "data_source": 1, "period": 1})]
    assert len(keys) == len(set(keys)), "a row is stored twice"
    for day in days:
        served = tushare.handle({"api_name": "daily", "token": tushare.token, "params": {"trade_date": day.replace("-", "")}},
                                "/daily")[1]["data"]["items"]
        marker = db["sync_state"].find_one({"job": "daily_bars", "key": f"tushare|{day}"})
        assert marker is not None, f"{day} has no completion marker"
        stored = db[BARS].count_documents({"trade_date": day, "data_source": "tushare"})
        assert marker["rows"] == len(served) and stored == marker["stored"] > 0, (day, marker, stored, len(served))


def test_task_killed_mid_write_is_retried_and_stores_each_row_once(cluster, e2e_world):
    days = _sessions("2026-10-12", "2026-10-19")  # 6 sessions no other test syncs
    db = _db(e2e_world)
    cluster.wait_dag("daily_sync")
    run_id = _start_backfill(cluster, e2e_world, days, seconds_per_day=1.5)
    ti = cluster.wait_task_state("daily_sync", run_id, "sync_daily_bars", {"running"}, 240)
    wait_until(lambda: _days_stored(db, days) >= 2, 120, "two days stored")

    killed = subprocess.run(["pkill", "-KILL", "-f", f"airflow worker -- {ti['id']}"], capture_output=True)
    assert killed.returncode == 0, "the task process was not found"
    partial = _days_stored(db, days)
    assert 2 <= partial < len(days)

    killed_try = cluster.wait_task_state("daily_sync", run_id, "sync_daily_bars", {"up_for_retry", "failed"}, 120)
    assert killed_try["state"] == "up_for_retry", killed_try
    assert cluster.wait_run("daily_sync", run_id, timeout=600) == "success"
    final = _ti(cluster, run_id)
    assert final["state"] == "success" and final["try_number"] == 2, final
    result = cluster.xcom("daily_sync", run_id, "sync_daily_bars")
    assert result["skipped"] >= partial - 1 and len(result["fetched"]) + result["skipped"] == len(days), result
    _assert_each_day_complete_once(e2e_world, days)


def test_store_restarted_during_a_backfill_the_retry_completes(cluster, e2e_world):
    days = _sessions("2026-09-14", "2026-09-21")  # 6 sessions no other test syncs
    store = e2e_world["store"]
    db = _db(e2e_world)
    cluster.wait_dag("daily_sync")
    run_id = _start_backfill(cluster, e2e_world, days, seconds_per_day=1.5)
    wait_until(lambda: _days_stored(db, days) >= 2, 240, "two days stored")

    store.kill()  # the store crashes under the running task ...
    failed_try = cluster.wait_task_state("daily_sync", run_id, "sync_daily_bars", {"up_for_retry", "failed"}, 120)
    assert failed_try["state"] == "up_for_retry", failed_try
    store.start()  # ... and comes back before Airflow retries

    assert cluster.wait_run("daily_sync", run_id, timeout=600) == "success"
    final = _ti(cluster, run_id)
    assert final["state"] == "success" and final["try_number"] == 2, final
    _assert_each_day_complete_once(e2e_world, days)
