"""The writer's contract (``storage/writes.py``) on the real store: counts, ``updated_at`` only on
content changes, ``created_at`` only on insert, one equality rule, no partial writes on bad input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.writes import delete_where, same, set_fields, write_docs

T1 = datetime(2026, 11, 27, 7, 0, tzinfo=timezone.utc)
T2 = T1 + timedelta(hours=1)
T3 = T1 + timedelta(hours=2)


def _risk(subject_id: str, var: float) -> dict:
    return {"subject_type": "stock", "subject_id": subject_id, "as_of": "2026-11-27", "var_95": var,
            "beta": None, "window": {"start": "2026-08-01", "days": [1, 2]},
            "computed_from": datetime(2026, 11, 27, 15, 0, 0, 123456)}  # naive = UTC, microseconds


def _stored(coll) -> list[dict]:
    return sorted(coll.find(), key=lambda d: d["subject_id"])


@pytest.mark.parametrize("natural_ids", [True, False])
def test_unchanged_rerun_keeps_every_document_and_a_change_bumps_only_its_updated_at(mongo_db, natural_ids):
    coll = mongo_db[C.RISK_ASSESSMENTS]
    docs = [_risk("600000", 0.031), _risk("000001", 0.022)]
    originals = [dict(d) for d in docs]
    first = write_docs(coll, docs, created_field="created_at", natural_ids=natural_ids, now=T1)
    assert first.as_dict() == {"inserted": 2, "updated": 0, "unchanged": 0}
    assert docs == originals  # the caller's documents are not modified
    before = _stored(coll)
    assert [{k: v for k, v in d.items() if k != "_id"} for d in before] == [
        dict(d, computed_from=datetime(2026, 11, 27, 15, 0, 0, 123000, tzinfo=timezone.utc), created_at=T1, updated_at=T1)
        for d in sorted(originals, key=lambda d: d["subject_id"])]
    assert [isinstance(d["_id"], str) for d in before] == [natural_ids] * 2

    again = write_docs(coll, [_risk("600000", 0.031), _risk("000001", 0.022)], created_field="created_at",
                       natural_ids=natural_ids, now=T2)
    assert again.as_dict() == {"inserted": 0, "updated": 0, "unchanged": 2}
    assert _stored(coll) == before  # whole documents, updated_at included

    changed = write_docs(coll, [_risk("600000", 0.031), _risk("000001", 0.025)], created_field="created_at",
                         natural_ids=natural_ids, now=T3)
    assert changed.as_dict() == {"inserted": 0, "updated": 1, "unchanged": 1}
    after = _stored(coll)
    assert after == [dict(before[0], var_95=0.025, updated_at=T3), before[1]]


def test_replace_mode_rewrites_changed_documents_whole(mongo_db):
    coll = mongo_db[C.MARKET_QUOTES]
    write_docs(coll, [{"code": "600000", "close": 10.0, "bid1": 9.99}, {"code": "000001", "close": 11.0}],
               mode="replace", now=T1)
    res = write_docs(coll, [{"code": "600000", "close": 10.5}, {"code": "000001", "close": 11.0}], mode="replace", now=T2)
    assert res.as_dict() == {"inserted": 0, "updated": 1, "unchanged": 1}
    assert sorted(coll.find(), key=lambda d: d["code"]) == [
        {"_id": "000001", "code": "000001", "close": 11.0, "updated_at": T1},
        {"_id": "600000", "code": "600000", "close": 10.5, "updated_at": T2},  # bid1 gone: replaced whole
    ]


def test_insert_mode_keeps_what_is_stored(mongo_db):
    coll = mongo_db[C.INTRADAY_SNAPSHOTS]
    tick = datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)
    write_docs(coll, [{"code": "600000", "snapshot_time": tick, "close": 10.0}], mode="insert", now=T1)
    res = write_docs(coll, [{"code": "600000", "snapshot_time": tick, "close": 10.2},
                            {"code": "000001", "snapshot_time": tick, "close": 11.0}], mode="insert", now=T2)
    assert res.as_dict() == {"inserted": 1, "updated": 0, "unchanged": 1}
    assert sorted(coll.find(), key=lambda d: d["code"]) == [
        {"_id": f"000001|{tick.isoformat()}", "code": "000001", "snapshot_time": tick, "close": 11.0, "updated_at": T2},
        {"_id": f"600000|{tick.isoformat()}", "code": "600000", "snapshot_time": tick, "close": 10.0, "updated_at": T1},
    ]


def test_a_document_carrying_the_stamp_is_refused_before_anything_is_written(mongo_db):
    coll = mongo_db[C.MARKET_SENTIMENT]
    docs = [{"trade_date": "2026-11-26", "stocks": 3}, {"trade_date": "2026-11-27", "stocks": 4, "updated_at": T1}]
    with pytest.raises(ValueError, match="market_sentiment: the writer stamps updated_at"):
        write_docs(coll, docs, natural_ids=False)
    assert coll.count_documents({}) == 0


def test_unknown_mode_is_refused(mongo_db):
    with pytest.raises(ValueError, match="mode must be set, replace or insert"):
        write_docs(mongo_db[C.MARKET_SENTIMENT], [{"trade_date": "2026-11-27"}], mode="upsert")


def test_the_first_write_creates_the_collections_unique_index(mongo_db):
    write_docs(mongo_db[C.HOT_STOCKS], [{"trade_date": "2026-11-27", "rank": 1}], natural_ids=False)
    uniq = mongo_db[C.HOT_STOCKS].index_information()["uniq_trade_date_rank"]
    assert uniq["unique"] is True and uniq["key"] == [("trade_date", 1), ("rank", 1)]


def test_set_fields_and_delete_where(mongo_db):
    coll = mongo_db[C.REPORTS]
    write_docs(coll, [{"kind": "daily", "report_date": d, "title": d} for d in ("2026-11-26", "2026-11-27")],
               natural_ids=False, now=T1)
    assert set_fields(coll, [({"report_date": "2026-11-27"}, {"delivery.email": {"ok": True}})], now=T2) == 1
    assert delete_where(coll, {"report_date": {"$lt": "2026-11-27"}}) == 1
    assert list(coll.find({}, {"_id": 0})) == [
        {"kind": "daily", "report_date": "2026-11-27", "title": "2026-11-27", "updated_at": T2,
         "delivery": {"email": {"ok": True}}}]


@pytest.mark.parametrize(("stored", "new", "equal"), [
    (float("nan"), float("nan"), True),
    (1.0, float("nan"), False),
    (datetime(2026, 1, 1, 0, 0, 0, 5000, tzinfo=timezone.utc), datetime(2026, 1, 1, 0, 0, 0, 5999), True),
    (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))), True),
    (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 1, 1, 0, 0, 1), False),
    ([1, {"a": float("nan")}], (1, {"a": float("nan")}), True),
    ({"a": 1}, {"a": 1, "b": None}, False),
    ("1", 1, False),
])
def test_one_equality_rule(stored, new, equal):
    assert same(stored, new) is equal


def test_a_journal_puts_back_exactly_what_a_killed_rewrite_deleted(mongo_db):
    from ta_scheduler.storage.writes import drop_journal, restore_journal, save_journal

    coll = mongo_db[C.STOCK_BASIC_INFO]
    write_docs(coll, [{"code": c, "source": "demo", "name": n} for c, n in (("600000", "浦发银行"), ("000001", "平安银行"))],
               now=T1)
    stored = sorted(coll.find(), key=lambda d: d["code"])
    save_journal(mongo_db, "journal:test", "demo", stored)
    delete_where(coll, {"code": "600000"})  # the process dies here, between the delete and the re-insert
    assert restore_journal(mongo_db, "journal:test", "demo", coll) == 1
    assert sorted(coll.find(), key=lambda d: d["code"]) == stored
    assert mongo_db[C.SYNC_STATE].count_documents({"job": "journal:test"}) == 0
    assert restore_journal(mongo_db, "journal:test", "demo", coll) == 0
    save_journal(mongo_db, "journal:test", "demo", stored)
    drop_journal(mongo_db, "journal:test", "demo")
    assert mongo_db[C.SYNC_STATE].count_documents({}) == 0
