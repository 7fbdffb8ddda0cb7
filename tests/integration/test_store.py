"""Writes and reads through the real MongoDB-wire server (FerretDB here, MongoDB in production)."""

from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from ta_scheduler import config
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.mongo import bulk_upsert, docs_from_columns, ensure_indexes, get_db

BAR = {"symbol": "600000", "trade_date": "2026-11-27", "data_source": "demo", "period": "daily"}


def test_config_resolves_the_store_through_mongo_uri(mongo_target):
    got = config.mongo_target()
    assert (got.uri, got.database, got.source) == (mongo_target.uri, mongo_target.database, "MONGO_URI")


def test_mongo_default_connection_names_the_test_store(monkeypatch):
    """Without MONGO_URI the `mongo_default` connection (from airflow_settings.yaml) is used."""
    monkeypatch.delenv("MONGO_URI", raising=False)
    monkeypatch.delenv("MONGODB_URL", raising=False)
    target = config.mongo_target()
    assert target.source == "connection mongo_default"
    assert target.database == "tradingagents_test"
    assert get_db(target).command("ping")["ok"] == 1


def test_insert_and_read_back(mongo_db):
    mongo_db["probe"].insert_one({"k": 1, "name": "平安银行"})
    assert mongo_db["probe"].find_one({"k": 1}, {"_id": 0}) == {"k": 1, "name": "平安银行"}


def test_unique_index_refuses_a_duplicate(mongo_db):
    ensure_indexes(mongo_db, [C.STOCK_DAILY_QUOTES])
    mongo_db[C.STOCK_DAILY_QUOTES].insert_one(dict(BAR, close=10.0))
    with pytest.raises(DuplicateKeyError):
        mongo_db[C.STOCK_DAILY_QUOTES].insert_one(dict(BAR, close=10.5))


def test_bulk_upsert_is_idempotent_and_updates_in_place(mongo_db):
    ensure_indexes(mongo_db, [C.STOCK_DAILY_QUOTES])
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    columns = {"symbol": ["600000", "000001", "300750"], "trade_date": ["2026-11-27"] * 3, "close": [10.0, 11.0, 180.5]}
    consts = {"data_source": "demo", "period": "daily"}
    first = bulk_upsert(coll, docs_from_columns(columns, consts), chunk_size=2)
    again = bulk_upsert(coll, docs_from_columns(columns, consts), chunk_size=2)
    assert (first.upserted, again.upserted, again.modified) == (3, 0, 0)
    columns["close"][2] = 181.0
    changed = bulk_upsert(coll, docs_from_columns(columns, consts))
    assert (changed.upserted, changed.modified) == (0, 1)
    assert coll.count_documents({}) == 3
    assert coll.find_one({"symbol": "300750"})["close"] == 181.0


def test_indexes_are_created_by_the_project(mongo_db):
    ensure_indexes(mongo_db)
    info = mongo_db[C.STOCK_DAILY_QUOTES].index_information()
    uniq = info["uniq_symbol_trade_date_data_source_period"]
    assert uniq.get("unique") is True
    assert [k for k, _ in uniq["key"]] == ["symbol", "trade_date", "data_source", "period"]


def test_ensure_indexes_twice_is_harmless(mongo_db):
    """Every task run calls it; the second call must not re-send existing indexes."""
    ensure_indexes(mongo_db)
    ensure_indexes(mongo_db)
    assert mongo_db.command("ping")["ok"] == 1
    assert "uniq_code" in mongo_db[C.MARKET_QUOTES].index_information()
