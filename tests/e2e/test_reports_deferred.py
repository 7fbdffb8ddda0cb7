"""The daily report waits for the day's analysis in the real triggerer (task state ``deferred``,
no worker slot held) and continues once the data pipeline has produced it: reports → (deferred)
→ daily_sync → analysis_pipeline (started by the daily_bars asset) → the trigger fires → the
report is built and delivered."""

from __future__ import annotations

import time

import pytest
from pymongo import MongoClient

pytestmark = pytest.mark.slow

DAY = "2026-11-25"  # no other end-to-end test syncs this day itself


def _settled(cluster, timeout: float = 600) -> None:
    """Wait until no ``daily_sync`` or ``analysis_pipeline`` run is queued or running: the
    deployment's own scheduled ``daily_sync`` (and any test's) repairs the last 20 trading days,
    this one among them, and the analysis it starts computes them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = cluster.request("GET", "/api/v2/dags/~/dagRuns?state=queued&state=running&limit=100")
        assert status == 200, body
        if not [r for r in body["dag_runs"] if r["dag_id"] in ("daily_sync", "analysis_pipeline")]:
            return
        time.sleep(2)
    raise AssertionError(f"daily_sync / analysis_pipeline runs still active after {timeout} s")


def test_daily_report_defers_until_the_analysis_exists(cluster, e2e_world):
    db = MongoClient(e2e_world["mongo_uri"])[e2e_world["db_name"]]
    cluster.wait_dag("reports")
    _settled(cluster)
    db["market_sentiment"].delete_many({"trade_date": DAY})  # the day's analysis does not exist yet
    status, run = cluster.trigger("reports", {"jobs": ["daily"], "date": DAY, "analysis_wait_minutes": 15})
    assert status == 200, run
    run_id = run["dag_run_id"]
    waiting = cluster.wait_task_state("reports", run_id, "wait_for_analysis", {"deferred", "failed", "success"})
    assert waiting["state"] == "deferred"
    assert db["reports"].count_documents({"report_date": DAY}) == 0

    status, sync = cluster.trigger("daily_sync", {"date": DAY})
    assert status == 200, sync
    assert cluster.wait_run("daily_sync", sync["dag_run_id"], timeout=300) == "success"

    assert cluster.wait_run("reports", run_id, timeout=600) == "success"
    assert cluster.xcom("reports", run_id, "wait_for_analysis")["deferred"] is True
    tis = cluster.task_instances("reports", run_id)
    assert tis["build_daily"]["state"] == "success" and tis["build_weekly"]["state"] == "skipped"
    assert db["market_sentiment"].count_documents({"trade_date": DAY}) == 1
    report = db["reports"].find_one({"kind": "daily", "report_date": DAY})
    assert report is not None and report["markdown"]
