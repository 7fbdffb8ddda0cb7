"""daily_sync logic end to end: fake tushare server -> real SDK -> provider -> validate -> FerretDB."""

from __future__ import annotations

import pytest
from ta_scheduler.constants import Collections as C
from ta_scheduler.providers import PermissionDenied, ProviderUnavailable
from ta_scheduler.storage import ledger
from ta_scheduler.storage.mongo import ensure_indexes
from ta_scheduler.sync import (
    DataQualityError,
    backfill_daily,
    missing_trade_dates,
    sync_daily_bars,
    sync_index_daily,
    sync_stock_basic,
)

DAY = "2026-11-27"


@pytest.fixture
def db(mongo_db):
    ensure_indexes(mongo_db, [C.STOCK_BASIC_INFO, C.STOCK_DAILY_QUOTES, C.INDEX_DAILY, C.QUARANTINE, C.SYNC_STATE])
    return mongo_db


def _snapshot(db, name):
    return sorted(db[name].find({}), key=lambda d: d["_id"])


def test_a_whole_trading_day_end_to_end(make_tushare, db, tushare_server):
    provider = make_tushare()
    assert sync_stock_basic(provider, db)["stocks"] == 300
    counts = sync_daily_bars(provider, db, DAY)
    assert sync_index_daily(provider, db, DAY)["indices"] == 4

    assert counts["stored"] == 300 and counts["inserted"] == 300 and counts["quarantined_rows"] == 0
    bar = db[C.STOCK_DAILY_QUOTES].find_one({"symbol": "600000", "trade_date": DAY})
    raw = next(r for r in _raw_rows(tushare_server, "daily", DAY) if r["ts_code"] == "600000.SH")
    assert bar["volume"] == round(raw["vol"] * 100) and bar["amount"] == pytest.approx(raw["amount"] * 1000)
    assert bar["data_source"] == "tushare" and bar["period"] == "daily" and bar["ts_code"] == "600000.SH"
    for field in ("adj_factor", "pe_ttm", "total_mv", "up_limit", "down_limit", "turnover_rate"):
        assert bar[field] is not None, field
    assert bar["down_limit"] <= bar["close"] <= bar["up_limit"]
    assert db[C.STOCK_BASIC_INFO].find_one({"code": "600000"})["name"] == "浦发银行"
    index = db[C.INDEX_DAILY].find_one({"ts_code": "000300.SH", "trade_date": DAY})
    assert index["name"] == "沪深300" and index["volume"] > 1e9
    assert missing_trade_dates(db, [DAY], "tushare") == []


def _raw_rows(server, api, day):
    status, payload = server.handle({"api_name": api, "token": server.token, "params": {"trade_date": day.replace("-", "")},
                                     "fields": ""}, "/dataapi")
    return [dict(zip(payload["data"]["fields"], row, strict=True)) for row in payload["data"]["items"]]


def test_the_same_day_twice_leaves_the_collections_identical(make_tushare, db):
    provider = make_tushare()
    sync_stock_basic(provider, db)
    sync_daily_bars(provider, db, DAY)
    sync_index_daily(provider, db, DAY)
    before = {c: _snapshot(db, c) for c in (C.STOCK_BASIC_INFO, C.STOCK_DAILY_QUOTES, C.INDEX_DAILY)}
    sync_stock_basic(provider, db)
    again = sync_daily_bars(provider, db, DAY)
    sync_index_daily(provider, db, DAY)
    assert again["unchanged"] == 300 and again["inserted"] == again["updated"] == 0
    assert {c: _snapshot(db, c) for c in before} == before


def test_a_rate_limit_mid_run_is_retried_and_the_day_completes(make_tushare, db, tushare_server):
    provider = make_tushare()
    sync_stock_basic(provider, db)
    tushare_server.inject("daily_basic", "rate_limit", times=2)
    counts = sync_daily_bars(provider, db, DAY)
    assert counts["stored"] == 300 and len(provider.slept) == 2
    assert db[C.STOCK_DAILY_QUOTES].count_documents({"trade_date": DAY, "pe_ttm": {"$exists": True}}) == 300


def test_a_refused_daily_fails_fast_and_stores_nothing(make_tushare, db, tushare_server):
    provider = make_tushare()
    tushare_server.inject("daily", "permission", times=10)
    with pytest.raises(PermissionDenied, match="'daily'"):
        sync_daily_bars(provider, db, DAY)
    assert provider.slept == [] and db[C.STOCK_DAILY_QUOTES].count_documents({}) == 0
    assert missing_trade_dates(db, [DAY], "tushare") == [DAY]


def test_refused_limit_prices_store_the_bars_and_mark_limit_prices_not_permitted(make_tushare, db, tushare_server):
    provider = make_tushare()
    tushare_server.inject("stk_limit", "permission", times=10)
    counts = sync_daily_bars(provider, db, DAY)
    assert counts["stored"] == 300 and missing_trade_dates(db, [DAY], "tushare") == []
    assert db[C.STOCK_DAILY_QUOTES].count_documents({"up_limit": None, "down_limit": None, "adj_factor": {"$ne": None}}) == 300
    assert ledger.grid(db, [DAY], ["adj_factor", "daily_basic", "limit_prices"]) == {
        "adj_factor": {DAY: "complete"}, "daily_basic": {DAY: "complete"}, "limit_prices": {DAY: "not_permitted"}}
    sync_daily_bars(provider, db, DAY)  # the same day again: stk_limit is not asked twice
    assert len(tushare_server.calls_to("stk_limit")) == 1 and provider.slept == []


def test_an_http_500_is_not_stored_as_an_empty_day(make_tushare, db, tushare_server):
    tushare_server.inject("daily", "http500", times=10)
    with pytest.raises(ProviderUnavailable):
        sync_daily_bars(make_tushare(max_attempts=2), db, DAY)
    assert db[C.SYNC_STATE].count_documents({}) == 0


def test_bad_rows_are_quarantined_with_their_reason(make_tushare, db, tushare_server):
    provider = make_tushare()
    sync_stock_basic(provider, db)
    tushare_server.inject("daily", "bad_rows", rows=4)
    counts = sync_daily_bars(provider, db, DAY, max_quarantine_fraction=0.05)
    assert counts["quarantined_rows"] == 4 and counts["stored"] == 296
    reasons = {d["reason"] for d in db[C.QUARANTINE].find({})}
    assert reasons == {"high<low", "negative volume or amount", "unknown code (not in stock_basic_info)",
                       "close outside limit prices"}
    assert db[C.STOCK_DAILY_QUOTES].count_documents({"symbol": "009999"}) == 0
    # a retry of the same bad day does not duplicate the quarantine
    tushare_server.inject("daily", "bad_rows", rows=4)
    sync_daily_bars(provider, db, DAY, max_quarantine_fraction=0.05)
    assert db[C.QUARANTINE].count_documents({}) == 4


def test_too_many_bad_rows_fail_after_storing_the_good_ones(make_tushare, db, tushare_server):
    provider = make_tushare()
    sync_stock_basic(provider, db)
    tushare_server.inject("daily", "bad_rows", rows=8)
    with pytest.raises(DataQualityError, match=r"8 of 300 rows rejected \(2.7% > 1.0%\)"):
        sync_daily_bars(provider, db, DAY)
    assert db[C.STOCK_DAILY_QUOTES].count_documents({"trade_date": DAY}) == 292
    # 8 rows, 7 records: the two rows renamed to the unknown code 009999 share one key
    assert db[C.QUARANTINE].count_documents({}) == 7
    assert missing_trade_dates(db, [DAY], "tushare") == [DAY]


def test_a_backfill_rerun_fetches_only_the_missing_dates(make_tushare, db, tushare_server):
    provider = make_tushare(max_attempts=1)
    sync_stock_basic(provider, db)
    dates = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"]
    seen: list[tuple[int, int, str]] = []
    backfill_daily(provider, db, dates[:2], progress=lambda *a: seen.append(a))
    assert seen == [(1, 2, "2026-11-23"), (2, 2, "2026-11-24")]
    tushare_server.reset()
    summary = backfill_daily(provider, db, dates)
    assert summary["fetched"] == dates[2:] and summary["skipped"] == 2
    assert [c["trade_date"] for c in tushare_server.calls_to("daily")] == ["20261125", "20261126"]
    assert db[C.STOCK_DAILY_QUOTES].count_documents({}) == 4 * 300


def test_symbols_restrict_the_sync_and_the_backfill(make_tushare, db):
    provider = make_tushare()
    sync_stock_basic(provider, db)
    counts = sync_daily_bars(provider, db, DAY, symbols=["600000", "000001"])
    assert counts["stored"] == 2
    assert missing_trade_dates(db, [DAY], "tushare", symbols=["600000", "000001"]) == []
    assert missing_trade_dates(db, [DAY], "tushare") == [DAY]  # the whole market is not complete


def test_a_run_naming_symbols_carries_their_codes_from_plan_to_store(make_tushare, db):
    """The codes a run names, in any accepted spelling, are the store's six digits from the plan on:
    the vendor wait counts them and the sync stores them without converting again."""
    from datetime import datetime
    from types import SimpleNamespace
    from zoneinfo import ZoneInfo

    from airflow.dag_processing.dagbag import DagBag
    from paths import DAGS_DIR
    from ta_scheduler.calendar.runs import Run
    from ta_scheduler.sync.tasks import plan_daily_sync
    from ta_scheduler.waits.vendor import listed_count, published_count

    conf = {"symbols": ["600000.sh", "000001", "000001.SZ"], "date": DAY}
    dag = DagBag(dag_folder=str(DAGS_DIR / "daily_sync.py")).dags["daily_sync"]
    run = Run.of(dag, SimpleNamespace(run_type="manual", run_after=datetime(2026, 11, 27, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
                                      conf=conf), None, None)
    plan = plan_daily_sync(conf, run)
    assert plan == {"dates": [DAY], "symbols": ["600000", "000001"], "mode": "date"}

    provider = make_tushare()
    sync_stock_basic(provider, db)
    assert listed_count(db, provider.name, DAY, plan["symbols"]) == 2
    assert published_count(provider, DAY, plan["symbols"]) == 2
    assert sync_daily_bars(provider, db, DAY, plan["symbols"])["stored"] == 2
    assert sorted(db[C.STOCK_DAILY_QUOTES].distinct("symbol")) == ["000001", "600000"]


def test_a_lost_manifest_still_converges_to_the_provider_data(make_tushare, db):
    """A crash between writing bars and recording their manifest: the re-run rewrites, no duplicates."""
    provider = make_tushare()
    sync_stock_basic(provider, db)
    sync_daily_bars(provider, db, DAY)
    expected = db[C.STOCK_DAILY_QUOTES].find_one({"symbol": "600000"})["close"]
    db[C.SYNC_STATE].delete_many({"job": {"$regex": "^manifest:"}})
    db[C.STOCK_DAILY_QUOTES].update_one({"symbol": "600000"}, {"$set": {"close": 0.01}})
    counts = sync_daily_bars(provider, db, DAY)
    assert counts["updated"] == 300 and counts["inserted"] == 0
    assert db[C.STOCK_DAILY_QUOTES].count_documents({}) == 300
    assert db[C.STOCK_DAILY_QUOTES].find_one({"symbol": "600000"})["close"] == expected
