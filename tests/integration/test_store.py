"""Writes and reads through the real MongoDB-wire server (FerretDB here, MongoDB in production)."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from pymongo.errors import DuplicateKeyError
from ta_scheduler import config
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.mongo import ensure_indexes, get_db
from ta_scheduler.storage.writes import UPDATE_BATCH, docs_from_columns, write_docs

BAR = {"symbol": "600000", "trade_date": "2026-11-27", "data_source": "demo", "period": "daily"}


def test_config_resolves_the_store_through_the_mongo_default_connection(mongo_target):
    """The fixture sets AIRFLOW_CONN_MONGO_DEFAULT (the env route); MongoHook builds the URI."""
    assert config.mongo_target() == config.MongoTarget(mongo_target.uri, mongo_target.database,
                                                       "connection mongo_default", {})


def test_mongo_default_connection_names_the_test_store(monkeypatch):
    """Without AIRFLOW_CONN_MONGO_DEFAULT the `mongo_default` connection in the metadata DB
    (from airflow_settings.yaml) is used."""
    for var in ("AIRFLOW_CONN_MONGO_DEFAULT", "MONGO_URI", "MONGODB_URL"):
        monkeypatch.delenv(var, raising=False)
    target = config.mongo_target()
    assert target.source == "connection mongo_default"
    assert target.database == os.environ["TA_MONGO_DB"]  # tradingagents_test (a later worker's own copy)
    assert get_db(target).command("ping")["ok"] == 1


def test_a_seed_mongo_uri_keeps_replica_sets_credentials_and_options(monkeypatch):
    """scripts/env.sh maps MONGO_URI with mongo_connection_json; the hook gives it back whole."""
    uri = "mongodb://app:p%40ss@h1:27017,h2:27018/tradingagents?authSource=admin&replicaSet=rs0"
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_DEFAULT", config.mongo_connection_json(uri))
    assert config.mongo_target() == config.MongoTarget(
        "mongodb://app:p%40ss@h1:27017,h2:27018/tradingagents", "tradingagents", "connection mongo_default",
        {"authSource": "admin", "replicaSet": "rs0"})
    srv = "mongodb+srv://cluster0.example.net/?retryWrites=false"
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_DEFAULT", config.mongo_connection_json(srv))
    assert config.mongo_target() == config.MongoTarget(
        "mongodb+srv://cluster0.example.net", os.environ["TA_MONGO_DB"], "connection mongo_default",
        {"retryWrites": "false"})  # no database in the URI: TA_MONGO_DB


def test_a_worker_without_the_connection_fails_naming_it(tmp_path):
    """No connection to read (metadata DB unreachable, no AIRFLOW_CONN_*) and no seed URI: the
    store is refused loudly instead of a silent local default."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("AIRFLOW_CONN_MONGO_DEFAULT", "MONGO_URI", "MONGODB_URL")}
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"postgresql+psycopg2://airflow@127.0.0.1:{port}/nowhere"
    res = subprocess.run([sys.executable, "-c", "from ta_scheduler.config import mongo_target; mongo_target()"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1, res.stderr
    assert res.stderr.splitlines()[-1] == (
        "ta_scheduler.config.ConfigError: no store configured: define connection mongo_default (or "
        "AIRFLOW_CONN_MONGO_DEFAULT, or the seed's MONGO_URI); scripts/env.sh and airflow_settings.yaml define it locally")


def test_insert_and_read_back(mongo_db):
    mongo_db["probe"].insert_one({"k": 1, "name": "平安银行"})
    assert mongo_db["probe"].find_one({"k": 1}, {"_id": 0}) == {"k": 1, "name": "平安银行"}


def test_unique_index_refuses_a_duplicate(mongo_db):
    ensure_indexes(mongo_db, [C.STOCK_DAILY_QUOTES])
    mongo_db[C.STOCK_DAILY_QUOTES].insert_one(dict(BAR, close=10.0))
    with pytest.raises(DuplicateKeyError):
        mongo_db[C.STOCK_DAILY_QUOTES].insert_one(dict(BAR, close=10.5))


def test_write_is_idempotent_and_updates_in_place(mongo_db):
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    columns = {"symbol": ["600000", "000001", "300750"], "trade_date": ["2026-11-27"] * 3, "close": [10.0, 11.0, 180.5]}
    consts = {"data_source": "demo", "period": "daily"}
    first = write_docs(coll, docs_from_columns(columns, consts), chunk_size=2)
    again = write_docs(coll, docs_from_columns(columns, consts), chunk_size=2)
    assert (first.as_dict(), again.as_dict()) == ({"inserted": 3, "updated": 0, "unchanged": 0},
                                                  {"inserted": 0, "updated": 0, "unchanged": 3})
    columns["close"][2] = 181.0
    changed = write_docs(coll, docs_from_columns(columns, consts))
    assert changed.as_dict() == {"inserted": 0, "updated": 1, "unchanged": 2}
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


def _day(n: int, close: float = 10.0) -> list[dict]:
    return [
        {"symbol": f"{600000 + i:06d}", "trade_date": "2026-11-27", "data_source": "demo", "period": "daily", "close": close + i}
        for i in range(n)
    ]


PARTITION = ("trade_date", "data_source")


def test_partitioned_write_inserts_new_skips_unchanged_updates_changed(mongo_db):
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    first = write_docs(coll, _day(50), partition=PARTITION, chunk_size=20)
    assert first.as_dict() == {"inserted": 50, "updated": 0, "unchanged": 0}
    again = write_docs(coll, _day(50), partition=PARTITION, chunk_size=20)
    assert again.as_dict() == {"inserted": 0, "updated": 0, "unchanged": 50}
    changed = _day(50)
    changed[7]["close"] = 99.5
    res = write_docs(coll, changed + _day(52)[50:], partition=PARTITION)
    assert res.as_dict() == {"inserted": 2, "updated": 1, "unchanged": 49}
    assert coll.count_documents({}) == 52
    assert coll.find_one({"symbol": "600007"})["close"] == 99.5


def test_partitioned_write_keeps_the_last_of_duplicate_keys_in_one_batch(mongo_db):
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    docs = _day(3) + [dict(_day(1)[0], close=42.0)]
    write_docs(coll, docs, partition=PARTITION)
    assert coll.count_documents({}) == 3
    assert coll.find_one({"symbol": "600000"})["close"] == 42.0


@pytest.mark.parametrize("natural_ids", [True, False])
def test_write_survives_rows_inserted_behind_its_back(mongo_db, natural_ids):
    """A concurrent writer (or a killed earlier try) inserted some rows, under ObjectIds, between
    the writer's read and its insert: they are updated on the natural key, not duplicated."""
    ensure_indexes(mongo_db, [C.STOCK_DAILY_QUOTES])
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    real_find = coll.find

    class Racing:
        def find(self, *a, **kw):
            rows = list(real_find(*a, **kw))
            coll.insert_many([dict(d, close=1.0) for d in _day(10)[:4]])  # lands after the diff was read
            return rows

        def __getattr__(self, name):
            return getattr(coll, name)

    stamp = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)
    res = write_docs(Racing(), _day(10), natural_ids=natural_ids, now=stamp)
    assert res.as_dict() == {"inserted": 6, "updated": 4, "unchanged": 0}
    stored = sorted(coll.find(), key=lambda d: d["symbol"])
    assert [{k: v for k, v in d.items() if k != "_id"} for d in stored] == [dict(d, updated_at=stamp) for d in _day(10)]
    # the rows inserted behind its back keep their ObjectIds; the writer's own rows get natural ids or ObjectIds
    assert [isinstance(d["_id"], str) for d in stored] == [False] * 4 + [natural_ids] * 6


def test_updates_larger_than_one_update_batch(mongo_db):
    """More changed rows than one update command carries (FerretDB stalls on big ones)."""
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    n = UPDATE_BATCH * 2 + 7
    write_docs(coll, _day(n))
    res = write_docs(coll, _day(n, close=20.0))
    assert res.as_dict() == {"inserted": 0, "updated": n, "unchanged": 0}
    assert coll.find_one({"symbol": "600003"})["close"] == 23.0
