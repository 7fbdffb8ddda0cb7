"""The completeness ledger on the real store: states from counts, unchanged re-records, the grid."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from ta_scheduler.storage import ledger

DAYS = ["2026-11-23", "2026-11-24", "2026-11-25"]
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def test_state_follows_counts():
    assert ledger.state_for_counts(300, 300) == "complete"
    assert ledger.state_for_counts(300, 301) == "complete"
    assert ledger.state_for_counts(300, 150) == "partial"
    assert ledger.state_for_counts(300, 0) == "missing"
    assert ledger.state_for_counts(0, 0) == "complete"


def test_record_stores_the_whole_entry(mongo_db):
    ledger.record(mongo_db, "daily_bars", DAYS[0], expected=300, stored=150, data_source="demo", now=T0)
    doc = mongo_db[ledger.COLLECTION].find_one({"_id": "daily_bars|2026-11-23"})
    assert doc == {
        "_id": "daily_bars|2026-11-23", "dataset": "daily_bars", "period": "2026-11-23", "state": "partial",
        "expected": 300, "stored": 150, "data_source": "demo", "reason": None, "updated_at": T0,
    }


def test_rerecording_the_same_counts_changes_nothing(mongo_db):
    ledger.record(mongo_db, "daily_bars", DAYS[0], expected=300, stored=300, data_source="demo", now=T0)
    ledger.record(mongo_db, "daily_bars", DAYS[0], expected=300, stored=300, data_source="demo", now=T1)
    assert mongo_db[ledger.COLLECTION].find_one({"_id": "daily_bars|2026-11-23"})["updated_at"] == T0
    ledger.record(mongo_db, "daily_bars", DAYS[0], expected=300, stored=299, data_source="demo", now=T1)
    doc = mongo_db[ledger.COLLECTION].find_one({"_id": "daily_bars|2026-11-23"})
    assert (doc["state"], doc["updated_at"]) == ("partial", T1)


def test_record_many_writes_only_changes(mongo_db):
    e = [ledger.Entry("daily_bars", d, "complete", 300, 300, "demo") for d in DAYS]
    assert ledger.record_many(mongo_db, e, now=T0) == 3
    assert ledger.record_many(mongo_db, e, now=T1) == 0
    e[1] = ledger.Entry("daily_bars", DAYS[1], "not_permitted", data_source="tushare", reason="adj_factor: no permission")
    assert ledger.record_many(mongo_db, e, now=T1) == 1


def test_grid_reads_absent_entries_as_missing(mongo_db):
    ledger.record(mongo_db, "daily_bars", DAYS[0], "complete", expected=3, stored=3)
    ledger.record(mongo_db, "adj_factor", DAYS[1], "not_permitted", reason="no permission")
    grid = ledger.grid(mongo_db, DAYS, ["daily_bars", "adj_factor"])
    assert grid == {
        "daily_bars": {DAYS[0]: "complete", DAYS[1]: "missing", DAYS[2]: "missing"},
        "adj_factor": {DAYS[0]: "missing", DAYS[1]: "not_permitted", DAYS[2]: "missing"},
    }
    assert ledger.unsettled(mongo_db, DAYS, ["daily_bars", "adj_factor"]) == {
        "daily_bars": DAYS[1:], "adj_factor": [DAYS[0], DAYS[2]],
    }


def test_unknown_dataset_or_state_is_refused(mongo_db):
    with pytest.raises(ValueError, match="unknown ledger dataset"):
        ledger.record(mongo_db, "bars", DAYS[0], "complete")
    with pytest.raises(ValueError, match="unknown ledger state"):
        ledger.record(mongo_db, "daily_bars", DAYS[0], "done")
