"""The health check's completeness part: it fails naming each dataset whose last N trading days
the ledger does not show complete; not_permitted and not_due are no failures, and a refused
dataset is warned about once a day."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ta_scheduler.constants import Collections as C
from ta_scheduler.health import COMPLETENESS_DATASETS, check_completeness, completeness_window
from ta_scheduler.storage import ledger

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=TZ)  # after Friday's sync: bars of 2026-11-27 are due
DAYS = 5


def _all_complete(db):
    periods = completeness_window(NOW, DAYS)
    ledger.record_many(db, [ledger.Entry(d, p, "complete", 300, 300, "demo") for d in COMPLETENESS_DATASETS for p in periods])
    return periods


def test_window_ends_on_the_day_whose_bars_are_due():
    assert completeness_window(NOW, DAYS) == ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27"]
    assert completeness_window(NOW - timedelta(hours=2), 2) == ["2026-11-25", "2026-11-26"]


def test_complete_ledger_passes(mongo_db):
    periods = _all_complete(mongo_db)
    res = check_completeness(NOW, DAYS)
    assert (res.name, res.ok) == ("completeness", True)
    assert res.detail == f"7 datasets complete for {periods[0]} .. {periods[-1]}"


def test_fails_naming_each_incomplete_dataset_with_its_days(mongo_db):
    periods = _all_complete(mongo_db)
    ledger.record(mongo_db, "daily_bars", periods[1], expected=300, stored=150, data_source="demo")
    mongo_db[ledger.COLLECTION].delete_one({"_id": f"indicators|{periods[3]}"})
    ledger.record(mongo_db, "index_bars", periods[4], ledger.FAILED, data_source="demo", reason="no CSI 300 bar")
    res = check_completeness(NOW, DAYS)
    assert not res.ok
    assert res.detail.startswith(
        f"daily_bars: 1 of 5 days not complete ({periods[1]} partial 150/300); "
        f"index_bars: 1 of 5 days not complete ({periods[4]} failed); "
        f"indicators: 1 of 5 days not complete ({periods[3]} missing); ")
    assert "adj_factor" not in res.detail and "sentiment" not in res.detail


def test_not_permitted_is_no_failure_and_warned_once_a_day(mongo_db, caplog):
    periods = _all_complete(mongo_db)
    ledger.record(mongo_db, "adj_factor", periods[2], ledger.NOT_PERMITTED, data_source="tushare", reason="adj_factor: no permission")
    ledger.record(mongo_db, "sentiment", periods[4], ledger.NOT_DUE, data_source="demo")
    with caplog.at_level(logging.WARNING, logger="ta_scheduler.health"):
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
    ledger.record_many(mongo_db, [ledger.Entry(d, p, "complete", 300, 300, "demo")
                                  for d in COMPLETENESS_DATASETS for p in periods[3:]])
    assert check_completeness(NOW, DAYS).ok
    ledger.record(mongo_db, "daily_bars", periods[1], "complete", expected=300, stored=300, data_source="demo")
    res = check_completeness(NOW, DAYS)
    assert not res.ok and res.detail.startswith(f"daily_bars: 1 of 5 days not complete ({periods[2]} missing); ")


def test_a_deployment_that_synced_nothing_yet_warns_instead_of_failing(mongo_db):
    from ta_scheduler.health import NEW_DEPLOYMENT, check_freshness

    for res in (check_freshness(NOW), check_completeness(NOW, DAYS)):
        assert (res.ok, res.warning, res.detail) == (True, True, NEW_DEPLOYMENT)
    # once anything was synced, missing data fails again: an entry without bars, then bars with holes
    ledger.record(mongo_db, "daily_bars", "2026-11-26", "complete", expected=300, stored=300, data_source="demo")
    fresh = check_freshness(NOW)
    assert not fresh.ok and "the completeness ledger has entries" in fresh.detail
    res = check_completeness(NOW, DAYS)
    assert not res.ok and res.detail.startswith("daily_bars: 1 of 5 days not complete (2026-11-27 missing); ")


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
