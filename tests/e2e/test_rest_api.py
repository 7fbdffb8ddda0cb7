"""Operations end to end, only through the REST API, on a real CeleryExecutor deployment:
trigger daily_sync, read results, check queues; refuse bad conf; alert on failure; clear and
re-run (the seed's task API replaced, SPEC §7)."""

from __future__ import annotations

import pytest
from pymongo import MongoClient

from e2e.cluster import wait_until

pytestmark = pytest.mark.slow

DAY = "2026-11-27"


def _wait_for_match(texts, needle: str, timeout: float = 60) -> list[str]:
    """The texts (from ``texts()``, polled) that contain ``needle``, once there is one."""
    return wait_until(lambda: [t for t in texts() if needle in t], timeout, f"a message containing {needle!r}")


def _runs(cluster, dag_id: str) -> list[str]:
    status, body = cluster.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")
    assert status == 200, body
    return [r["dag_run_id"] for r in body["dag_runs"]]


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({"symbols": ["12345x"]}, "symbols"),
        ({"date": "2026-10-01"}, "not a trading day"),  # National Day holiday
        ({"start_date": "2026-11-27", "end_date": "2026-11-02"}, "before 'start_date'"),
    ],
    ids=["bad-code", "holiday", "reversed-range"],
)
def test_invalid_daily_sync_conf_is_refused_and_creates_no_run(cluster, conf, expected):
    cluster.wait_dag("daily_sync")
    before = _runs(cluster, "daily_sync")
    status, body = cluster.trigger("daily_sync", conf)
    assert status == 400, body
    assert expected in str(body["detail"])
    assert _runs(cluster, "daily_sync") == before


def test_research_depth_9_is_refused(cluster):
    cluster.wait_dag("analysis_pipeline")
    status, body = cluster.trigger("analysis_pipeline", {"symbols": ["600000"], "llm_provider": "offline", "research_depth": 9})
    assert status == 400 and "research_depth" in body["detail"], body


def test_daily_sync_through_the_api(cluster, e2e_world):
    status, run = cluster.trigger("daily_sync", {"date": DAY})
    assert status == 200, run
    run_id = run["dag_run_id"]
    assert cluster.wait_run("daily_sync", run_id, timeout=300) == "success"
    result = cluster.xcom("daily_sync", run_id, "sync_daily_bars")
    assert result["trade_date"] == DAY and result["data_source"] == "tushare" and result["stored"] > 100
    tis = cluster.task_instances("daily_sync", run_id)
    assert {ti["queue"] for ti in tis.values()} == {"data"}
    db = MongoClient(e2e_world["mongo_uri"])[e2e_world["db_name"]]
    assert db["stock_daily_quotes"].count_documents({"trade_date": DAY}) == result["stored"]
    assert db["index_daily_quotes"].count_documents({"trade_date": DAY, "ts_code": "000300.SH"}) == 1


def test_failure_alerts_then_clear_reruns(cluster, e2e_world):
    tushare, slack, smtp = e2e_world["tushare"], e2e_world["slack"], e2e_world["smtp"]
    posts_before, mails_before = len(slack.requests), len(smtp.messages)
    # a rejected token is fatal: the task fails at once, no retry (a refused endpoint would only be
    # marked not permitted, and the run would go on)
    tushare.inject("index_daily", "token", times=1)
    status, run = cluster.trigger("daily_sync", {"date": "2026-11-26"})
    assert status == 200, run
    run_id = run["dag_run_id"]
    assert cluster.wait_run("daily_sync", run_id, timeout=300) == "failed"
    tis = cluster.task_instances("daily_sync", run_id)
    assert tis["sync_index_daily"]["state"] == "failed"

    # other DAGs of the deployment may post too (reports, alerts of their own): find this run's
    posts = _wait_for_match(lambda: [r.json()["text"] for r in slack.requests[posts_before:]], run_id)
    posted = posts[0]
    assert "daily_sync.sync_index_daily" in posted and "index_daily" in posted
    assert e2e_world["tushare"].token not in posted
    mails = _wait_for_match(lambda: [m["Subject"] for m in smtp.messages[mails_before:]], "daily_sync.sync_index_daily failed")
    assert mails

    status, body = cluster.request("POST", "/api/v2/dags/daily_sync/clearTaskInstances",
                                   {"dag_run_id": run_id, "task_ids": ["sync_index_daily"], "only_failed": True, "dry_run": False})
    assert status == 200, body
    assert cluster.wait_run("daily_sync", run_id, timeout=300) == "success"
    assert cluster.task_instances("daily_sync", run_id)["sync_index_daily"]["state"] == "success"
