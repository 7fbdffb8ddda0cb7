"""A sync killed (SIGKILL) at any write, then retried, leaves exactly the rows of a clean run.

``crash_sync.py`` runs a two-day backfill in a forked child that kills itself right after write
command number k, for every k of a clean run. The market has 150 stocks and the writer's batch
is lowered to 60 documents, so a day's bars go in as three batches (as 4,500 stocks do at the
default 2,000) and some kills leave a day half written. The retry is the same backfill in this
process. The store is the real one; only the process dies. Every kill starts from the same
store, the stock list and the indexes: the collections are emptied (their indexes kept) and the
stock list put back. (A task process killed by Airflow's worker, and the store restarted under a
running task, are tested end to end in ``tests/e2e/test_crash_recovery.py``.)
"""

from __future__ import annotations

import signal

import pytest
from crash_sync import backfill_in_child
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage import writes
from ta_scheduler.storage.mongo import ensure_indexes
from ta_scheduler.sync import backfill_daily, sync_stock_basic

DAYS = ["2026-11-24", "2026-11-25"]
COMPARED = (C.STOCK_DAILY_QUOTES, C.QUARANTINE)
STOCKS, CHUNK = 150, 60
BAD = 1  # broken rows in every `daily` reply (under the 1 % that fails a sync)


@pytest.fixture(scope="module")
def tushare_server():
    """The fake tushare with a market big enough to be written in several batches a day."""
    from fakes.tushare_server import FakeTushareServer

    with FakeTushareServer(n_stocks=STOCKS) as server:
        yield server


def _everything(db) -> dict[str, dict]:
    """Every document of every collection that holds any."""
    found = {name: {d["_id"]: d for d in db[name].find()} for name in db.list_collection_names()}
    return {name: docs for name, docs in found.items() if docs}


def _back_to_start(db, start: dict[str, dict]) -> None:
    """Put the store back to where every run starts (the backfill also adds to the stock list):
    each collection emptied, its indexes kept, and the start's documents put back."""
    for name in db.list_collection_names():
        db[name].delete_many({})
    for name, docs in start.items():
        db[name].insert_many(list(docs.values()))
    assert _everything(db) == start


def _crash(mongo_target, tushare_server, crash_at: int) -> tuple[int, list[dict]]:
    return backfill_in_child(mongo_target, tushare_server.url, tushare_server.token, DAYS, CHUNK, crash_at)


def _contents(db) -> dict[str, dict]:
    """Documents of the compared collections and the completion markers, without timestamps."""
    out = {}
    for name in COMPARED:
        out[name] = {d["_id"]: d for d in db[name].find({}, {"updated_at": 0, "quarantined_at": 0, "run_id": 0})}
    out["markers"] = {d["_id"]: d for d in db[C.SYNC_STATE].find({"job": "daily_bars"}, {"updated_at": 0})}
    return out


@pytest.fixture
def start(mongo_db, make_tushare):
    """The store every run starts from: the indexes and the stock list."""
    ensure_indexes(mongo_db)
    sync_stock_basic(make_tushare(), mongo_db)
    return _everything(mongo_db)


@pytest.fixture
def reference(start, mongo_db, mongo_target, tushare_server):
    """A clean run's store contents and its list of write calls. Every ``daily`` reply carries
    a broken row (the same one each time), so the quarantine is written too."""
    tushare_server.inject("daily", "bad_rows", times=10_000, rows=BAD)
    code, calls = _crash(mongo_target, tushare_server, 0)
    assert code == 0
    contents = _contents(mongo_db)
    _back_to_start(mongo_db, start)
    return contents, calls


@pytest.mark.timeout(900)  # one backfill per write call of a clean run (about 40), each killed and retried
def test_killed_at_any_write_then_retried_stores_each_row_once(reference, start, mongo_db, mongo_target, make_tushare,
                                                               tushare_server, monkeypatch):
    expected, calls = reference
    assert len(expected[C.STOCK_DAILY_QUOTES]) == len(DAYS) * (STOCKS - BAD)
    assert len(expected["markers"]) == len(DAYS) and len(expected[C.QUARANTINE]) == BAD * len(DAYS)
    bar_batches = [c for c in calls if c["command"] == "insert" and c["collection"] == C.STOCK_DAILY_QUOTES]
    assert len(bar_batches) == 3 * len(DAYS), calls  # so some kills land between a day's batches
    monkeypatch.setattr(writes, "CHUNK_SIZE", CHUNK)  # the retry batches as the killed run did
    provider = make_tushare()
    for call in calls:
        code, _ = _crash(mongo_target, tushare_server, call["n"])
        assert code == -signal.SIGKILL, call
        backfill_daily(provider, mongo_db, DAYS)  # the retry
        got = _contents(mongo_db)
        for name in expected:
            assert got[name] == expected[name], f"after a kill following write {call}: {name} differs"
        _back_to_start(mongo_db, start)
