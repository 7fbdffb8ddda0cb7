"""A sync killed (SIGKILL) at any write, then retried, leaves exactly the rows of a clean run.

``crash_sync.py`` runs a two-day backfill in its own process and kills itself right after write
command number k, for every k of a clean run. The market has 450 stocks and the writer's batch
is lowered to 200 documents, so a day's bars go in as three batches (as 4,500 stocks do at the
default 2,000) and some kills leave a day half written. The retry is the same backfill in this
process. The store is the real one; only the process dies. (A task process killed by Airflow's worker, and the store restarted under a
running task, are tested end to end in ``tests/e2e/test_crash_recovery.py``.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ta_scheduler.constants import Collections as C
from ta_scheduler.storage import writes
from ta_scheduler.storage.mongo import ensure_indexes, get_client, get_db
from ta_scheduler.sync import backfill_daily, sync_stock_basic

DAYS = ["2026-11-24", "2026-11-25"]
SCRIPT = Path(__file__).with_name("crash_sync.py")
COMPARED = (C.STOCK_DAILY_QUOTES, C.QUARANTINE)
STOCKS, CHUNK = 450, 200


def _fresh_db(mongo_target, provider):
    from ta_scheduler.config import MongoTarget

    name = f"ta_test_{uuid.uuid4().hex[:10]}"
    target = MongoTarget(mongo_target.uri.rsplit("/", 1)[0] + "/" + name, name, "test")
    db = get_db(target)
    ensure_indexes(db)
    sync_stock_basic(provider, db)
    return target, db


@pytest.fixture(scope="module")
def tushare_server():
    """The fake tushare with a market big enough to be written in several batches a day."""
    from fakes.tushare_server import FakeTushareServer

    with FakeTushareServer(n_stocks=STOCKS) as server:
        yield server


def _run_script(target, tushare_server, crash_at: int) -> subprocess.CompletedProcess:
    from ta_scheduler.config import mongo_connection_json

    env = {**os.environ, "MONGO_URI": target.uri, "AIRFLOW_CONN_MONGO_DEFAULT": mongo_connection_json(target.uri),
           "CRASH_AT": str(crash_at), "CHUNK_SIZE": str(CHUNK)}
    return subprocess.run([sys.executable, str(SCRIPT), tushare_server.url, tushare_server.token, *DAYS],
                          env=env, capture_output=True, text=True, timeout=300)


def _contents(db) -> dict[str, dict]:
    """Documents of the compared collections and the completion markers, without timestamps."""
    out = {}
    for name in COMPARED:
        out[name] = {d["_id"]: d for d in db[name].find({}, {"updated_at": 0, "quarantined_at": 0, "run_id": 0})}
    out["markers"] = {d["_id"]: d for d in db[C.SYNC_STATE].find({"job": "daily_bars"}, {"updated_at": 0})}
    return out


@pytest.fixture
def reference(mongo_target, make_tushare, tushare_server):
    """A clean run's store contents and its list of write calls. Every ``daily`` reply carries
    two broken rows (the same ones each time), so the quarantine is written too."""
    tushare_server.inject("daily", "bad_rows", times=10_000, rows=2)
    target, db = _fresh_db(mongo_target, make_tushare())
    res = _run_script(target, tushare_server, 0)
    assert res.returncode == 0, res.stderr[-3000:]
    calls = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    contents = _contents(db)
    get_client(target).drop_database(target.database)
    return contents, calls


@pytest.mark.timeout(900)  # one backfill per write call of a clean run (about 40), each killed and retried
def test_killed_at_any_write_then_retried_stores_each_row_once(reference, mongo_target, make_tushare, tushare_server, monkeypatch):
    expected, calls = reference
    assert len(expected[C.STOCK_DAILY_QUOTES]) == 2 * (STOCKS - 2)
    assert len(expected["markers"]) == len(DAYS) and len(expected[C.QUARANTINE]) == 2 * len(DAYS)
    bar_batches = [c for c in calls if c["command"] == "insert" and c["collection"] == C.STOCK_DAILY_QUOTES]
    assert len(bar_batches) == 3 * len(DAYS), calls  # so some kills land between a day's batches
    monkeypatch.setattr(writes, "CHUNK_SIZE", CHUNK)  # the retry batches as the killed run did
    provider = make_tushare()
    for call in calls:
        target, db = _fresh_db(mongo_target, provider)
        try:
            crashed = _run_script(target, tushare_server, call["n"])
            assert crashed.returncode == -signal.SIGKILL, (call, crashed.stderr[-2000:])
            backfill_daily(provider, db, DAYS)  # the retry
            got = _contents(db)
            for name in expected:
                assert got[name] == expected[name], f"after a kill following write {call}: {name} differs"
        finally:
            get_client(target).drop_database(target.database)
