"""Technical indicators for the whole market at once, on symbols × days arrays.

Two conventions share one engine (formulas and the differences: ``docs/analytics.md``):

``"cn"`` (stored)
    What 通达信 / 同花顺 users read: MACD bar = 2 × (DIF − DEA); RSI and KDJ as ``SMA(X,N,1)``
    recursions seeded at the first bar (KDJ from K = D = 50); BOLL with the sample standard
    deviation (ddof = 1); ATR as the simple mean of the true range.
``"talib"``
    TA-Lib 0.8 exactly (max abs diff ≤ 1e-9): Wilder RSI/ATR seeded with a simple mean, BBANDS
    with the population std, MACD histogram = DIF − DEA, and KDJ taken as
    ``STOCH(9, 5, EMA, 5, EMA)`` (α = 1/3, the same smoothing as ``SMA(X,3,1)``), J = 3K − 2D.

MA, EMA and MACD DIF/DEA are identical in both and equal TA-Lib's ``SMA``, ``EMA`` and ``MACD``
(including TA-Lib's MACD seeding, so early DIF ≠ EMA12 − EMA26; they converge).

Missing bars: each symbol's indicators are computed over *its own* sequence of bars, as a
charting tool does over a suspension (MA5 = mean of the last five bars traded). Rows are
left-aligned (bars shifted to the front, gaps to the back) so every symbol's warm-up starts at
column 0, computed with whole-array operations and a short loop over days for the recursive
averages, then put back on the calendar; days without a bar are NaN.

Units: prices and ATR in yuan (of whatever adjustment the inputs carry); RSI, KDJ in points
(0–100, J may leave that range); volume ratio is dimensionless.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Convention = Literal["cn", "talib"]

MA_PERIODS = (5, 10, 20, 60)
EMA_PERIODS = (12, 26)
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
RSI_PERIODS = (6, 12, 24)
KDJ_N, KDJ_M1, KDJ_M2 = 9, 3, 3
BOLL_N, BOLL_K = 20, 2.0
ATR_N = 14
VOLUME_RATIO_N = 5

#: Indicator fields, in the order they are stored in ``technical_indicators``.
INDICATOR_FIELDS: tuple[str, ...] = (
    *(f"ma{n}" for n in MA_PERIODS),
    *(f"ema{n}" for n in EMA_PERIODS),
    "macd_dif",
    "macd_dea",
    "macd_hist",
    *(f"rsi{n}" for n in RSI_PERIODS),
    "kdj_k",
    "kdj_d",
    "kdj_j",
    "boll_upper",
    "boll_mid",
    "boll_lower",
    f"atr{ATR_N}",
    "volume_ratio",
)


# --- engine: arrays are days × symbols (axis 0 = time), left-aligned, C-contiguous ---------------


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average over ``n`` rows; NaN before row n−1 (as TA-Lib SMA)."""
    d = x.shape[0]
    out = np.full_like(x, np.nan)
    if d < n:
        return out
    base = x[0]
    c = np.cumsum(x - base, axis=0)  # de-meaned so the running sum keeps its precision
    out[n - 1] = c[n - 1] / n + base
    out[n:] = (c[n:] - c[:-n]) / n + base
    return out


def _rolling_std(x: np.ndarray, mean: np.ndarray, n: int, ddof: int) -> np.ndarray:
    """Standard deviation over ``n`` rows around a precomputed window mean (two-pass: exact)."""
    d = x.shape[0]
    out = np.full_like(x, np.nan)
    if d < n:
        return out
    m = mean[n - 1 :]
    acc = np.zeros_like(m)
    for k in range(n):
        dev = x[k : d - n + 1 + k] - m
        acc += dev * dev
    out[n - 1 :] = np.sqrt(acc / (n - ddof))
    return out


def _rolling_extreme(x: np.ndarray, n: int, fn: np.ufunc) -> np.ndarray:
    """Rolling max/min (``fn`` = np.maximum / np.minimum) over ``n`` rows; NaN before n−1."""
    d = x.shape[0]
    out = np.full_like(x, np.nan)
    if d < n:
        return out
    acc = x[0 : d - n + 1].copy()
    for k in range(1, n):
        fn(acc, x[k : d - n + 1 + k], out=acc)
    out[n - 1 :] = acc
    return out


def _recurse(x: np.ndarray, alpha: float, start: int, seed: np.ndarray | float) -> np.ndarray:
    """``y[start] = seed``; ``y[t] = y[t−1] + α (x[t] − y[t−1])`` after; NaN before ``start``.

    The one loop over days (vector operations across all symbols per step).
    """
    d = x.shape[0]
    y = np.full_like(x, np.nan)
    if start >= d:
        return y
    y[start] = seed
    tmp = np.empty_like(x[0])
    for t in range(start + 1, d):
        np.subtract(x[t], y[t - 1], out=tmp)
        tmp *= alpha
        np.add(tmp, y[t - 1], out=y[t])
    return y


def _ema_talib(x: np.ndarray, n: int, first: int = 0) -> np.ndarray:
    """TA-Lib EMA of rows ``first…``: seeded with the mean of the first ``n`` values."""
    d = x.shape[0]
    if first + n > d:
        return np.full_like(x, np.nan)
    seed = x[first : first + n].mean(axis=0)
    return _recurse(x, 2.0 / (n + 1), first + n - 1, seed)


def _macd_talib(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DIF and DEA exactly as TA-Lib ``MACD(12, 26, 9)``: both EMAs start at the slow EMA's
    first index (the fast one seeded with the mean of the 12 closes ending there), DEA is the
    seeded EMA9 of DIF, and both outputs begin where DEA does (index 33)."""
    d = close.shape[0]
    nan = np.full_like(close, np.nan)
    s0 = MACD_SLOW - 1
    if d <= s0 + MACD_SIGNAL - 1:
        return nan, nan.copy()
    slow = _recurse(close, 2.0 / (MACD_SLOW + 1), s0, close[: s0 + 1].mean(axis=0))
    fast = _recurse(close, 2.0 / (MACD_FAST + 1), s0, close[s0 - MACD_FAST + 1 : s0 + 1].mean(axis=0))
    dif = fast - slow
    dea = _ema_talib(dif, MACD_SIGNAL, first=s0)
    first_out = s0 + MACD_SIGNAL - 1
    dif[:first_out] = np.nan
    return dif, dea


def _rsi(close: np.ndarray, n: int, convention: Convention) -> np.ndarray:
    """RSI in points. ``talib``: Wilder averages seeded with the mean of the first ``n`` moves.
    ``cn``: ``SMA(MAX(C−C₋₁,0),n,1) / SMA(|C−C₋₁|,n,1) × 100`` seeded at the first move, shown
    from the same index as TA-Lib (``n``). A window without any move gives 0 (as TA-Lib)."""
    d = close.shape[0]
    out = np.full_like(close, np.nan)
    if d <= n:
        return out
    diff = np.full_like(close, np.nan)
    diff[1:] = close[1:] - close[:-1]
    gain = np.maximum(diff, 0.0)
    loss = np.maximum(-diff, 0.0)
    if convention == "talib":
        up = _recurse(gain, 1.0 / n, n, gain[1 : n + 1].mean(axis=0))
        down = _recurse(loss, 1.0 / n, n, loss[1 : n + 1].mean(axis=0))
        total = up + down
    else:
        up = _recurse(gain, 1.0 / n, 1, gain[1])
        total = _recurse(np.abs(diff), 1.0 / n, 1, np.abs(diff[1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        rsi = np.where(total != 0, 100.0 * up / total, 0.0)
    rsi = np.where(np.isnan(total), np.nan, rsi)
    out[n:] = rsi[n:]
    return out


def _kdj(high: np.ndarray, low: np.ndarray, close: np.ndarray, convention: Convention) -> tuple[np.ndarray, ...]:
    """KDJ(9,3,3) in points. RSV = (C − LLV(L,9)) / (HHV(H,9) − LLV(L,9)) × 100 from the first
    full 9-bar window. ``cn``: K = SMA(RSV,3,1), D = SMA(K,3,1) seeded from K = D = 50, and RSV
    = 50 when the window has no range. ``talib``: ``STOCH(9, 5, EMA, 5, EMA)`` (RSV = 0 on no
    range, each EMA seeded with a 5-value mean). J = 3K − 2D in both."""
    hh = _rolling_extreme(high, KDJ_N, np.maximum)
    ll = _rolling_extreme(low, KDJ_N, np.minimum)
    rng = hh - ll
    first = KDJ_N - 1
    if convention == "talib":
        with np.errstate(invalid="ignore", divide="ignore"):
            rsv = np.where(rng != 0, 100.0 * (close - ll) / rng, 0.0)
        rsv = np.where(np.isnan(rng), np.nan, rsv)
        k = _ema_talib(rsv, 5, first=first)
        d = _ema_talib(k, 5, first=first + 4)
        k[: first + 8] = np.nan
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            rsv = np.where(rng != 0, 100.0 * (close - ll) / rng, 50.0)
        rsv = np.where(np.isnan(rng), np.nan, rsv)
        if rsv.shape[0] <= first:
            nan = np.full_like(close, np.nan)
            return nan, nan.copy(), nan.copy()
        k = _recurse(rsv, 1.0 / KDJ_M1, first, 50.0 + (rsv[first] - 50.0) / KDJ_M1)
        d = _recurse(k, 1.0 / KDJ_M2, first, 50.0 + (k[first] - 50.0) / KDJ_M2)
    j = 3.0 * k - 2.0 * d
    return k, d, j


def _atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, convention: Convention) -> np.ndarray:
    """ATR14 in yuan. True range from the second bar: max(H−L, |H−C₋₁|, |L−C₋₁|).
    ``cn``: MA(TR,14). ``talib``: Wilder average seeded with the mean of TR[1..14]."""
    d = close.shape[0]
    tr = np.full_like(close, np.nan)
    if d < 2:
        return tr
    prev = close[:-1]
    tr[1:] = np.maximum(np.maximum(high[1:] - low[1:], np.abs(high[1:] - prev)), np.abs(low[1:] - prev))
    if d <= ATR_N:
        return np.full_like(close, np.nan)
    if convention == "talib":
        return _recurse(tr, 1.0 / ATR_N, ATR_N, tr[1 : ATR_N + 1].mean(axis=0))
    out = np.full_like(close, np.nan)
    out[1:] = _sma(tr[1:], ATR_N)
    return out


def _volume_ratio(volume: np.ndarray) -> np.ndarray:
    """量比 (daily): today's volume / mean volume of the previous five bars; NaN when that mean
    is 0 or missing."""
    d = volume.shape[0]
    out = np.full_like(volume, np.nan)
    if d <= VOLUME_RATIO_N:
        return out
    prev_mean = _sma(volume, VOLUME_RATIO_N)[VOLUME_RATIO_N - 1 : -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[VOLUME_RATIO_N:] = np.where(prev_mean > 0, volume[VOLUME_RATIO_N:] / prev_mean, np.nan)
    return out


def _compute_aligned(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, convention: Convention
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for n in MA_PERIODS:
        out[f"ma{n}"] = _sma(close, n)
    for n in EMA_PERIODS:
        out[f"ema{n}"] = _ema_talib(close, n)
    dif, dea = _macd_talib(close)
    out["macd_dif"] = dif
    out["macd_dea"] = dea
    out["macd_hist"] = (dif - dea) * (2.0 if convention == "cn" else 1.0)
    for n in RSI_PERIODS:
        out[f"rsi{n}"] = _rsi(close, n, convention)
    out["kdj_k"], out["kdj_d"], out["kdj_j"] = _kdj(high, low, close, convention)
    mid = out["ma20"] if BOLL_N == 20 else _sma(close, BOLL_N)
    std = _rolling_std(close, mid, BOLL_N, ddof=1 if convention == "cn" else 0)
    out["boll_upper"] = mid + BOLL_K * std
    out["boll_mid"] = mid.copy()
    out["boll_lower"] = mid - BOLL_K * std
    out[f"atr{ATR_N}"] = _atr(high, low, close, convention)
    out["volume_ratio"] = _volume_ratio(volume)
    return out


def compute_indicators(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    *,
    convention: Convention = "cn",
) -> dict[str, np.ndarray]:
    """Every indicator in :data:`INDICATOR_FIELDS` for all symbols at once.

    :param high, low, close: symbols × days prices (yuan; pass forward-adjusted prices), NaN
        where a symbol has no bar. A bar counts only when close, high and low are all finite.
    :param volume: symbols × days volume in shares (unadjusted); NaN allowed
    :param convention: ``"cn"`` (stored) or ``"talib"`` (TA-Lib's definitions)
    :returns: field → symbols × days array, NaN on days without a bar and during warm-up
    """
    if convention not in ("cn", "talib"):
        raise ValueError(f"unknown indicator convention {convention!r}; use 'cn' or 'talib'")
    shape = np.shape(close)
    for name, arr in (("high", high), ("low", low), ("volume", volume)):
        if np.shape(arr) != shape:
            raise ValueError(f"{name} has shape {np.shape(arr)}, close has {shape}")
    h, l, c, v = (np.asarray(a, dtype=float).T for a in (high, low, close, volume))
    valid = np.isfinite(c) & np.isfinite(h) & np.isfinite(l)
    if valid.all():
        aligned = _compute_aligned(*(np.ascontiguousarray(a) for a in (h, l, c, v)), convention)
        return {k: a.T for k, a in aligned.items()}
    # Left-align each symbol's bars: position of a bar = number of bars before it.
    pos = np.cumsum(valid, axis=0) - 1
    di, si = np.nonzero(valid)
    pi = pos[di, si]

    def pack(a: np.ndarray) -> np.ndarray:
        out = np.full(a.shape, np.nan)
        out[pi, si] = a[di, si]
        return out

    aligned = _compute_aligned(pack(h), pack(l), pack(c), pack(v), convention)
    result: dict[str, np.ndarray] = {}
    for k, a in aligned.items():
        back = np.full(a.shape, np.nan)
        back[di, si] = a[pi, si]
        result[k] = back.T
    return result


def warmup_bars() -> int:
    """Bars of history a symbol needs before every field is defined (MA60: 60 bars).

    Recursive fields keep a trace of their seed for longer: after ``w`` bars the seed weighs
    ``(1 − α)^w`` (RSI24: α = 1/24, so about 0.6 % after 120 bars). See docs/analytics.md.
    """
    return max(max(MA_PERIODS), MACD_SLOW + MACD_SIGNAL - 1, max(RSI_PERIODS) + 1, BOLL_N, ATR_N + 1)


