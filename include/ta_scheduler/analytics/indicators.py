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
# Whole-array ufuncs with ``out=``/``where=`` instead of ``np.where(mask, a, scalar)`` and
# ``cumsum(axis=0)``: both are several times slower on this layout (measured in the benchmark).


def _cumsum0(x: np.ndarray) -> np.ndarray:
    """Cumulative sum down the days axis, one vector add per day."""
    c = np.empty_like(x)
    if x.shape[0]:
        c[0] = x[0]
    for t in range(1, x.shape[0]):
        np.add(c[t - 1], x[t], out=c[t])
    return c


class _Sums:
    """Running sums of ``x`` minus its first row (kept small so windowed sums stay exact to
    ~1e-12 yuan), shared by every moving average of the same series."""

    def __init__(self, x: np.ndarray, squares: bool = False) -> None:
        self.base = x[0] if x.shape[0] else np.zeros(x.shape[1:])
        dev = x - self.base
        self.s1 = _cumsum0(dev)
        self.s2 = _cumsum0(dev * dev) if squares else None

    def _window(self, c: np.ndarray, n: int) -> np.ndarray:
        out = np.full_like(c, np.nan)
        if c.shape[0] >= n:
            out[n - 1] = c[n - 1]
            np.subtract(c[n:], c[:-n], out=out[n:])
        return out

    def mean(self, n: int) -> np.ndarray:
        """Simple moving average over ``n`` rows; NaN before row n−1 (as TA-Lib SMA)."""
        out = self._window(self.s1, n)
        out /= n
        out += self.base
        return out

    def std(self, n: int, ddof: int) -> np.ndarray:
        """Moving standard deviation over ``n`` rows with ``ddof`` (0 = population)."""
        if self.s2 is None:
            raise ValueError("sums built without squares")
        m1 = self._window(self.s1, n)
        var = self._window(self.s2, n)
        m1 *= m1
        m1 /= n
        var -= m1
        var /= n - ddof
        np.maximum(var, 0.0, out=var)  # rounding can leave -1e-17 on flat windows
        return np.sqrt(var, out=var)


def _sma(x: np.ndarray, n: int) -> np.ndarray:
    return _Sums(x).mean(n)


def _rolling_extreme(x: np.ndarray, n: int, fn: np.ufunc) -> np.ndarray:
    """Rolling max/min (``fn`` = np.maximum / np.minimum) over ``n`` rows; NaN before n−1."""
    d = x.shape[0]
    out = np.full_like(x, np.nan)
    if d < n:
        return out
    acc = out[n - 1 :]
    acc[...] = x[0 : d - n + 1]
    for k in range(1, n):
        fn(acc, x[k : d - n + 1 + k], out=acc)
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


def _ratio(num: np.ndarray, den: np.ndarray, *, scale: float = 1.0, when_zero: float = np.nan) -> np.ndarray:
    """``scale × num / den``; ``when_zero`` (not scaled) where ``den`` is 0; NaN where either is NaN."""
    out = np.full_like(num, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    if scale != 1.0:
        out *= scale
    out[(den == 0) & np.isfinite(num)] = when_zero
    return out


def _macd_talib(close: np.ndarray, ema_slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DIF and DEA exactly as TA-Lib ``MACD(12, 26, 9)``: both EMAs start at the slow EMA's
    first index (the fast one seeded with the mean of the 12 closes ending there, so it is not
    ``EMA12``), DEA is the seeded EMA9 of DIF, and both outputs begin where DEA does (index 33).
    ``ema_slow`` is TA-Lib's EMA26, which is exactly MACD's slow line."""
    d = close.shape[0]
    s0 = MACD_SLOW - 1
    if d <= s0 + MACD_SIGNAL - 1:
        return np.full_like(close, np.nan), np.full_like(close, np.nan)
    fast = _recurse(close, 2.0 / (MACD_FAST + 1), s0, close[s0 - MACD_FAST + 1 : s0 + 1].mean(axis=0))
    dif = fast
    dif -= ema_slow
    dea = _ema_talib(dif, MACD_SIGNAL, first=s0)
    dif[: s0 + MACD_SIGNAL - 1] = np.nan
    return dif, dea


def _rsi(
    close: np.ndarray, n: int, convention: Convention, moves: tuple[np.ndarray, ...], sums: dict | None = None
) -> np.ndarray:
    """RSI in points. ``talib``: Wilder averages seeded with the mean of the first ``n`` moves,
    from bar ``n``; 0 when the window has no move. ``cn`` (通达信): ``SMA(MAX(C−C₋₁,0),n,1) /
    SMA(ABS(C−C₋₁),n,1) × 100`` seeded at the first move, so defined from the second bar; null
    while the stock has never moved (0/0). ``sums`` receives the ``cn`` averages (the state)."""
    gain, loss, move = moves
    if convention == "talib":
        if close.shape[0] <= n:
            return np.full_like(close, np.nan)
        up = _recurse(gain, 1.0 / n, n, gain[1 : n + 1].mean(axis=0))
        total = _recurse(loss, 1.0 / n, n, loss[1 : n + 1].mean(axis=0))
        total += up
        out = _ratio(up, total, scale=100.0, when_zero=0.0)
        out[:n] = np.nan
        return out
    if close.shape[0] < 2:
        up = total = np.full_like(close, np.nan)
    else:
        up = _recurse(gain, 1.0 / n, 1, gain[1])
        total = _recurse(move, 1.0 / n, 1, move[1])
    if sums is not None:
        sums[f"rsi{n}_up"], sums[f"rsi{n}_move"] = up, total
    return _ratio(up * 100.0, total)


def _kdj(high: np.ndarray, low: np.ndarray, close: np.ndarray, convention: Convention) -> tuple[np.ndarray, ...]:
    """KDJ(9,3,3) in points. RSV = (C − LLV(L,9)) / (HHV(H,9) − LLV(L,9)) × 100 from the first
    full 9-bar window. ``cn``: K = SMA(RSV,3,1), D = SMA(K,3,1) seeded from K = D = 50, and RSV
    = 50 when the window has no range. ``talib``: ``STOCH(9, 5, EMA, 5, EMA)`` (RSV = 0 on no
    range, each EMA seeded with a 5-value mean). J = 3K − 2D in both."""
    first = KDJ_N - 1
    if close.shape[0] <= first:
        return tuple(np.full_like(close, np.nan) for _ in range(3))
    hh = _rolling_extreme(high, KDJ_N, np.maximum)
    ll = _rolling_extreme(low, KDJ_N, np.minimum)
    hh -= ll  # the window's range
    num = close - ll
    if convention == "talib":
        rsv = _ratio(num, hh, scale=100.0, when_zero=0.0)
        k = _ema_talib(rsv, 5, first=first)
        d = _ema_talib(k, 5, first=first + 4)
        k[: first + 8] = np.nan
    else:
        rsv = _ratio(num, hh, scale=100.0, when_zero=50.0)
        k = _recurse(rsv, 1.0 / KDJ_M1, first, 50.0 + (rsv[first] - 50.0) * (1.0 / KDJ_M1))
        d = _recurse(k, 1.0 / KDJ_M2, first, 50.0 + (k[first] - 50.0) * (1.0 / KDJ_M2))
    j = k * 3.0
    j -= 2.0 * d
    return k, d, j


def _atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, convention: Convention) -> np.ndarray:
    """ATR14 in yuan. True range from the second bar: max(H−L, |H−C₋₁|, |L−C₋₁|).
    ``cn``: MA(TR,14). ``talib``: Wilder average seeded with the mean of TR[1..14]."""
    d = close.shape[0]
    if d <= ATR_N:
        return np.full_like(close, np.nan)
    prev = close[:-1]
    tr = np.full_like(close, np.nan)
    body = tr[1:]
    np.subtract(high[1:], low[1:], out=body)
    np.maximum(body, np.abs(high[1:] - prev), out=body)
    np.maximum(body, np.abs(low[1:] - prev), out=body)
    if convention == "talib":
        return _recurse(tr, 1.0 / ATR_N, ATR_N, tr[1 : ATR_N + 1].mean(axis=0))
    out = np.full_like(close, np.nan)
    out[1:] = _sma(body, ATR_N)
    return out


def _volume_ratio(volume: np.ndarray) -> np.ndarray:
    """量比 (daily): today's volume / mean volume of the previous five bars; NaN when that mean
    is 0 or missing."""
    n = VOLUME_RATIO_N
    out = np.full_like(volume, np.nan)
    if volume.shape[0] <= n:
        return out
    prev_mean = _sma(volume, n)[n - 1 : -1]
    out[n:] = _ratio(volume[n:], prev_mean)
    return out


def _ema_tdx(x: np.ndarray, n: int) -> np.ndarray:
    """通达信 ``EMA(X,N)``: seeded at the first value, ``Y = Y' + 2/(N+1)·(X − Y')`` after."""
    if x.shape[0] == 0:
        return np.full_like(x, np.nan)
    return _recurse(x, 2.0 / (n + 1), 0, x[0])


def _compute_aligned(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, convention: Convention,
    internals: dict | None = None,
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    sums = _Sums(close, squares=True)
    for n in MA_PERIODS:
        out[f"ma{n}"] = sums.mean(n)
    if convention == "talib":
        for n in EMA_PERIODS:
            out[f"ema{n}"] = _ema_talib(close, n)
        ema_slow = out[f"ema{MACD_SLOW}"] if MACD_SLOW in EMA_PERIODS else _ema_talib(close, MACD_SLOW)
        dif, dea = _macd_talib(close, ema_slow)
        out["macd_hist"] = dif - dea
    else:
        for n in sorted({*EMA_PERIODS, MACD_FAST, MACD_SLOW}):
            out[f"ema{n}"] = _ema_tdx(close, n)
        dif = out[f"ema{MACD_FAST}"] - out[f"ema{MACD_SLOW}"]
        dea = _ema_tdx(dif, MACD_SIGNAL)
        out["macd_hist"] = (dif - dea) * 2.0
    out["macd_dif"] = dif
    out["macd_dea"] = dea
    move = np.full_like(close, np.nan)
    np.subtract(close[1:], close[:-1], out=move[1:])
    moves = (np.maximum(move, 0.0), np.maximum(-move, 0.0), np.abs(move))
    for n in RSI_PERIODS:
        out[f"rsi{n}"] = _rsi(close, n, convention, moves, internals)
    out["kdj_k"], out["kdj_d"], out["kdj_j"] = _kdj(high, low, close, convention)
    mid = out[f"ma{BOLL_N}"] if BOLL_N in MA_PERIODS else sums.mean(BOLL_N)
    width = sums.std(BOLL_N, ddof=1 if convention == "cn" else 0)
    width *= BOLL_K
    out["boll_upper"] = mid + width
    out["boll_mid"] = mid.copy()
    out["boll_lower"] = mid - width
    out[f"atr{ATR_N}"] = _atr(high, low, close, convention)
    out["volume_ratio"] = _volume_ratio(volume)
    return {k: out[k] for k in INDICATOR_FIELDS}


def _check_shapes(high, low, close, volume) -> tuple[int, int]:
    shape = np.shape(close)
    if len(shape) != 2:
        raise ValueError(f"expected symbols × days arrays, got shape {shape}")
    for name, arr in (("high", high), ("low", low), ("volume", volume)):
        if np.shape(arr) != shape:
            raise ValueError(f"{name} has shape {np.shape(arr)}, close has {shape}")
    return shape


def _aligned(high, low, close, volume):
    """Days × symbols arrays with each symbol's bars shifted to the front (gaps to the back),
    plus what is needed to put results back on the calendar."""
    h, l, c, v = (np.ascontiguousarray(np.asarray(a, dtype=float).T) for a in (high, low, close, volume))
    valid = np.isfinite(c)
    valid &= np.isfinite(h)
    valid &= np.isfinite(l)
    if valid.all():
        return (h, l, c, v), valid, None
    n_sym = c.shape[1]
    pos = _cumsum0(valid.astype(np.intp))
    pos -= 1
    src = np.flatnonzero(valid)  # flat index on the calendar, days-major
    dst = pos.ravel()[src] * n_sym + src % n_sym

    def pack(a: np.ndarray) -> np.ndarray:
        out = np.full(a.size, np.nan)
        out[dst] = a.ravel()[src]
        return out.reshape(a.shape)

    return (pack(h), pack(l), pack(c), pack(v)), valid, pos


def compute_indicators(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    *,
    convention: Convention = "cn",
    last: int | None = None,
) -> dict[str, np.ndarray]:
    """Every indicator in :data:`INDICATOR_FIELDS` for all symbols at once.

    :param high, low, close: symbols × days prices (yuan; pass forward-adjusted prices), NaN
        where a symbol has no bar. A bar counts only when close, high and low are all finite.
    :param volume: symbols × days volume in shares (unadjusted); NaN allowed
    :param convention: ``"cn"`` (通达信 / 同花顺, stored) or ``"talib"`` (TA-Lib's definitions)
    :param last: return only the last ``last`` days
    :returns: field → symbols × days array (× ``last`` days), NaN on days without a bar and
        during warm-up
    """
    if convention not in ("cn", "talib"):
        raise ValueError(f"unknown indicator convention {convention!r}; use 'cn' or 'talib'")
    return _compute(high, low, close, volume, convention, last)[0]


def _compute(high, low, close, volume, convention: Convention, last: int | None = None, internals: dict | None = None):
    n_sym, n_days = _check_shapes(high, low, close, volume)
    keep = n_days if last is None else max(0, min(int(last), n_days))
    arrays, valid, pos = _aligned(high, low, close, volume)
    aligned = _compute_aligned(*arrays, convention, internals)
    if internals is not None:
        internals.update({f"out:{k}": a for k, a in aligned.items()})
    if pos is None:
        return {k: a[n_days - keep :].T for k, a in aligned.items()}, arrays, valid
    tail = valid[n_days - keep :]
    tail_src = np.flatnonzero(tail)
    tail_dst = pos[n_days - keep :].ravel()[tail_src] * n_sym + tail_src % n_sym
    result: dict[str, np.ndarray] = {}
    for k, a in aligned.items():
        back = np.full(keep * n_sym, np.nan)
        back[tail_src] = a.ravel()[tail_dst]
        result[k] = back.reshape(keep, n_sym).T
    return result, arrays, valid


# --- the stored convention carried forward: per-stock state ------------------------------------

#: How many of its latest bars a stock's state keeps: closes for MA60 (and the previous close
#: of each true range), highs/lows for ATR14 and KDJ's 9-bar range, volumes for the volume ratio
#: (today + the 5 before).
STATE_WINDOWS: dict[str, int] = {"close": max(MA_PERIODS), "high": ATR_N, "low": ATR_N, "volume": VOLUME_RATIO_N + 1}
#: Recursive averages a state carries (通达信 EMA and SMA(X,N,1) values at the last bar).
STATE_RECURSIONS: tuple[str, ...] = (
    *(f"ema{n}" for n in sorted({*EMA_PERIODS, MACD_FAST, MACD_SLOW})),
    "macd_dea",
    *(f"rsi{n}_{part}" for n in RSI_PERIODS for part in ("up", "move")),
    "kdj_k",
    "kdj_d",
)
#: State parts that scale with the price level (everything but K and D, which are ratios).
PRICE_LINEAR: tuple[str, ...] = tuple(r for r in STATE_RECURSIONS if not r.startswith("kdj"))


class TerminalState:
    """The state of the stored (``cn``) indicators of many stocks after each one's last bar.

    ``bars``: bars seen so far (int array); ``windows``: name → stocks × :data:`STATE_WINDOWS`
    array of the latest values, oldest first, NaN-padded in front while a stock has fewer bars;
    ``rec``: name → stocks array of :data:`STATE_RECURSIONS` (NaN before they start). Prices
    are on one forward-adjusted scale per stock; :meth:`rescale` moves them to another.
    """

    def __init__(self, bars: np.ndarray, windows: dict[str, np.ndarray], rec: dict[str, np.ndarray]) -> None:
        self.bars = np.asarray(bars, dtype=np.int64)
        self.windows = windows
        self.rec = rec

    @classmethod
    def empty(cls, n: int) -> TerminalState:
        return cls(np.zeros(n, dtype=np.int64), {k: np.full((n, w), np.nan) for k, w in STATE_WINDOWS.items()},
                   {k: np.full(n, np.nan) for k in STATE_RECURSIONS})

    def __len__(self) -> int:
        return len(self.bars)

    def take(self, rows: np.ndarray) -> TerminalState:
        return TerminalState(self.bars[rows], {k: v[rows] for k, v in self.windows.items()},
                             {k: v[rows] for k, v in self.rec.items()})

    def put(self, rows: np.ndarray, other: TerminalState) -> None:
        self.bars[rows] = other.bars
        for k in self.windows:
            self.windows[k][rows] = other.windows[k]
        for k in self.rec:
            self.rec[k][rows] = other.rec[k]

    def rescale(self, ratio: np.ndarray) -> None:
        """Multiply every price-linear part by ``ratio`` per stock (forward adjustment rebased
        at an ex-rights day: old scale × adj_old / adj_new). Volume is not adjusted."""
        ratio = np.asarray(ratio, dtype=float)
        for k in ("close", "high", "low"):
            self.windows[k] *= ratio[:, None]
        for k in PRICE_LINEAR:
            self.rec[k] *= ratio

    def advance(self, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray) -> None:
        """Take one new bar per stock (all finite prices) into the state, as the terminal does."""
        first = self.bars == 0
        prev = self.windows["close"][:, -1].copy()
        for k, x in (("close", close), ("high", high), ("low", low), ("volume", volume)):
            w = self.windows[k]
            w[:, :-1] = w[:, 1:]
            w[:, -1] = x
        r = self.rec
        for n in sorted({*EMA_PERIODS, MACD_FAST, MACD_SLOW}):
            e = r[f"ema{n}"]
            r[f"ema{n}"] = np.where(first, close, e + 2.0 / (n + 1) * (close - e))
        dif = r[f"ema{MACD_FAST}"] - r[f"ema{MACD_SLOW}"]
        dea = r["macd_dea"]
        r["macd_dea"] = np.where(first, dif, dea + 2.0 / (MACD_SIGNAL + 1) * (dif - dea))
        move = close - prev
        gain, size = np.maximum(move, 0.0), np.abs(move)
        second = self.bars == 1
        for n in RSI_PERIODS:
            for part, x in (("up", gain), ("move", size)):
                y = r[f"rsi{n}_{part}"]
                r[f"rsi{n}_{part}"] = np.where(second, x, y + (x - y) * (1.0 / n))  # as _recurse: bit-equal
        bars = self.bars + 1
        hh = np.max(self.windows["high"][:, -KDJ_N:], axis=1)
        ll = np.min(self.windows["low"][:, -KDJ_N:], axis=1)
        rsv = _ratio(close - ll, hh - ll, scale=100.0, when_zero=50.0)  # as _kdj: bit-equal
        k, d = r["kdj_k"], r["kdj_d"]
        start = bars == KDJ_N
        k_prev = np.where(start, 50.0, k)
        k_new = k_prev + (rsv - k_prev) * (1.0 / KDJ_M1)
        d_prev = np.where(start, 50.0, d)
        d_new = d_prev + (k_new - d_prev) * (1.0 / KDJ_M2)
        r["kdj_k"] = np.where(bars >= KDJ_N, k_new, np.nan)
        r["kdj_d"] = np.where(bars >= KDJ_N, d_new, np.nan)
        self.bars = bars

    def outputs(self) -> dict[str, np.ndarray]:
        """Every field of :data:`INDICATOR_FIELDS` at each stock's last bar (NaN in warm-up)."""
        c, h, l, v = (self.windows[k] for k in ("close", "high", "low", "volume"))
        r, bars = self.rec, self.bars
        out: dict[str, np.ndarray] = {}
        for n in MA_PERIODS:
            out[f"ma{n}"] = np.where(bars >= n, c[:, -n:].mean(axis=1) if n <= c.shape[1] else np.nan, np.nan)
        for n in EMA_PERIODS:
            out[f"ema{n}"] = r[f"ema{n}"].copy()
        dif = r[f"ema{MACD_FAST}"] - r[f"ema{MACD_SLOW}"]
        out["macd_dif"] = dif
        out["macd_dea"] = r["macd_dea"].copy()
        out["macd_hist"] = (dif - r["macd_dea"]) * 2.0
        for n in RSI_PERIODS:
            out[f"rsi{n}"] = np.where(bars >= 2, _ratio(r[f"rsi{n}_up"] * 100.0, r[f"rsi{n}_move"]), np.nan)
        out["kdj_k"], out["kdj_d"] = r["kdj_k"].copy(), r["kdj_d"].copy()
        out["kdj_j"] = 3.0 * r["kdj_k"] - 2.0 * r["kdj_d"]
        window = c[:, -BOLL_N:]
        ok = bars >= BOLL_N
        mid = np.where(ok, window.mean(axis=1), np.nan)
        std = np.where(ok, np.std(window, axis=1, ddof=1), np.nan)
        out["boll_upper"] = mid + BOLL_K * std
        out["boll_mid"] = mid
        out["boll_lower"] = mid - BOLL_K * std
        prev = c[:, -ATR_N - 1 : -1]
        tr = np.maximum(np.maximum(h - l, np.abs(h - prev)), np.abs(l - prev))
        out[f"atr{ATR_N}"] = np.where(bars > ATR_N, tr.mean(axis=1), np.nan)
        base = v[:, :-1].mean(axis=1)
        out["volume_ratio"] = np.where(bars > VOLUME_RATIO_N, _ratio(v[:, -1], base), np.nan)
        return out


def terminal_history(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> tuple[dict[str, np.ndarray], TerminalState]:
    """The stored convention over whole histories: every field on every day (as
    :func:`compute_indicators` with ``"cn"``) and each stock's state after its last bar, from
    which :meth:`TerminalState.advance` carries it forward one bar a day."""
    internals: dict[str, np.ndarray] = {}
    result, (h, l, c, v), valid = _compute(high, low, close, volume, "cn", None, internals)
    n_bars = valid.sum(axis=0).astype(np.int64)  # per symbol
    n_sym = len(n_bars)
    cols = np.arange(n_sym)
    state = TerminalState.empty(n_sym)
    state.bars = n_bars
    for name, arr in (("close", c), ("high", h), ("low", l), ("volume", v)):
        width = STATE_WINDOWS[name]
        for j in range(width):  # j-th from the end
            idx = n_bars - width + j
            ok = idx >= 0
            state.windows[name][ok, j] = arr[idx[ok], cols[ok]]
    last = n_bars - 1
    has = last >= 0
    series = {**{k: internals[f"out:{k}"] for k in ("kdj_k", "kdj_d", "macd_dea")}, **internals}
    for n in sorted({*EMA_PERIODS, MACD_FAST, MACD_SLOW}):
        series[f"ema{n}"] = internals[f"out:ema{n}"] if n in EMA_PERIODS else _ema_tdx(c, n)
    for k in STATE_RECURSIONS:
        state.rec[k][has] = series[k][last[has], cols[has]]
    return result, state


