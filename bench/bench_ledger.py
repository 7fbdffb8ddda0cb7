"""Completeness-ledger benchmarks on the local store.

- ``ledger_health_query_60d``: the read the health check runs (``ledger.entries``: one equality
  query on ``period`` a day) for 60 trading days × every ledger dataset (720 entries stored), median of 20, in
  ms; target <= 50 ms. Baseline: one ``find_one`` by ``_id`` on the same collection (a round trip).
- ``ledger_share_of_daily_sync``: the time a repair-free ``daily_sync`` spends on the ledger —
  recording the day's four daily datasets and its index bars, plus the repair step (the ledger's
  last 20 trading days read, nothing to repair; the repair trusts the ledger) — vs
  the day's sync itself (stock list + whole-market bars + indices from the tushare fake through
  the real SDK), ~5,400 stocks after 19 earlier trading days synced the same way; target ratio
  <= 0.05.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

N_STOCKS = int(os.environ.get("TA_BENCH_STOCKS", "5400"))
DAY = "2026-11-27"


def run() -> dict[str, dict]:
    from fakes.tushare_server import FakeTushareServer
    from ta_scheduler.config import MongoTarget, mongo_target
    from ta_scheduler.providers.ratelimit import RateLimiter
    from ta_scheduler.providers.tushare_pro import TushareProvider
    from ta_scheduler.storage import ledger
    from ta_scheduler.storage.mongo import ensure_indexes, get_client
    from ta_scheduler.sync import sync_daily_bars, sync_index_daily, sync_stock_basic
    from ta_scheduler.sync.bars import known_codes, merge_daily_frames
    from ta_scheduler.sync.completeness import record_daily_day, record_index_day, repair_daily

    base = mongo_target()
    name = f"ta_bench_ledger_{uuid.uuid4().hex[:8]}"
    client = get_client(MongoTarget(base.uri, name, "bench"))
    db = client[name]
    out: dict[str, dict] = {}
    try:
        ensure_indexes(db)
        # --- the health check's query ------------------------------------------------------
        periods = ledger.trading_days_ending(DAY, 60)
        ledger.record_many(db, [ledger.Entry(d, p, "complete", N_STOCKS, N_STOCKS, "tushare")
                                for d in ledger.DATASETS for p in periods])
        one = f"daily_bars|{periods[-1]}"
        runs, trips = [], []
        for _ in range(20):
            t0 = time.perf_counter()
            found = ledger.entries(db, periods, ledger.DATASETS)
            runs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            db[ledger.COLLECTION].find_one({"_id": one})
            trips.append(time.perf_counter() - t0)
        assert len(found) == len(periods) * len(ledger.DATASETS)
        out["ledger_health_query_60d"] = {
            "value": statistics.median(runs) * 1000, "unit": "ms", "baseline": statistics.median(trips) * 1000,
            "note": f"{len(found)} entries ({len(periods)} days x {len(ledger.DATASETS)} datasets), median of 20; "
                    "target <= 50 ms; baseline = one find_one by _id",
        }
        db[ledger.COLLECTION].delete_many({})

        # --- the ledger's share of a repair-free daily_sync -----------------------------------
        with FakeTushareServer(n_stocks=N_STOCKS) as server:
            provider = TushareProvider("TESTTOKEN", server.url, limiter=RateLimiter({"*": 100_000}))
            window = ledger.trading_days_ending(DAY, 20)
            sync_stock_basic(provider, db)
            for day in window[:-1]:  # 19 earlier days synced for real (untimed): bars, factors, ledger
                sync_daily_bars(provider, db, day)

            t0 = time.perf_counter()
            sync_stock_basic(provider, db)
            counts = sync_daily_bars(provider, db, DAY)
            sync_index_daily(provider, db, DAY)
            sync_s = time.perf_counter() - t0

            frames = [provider.daily(DAY), provider.adj_factor(DAY), provider.daily_basic(DAY), provider.stk_limit(DAY)]
            good = merge_daily_frames(*frames)
            db[ledger.COLLECTION].delete_many({"period": DAY})  # time a first record, as in the sync
            listed = known_codes(db, "tushare")  # read by the sync anyway
            t0 = time.perf_counter()
            record_daily_day(db, "tushare", DAY, frames, good, listed)
            record_index_day(db, "tushare", DAY, 4)
            record_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            repair = repair_daily(provider, db, window, skip=[DAY], day_sync=sync_daily_bars, index_sync=sync_index_daily)
            repair_s = time.perf_counter() - t0
            assert repair["repaired_dates"] == [] and not repair["lost_rows"], repair
        ledger_s = record_s + repair_s
        out["ledger_share_of_daily_sync"] = {
            "value": ledger_s, "unit": "s", "baseline": sync_s,
            "note": f"record {record_s * 1000:.0f} ms + repair check over 20 days {repair_s * 1000:.0f} ms vs the day's "
                    f"sync of {counts['stored']} stocks ({sync_s:.2f} s, ledger recording included); target ratio <= 0.05",
        }
    finally:
        client.drop_database(name)
    return out
