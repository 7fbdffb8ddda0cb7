"""The embedded store on FerretDB's PostgreSQL backend: the indexes that serve its queries
(``scripts/ferretdb/postgresql-indexes.sql``), the update batches that once deadlocked it, and the
move of a store made on the SQLite backend (``maintenance.store_move``)."""

from __future__ import annotations

import datetime as dt
import operator
import os

import pytest
from private_store import PrivateFerretDB
from pymongo import MongoClient, UpdateMany
from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance.store_move import move_databases
from ta_scheduler.storage.mongo import ensure_indexes
from ta_scheduler.storage.writes import UPDATE_BATCH, write_docs
from undecodable import insert_undecodable, store_pg


def test_the_test_store_runs_on_the_default_backend():
    assert os.environ["TA_FERRETDB_BACKEND"] == "postgresql"


def _plan(schema: str, field: str, value: str) -> str:
    """PostgreSQL's plan of the query FerretDB sends for ``{field: value}`` on the bars table."""
    conn = store_pg()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT _jsonb->'table' FROM %s._ferretdb_database_metadata WHERE _jsonb->>'_id' = %%s"
                        % f'"{schema}"', (C.STOCK_DAILY_QUOTES,))
            table = cur.fetchone()[0]
            cur.execute("SET plan_cache_mode = force_custom_plan")
            cur.execute("SET enable_seqscan = off")  # what the planner can use, whatever the table's size
            cur.execute(f'EXPLAIN SELECT _jsonb FROM "{schema}"."{table}" WHERE _jsonb->%s @> %s',
                        (field, f'"{value}"'))
            return "\n".join(r[0] for r in cur.fetchall())
    finally:
        conn.close()


def test_every_index_ferretdb_creates_gets_a_gin_twin_that_serves_its_equalities(mongo_db):
    ensure_indexes(mongo_db, [C.STOCK_DAILY_QUOTES])
    mongo_db[C.STOCK_DAILY_QUOTES].insert_one({"_id": "600519|2026-11-27|tushare|daily", "symbol": "600519",
                                               "trade_date": "2026-11-27", "data_source": "tushare", "period": "daily"})
    for field, value in (("symbol", "600519"), ("trade_date", "2026-11-27"), ("_id", "600519|2026-11-27|tushare|daily")):
        plan = _plan(mongo_db.name, field, value)
        assert "Bitmap Index Scan" in plan and "_gin" in plan, (field, plan)
    # a field no index leads with has no twin: PostgreSQL filters it while scanning
    assert "_gin" not in _plan(mongo_db.name, "period", "daily")


def test_an_update_command_larger_than_the_servers_connection_pool_completes(mongo_db):
    """FerretDB 1.24 holds a pooled connection per UpdateOne that matched until the command ends:
    with the pool's 50 connections a batch of 60 deadlocked the server. The writer's UpdateMany
    statements release theirs."""
    coll = mongo_db["pool_check"]
    coll.insert_many([{"_id": i, "v": 0} for i in range(120)])
    assert coll.bulk_write([UpdateMany({"_id": i}, {"$set": {"v": 1}}) for i in range(120)]).matched_count == 120
    assert UPDATE_BATCH <= 50
    docs = [{"symbol": f"{600000 + i}", "trade_date": "2026-11-27", "data_source": "tushare", "period": "daily", "close": 1.0}
            for i in range(3 * UPDATE_BATCH)]
    write_docs(mongo_db[C.STOCK_DAILY_QUOTES], docs, now=dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc))
    res = write_docs(mongo_db[C.STOCK_DAILY_QUOTES], [dict(d, close=2.0) for d in docs],
                     now=dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc))
    assert res.as_dict() == {"inserted": 0, "updated": len(docs), "unchanged": 0}


def test_a_store_made_on_sqlite_moves_whole_to_the_postgresql_backend(tmp_path, mongo_uri):
    stamp = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.timezone.utc)
    names = [f"ta_test_move_{os.getpid()}_{i}" for i in range(2)]
    target = MongoClient(mongo_uri, tz_aware=True)
    with PrivateFerretDB(tmp_path / "sqlite", backend="sqlite") as old:
        src = MongoClient(old.uri, tz_aware=True)
        for i, name in enumerate(names):
            ensure_indexes(src[name], [C.STOCK_DAILY_QUOTES])
            src[name][C.STOCK_DAILY_QUOTES].insert_many(
                [{"_id": f"{600000 + k}|2026-11-27|tushare|daily", "symbol": f"{600000 + k}", "trade_date": "2026-11-27",
                  "data_source": "tushare", "period": "daily", "close": 10.0 + k, "updated_at": stamp} for k in range(5 + i)])
            src[name]["sync_state"].insert_one({"_id": "qfq_base|tushare", "codes": ["600000"], "factors": [1.5]})
        before = {n: {c: sorted(src[n][c].find(), key=lambda d: d["_id"]) for c in src[n].list_collection_names()}
                  for n in names}
        try:
            moved = move_databases(old.uri, mongo_uri, tmp_path / "dumps", stamp)
            assert {n: moved[n] for n in names} == {n: {C.STOCK_DAILY_QUOTES: 5 + i, "sync_state": 1}
                                                   for i, n in enumerate(names)}
            for n in names:
                after = {c: sorted(target[n][c].find(), key=lambda d: d["_id"]) for c in target[n].list_collection_names()}
                assert after == before[n]
                assert target[n][C.STOCK_DAILY_QUOTES].index_information() == src[n][C.STOCK_DAILY_QUOTES].index_information()
            # the source is only read, and a second move refuses to write over what the first moved
            assert {n: {c: sorted(src[n][c].find(), key=lambda d: d["_id"]) for c in src[n].list_collection_names()}
                    for n in names} == before
            with pytest.raises(Exception, match="already hold documents"):
                move_databases(old.uri, mongo_uri, tmp_path / "dumps2", stamp)
        finally:
            for n in names:
                target.drop_database(n)
            src.close()
            target.close()


# --- scripts/ferretdb/patches: $in pushdown and counts that decode nothing -----------------------

BARS = [  # arrays, numbers that look like the strings, missing fields: equality as MongoDB means it
    {"_id": "a", "trade_date": "2026-11-26", "symbol": "600519", "tags": ["x", "y"]},
    {"_id": "b", "trade_date": "2026-11-26", "symbol": "000001", "tags": "x"},
    {"_id": "c", "trade_date": "2026-11-27", "symbol": "600519", "tags": {"x": "x"}},
    {"_id": "d", "trade_date": "2026-11-27", "symbol": 600519, "tags": []},
    {"_id": "e", "trade_date": ["2026-11-26", "2026-11-27"], "symbol": "600000"},
    {"_id": "f", "symbol": "600519"},
]


@pytest.mark.parametrize("query", [
    {"trade_date": "2026-11-26"}, {"trade_date": "2026-11-27"}, {"symbol": "600519"}, {"tags": "x"},
    {"symbol": {"$in": ["600519", "000001"]}}, {"trade_date": {"$in": ["2026-11-27"]}, "symbol": "600519"},
    {"symbol": {"$eq": "600519"}}, {"symbol": {"$in": ["600519", 600519]}}, {"tags": {"$in": ["x"]}},
    {"trade_date": {"$gte": "2026-11-27"}}, {"symbol": "600519", "tags": {"$size": 2}}, {},
])
def test_in_and_counts_match_what_mongodb_selects(mongo_db, query):
    """Every query form, pushed down or not, selects exactly the documents MongoDB's rules select
    (evaluated here in Python for these documents): ``find``, ``count_documents`` (an aggregate),
    the ``count`` command and a ``$count`` stage agree."""
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    coll.insert_many([dict(d) for d in BARS])
    want = sorted(d["_id"] for d in coll.find({}) if _matches(d, query))
    assert sorted(d["_id"] for d in coll.find(query)) == want
    assert coll.count_documents(query) == len(want)
    assert mongo_db.command("count", coll.name, query=query)["n"] == len(want)
    assert list(coll.aggregate([{"$match": query}, {"$count": "n"}])) == ([{"n": len(want)}] if want else [])


def _matches(doc: dict, query: dict) -> bool:
    def one(value, cond) -> bool:
        if isinstance(cond, dict) and "$in" in cond:
            return any(one(value, c) for c in cond["$in"])
        if isinstance(cond, dict) and "$eq" in cond:
            return one(value, cond["$eq"])
        if isinstance(cond, dict) and "$gte" in cond:
            vals = value if isinstance(value, list) else [value]
            return any(isinstance(v, str) and v >= cond["$gte"] for v in vals)
        if isinstance(cond, dict) and "$size" in cond:
            return isinstance(value, list) and len(value) == cond["$size"]
        if isinstance(value, list):
            return value == cond or any(type(v) is type(cond) and v == cond for v in value)
        return type(value) is type(cond) and value == cond

    return all(k in doc and one(doc[k], c) for k, c in query.items())


def test_a_count_of_string_equalities_decodes_no_document(mongo_db):
    coll = mongo_db[C.STOCK_DAILY_QUOTES]
    ensure_indexes(mongo_db, [C.STOCK_DAILY_QUOTES])
    coll.insert_many([dict(d) for d in BARS])
    insert_undecodable(mongo_db, C.STOCK_DAILY_QUOTES, '{"_id": "broken", "trade_date": "2026-11-27"}')
    # counted by PostgreSQL: the undecodable row is counted (c, d, e and it), not decoded
    assert coll.count_documents({"trade_date": "2026-11-27"}) == 4
    assert coll.count_documents({"trade_date": {"$in": ["2026-11-26", "2026-11-27"]}}) == 6
    assert mongo_db.command("count", coll.name, query={"trade_date": "2026-11-27"})["n"] == 4
    assert list(coll.aggregate([{"$match": {"trade_date": "2026-11-27"}}, {"$count": "n"}])) == [{"n": 4}]
    # filtered by PostgreSQL: a $in or equality that excludes the row never decodes it
    assert sorted(d["_id"] for d in coll.find({"trade_date": {"$in": ["2026-11-26"]}})) == ["a", "b", "e"]
    # a count PostgreSQL cannot do exactly decodes, as before
    with pytest.raises(Exception):  # noqa: B017 - FerretDB reports the decoding failure as an internal error
        coll.count_documents({"trade_date": "2026-11-27", "symbol": {"$exists": True}})


# --- date ranges: pushed down to the field's btree index, a superset FerretDB filters again ------

T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
NEWS = [  # dates, arrays of them, and every other type a range on a date must not select
    {"_id": "d0", "published_at": T0},
    {"_id": "d1", "published_at": T0 + dt.timedelta(minutes=59, seconds=59, milliseconds=999)},
    {"_id": "d2", "published_at": T0 + dt.timedelta(hours=1)},
    {"_id": "d-", "published_at": T0 - dt.timedelta(milliseconds=1)},
    {"_id": "arr", "published_at": [T0 - dt.timedelta(days=3), T0 + dt.timedelta(minutes=30)]},
    {"_id": "arr-", "published_at": [T0 - dt.timedelta(days=3)]},
    {"_id": "empty", "published_at": []},
    {"_id": "num", "published_at": int(T0.timestamp() * 1000) + 1},
    {"_id": "str", "published_at": "2026-11-27T01:30:00"},
    {"_id": "obj", "published_at": {"at": T0}},
    {"_id": "bool", "published_at": True},
    {"_id": "null", "published_at": None},
    {"_id": "none"},
]


@pytest.mark.parametrize("cond", [
    {"$gte": T0, "$lt": T0 + dt.timedelta(hours=1)}, {"$gt": T0, "$lte": T0 + dt.timedelta(hours=1)},
    {"$gte": T0}, {"$lt": T0}, {"$lte": T0 - dt.timedelta(milliseconds=1)}, {"$gt": T0 + dt.timedelta(days=1)},
    {"$gte": T0, "$lt": T0 + dt.timedelta(hours=1), "$ne": T0},
])
def test_date_ranges_select_what_mongodb_selects(mongo_db, cond):
    """A range of dates selects the dates in it and the arrays holding one, never a number,
    string, document, bool or null, whether or not the condition reaches PostgreSQL."""
    coll = mongo_db[C.STOCK_NEWS]
    coll.create_index("published_at")  # the index the range reaches (not the news' unique key: these lack it)
    coll.insert_many([dict(d) for d in NEWS])
    ops = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}

    def in_range(v) -> bool:
        return isinstance(v, dt.datetime) and all(ops[k](v, b) for k, b in cond.items() if k in ops) \
            and all(v != b for k, b in cond.items() if k == "$ne")

    def matches(d) -> bool:
        v = d.get("published_at")
        if "$ne" in cond and (v == cond["$ne"] or isinstance(v, list) and cond["$ne"] in v):
            return False
        return any(in_range(x) for x in (v if isinstance(v, list) else [v]))

    want = sorted(d["_id"] for d in NEWS if matches({**d, "published_at": _utc(d.get("published_at"))}))
    assert sorted(d["_id"] for d in coll.find({"published_at": cond})) == want
    assert coll.count_documents({"published_at": cond}) == len(want)
    assert sorted(coll.distinct("_id", {"published_at": cond})) == want


def _utc(v):
    """A stored date as pymongo returns it compared with aware bounds (naive UTC → aware)."""
    if isinstance(v, list):
        return [_utc(x) for x in v]
    return v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v


def test_a_date_range_decodes_no_document_outside_it(mongo_db):
    """The range reaches PostgreSQL: a row FerretDB cannot decode, dated outside the range, is
    never read; a range that takes it in fails on it, as any read that decodes it does."""
    coll = mongo_db[C.STOCK_NEWS]
    coll.create_index("published_at")  # the index the range reaches (not the news' unique key: these lack it)
    coll.insert_many([dict(d) for d in NEWS])
    outside = int((T0 - dt.timedelta(days=1)).timestamp() * 1000)
    insert_undecodable(mongo_db, C.STOCK_NEWS, f'{{"_id": "broken", "published_at": {outside}}}')
    hour = {"$gte": T0, "$lt": T0 + dt.timedelta(hours=1)}
    assert sorted(d["_id"] for d in coll.find({"published_at": hour})) == ["arr", "d0", "d1"]
    assert coll.count_documents({"published_at": hour}) == 3
    with pytest.raises(Exception):  # noqa: B017 - FerretDB reports the decoding failure as an internal error
        list(coll.find({"published_at": {"$gte": T0 - dt.timedelta(days=2)}}))
