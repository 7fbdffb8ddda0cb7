"""A research batch estimated above its budget waits for a human (Airflow human-in-the-loop, task
state ``awaiting_input``), on a real CeleryExecutor deployment, answered only through the REST API:
approved, it runs and records its usage and cost; unanswered, the scheduler rejects it at the
timeout and no LLM call is made."""

from __future__ import annotations

import pytest
from pymongo import MongoClient

from e2e.cluster import wait_until

pytestmark = pytest.mark.slow

DAG = "analysis_pipeline"
DAY = "2026-11-24"  # no other end-to-end test syncs this day


def _db(e2e_world):
    return MongoClient(e2e_world["mongo_uri"])[e2e_world["db_name"]]


def _symbols_with_bars(cluster, e2e_world, n: int) -> list[str]:
    db = _db(e2e_world)
    if db["stock_daily_quotes"].count_documents({"trade_date": DAY}) == 0:
        status, sync = cluster.trigger("daily_sync", {"date": DAY})
        assert status == 200, sync
        assert cluster.wait_run("daily_sync", sync["dag_run_id"], timeout=300) == "success"
    return sorted(db["stock_daily_quotes"].distinct("symbol", {"trade_date": DAY}))[:n]


def _hitl_path(run_id: str) -> str:
    return f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances/approve_research/-1/hitlDetails"


def _mapped_states(cluster, run_id: str, task_id: str) -> list[str]:
    status, body = cluster.request("GET", f"/api/v2/dags/{DAG}/dagRuns/{run_id}/taskInstances?limit=100")
    assert status == 200, body
    return sorted(ti["state"] for ti in body["task_instances"] if ti["task_id"] == task_id)


def _trigger_over_budget(cluster, symbols: list[str], **conf) -> str:
    cluster.wait_dag(DAG)
    status, run = cluster.trigger(DAG, {"symbols": symbols, "llm_provider": "dashscope", "research_depth": 1,
                                        "date": DAY, "run_budget_yuan": 0.0001, **conf})  # fmt: skip
    assert status == 200, run
    return run["dag_run_id"]


def test_batch_above_budget_waits_and_runs_after_approval_through_the_rest_api(cluster, e2e_world):
    llm, db = e2e_world["llm"], _db(e2e_world)
    symbols = _symbols_with_bars(cluster, e2e_world, 2)
    calls_before = len(llm.calls)
    run_id = _trigger_over_budget(cluster, symbols)

    cluster.wait_task_state(DAG, run_id, "approve_research", {"awaiting_input", "failed", "skipped", "success"})
    assert cluster.task_instances(DAG, run_id)["approve_research"]["state"] == "awaiting_input"
    status, request = cluster.request("GET", _hitl_path(run_id))
    assert status == 200, request
    assert request["options"] == ["Approve", "Reject"] and request["defaults"] == ["Reject"]
    assert request["subject"].startswith("LLM research above budget: 2 symbols, depth 1, dashscope ≈ ")
    assert "**Estimate**: 2 symbols × research depth 1 with dashscope" in request["body"]
    assert "> run budget 0.0001 元" in request["body"] and ", ".join(symbols) in request["body"]
    assert request["response_received"] is False
    assert len(llm.calls) == calls_before  # nothing spent while waiting
    assert cluster.task_instances(DAG, run_id)["research_symbols_dashscope"]["state"] is None

    status, answer = cluster.request("PATCH", _hitl_path(run_id), {"chosen_options": ["Approve"]})
    assert status == 200, answer
    assert answer["chosen_options"] == ["Approve"] and answer["responded_by"]["name"] == "admin"

    assert cluster.wait_run(DAG, run_id, timeout=600) == "success"
    assert _mapped_states(cluster, run_id, "research_dashscope") == ["success", "success"]
    assert len(llm.calls) - calls_before == 2 * 11
    ledger = list(db["llm_usage"].find({"run_id": run_id}, {"_id": 0}))
    assert sorted(d["status"] for d in ledger) == ["completed", "completed"]
    reports = {d["analysis_id"]: d for d in db["analysis_reports"].find({"run_id": run_id}, {"_id": 0})}
    assert sorted(reports) == sorted(d["analysis_id"] for d in ledger)
    for d in ledger:
        assert reports[d["analysis_id"]]["cost"]["yuan"] == d["yuan"] > 0
        assert reports[d["analysis_id"]]["token_usage"]["total_tokens"] == d["total_tokens"]
    usage = cluster.xcom(DAG, run_id, "research_usage")
    assert [(r["provider"], r["researches"], r["calls"]) for r in usage["run"]] == [("dashscope", 2, 22)]
    assert usage["run"][0]["yuan"] == round(sum(d["yuan"] for d in ledger), 6)


def test_batch_not_approved_in_time_is_rejected_without_spending(cluster, e2e_world):
    llm, db = e2e_world["llm"], _db(e2e_world)
    symbols = _symbols_with_bars(cluster, e2e_world, 2)
    calls_before = len(llm.calls)
    run_id = _trigger_over_budget(cluster, symbols, approval_timeout_minutes=0.2)

    cluster.wait_task_state(DAG, run_id, "approve_research", {"awaiting_input", "failed", "skipped", "success"})
    assert cluster.wait_run(DAG, run_id, timeout=180) == "success"

    tis = cluster.task_instances(DAG, run_id)
    assert tis["approve_research"]["state"] == "success"
    assert tis["research_symbols_dashscope"]["state"] == "skipped"
    status, request = cluster.request("GET", _hitl_path(run_id))
    assert status == 200, request
    assert request["chosen_options"] == ["Reject"] and request["responded_by_user"] is None
    assert request["response_received"] is True
    assert len(llm.calls) == calls_before
    assert db["llm_usage"].count_documents({"run_id": run_id}) == 0
    assert db["analysis_reports"].count_documents({"run_id": run_id}) == 0
    wait_until(lambda: cluster.task_instances(DAG, run_id)["research_usage"]["state"] == "success", 30, "research_usage")
