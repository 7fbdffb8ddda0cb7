"""Indicators: TA-Lib convention equals TA-Lib; the stored Chinese convention follows its formulas."""

from __future__ import annotations

import numpy as np
import pytest
import talib
from ta_scheduler.analytics.indicators import INDICATOR_FIELDS, compute_indicators

S, D = 40, 160
TOL = 1e-9


@pytest.fixture(scope="module")
def market():
    """Random walks with suspensions (NaN gaps) and a late listing, prices 3–1,800 yuan."""
    rng = np.random.default_rng(42)
    start = np.exp(rng.uniform(np.log(3), np.log(1800), S))[:, None]
    close = start * np.exp(np.cumsum(rng.normal(0, 0.025, (S, D)), axis=1))
    high = close * (1 + rng.uniform(0, 0.03, (S, D)))
    low = close * (1 - rng.uniform(0, 0.03, (S, D)))
    volume = rng.uniform(1e5, 1e8, (S, D)).round()
    gaps = rng.random((S, D)) < 0.03
    gaps[3, 40:55] = True  # a long suspension
    gaps[5, :70] = True  # listed on day 70
    for a in (close, high, low, volume):
        a[gaps] = np.nan
    return high, low, close, volume


def _per_stock(market, fn):
    """Apply a TA-Lib recipe to each stock's own bars and put the results back on the calendar."""
    high, low, close, volume = market
    out: dict[str, np.ndarray] = {}
    for s in range(S):
        ok = np.isfinite(close[s])
        for name, values in fn(high[s, ok], low[s, ok], close[s, ok], volume[s, ok]).items():
            out.setdefault(name, np.full((S, D), np.nan))[s, ok] = values
    return out


def _talib_reference(h, l, c, v):
    ref = {f"ma{n}": talib.SMA(c, n) for n in (5, 10, 20, 60)}
    ref |= {f"ema{n}": talib.EMA(c, n) for n in (12, 26)}
    ref["macd_dif"], ref["macd_dea"], ref["macd_hist"] = talib.MACD(c, 12, 26, 9)
    ref |= {f"rsi{n}": talib.RSI(c, n) for n in (6, 12, 24)}
    k, d = talib.STOCH(h, l, c, 9, 5, 1, 5, 1)
    ref |= {"kdj_k": k, "kdj_d": d, "kdj_j": 3 * k - 2 * d}
    ref["boll_upper"], ref["boll_mid"], ref["boll_lower"] = talib.BBANDS(c, 20, 2, 2, 0)
    ref["atr14"] = talib.ATR(h, l, c, 14)
    vr = np.full(len(v), np.nan)
    vr[5:] = v[5:] / talib.SMA(v, 5)[4:-1]
    ref["volume_ratio"] = vr
    return ref


@pytest.fixture(scope="module")
def talib_ref(market):
    return _per_stock(market, _talib_reference)


def _assert_same(ours, ref, tol=TOL):
    assert np.array_equal(np.isfinite(ours), np.isfinite(ref)), "warm-up / missing-day pattern differs"
    assert np.nanmax(np.abs(ours - ref)) <= tol


@pytest.mark.parametrize("field", INDICATOR_FIELDS)
def test_talib_convention_equals_talib_per_stock(market, talib_ref, field):
    ours = compute_indicators(*market, convention="talib")
    _assert_same(ours[field], talib_ref[field])


@pytest.mark.parametrize("field", ["ma5", "ma10", "ma20", "ma60", "boll_mid", "volume_ratio"])
def test_stored_convention_equals_talib_where_the_tools_agree(market, talib_ref, field):
    _assert_same(compute_indicators(*market)[field], talib_ref[field])


def test_stored_ema_and_macd_start_at_the_first_close():
    """通达信 EMA(X,N): Y₀ = X₀, then (2X + (N−1)Y′)/(N+1); DIF = EMA12 − EMA26, DEA = EMA(DIF,9),
    MACD bar = 2 × (DIF − DEA), all from the first bar (TA-Lib: null for 11–33 bars)."""
    close = np.array([[10.0, 11.0, 10.5, 12.0]])
    out = compute_indicators(close, close, close, np.ones_like(close))
    e12, e26, dea = [10.0], [10.0], [0.0]
    for x in close[0, 1:]:
        e12.append((2 * x + 11 * e12[-1]) / 13)
        e26.append((2 * x + 25 * e26[-1]) / 27)
        dea.append((2 * (e12[-1] - e26[-1]) + 8 * dea[-1]) / 10)
    np.testing.assert_allclose(out["ema12"][0], e12, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["ema26"][0], e26, rtol=0, atol=1e-12)
    dif = np.subtract(e12, e26)
    np.testing.assert_allclose(out["macd_dif"][0], dif, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["macd_dea"][0], dea, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["macd_hist"][0], 2 * (dif - np.array(dea)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("field", ["ema12", "ema26", "macd_dif", "macd_dea"])
def test_stored_ema_and_macd_converge_to_talib(market, talib_ref, field):
    ours = compute_indicators(*market)[field]
    late = np.cumsum(np.isfinite(market[2]), axis=1) > 130  # the seed weighs (25/27)^130 ≈ 5e-5 in EMA26
    both = late & np.isfinite(talib_ref[field])
    assert np.max(np.abs(ours[both] - talib_ref[field][both]) / market[2][both]) < 1e-4


def test_stored_boll_uses_sample_std(market, talib_ref):
    ours = compute_indicators(*market)
    scale = np.sqrt(20 / 19)  # sample (ddof=1) / population (ddof=0) std over 20 bars
    mid = talib_ref["boll_mid"]
    _assert_same(ours["boll_upper"], mid + (talib_ref["boll_upper"] - mid) * scale, 1e-8)
    _assert_same(ours["boll_lower"], mid - (mid - talib_ref["boll_lower"]) * scale, 1e-8)


def test_stored_atr_is_simple_mean_of_talib_true_range(market):
    ref = _per_stock(market, lambda h, l, c, v: {"atr14": talib.SMA(talib.TRANGE(h, l, c), 14)})
    _assert_same(compute_indicators(*market)["atr14"], ref["atr14"])


def test_stored_kdj_converges_to_talib_stoch_ema(market, talib_ref):
    ours = compute_indicators(*market)
    late = np.cumsum(np.isfinite(market[2]), axis=1) > 60  # from each stock's 61st bar
    for f in ("kdj_k", "kdj_d", "kdj_j"):
        both = late & np.isfinite(ours[f]) & np.isfinite(talib_ref[f])
        assert np.max(np.abs(ours[f][both] - talib_ref[f][both])) < 1e-4


def test_stored_rsi_hand_case():
    """RSI(6) by SMA(X,6,1) seeded at the first move: moves +1,−1,+2,0,−1,+1 then +3."""
    close = np.array([[10, 11, 10, 12, 12, 11, 12, 15]], float)
    up = dn = None
    for move in np.diff(close[0]):
        g, a = max(move, 0), abs(move)
        up = g if up is None else up + (g - up) / 6
        dn = a if dn is None else dn + (a - dn) / 6
    rsi = compute_indicators(close, close, close, np.ones_like(close))["rsi6"][0]
    assert np.isnan(rsi[0]) and rsi[1] == 100.0  # from the second bar, as the terminal
    assert rsi[-1] == pytest.approx(100 * up / dn, abs=1e-12)
    # by hand: average gain 1.13454, average absolute move 1.31726 → 86.1287
    assert rsi[-1] == pytest.approx(86.1287, abs=1e-4)
    assert rsi[6] == pytest.approx(77.6423, abs=1e-4)


def test_stored_kdj_hand_case():
    """Nine flat bars at range 9–11 then a close at the top: RSV 50 → 100; K, D from 50."""
    high = np.array([[11.0] * 10])
    low = np.array([[9.0] * 10])
    close = np.array([[10.0] * 9 + [11.0]])
    out = compute_indicators(high, low, close, np.ones_like(close))
    k8 = 50 + (50 - 50) / 3
    k9 = k8 + (100 - k8) / 3  # 66.67
    d9 = 50 + (k9 - 50) / 3  # 55.56 (D8 = 50)
    assert out["kdj_k"][0, 8] == pytest.approx(50.0)
    assert out["kdj_k"][0, 9] == pytest.approx(k9)
    assert out["kdj_d"][0, 9] == pytest.approx(d9)
    assert out["kdj_j"][0, 9] == pytest.approx(3 * k9 - 2 * d9)
    assert np.isnan(out["kdj_k"][0, :8]).all()


def test_stored_kdj_zero_range_keeps_rsv_at_50():
    """A 9-bar window without range (suspension-like flat bars, limit-locked days): RSV = 50,
    so K, D and J stay at 50 (not 5,000)."""
    flat = np.full((1, 30), 12.34)
    out = compute_indicators(flat, flat, flat, np.ones_like(flat))
    for f in ("kdj_k", "kdj_d", "kdj_j"):
        np.testing.assert_array_equal(out[f][0, 8:], 50.0)
    assert np.isnan(out["rsi6"][0]).all()  # never moved: 0/0, no value


def test_volume_ratio_is_today_over_previous_five_bars():
    vol = np.array([[100, 200, 300, 400, 500, 900.0]])
    px = np.full_like(vol, 10.0)
    assert compute_indicators(px, px, px, vol)["volume_ratio"][0, 5] == pytest.approx(900 / 300)


def test_suspended_days_are_skipped_not_zero_filled(market):
    high, low, close, volume = market
    full = compute_indicators(*market)
    s = 3  # the stock with a 15-day suspension
    ok = np.isfinite(close[s])
    alone = compute_indicators(*(a[s : s + 1, ok] for a in market))
    for f in INDICATOR_FIELDS:
        np.testing.assert_allclose(full[f][s, ok], alone[f][0], rtol=0, atol=1e-12, equal_nan=True)
        assert np.isnan(full[f][s, ~ok]).all()


def test_last_days_option_returns_the_tail(market):
    full = compute_indicators(*market)
    tail = compute_indicators(*market, last=3)
    for f in INDICATOR_FIELDS:
        np.testing.assert_array_equal(tail[f], full[f][:, -3:])


def test_unknown_convention_is_refused(market):
    with pytest.raises(ValueError, match="convention"):
        compute_indicators(*market, convention="tdx")


def test_a_state_carried_forward_equals_a_full_recomputation_bit_for_bit():
    """The daily job carries most stocks forward from their state and recomputes a few from full
    history (after a repair); both paths must store the same float, or a repaired day would
    rewrite documents a clean run never changes."""
    from ta_scheduler.analytics.indicators import terminal_history

    rng = np.random.default_rng(7)
    n_sym, n_days, start = 25, 90, 40
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_sym, n_days)), axis=1))
    close[3, 20:35] = close[3, 19]  # a flat stretch: no range, no move
    high = close * (1 + rng.uniform(0, 0.02, close.shape))
    low = close * (1 - rng.uniform(0, 0.02, close.shape))
    high[3, 20:35] = low[3, 20:35] = close[3, 20:35]
    volume = rng.uniform(1e5, 1e6, close.shape)
    _, state = terminal_history(high[:, :start], low[:, :start], close[:, :start], volume[:, :start])
    for day in range(start, n_days):
        state.advance(high[:, day], low[:, day], close[:, day], volume[:, day])
        carried = state.outputs()
        _, rebuilt = terminal_history(high[:, : day + 1], low[:, : day + 1], close[:, : day + 1], volume[:, : day + 1])
        full = rebuilt.outputs()
        for field in INDICATOR_FIELDS:
            assert np.array_equal(carried[field], full[field], equal_nan=True), (day, field)
