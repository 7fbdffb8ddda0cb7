"""Self-healing ``daily_sync`` through ``airflow dags test``: rows deleted from the store (a whole
day, or half of one) are noticed by the health check's per-day count, which marks the day in the
completeness ledger, and restored exactly by the next scheduled run; the repaired dates reach
``analysis_pipeline`` in the ``daily_bars`` asset event and the indicators of every later day come
back equal to a clean run's. Index bars missing for recent days are repaired the same way. The
repair itself trusts the ledger (what each write reported) unless asked to recount the store."""

from __future__ import annotations

import runpy
from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from airflow_cli import dags_test
from paths import DAGS_DIR
from ta_scheduler.analytics.jobs import compute_indicators_for_date
from ta_scheduler.analytics.tasks import plan_analysis, run_indicators
from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance.health import DAILY_SYNC_REPAIRS, check_completeness
from ta_scheduler.providers import get_provider
from ta_scheduler.storage import ledger
from ta_scheduler.sync import sync_daily_bars, sync_index_daily, sync_stock_basic
from ta_scheduler.sync.completeness import DAILY_DATASETS

RUN_DAY = "2026-11-27"
STOCKS = 40
DAILY = list(DAILY_DATASETS)


def _window() -> list[str]:
    from ta_scheduler.sync.tasks import repair_window

    return repair_window(RUN_DAY, 20)


@pytest.fixture
def clean_store(mongo_db, monkeypatch, tmp_path):
    """20 trading days of a small demo market synced, indicators computed for each day."""
    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    monkeypatch.setenv("TA_DEMO_STOCKS", str(STOCKS))
    monkeypatch.setenv("TA_CALENDAR_DIR", str(tmp_path / "calendar"))
    provider = get_provider()
    sync_stock_basic(provider, mongo_db)
    for day in _window():
        sync_daily_bars(provider, mongo_db, day)
        sync_index_daily(provider, mongo_db, day)
        compute_indicators_for_date(mongo_db, day)
    return mongo_db


def _docs(db, name: str, query: dict | None = None) -> dict[str, dict]:
    return {d["_id"]: d for d in db[name].find(query or {})}


def _without_write_time(docs: dict[str, dict]) -> dict[str, dict]:
    """Documents minus ``updated_at`` (the time a row was last written: a recomputed row has a
    new one; the test checks it separately)."""
    return {k: {f: v for f, v in d.items() if f != "updated_at"} for k, d in docs.items()}


def _store_counts(db, day: str) -> dict[str, int]:
    bars = list(db[C.STOCK_DAILY_QUOTES].find({"trade_date": day, "period": "daily", "data_source": "demo"}))
    return {"daily_bars": len(bars), "adj_factor": sum(b.get("adj_factor") is not None for b in bars),
            "daily_basic": sum(b.get("total_mv") is not None for b in bars),
            "limit_prices": sum(b.get("up_limit") is not None for b in bars)}


def assert_ledger_matches_store(db, days: list[str]) -> None:
    found = ledger.entries(db, days, [*DAILY, "index_bars", "indicators"])
    provider = get_provider()
    for day in days:
        counts = _store_counts(db, day)
        published = len(provider.daily(day))  # the demo market: every listed stock trades
        for dataset in DAILY:
            e = found[(dataset, day)]
            got = (e["state"], e["expected"], e["stored"], e["data_source"])
            assert got == ("complete", published, counts[dataset], "demo"), (day, dataset)
            assert counts[dataset] == published
        assert (found[("index_bars", day)]["stored"], found[("index_bars", day)]["state"]) == (
            db[C.INDEX_DAILY].count_documents({"trade_date": day}), "complete")
        assert found[("indicators", day)]["stored"] == db[C.TECHNICAL_INDICATORS].count_documents({"trade_date": day})
        assert found[("indicators", day)]["state"] == "complete"


def _daily_bars_event(run_started_after) -> dict:
    """The ``daily_bars`` asset event the run emitted (Airflow's metadata DB)."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        event = session.scalars(select(AssetEvent).where(AssetEvent.source_dag_id == "daily_sync")
                                .order_by(AssetEvent.id.desc()).limit(1)).first()
        assert event is not None and event.timestamp >= run_started_after
        return dict(event.extra or {})


def _analysis_for(db, extra: dict) -> dict:
    """``analysis_pipeline``'s plan + indicators for that asset event, as the asset-triggered run does."""
    from ta_scheduler.calendar.runs import Run

    run = Run.of(None, SimpleNamespace(run_type="asset_triggered", run_after=datetime.now(timezone.utc)))
    schedules = runpy.run_path(str(DAGS_DIR / "analysis_pipeline.py"))["SCHEDULES"]
    plan = plan_analysis(schedules, {}, run, {"daily_bars": [SimpleNamespace(extra=extra)]})
    run_indicators(plan)
    return plan


#: The health check after the run day's bars are due (its window is the repair's 20 days).
HEALTH_AT = datetime(2026, 11, 27, 23, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _scheduled_run(conf: dict | None = None) -> str:
    res = dags_test("daily_sync", f"{RUN_DAY}T16:30:00+08:00", conf)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "state=success" in out, out[-6000:]
    return out


@pytest.mark.parametrize("share", [1.0, 0.5], ids=["whole-day", "half-day"])
def test_next_daily_sync_restores_deleted_bars_and_recomputes_later_indicators(clean_store, share):
    db, days = clean_store, _window()
    hole = days[9]
    later = days[10:]
    assert_ledger_matches_store(db, days)
    clean_bars = _docs(db, C.STOCK_DAILY_QUOTES)
    clean_ind = _docs(db, C.TECHNICAL_INDICATORS)

    ids = sorted(d["_id"] for d in db[C.STOCK_DAILY_QUOTES].find({"trade_date": hole}, {"_id": 1}))
    deleted = ids[: int(len(ids) * share)]
    db[C.STOCK_DAILY_QUOTES].delete_many({"_id": {"$in": deleted}})
    for day in later:  # what a pipeline blind to the hole computes: wrong indicators
        compute_indicators_for_date(db, day)
    assert _without_write_time(_docs(db, C.TECHNICAL_INDICATORS, {"trade_date": {"$in": later}})) != \
        _without_write_time({k: v for k, v in clean_ind.items() if v["trade_date"] in later})

    health = check_completeness(HEALTH_AT, 20)
    left = len(ids) - len(deleted)
    assert not health.ok and health.detail.startswith(
        f"rows lost from the store: {hole} holds {left} daily bars, the ledger had {len(ids)}; "
        f"daily_bars: 1 of 20 days not complete ({hole} {'partial ' + str(left) + '/' + str(len(ids)) if left else 'missing'}); ")

    started = datetime.now(timezone.utc)
    out = _scheduled_run()
    assert f"REPAIRED daily bars {hole}" in out

    after = _docs(db, C.STOCK_DAILY_QUOTES)
    assert set(after) == set(clean_bars)
    restored = set(deleted)
    assert {k: v for k, v in after.items() if k not in restored} == {k: v for k, v in clean_bars.items() if k not in restored}
    assert _without_write_time({k: after[k] for k in restored}) == _without_write_time({k: clean_bars[k] for k in restored})
    assert all(after[k]["updated_at"] > clean_bars[k]["updated_at"] for k in restored)
    assert db[C.STOCK_DAILY_QUOTES].count_documents({"trade_date": hole}) == len(get_provider().daily(hole))
    assert_ledger_matches_store(db, [d for d in days if d not in later])

    extra = _daily_bars_event(started)
    assert extra == {"trade_dates": [RUN_DAY], "symbols": None, "repaired_dates": [hole]}
    plan = _analysis_for(db, extra)
    assert plan["trade_dates"] == [hole, *later]
    assert _without_write_time(_docs(db, C.TECHNICAL_INDICATORS)) == _without_write_time(clean_ind)
    assert_ledger_matches_store(db, days)


def test_a_clean_store_needs_no_repair(clean_store):
    out = _scheduled_run()
    assert "REPAIRED" not in out
    assert "the ledger shows the daily datasets and index bars complete for 20 trading days" in out


def test_the_repair_trusts_the_ledger_unless_asked_to_recount_the_store(clean_store):
    """Rows deleted behind the ledger's back: a run trusts what the writes reported (reads no
    day's rows) and leaves them lost until the health check (above) or ``recount_store`` notices."""
    db, days = clean_store, _window()
    hole = days[5]
    clean_bars = _docs(db, C.STOCK_DAILY_QUOTES)
    ids = sorted(d["_id"] for d in db[C.STOCK_DAILY_QUOTES].find({"trade_date": hole}, {"_id": 1}))
    db[C.STOCK_DAILY_QUOTES].delete_many({"_id": {"$in": ids[:10]}})
    out = _scheduled_run()
    assert "REPAIRED" not in out
    assert set(_docs(db, C.STOCK_DAILY_QUOTES)) == set(clean_bars) - set(ids[:10])

    out = _scheduled_run({"recount_store": True})
    assert f"REPAIRED daily bars {hole}" in out
    after = _docs(db, C.STOCK_DAILY_QUOTES)
    assert set(after) == set(clean_bars)
    assert _without_write_time(after) == _without_write_time(clean_bars)
    assert_ledger_matches_store(db, days)


def test_index_bars_missing_for_recent_days_are_repaired(clean_store):
    """A store whose index bars of recent days were never synced (no bars, no ledger entries):
    the next scheduled run syncs exactly those days' index bars."""
    db, days = clean_store, _window()
    gone = days[-5:-1]
    clean_index = _docs(db, C.INDEX_DAILY)
    db[C.INDEX_DAILY].delete_many({"trade_date": {"$in": gone}})
    db[ledger.COLLECTION].delete_many({"_id": {"$in": [f"index_bars|{d}" for d in gone]}})
    health = check_completeness(HEALTH_AT, 20)
    assert not health.ok and f"index_bars: 4 of 20 days not complete ({', '.join(f'{d} missing' for d in gone)})" in health.detail
    assert f"; index_bars: {DAILY_SYNC_REPAIRS}" in health.detail

    out = _scheduled_run()
    for day in gone:
        assert f"REPAIRED index bars {day}" in out
    assert "REPAIRED daily bars" not in out
    after = _docs(db, C.INDEX_DAILY)
    assert set(after) == set(clean_index)
    assert _without_write_time(after) == _without_write_time(clean_index)
    assert_ledger_matches_store(db, days)
