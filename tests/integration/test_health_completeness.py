"""The health check's completeness part: it fails naming each dataset whose last N trading days
the ledger does not show complete, and each day whose bars were lost from the store (and says
what heals what); not_permitted and not_due are no failures, and a refused dataset is warned
about once a day."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance.health import COMPLETENESS_DATASETS, check_completeness, completeness_window
from ta_scheduler.storage import ledger

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 23, 0, tzinfo=TZ)  # past Friday's vendor deadline: bars of 2026-11-27 are due
DAYS = 5
STOCKS = ("600000", "600519", "000001")
HEALS = ("daily_sync repairs its last repair_days (20) trading days; older days need a backfill "
         "(daily_sync start_date/end_date)")


def _store_bars(db, periods):
    db[C.STOCK_DAILY_QUOTES].insert_many([{"_id": f"{s}|{p}|demo|daily", "symbol": s, "trade_date": p,
                                           "data_source": "demo", "period": "daily", "close": 10.0}
                                          for p in periods for s in STOCKS])


def _all_complete(db):
    periods = completeness_window(NOW, DAYS)
    _store_bars(db, periods)
    n = len(STOCKS)
    ledger.record_many(db, [ledger.Entry(d, p, "complete", n, n, "demo") for d in COMPLETENESS_DATASETS for p in periods])
    return periods


def test_window_ends_on_the_day_whose_bars_are_due():
    assert completeness_window(NOW, DAYS) == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert completeness_window(NOW - timedelta(hours=2), 2) == ["2026-11-25", "2026-11-26"]  # 21:00: not yet


def test_complete_ledger_passes(mongo_db):
    periods = _all_complete(mongo_db)
    res = check_completeness(NOW, DAYS)
    assert (res.name, res.ok) == ("completeness", True)
    assert res.detail == f"7 datasets complete for {periods[0]} .. {periods[-1]}"


def test_fails_naming_each_incomplete_dataset_with_its_days(mongo_db):
    periods = _all_complete(mongo_db)
    ledger.record(mongo_db, "daily_bars", periods[1], expected=3, stored=1, data_source="demo")
    mongo_db[ledger.COLLECTION].delete_one({"_id": f"indicators|{periods[3]}"})
    ledger.record(mongo_db, "index_bars", periods[4], ledger.FAILED, data_source="demo", reason="no CSI 300 bar")
    res = check_completeness(NOW, DAYS)
    assert not res.ok
    assert res.detail == (
        f"daily_bars: 1 of 5 days not complete ({periods[1]} partial 1/3); "
        f"index_bars: 1 of 5 days not complete ({periods[4]} failed); "
        f"indicators: 1 of 5 days not complete ({periods[3]} missing); "
        f"daily_bars, index_bars: the next {HEALS}; "
        'indicators: a daily_sync repair of the day\'s bars recomputes them; else trigger analysis_pipeline with {"date": "<day>"}')


def test_every_judged_dataset_says_what_heals_it_and_daily_sync_heals_what_it_is_said_to():
    from ta_scheduler.maintenance.health import DAILY_SYNC_REPAIRS, HEALED_BY
    from ta_scheduler.sync.completeness import REPAIRED_DATASETS

    assert set(HEALED_BY) == set(COMPLETENESS_DATASETS)
    assert {d for d, how in HEALED_BY.items() if how == DAILY_SYNC_REPAIRS} == set(REPAIRED_DATASETS)


def test_rows_lost_from_the_store_fail_naming_the_day_and_mark_it_for_repair(mongo_db):
    """Half of a day's bars deleted straight from stock_daily_quotes: the ledger (written when
    they were stored) still says complete; the check counts the judged days in the store, names
    the day and lowers its ledger entries so the next daily_sync repairs it."""
    periods = _all_complete(mongo_db)
    assert check_completeness(NOW, DAYS).ok
    hole = periods[2]
    mongo_db[C.STOCK_DAILY_QUOTES].delete_many({"_id": {"$in": [f"{s}|{hole}|demo|daily" for s in STOCKS[:2]]}})
    res = check_completeness(NOW, DAYS)
    assert not res.ok
    assert res.detail.startswith(
        f"rows lost from the store: {hole} holds 1 daily bars, the ledger had 3; "
        f"daily_bars: 1 of 5 days not complete ({hole} partial 1/3); "
        f"adj_factor: 1 of 5 days not complete ({hole} partial 1/3); ")
    assert res.detail.endswith(f"daily_bars, adj_factor, daily_basic, limit_prices: the next {HEALS}")
    entry = {k: v for k, v in mongo_db[ledger.COLLECTION].find_one({"_id": f"daily_bars|{hole}"}).items() if k != "updated_at"}
    assert entry == {"_id": f"daily_bars|{hole}", "dataset": "daily_bars", "period": hole, "state": "partial",
                     "expected": 3, "stored": 1, "data_source": "demo",
                     "reason": "health check: the store holds 1 rows, the ledger had 3"}
    from ta_scheduler.sync.completeness import days_to_repair

    assert days_to_repair(mongo_db, periods) == [hole]


def test_not_permitted_is_no_failure_and_warned_once_a_day(mongo_db, caplog):
    periods = _all_complete(mongo_db)
    ledger.record(mongo_db, "adj_factor", periods[2], ledger.NOT_PERMITTED, data_source="tushare", reason="adj_factor: no permission")
    ledger.record(mongo_db, "sentiment", periods[4], ledger.NOT_DUE, data_source="demo")
    with caplog.at_level(logging.WARNING, logger="ta_scheduler.maintenance.health"):
        for minutes in (0, 10, 20):
            res = check_completeness(NOW + timedelta(minutes=minutes), DAYS)
            assert res.ok and res.detail.endswith("(not permitted: adj_factor)")
        warned = [r for r in caplog.records if "refuses adj_factor" in r.getMessage()]
        assert len(warned) == 1
        check_completeness(NOW + timedelta(days=1), DAYS)  # Saturday: a new day, a new warning
        assert len([r for r in caplog.records if "refuses adj_factor" in r.getMessage()]) == 2
    assert mongo_db[C.HEALTH_CHECKS].count_documents({"topic": "not_permitted"}) == 2


def test_days_before_a_datasets_first_entry_are_not_holes(mongo_db):
    """A new deployment synced its first days only: nothing before them is expected; a gap after
    the first synced day still fails."""
    periods = completeness_window(NOW, DAYS)
    _store_bars(mongo_db, periods)
    ledger.record_many(mongo_db, [ledger.Entry(d, p, "complete", 3, 3, "demo")
                                  for d in COMPLETENESS_DATASETS for p in periods[3:]])
    assert check_completeness(NOW, DAYS).ok
    ledger.record(mongo_db, "daily_bars", periods[1], "complete", expected=3, stored=3, data_source="demo")
    res = check_completeness(NOW, DAYS)
    assert not res.ok and res.detail.startswith(f"daily_bars: 1 of 5 days not complete ({periods[2]} missing); ")


def test_a_deployment_that_synced_nothing_yet_warns_instead_of_failing(mongo_db):
    from ta_scheduler.maintenance.health import NEW_DEPLOYMENT, check_freshness

    for res in (check_freshness(NOW), check_completeness(NOW, DAYS)):
        assert (res.ok, res.warning, res.detail) == (True, True, NEW_DEPLOYMENT)
    # once anything was synced, missing data fails again: an entry without bars, then bars with holes
    ledger.record(mongo_db, "daily_bars", "2026-11-26", "complete", expected=300, stored=300, data_source="demo")
    fresh = check_freshness(NOW)
    assert not fresh.ok and "the completeness ledger has entries" in fresh.detail
    res = check_completeness(NOW, DAYS)
    assert not res.ok and res.detail.startswith(  # the ledger's 300 bars of 11-26 are not in the store either
        "rows lost from the store: 2026-11-26 holds 0 daily bars, the ledger had 300; "
        "daily_bars: 2 of 5 days not complete (2026-11-26 missing, 2026-11-27 missing); ")


def test_derived_datasets_of_bars_just_stored_may_lag_an_hour(mongo_db):
    """The analysis runs after the bars land: for an hour after a day's bars were stored its
    indicators and sentiment may still be missing; later, or when they failed, the check fails."""
    periods = _all_complete(mongo_db)
    last = periods[-1]
    mongo_db[ledger.COLLECTION].delete_many({"_id": {"$in": [f"indicators|{last}", f"sentiment|{last}"]}})
    stored_at = NOW - timedelta(minutes=10)
    mongo_db[ledger.COLLECTION].update_one({"_id": f"daily_bars|{last}"}, {"$set": {"updated_at": stored_at}})
    assert check_completeness(NOW, DAYS).ok
    late = check_completeness(stored_at + timedelta(hours=1, minutes=1), DAYS)
    assert not late.ok and late.detail.startswith(f"indicators: 1 of 5 days not complete ({last} missing); "
                                                   f"sentiment: 1 of 5 days not complete ({last} missing); ")
    ledger.record(mongo_db, "sentiment", last, ledger.FAILED, data_source="demo", reason="no news")
    failed = check_completeness(NOW, DAYS)
    assert not failed.ok and failed.detail.startswith(f"sentiment: 1 of 5 days not complete ({last} failed); ")
