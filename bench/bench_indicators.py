"""Indicators for the whole market: our 2-D engine vs TA-Lib per stock, and the daily job.

1. ``indicators_5000x250``: every stored indicator (TA-Lib convention, so both sides compute
   the same thing) for 5,000 stocks × 250 days, vs TA-Lib called per stock writing into
   preallocated symbols × days outputs. Medians of interleaved runs.
2. ``indicator_job_incremental``: ``compute_indicators_for_date`` for the next day on a scratch
   database of 5,000 stocks × 130 days whose states were built by a first run (seeding and
   first run untimed): read the day's bars and the states, carry forward, write 5,000
   documents and states. Baseline: reading that day's 5,000 bars alone (one query, same
   projection); the old full-window path (120-day read + compute) is timed next to it.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

S, D = 5_000, 250
REPS = 5


def _market(n_sym: int, n_days: int, seed: int = 42):
    rng = np.random.default_rng(seed)
    start = rng.uniform(3, 100, (n_sym, 1))
    close = start * np.exp(np.cumsum(rng.normal(0, 0.025, (n_sym, n_days)), axis=1))
    high = close * (1 + rng.uniform(0, 0.02, close.shape))
    low = close * (1 - rng.uniform(0, 0.02, close.shape))
    volume = rng.uniform(1e5, 1e8, close.shape).round()
    return high, low, close, volume


def _talib_loop(high, low, close, volume):
    import talib
    from ta_scheduler.analytics.indicators import INDICATOR_FIELDS

    out = {k: np.empty(close.shape) for k in INDICATOR_FIELDS}
    for s in range(close.shape[0]):
        h, l, c, v = high[s], low[s], close[s], volume[s]
        for n in (5, 10, 20, 60):
            out[f"ma{n}"][s] = talib.SMA(c, n)
        for n in (12, 26):
            out[f"ema{n}"][s] = talib.EMA(c, n)
        out["macd_dif"][s], out["macd_dea"][s], out["macd_hist"][s] = talib.MACD(c, 12, 26, 9)
        for n in (6, 12, 24):
            out[f"rsi{n}"][s] = talib.RSI(c, n)
        k, d = talib.STOCH(h, l, c, 9, 5, 1, 5, 1)
        out["kdj_k"][s], out["kdj_d"][s], out["kdj_j"][s] = k, d, 3 * k - 2 * d
        out["boll_upper"][s], out["boll_mid"][s], out["boll_lower"][s] = talib.BBANDS(c, 20, 2, 2, 0)
        out["atr14"][s] = talib.ATR(h, l, c, 14)
        vr = out["volume_ratio"][s]
        vr[:5] = np.nan
        vr[5:] = v[5:] / talib.SMA(v, 5)[4:-1]
    return out


def _bench_engine() -> dict[str, dict]:
    from ta_scheduler.analytics.indicators import compute_indicators

    data = _market(S, D)
    ours_t, talib_t = [], []
    ours = ref = None
    for _ in range(REPS):
        ours = ref = None  # free the previous run's outputs before timing the next
        t0 = time.perf_counter()
        ours = compute_indicators(*data, convention="talib")
        ours_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = _talib_loop(*data)
        talib_t.append(time.perf_counter() - t0)
    diff = max(float(np.nanmax(np.abs(ours[k] - ref[k]))) for k in ref)
    cn_t = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        compute_indicators(*data, convention="cn")
        cn_t.append(time.perf_counter() - t0)
    value, base = statistics.median(ours_t), statistics.median(talib_t)
    return {
        "indicators_5000x250": {
            "value": value, "unit": "s", "baseline": base, "ratio": value / base,
            "note": f"21 outputs, TA-Lib convention vs TA-Lib per stock; max abs diff {diff:.1e}; "
                    f"stored 'cn' convention {statistics.median(cn_t):.3f} s",
        }
    }


def _seed(db, n_sym: int, days: list[str]) -> None:
    from ta_scheduler.analytics.stored_bars import RAW_PRICE_FIELDS as F
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage.mongo import ensure_indexes

    ensure_indexes(db, [C.STOCK_DAILY_QUOTES])
    high, low, close, volume = _market(n_sym, len(days), seed=7)
    symbols = [f"{600000 + i:06d}" for i in range(n_sym)]
    coll = db[C.STOCK_DAILY_QUOTES]
    for j, d in enumerate(days):
        c = np.round(close[:, j], 2)
        cols = {
            "_id": [f"{s}|{d}|demo|daily" for s in symbols],
            "symbol": symbols, "trade_date": [d] * n_sym, "period": ["daily"] * n_sym, "data_source": ["demo"] * n_sym,
            F["open"]: c.tolist(), F["high"]: np.round(high[:, j], 2).tolist(), F["low"]: np.round(low[:, j], 2).tolist(),
            F["close"]: c.tolist(), "volume": volume[:, j].tolist(), "amount": (volume[:, j] * c).tolist(),
            F["adj_factor"]: [1.0] * n_sym,
        }
        cols.update({f: cols[F[f]] for f in ("open", "high", "low", "close")})  # factor 1: qfq == unadjusted
        coll.insert_many([dict(zip(cols, row, strict=True)) for row in zip(*cols.values(), strict=True)], ordered=False)


def _old_full_window(db, day: str) -> int:
    """What the job did before states: read the last 120 trading days, forward-adjust,
    compute on the window (the write is left out, so this understates it)."""
    from ta_scheduler.analytics.indicators import compute_indicators
    from ta_scheduler.analytics.jobs import _load_bars
    from ta_scheduler.analytics.panel import forward_adjust

    panel = _load_bars(db, day, 120, ["high", "low", "close", "volume", "adj_factor"], "demo")
    adj = {k: forward_adjust(panel[k], panel["adj_factor"]) for k in ("high", "low", "close")}
    compute_indicators(adj["high"], adj["low"], adj["close"], panel["volume"], last=1)
    return len(panel.dates)


def _bench_job() -> dict[str, dict]:
    """``indicator_job_incremental``: the daily job with every state in the store, vs reading
    the day's bars alone. History length: ``TA_BENCH_INDICATOR_DAYS`` (default 130) trading days."""
    from datetime import date, timedelta

    from ta_scheduler.analytics.jobs import compute_indicators_for_date
    from ta_scheduler.analytics.stored_bars import bar_projection
    from ta_scheduler.config import MongoTarget
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage.mongo import get_client

    uri = os.environ.get("MONGO_URI") or f"mongodb://127.0.0.1:{os.environ.get('TA_MONGO_PORT', '27037')}/"
    name = f"ta_bench_{uuid.uuid4().hex[:8]}"
    client = get_client(MongoTarget(uri, name, "bench"))
    db = client[name]
    n_days = int(os.environ.get("TA_BENCH_INDICATOR_DAYS", "130"))
    days, d = [], date(2026, 11, 27)
    while len(days) < n_days:
        if d.weekday() < 5:
            days.append(d.isoformat())
        d -= timedelta(days=1)
    days.reverse()
    fields = ["high", "low", "close", "volume", "adj_factor"]
    try:
        t0 = time.perf_counter()
        _seed(db, S, days)
        seed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        compute_indicators_for_date(db, days[-2])  # states for every stock (untimed)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        n_read = len(list(db[C.STOCK_DAILY_QUOTES].find({"trade_date": days[-1], "period": "daily", "data_source": "demo"},
                                                        bar_projection(fields), batch_size=10_000)))
        read_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = compute_indicators_for_date(db, days[-1])
        job_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        window = _old_full_window(db, days[-1])
        old_s = time.perf_counter() - t0
    finally:
        client.drop_database(name)
    return {
        "indicator_job_incremental": {
            "value": job_s, "unit": "s", "baseline": read_s, "ratio": job_s / read_s,
            "note": f"{out['carried']} of {out['symbols']} stocks carried from states, {out['inserted']} docs written; "
                    f"baseline = reading the day's {n_read} bars alone; old full-window path "
                    f"({window}-day read + compute, no write) {old_s:.2f} s; store holds {S:,} x {n_days} bars; "
                    f"first run from scratch {first_s:.1f} s and seeding {seed_s:.0f} s untimed; targets ratio <= 3, job <= 5 s",
        }
    }


def run() -> dict[str, dict]:
    results = _bench_engine()
    results.update(_bench_job())
    return results


if __name__ == "__main__":
    for k, v in run().items():
        print(k, v)
