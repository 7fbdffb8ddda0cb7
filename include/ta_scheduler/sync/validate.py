"""Row checks before storing (pure: frames in, masks and reasons out; no I/O).

A row that fails a check is not stored; it goes to the ``quarantine`` collection with the
reason, and the sync fails loudly when too many rows fail (see ``quarantine_threshold``).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

#: Default share of rejected rows above which a sync fails (after storing the good rows).
_TOL = 1e-6


class DataQualityError(RuntimeError):
    """Too many rows failed validation; the good rows and the quarantine are already stored."""


def quarantine_threshold(value: float | None = None) -> float:
    """The max rejected fraction: the argument, else env ``TA_MAX_QUARANTINE_FRACTION``, else 1 %."""
    if value is not None:
        return float(value)
    from ta_scheduler.config import setting_float

    return setting_float("TA_MAX_QUARANTINE_FRACTION")


def bar_problems(frame: pd.DataFrame, known_codes: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """Boolean masks, one per failed check, over the rows of a merged daily-bar frame.

    Checks: ``high < low``; a non-positive or missing price; negative volume or amount; close
    outside ``[down_limit, up_limit]`` when both limits are known; a code missing from
    ``known_codes`` (the stored stock list) when one is given.
    """
    f = frame
    prices = f[["open", "high", "low", "close"]].to_numpy(dtype=float)
    checks = {
        "high<low": (f["high"] < f["low"] - _TOL).to_numpy(),
        "price missing or <= 0": (~np.isfinite(prices) | (prices <= 0)).any(axis=1),
        "negative volume or amount": ((f["volume"] < 0) | (f["amount"] < 0)).to_numpy(),
    }
    if {"up_limit", "down_limit"} <= set(f.columns):
        up, down = f["up_limit"].to_numpy(dtype=float), f["down_limit"].to_numpy(dtype=float)
        known = np.isfinite(up) & np.isfinite(down)
        close = f["close"].to_numpy(dtype=float)
        checks["close outside limit prices"] = known & ((close > up + _TOL) | (close < down - _TOL))
    if known_codes:
        checks["unknown code (not in stock_basic_info)"] = ~f["code"].isin(list(known_codes)).to_numpy()
    return {reason: mask for reason, mask in checks.items() if mask.any()}
