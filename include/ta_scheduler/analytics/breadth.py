"""Market breadth and turnover for one trading day, from symbols × days panels.

Pure functions: the day is the last column of the panel. Units: counts of stocks; amounts in
yuan; ratios dimensionless.
"""

from __future__ import annotations

import numpy as np

#: Price tolerance (yuan) when comparing a close with a limit price quoted in cents.
PRICE_TOL = 0.005


def limit_flags(
    close: np.ndarray,
    pre_close: np.ndarray,
    up_limit: np.ndarray,
    down_limit: np.ndarray,
    limit_pct: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Closed at limit-up / limit-down, per symbol and day (boolean arrays of ``close``'s shape).

    A close counts when it is within half a cent of the exchange's ``up_limit``/``down_limit``;
    where those are missing, the limit is ``round(pre_close × (1 ± pct), 2)`` with the board's
    ``limit_pct`` (a 1-D array per symbol).
    """
    pct = np.asarray(limit_pct, dtype=float)[:, None] if np.ndim(close) == 2 else np.asarray(limit_pct, dtype=float)
    up = np.where(np.isfinite(up_limit), up_limit, np.round(pre_close * (1.0 + pct), 2))
    down = np.where(np.isfinite(down_limit), down_limit, np.round(pre_close * (1.0 - pct), 2))
    with np.errstate(invalid="ignore"):
        return close >= up - PRICE_TOL, close <= down + PRICE_TOL


def new_extremes(high: np.ndarray, low: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Symbols making a new ``n``-day high / low on the last day (1-D boolean per symbol).

    New high: the last bar's (adjusted) high is above every high of the symbol's previous ``n``
    bars; the symbol needs ``n`` earlier bars, so fresh listings never count. Lows mirror it.
    """
    has = np.isfinite(high[:, -1]) & np.isfinite(low[:, -1])
    prev_h, prev_l = high[:, :-1], low[:, :-1]
    n_prev = np.isfinite(prev_h).sum(axis=1)
    # the last n bars of each symbol: rank bars from the end and keep rank < n
    rank_from_end = np.cumsum(np.isfinite(prev_h)[:, ::-1], axis=1)[:, ::-1]
    window = np.isfinite(prev_h) & (rank_from_end <= n)
    hmax = np.max(np.where(window, prev_h, -np.inf), axis=1, initial=-np.inf)
    lmin = np.min(np.where(window, prev_l, np.inf), axis=1, initial=np.inf)
    enough = has & (n_prev >= n)
    return enough & (high[:, -1] > hmax), enough & (low[:, -1] < lmin)


def breadth(
    close: np.ndarray,
    pre_close: np.ndarray,
    limit_up: np.ndarray,
    limit_down: np.ndarray,
) -> dict[str, int]:
    """Advancers, decliners, unchanged, limit-up and limit-down counts for one day (1-D arrays).

    A stock advances when ``close > pre_close`` by more than half a cent (``pre_close`` is the
    exchange's reference price, already adjusted for an ex-dividend on the day).
    """
    has = np.isfinite(close) & np.isfinite(pre_close)
    diff = np.where(has, close - pre_close, 0.0)
    return {
        "stocks": int(has.sum()),
        "advancers": int((has & (diff > PRICE_TOL)).sum()),
        "decliners": int((has & (diff < -PRICE_TOL)).sum()),
        "unchanged": int((has & (np.abs(diff) <= PRICE_TOL)).sum()),
        "limit_up": int((np.isfinite(close) & limit_up).sum()),
        "limit_down": int((np.isfinite(close) & limit_down).sum()),
    }


def turnover_vs_mean(amount: np.ndarray, n: int = 20) -> dict[str, float | None]:
    """The last day's total traded amount (yuan) and its ratio to the mean of the previous ``n``
    days' totals (days with no bars at all are not counted)."""
    totals = np.nansum(amount, axis=0)
    has_day = np.isfinite(amount).any(axis=0)
    today = float(totals[-1])
    prev = totals[:-1][has_day[:-1]][-n:]
    mean = float(prev.mean()) if prev.size else None
    return {
        "amount_total": today,
        f"amount_mean_{n}": mean,
        f"amount_ratio_{n}": (today / mean) if mean else None,
        "amount_mean_days": int(prev.size),
    }
