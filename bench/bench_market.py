"""Market-vocabulary benchmarks.

- ``board_limit_pct_5400``: ``ta_scheduler.market.board_limit_pct`` (vectorised: one array cast
  and a sorted lookup) for a whole market of 5,400 codes with names, median of 50, in ms.
  Baseline: the same rule as a Python loop per stock (the form it replaced), same inputs.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

N = 5400


def _loop(codes, names):
    out = np.full(len(codes), 0.10)
    for i, code in enumerate(codes):
        name = names[i] or ""
        if code.startswith(("68", "30")):
            out[i] = 0.20
        elif code.startswith(("43", "83", "87", "88", "92")):
            out[i] = 0.30
        elif "ST" in name.upper():
            out[i] = 0.05
    return out


def _median_ms(fn, repeat: int = 50) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def run() -> dict[str, dict]:
    from ta_scheduler.market import board_limit_pct

    heads = ["60", "68", "00", "30", "43", "83", "92", "90", "20"]
    codes = [f"{heads[i % len(heads)]}{i:04d}" for i in range(N)]
    names = [("*ST 某" if i % 37 == 0 else f"股票{i}") for i in range(N)]
    assert np.array_equal(board_limit_pct(codes, names), _loop(codes, names))
    value = _median_ms(lambda: board_limit_pct(codes, names))
    baseline = _median_ms(lambda: _loop(codes, names))
    return {
        "board_limit_pct_5400": {
            "value": value, "unit": "ms", "baseline": baseline,
            "note": "limit by board for 5,400 codes (vectorised lookup, ST test on 10 % boards) vs a Python loop per stock",
        },
    }
