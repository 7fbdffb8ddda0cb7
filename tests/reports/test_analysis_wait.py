"""The daily report's deferrable wait for the day's analysis: the trigger against the real store,
and the operator through ``airflow dags test`` (which runs the trigger in line). The same wait
through a real triggerer process is in ``tests/e2e/test_reports_deferred.py``."""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import datetime, timedelta, timezone

from airflow_cli import dags_test_args, warm_airflow
from fakes import free_port
from pymongo import MongoClient
from report_seed import T, seed_analysis, seed_market
from ta_scheduler.constants import Collections as C
from ta_scheduler.reports.readiness import analysis_missing
from ta_scheduler.waits.triggers import AnalysisReadyTrigger


def _trigger(target, seconds: float, poll: float = 0.2) -> AnalysisReadyTrigger:
    deadline = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()
    return AnalysisReadyTrigger(trade_date=T, mongo_uri=target.uri, database=target.database, deadline=deadline,
                                poll_seconds=poll)


async def _first_event(trigger: AnalysisReadyTrigger, meanwhile=None):
    events = trigger.run()
    side = asyncio.create_task(asyncio.to_thread(meanwhile)) if meanwhile else None
    try:
        event = await events.__anext__()
    finally:
        await events.aclose()
    if side:
        await side
    return event.payload


def test_trigger_serializes_to_an_importable_class(mongo_target):
    from airflow.sdk._shared.module_loading import import_string

    classpath, kwargs = _trigger(mongo_target, 60).serialize()
    again = import_string(classpath)(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    json.dumps(kwargs)  # plain JSON: the triggerer rebuilds it from the metadata DB


def test_a_deferral_stored_under_the_former_classpath_resumes_in_the_new_trigger(mongo_target):
    from airflow.sdk._shared.module_loading import import_string

    classpath, kwargs = _trigger(mongo_target, 60).serialize()
    old = import_string("ta_scheduler.reports.triggers.AnalysisReadyTrigger")(**kwargs)
    assert type(old) is AnalysisReadyTrigger and classpath == "ta_scheduler.waits.triggers.AnalysisReadyTrigger"
    assert old.serialize() == (classpath, kwargs)


def test_trigger_repr_keeps_credentials_out_of_logs():
    trigger = AnalysisReadyTrigger(trade_date=T, mongo_uri="mongodb://ta:s3cretpw@db.example:27017/prod", database="prod",
                                   deadline="2026-11-27T14:00:00+00:00")
    assert "s3cretpw" not in repr(trigger) and T in repr(trigger) and "db.example" in repr(trigger)


def test_trigger_fires_at_once_when_the_analysis_is_stored(mongo_target, mongo_db):
    seed_market(mongo_db)
    event = asyncio.run(_first_event(_trigger(mongo_target, 30)))
    assert event == {"status": "ready", "trade_date": T, "checks": 1}


def test_trigger_fires_when_the_analysis_arrives_while_it_waits(mongo_target, mongo_db):
    seed_market(mongo_db, with_analysis=False)

    def analysis_lands_later():
        time.sleep(1.0)
        seed_analysis(mongo_db)

    event = asyncio.run(_first_event(_trigger(mongo_target, 60), meanwhile=analysis_lands_later))
    assert event["status"] == "ready" and event["checks"] > 2


def test_trigger_times_out_at_the_deadline_naming_what_is_missing(mongo_target, mongo_db):
    seed_market(mongo_db, with_analysis=False)
    started = time.monotonic()
    event = asyncio.run(_first_event(_trigger(mongo_target, 1.5, poll=0.5)))
    assert 1.4 <= time.monotonic() - started < 10
    assert event["status"] == "timeout"
    assert C.MARKET_SENTIMENT in event["detail"] and C.TECHNICAL_INDICATORS in event["detail"] and T in event["detail"]


def test_an_unreachable_store_is_a_reason_to_keep_waiting():
    client = MongoClient(f"mongodb://127.0.0.1:{free_port()}/", serverSelectionTimeoutMS=300)
    assert analysis_missing(client["nothing"], T).startswith("store not reachable: ServerSelectionTimeoutError")


# ---- the operator through `airflow dags test` --------------------------------------------------


def _dags_test_reports(conf: dict, log_path, poll_seconds: float = 1.0):
    """``airflow dags test reports`` started by the warm CLI, its output in ``log_path``."""
    env = {**os.environ, "TA_REPORTS_ANALYSIS_POLL_SECONDS": str(poll_seconds)}
    return warm_airflow(dags_test_args("reports", f"{T}T20:00:00+08:00", conf), log_path, env=env)


def _wait_for_text(log_path, text: str, proc, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log_path.read_text(errors="replace"):
            return
        assert proc.poll() is None, log_path.read_text(errors="replace")[-5000:]
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not logged in {timeout} s:\n" + log_path.read_text(errors="replace")[-5000:])


def test_daily_report_defers_then_builds_when_the_analysis_lands(mongo_db, reports_dir, tmp_path):
    seed_market(mongo_db, with_analysis=False)
    log_path = tmp_path / "dags-test.log"
    proc = _dags_test_reports({"jobs": ["daily"], "date": T, "analysis_wait_minutes": 10}, log_path)
    try:
        _wait_for_text(log_path, "deferring until", proc)
        _wait_for_text(log_path, "waiting for the analysis of", proc)  # the trigger is polling
        assert mongo_db[C.REPORTS].count_documents({}) == 0
        seed_analysis(mongo_db)
        proc.wait(timeout=300)
    finally:
        proc.kill()
    out = log_path.read_text(errors="replace")
    assert "state=success" in out, out[-6000:]
    assert mongo_db[C.REPORTS].count_documents({"kind": "daily", "report_date": T}) == 1


def test_daily_report_fails_loudly_past_the_deadline_without_retrying(mongo_db, reports_dir, tmp_path):
    seed_market(mongo_db, with_analysis=False)
    log_path = tmp_path / "dags-test.log"
    proc = _dags_test_reports({"jobs": ["daily"], "date": T, "analysis_wait_minutes": 0.05}, log_path, poll_seconds=0.5)
    proc.wait(timeout=300)
    out = log_path.read_text(errors="replace")
    assert "deferring until" in out, out[-6000:]
    assert "state=failed" in out, out[-6000:]
    assert f"daily report {T}: the day's analysis was not stored within 0:00:03" in out, out[-6000:]
    assert "run analysis_pipeline for" in out
    assert "up_for_retry" not in out.lower().replace(" ", "_"), out[-6000:]
    assert mongo_db[C.REPORTS].count_documents({}) == 0
