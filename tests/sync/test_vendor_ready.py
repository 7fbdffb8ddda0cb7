"""``daily_sync`` waits for tushare to publish the day, not for the clock: the check, the trigger
against the fake tushare (real SDK), and the DAG through ``airflow dags test`` (which runs the
trigger in line)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
from airflow_cli import AIRFLOW, dags_test_args, warm_airflow
from ta_scheduler.constants import Collections as C
from ta_scheduler.waits.operators import WaitForVendorOperator
from ta_scheduler.waits.triggers import VendorReadyTrigger
from ta_scheduler.waits.vendor import deadline_for, shortfall

DAY = "2026-11-27"
SHORT = f"tushare daily {DAY}: 120 of 300 listed stocks published (40.0 %), 180 missing; need at least 294 (98%)"


def test_shortfall_names_the_day_and_the_missing_stocks():
    assert shortfall(DAY, 300, 120, 0.98) == SHORT
    assert shortfall(DAY, 300, 294, 0.98) is None
    assert shortfall(DAY, 300, 293, 0.98).startswith(f"tushare daily {DAY}: 293 of 300")
    assert shortfall(DAY, 0, 0, 0.98) is not None  # no stock list: never "ready"


def test_deadline_is_exchange_time_on_the_day_or_an_instant():
    assert deadline_for(DAY, "22:00") == datetime(2026, 11, 27, 14, 0, tzinfo=timezone.utc)
    assert deadline_for(DAY, "2026-11-28T01:00:00+08:00") == datetime(2026, 11, 27, 17, 0, tzinfo=timezone.utc)
    for bad in ("25:00", "tonight", "2026-11-28T01:00:00"):
        with pytest.raises(ValueError, match="vendor_deadline"):
            deadline_for(DAY, bad)


def test_the_demo_provider_is_always_ready(monkeypatch):
    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    op = WaitForVendorOperator(task_id="wait_for_vendor", plan={"dates": [DAY], "symbols": None})
    assert op.execute({}) == {"trade_date": DAY, "provider": "demo", "deferred": False}


# ---- the trigger against the fake -------------------------------------------------------------


def _trigger(server, seconds: float, poll: float = 0.2, expected: int = 300) -> VendorReadyTrigger:
    deadline = (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat()
    return VendorReadyTrigger(trade_date=DAY, expected=expected, symbols=None, min_share=0.98,
                              token=server.token, url=server.url, deadline=deadline, poll_seconds=poll)


async def _first_event(trigger, meanwhile=None):
    events = trigger.run()
    side = asyncio.create_task(asyncio.to_thread(meanwhile)) if meanwhile else None
    try:
        event = await events.__anext__()
    finally:
        await events.aclose()
    if side:
        await side
    return event.payload


def test_trigger_serializes_and_keeps_the_token_out_of_its_repr(tushare_server):
    from airflow.sdk._shared.module_loading import import_string

    classpath, kwargs = _trigger(tushare_server, 60).serialize()
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)
    json.dumps(kwargs)
    assert tushare_server.token not in repr(_trigger(tushare_server, 60))


def test_a_deferral_stored_under_the_former_classpath_resumes_in_the_new_trigger(tushare_server):
    """Deferrals stored before the trigger moved name ``ta_scheduler.vendor_trigger`` and ts codes."""
    from airflow.sdk._shared.module_loading import import_string

    _, kwargs = _trigger(tushare_server, 60).serialize()
    old = import_string("ta_scheduler.vendor_trigger.VendorReadyTrigger")(**{**kwargs, "symbols": ["600000.SH", "000001.SZ"]})
    assert type(old) is VendorReadyTrigger
    assert old.serialize() == ("ta_scheduler.waits.triggers.VendorReadyTrigger", {**kwargs, "symbols": ["600000", "000001"]})


def test_trigger_fires_when_the_rest_of_the_day_is_published(tushare_server):
    tushare_server.reset()
    tushare_server.publish_partially(DAY, 120)

    def rest_arrives_later():
        time.sleep(1.0)
        tushare_server.publish_rest(DAY)

    event = asyncio.run(_first_event(_trigger(tushare_server, 60), meanwhile=rest_arrives_later))
    assert event["status"] == "ready" and event["published"] == 300 and event["checks"] > 2
    assert {k: event[k] for k in ("trade_date", "expected")} == {"trade_date": DAY, "expected": 300}


def test_trigger_times_out_naming_the_day_and_the_shortfall(tushare_server):
    tushare_server.reset()
    tushare_server.publish_partially(DAY, 120)
    event = asyncio.run(_first_event(_trigger(tushare_server, 1.0, poll=0.3)))
    assert event == {"status": "timeout", "checks": event["checks"], "detail": SHORT, "trade_date": DAY,
                     "expected": 300, "published": 120}


def test_an_unreachable_vendor_is_a_reason_to_keep_waiting(tushare_server):
    tushare_server.reset()
    tushare_server.inject("daily", "http500", times=1)
    event = asyncio.run(_first_event(_trigger(tushare_server, 30)))
    assert event["status"] == "ready" and event["checks"] == 2


# ---- daily_sync through `airflow dags test` ---------------------------------------------------


@pytest.fixture
def tushare_env(tushare_server, tmp_path, monkeypatch):
    tushare_server.reset()
    monkeypatch.setenv("TA_DATA_PROVIDER", "tushare")
    monkeypatch.setenv("TUSHARE_TOKEN", tushare_server.token)
    monkeypatch.setenv("TUSHARE_API_URL", tushare_server.url)
    monkeypatch.setenv("TA_CALENDAR_DIR", str(tmp_path / "calendar"))
    monkeypatch.setenv("TA_VENDOR_READY_POLL_SECONDS", "1")
    return tushare_server


def _dags_test_daily_sync(conf: dict, log_path, real_cli: bool = False):
    """``airflow dags test daily_sync`` started, its output in ``log_path``: by the warm CLI, or
    (``real_cli``) by ``scripts/airflow`` in a process of its own, as a user runs it."""
    if not real_cli:
        return warm_airflow(dags_test_args("daily_sync", f"{DAY}T16:30:00+08:00", conf), log_path)
    return subprocess.Popen([AIRFLOW, "dags", "test", "daily_sync", f"{DAY}T16:30:00+08:00", "-c", json.dumps(conf)],
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT, env=dict(os.environ))


def _wait_for_text(log_path, text: str, proc, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log_path.read_text(errors="replace"):
            return
        assert proc.poll() is None, log_path.read_text(errors="replace")[-5000:]
        time.sleep(0.5)
    raise AssertionError(f"{text!r} not logged in {timeout} s:\n" + log_path.read_text(errors="replace")[-5000:])


def _in(minutes: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).isoformat()


def test_daily_sync_defers_then_syncs_when_tushare_publishes_the_rest(mongo_db, tushare_env, tmp_path):
    tushare_env.publish_partially(DAY, 120)
    log_path = tmp_path / "dags-test.log"
    proc = _dags_test_daily_sync({"date": DAY, "vendor_deadline": _in(10)}, log_path)
    try:
        _wait_for_text(log_path, f"{SHORT}; deferring until", proc)
        _wait_for_text(log_path, f"waiting for tushare daily {DAY}", proc)  # the trigger is polling
        assert mongo_db[C.STOCK_DAILY_QUOTES].count_documents({}) == 0
        tushare_env.publish_rest(DAY)
        proc.wait(timeout=600)
    finally:
        proc.kill()
    out = log_path.read_text(errors="replace")
    assert "state=success" in out and "state=failed" not in out, out[-6000:]
    assert mongo_db[C.STOCK_DAILY_QUOTES].count_documents({"trade_date": DAY}) == 300


def test_daily_sync_fails_loudly_past_the_deadline_naming_the_shortfall(mongo_db, tushare_env, tmp_path):
    tushare_env.publish_partially(DAY, 120)
    log_path = tmp_path / "dags-test.log"
    deadline = _in(0.75)  # the tasks before the wait take seconds, under half a minute on a busy machine
    proc = _dags_test_daily_sync({"date": DAY, "vendor_deadline": deadline}, log_path)
    proc.wait(timeout=600)
    out = log_path.read_text(errors="replace")
    assert "deferring until" in out, out[-6000:]
    assert "state=failed" in out, out[-6000:]
    assert (f"daily_sync {DAY}: tushare has not published the day for the whole market by the deadline "
            f"{datetime.fromisoformat(deadline).isoformat()} — {SHORT}.") in out, out[-6000:]
    assert "up_for_retry" not in out.lower().replace(" ", "_"), out[-6000:]
    assert mongo_db[C.STOCK_DAILY_QUOTES].count_documents({}) == 0


def test_daily_sync_past_its_deadline_fails_at_once_without_deferring(mongo_db, tushare_env, tmp_path):
    tushare_env.publish_partially(DAY, 120)
    log_path = tmp_path / "dags-test.log"
    proc = _dags_test_daily_sync({"date": DAY}, log_path, real_cli=True)  # 22:00 on 2026-11-27 has passed
    proc.wait(timeout=600)
    out = log_path.read_text(errors="replace")
    assert "deferring until" not in out and "state=failed" in out, out[-6000:]
    assert f"by the deadline 2026-11-27T22:00:00+08:00 — {SHORT}." in out, out[-6000:]
