"""Market-data sync benchmarks against the local tushare fake (real SDK) and the local store.

- ``sync_daily_whole_market``: stock list + one day of bars (daily, adj_factor, daily_basic,
  stk_limit merged) + 4 indices for ~5,400 stocks; baseline = the bare fetch of the same
  endpoints through the SDK (so value - baseline is our own overhead: merge, validation, writes).
- ``sync_daily_write_vs_insert_many``: our write phase for the day's bar documents (building
  documents from column arrays + keyed write into an empty collection) vs raw ``insert_many`` of
  the same documents into a scratch collection with the same indexes (target ratio <= 1.5).
- ``sync_daily_rerun_unchanged``: the same day again (nothing changes), vs insert_many.
- ``sync_intraday_cycle``: one whole-market realtime tick (rt_k batches -> market_quotes replace
  + snapshot append + Redis swap) when every quote changed; target <= 10 s; baseline = raw
  insert_many of the snapshot documents.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

N_STOCKS = int(os.environ.get("TA_BENCH_STOCKS", "5400"))
DAY = "2026-11-27"
TZ = ZoneInfo("Asia/Shanghai")


def run() -> dict[str, dict]:
    from fakes.tushare_server import FakeTushareServer
    from ta_scheduler.config import MongoTarget, mongo_target
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.providers.ratelimit import RateLimiter
    from ta_scheduler.providers.tushare_pro import TushareProvider
    from ta_scheduler.storage.mongo import ensure_indexes, get_client
    from ta_scheduler.storage.writes import columns_from_frame, docs_from_columns, write_docs
    from ta_scheduler.sync import sync_daily_bars, sync_index_daily, sync_realtime_quotes, sync_stock_basic
    from ta_scheduler.sync.bars import BAR_FIELDS, merge_daily_frames

    base = mongo_target()
    name = f"ta_bench_sync_{uuid.uuid4().hex[:8]}"
    target = MongoTarget(base.uri, name, "bench")
    client = get_client(target)
    db = client[name]
    out: dict[str, dict] = {}
    try:
        ensure_indexes(db)
        with FakeTushareServer(n_stocks=N_STOCKS) as server:
            provider = TushareProvider("TESTTOKEN", server.url, limiter=RateLimiter({"*": 100_000}))
            server.market.daily(__import__("datetime").date(2026, 11, 27))  # warm the generator cache

            t0 = time.perf_counter()
            frames = [provider.stock_basic(), provider.daily(DAY), provider.adj_factor(DAY), provider.daily_basic(DAY),
                      provider.stk_limit(DAY), provider.index_daily(["000300.SH", "000001.SH", "399001.SZ", "399006.SZ"], DAY, DAY)]
            fetch = time.perf_counter() - t0

            t0 = time.perf_counter()
            sync_stock_basic(provider, db)
            counts = sync_daily_bars(provider, db, DAY)
            sync_index_daily(provider, db, DAY)
            whole = time.perf_counter() - t0
            out["sync_daily_whole_market"] = {
                "value": whole, "unit": "s", "baseline": fetch,
                "note": f"{counts['stored']} stocks from the fake via the real SDK; baseline = bare fetch of the same "
                        f"endpoints; own overhead {whole - fetch:.2f} s",
            }

            merged = merge_daily_frames(*frames[1:5])
            merged["trade_date"], merged["period"] = DAY, "daily"
            cols = columns_from_frame(merged, [c for c in BAR_FIELDS if c in merged.columns])
            ours_coll, raw_coll = db["bench_ours"], db["bench_raw"]
            for coll in (ours_coll, raw_coll):
                coll.create_index([(k, 1) for k in ("symbol", "trade_date", "data_source", "period")], unique=True)
            prebuilt = list(docs_from_columns(cols, {"data_source": "tushare"}))
            t0 = time.perf_counter()
            raw_coll.insert_many(prebuilt, ordered=False)
            raw = time.perf_counter() - t0
            t0 = time.perf_counter()
            write_docs(ours_coll, docs_from_columns(cols, {"data_source": "tushare"}),
                       ("symbol", "trade_date", "data_source", "period"), mode="replace", partition=("trade_date", "data_source"))
            ours = time.perf_counter() - t0
            out["sync_daily_write_vs_insert_many"] = {
                "value": ours, "unit": "s", "baseline": raw,
                "note": f"{len(prebuilt)} bar docs: build from column arrays + keyed write (target ratio <= 1.5)",
            }
            t0 = time.perf_counter()
            res = write_docs(ours_coll, docs_from_columns(cols, {"data_source": "tushare"}),
                             ("symbol", "trade_date", "data_source", "period"), mode="replace", partition=("trade_date", "data_source"))
            rerun = time.perf_counter() - t0
            out["sync_daily_rerun_unchanged"] = {
                "value": rerun, "unit": "s", "baseline": raw,
                "note": f"same day again: {res.unchanged} unchanged, {res.updated} rewritten",
            }

            from ta_scheduler.storage.cache import connect

            cache = connect()  # the configured cache (connection redis_default)
            ticks = [datetime(2026, 11, 27, 10, 30, tzinfo=TZ), datetime(2026, 11, 27, 10, 35, tzinfo=TZ)]
            times = []
            for tick in ticks:
                server.now = tick
                t0 = time.perf_counter()
                rt = sync_realtime_quotes(provider, db, cache, tick)
                times.append(time.perf_counter() - t0)
            snap_docs = list(db[C.INTRADAY_SNAPSHOTS].find({"snapshot_time": ticks[1]}, {"_id": 0}))
            t0 = time.perf_counter()
            db["bench_raw_snap"].insert_many(snap_docs, ordered=False)
            raw_snap = time.perf_counter() - t0
            out["sync_intraday_cycle"] = {
                "value": times[1], "unit": "s", "baseline": raw_snap,
                "note": f"{rt['quotes']} quotes, all changed (first tick {times[0]:.2f} s); target <= 10 s; "
                        "baseline = raw insert_many of the snapshot docs",
            }
            from ta_scheduler.storage.cache import pointer_key
            from ta_scheduler.sync.realtime import REDIS_SPACE

            cache.delete(pointer_key(REDIS_SPACE))
    finally:
        client.drop_database(name)
    return out


if __name__ == "__main__":
    for k, v in run().items():
        print(k, v)
