"""Adjustment, breadth, risk and hot-stock figures on small hand-checked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ta_scheduler.analytics.breadth import breadth, limit_flags, new_extremes, turnover_vs_mean
from ta_scheduler.analytics.hot_stocks import hot_scores
from ta_scheduler.analytics.panel import forward_adjust
from ta_scheduler.analytics.risk import max_drawdown, portfolio_returns, risk_metrics, simple_returns
from ta_scheduler.market import board_limit_pct

nan = np.nan


def test_forward_adjustment_across_an_ex_dividend_day():
    """10 → 10 → (1 yuan dividend, factor ×10/9) 9 → 9.9: adjusted to the last day's scale."""
    close = np.array([[10.0, 10.0, 9.0, 9.9]])
    adj = np.array([[1.0, 1.0, 10 / 9, 10 / 9]])
    qfq = forward_adjust(close, adj)
    np.testing.assert_allclose(qfq, [[9.0, 9.0, 9.0, 9.9]])
    # the ex-dividend gap is not a loss once adjusted
    assert simple_returns(qfq)[0, 2] == pytest.approx(0.0)


def test_forward_adjustment_fills_missing_factors_and_keeps_gaps():
    close = np.array([[10.0, nan, 9.0, 9.0]])
    adj = np.array([[1.0, nan, nan, 2.0]])
    np.testing.assert_allclose(forward_adjust(close, adj), [[5.0, nan, 4.5, 9.0]])


def test_breadth_counts_and_limits():
    close = np.array([11.0, 9.0, 10.0, 12.0, 8.0, nan])
    pre = np.array([10.0, 10.0, 10.0, 10.0, 10.0, 10.0])
    up_lim = np.array([11.0, 11.0, 11.0, 12.0, nan, nan])
    down_lim = np.array([9.0, 9.0, 9.0, 8.0, nan, nan])
    pct = board_limit_pct(["600000", "600001", "600002", "300001", "688001", "000001"])
    up, down = limit_flags(close, pre, up_lim, down_lim, pct)
    assert up.tolist() == [True, False, False, True, False, False]
    assert down.tolist() == [False, True, False, False, True, False]  # 688: fallback −20 % = 8.00
    assert breadth(close, pre, up, down) == {
        "stocks": 5, "advancers": 2, "decliners": 2, "unchanged": 1, "limit_up": 2, "limit_down": 2,
    }


def test_board_limits_follow_the_exchange_rules():
    pct = board_limit_pct(["600000", "000001", "300750", "688981", "830799", "600001"], [None, None, None, None, None, "*ST 某某"])
    assert pct.tolist() == [0.10, 0.10, 0.20, 0.20, 0.30, 0.05]
    # every board of ta_scheduler.market.BOARDS; ST halves only 10 % boards; no board: 10 %
    codes = ["605001", "689009", "900901", "002594", "302132", "200002", "430047", "873527", "920001", "123456"]
    assert board_limit_pct(codes).tolist() == [0.10, 0.20, 0.10, 0.10, 0.20, 0.10, 0.30, 0.30, 0.30, 0.10]
    st = board_limit_pct(codes, ["ST 甲"] * len(codes))
    assert st.tolist() == [0.05, 0.20, 0.05, 0.05, 0.20, 0.05, 0.30, 0.30, 0.30, 0.05]


def test_new_highs_need_n_previous_bars():
    high = np.array([[1, 2, 3, 2, 4.0], [5, 5, 5, 5, 4.0], [nan, nan, nan, 1, 9.0]])
    low = high - 0.5
    hi, lo = new_extremes(high, low, 3)
    assert hi.tolist() == [True, False, False]  # third: only one earlier bar
    assert lo.tolist() == [False, True, False]


def test_turnover_ratio_against_previous_days():
    amount = np.array([[1.0, 2.0, nan, 3.0], [1.0, 2.0, nan, 5.0]])  # day 3 had no bars at all
    out = turnover_vs_mean(amount, n=20)
    assert out["amount_total"] == 8.0
    assert out["amount_mean_20"] == pytest.approx(3.0)  # (2 + 4) / 2
    assert out["amount_ratio_20"] == pytest.approx(8 / 3)


def test_risk_figures_hand_case():
    """Stock returns are exactly 2 × the market's: beta 2, correlation 1; 40 returns → k = 2."""
    m = np.array([0.01, -0.02, 0.005, 0.0, -0.01] * 8)
    r = 2 * m
    out = risk_metrics(r[None, :], m)
    assert out["beta"][0] == pytest.approx(2.0)
    assert out["correlation"][0] == pytest.approx(1.0)
    assert out["volatility_ann"][0] == pytest.approx(np.std(r, ddof=1) * math.sqrt(242))
    assert out["var_95"][0] == pytest.approx(0.04)  # 2nd worst of 40 (the worst 8 are all −4 %)
    assert out["cvar_95"][0] == pytest.approx(0.04)


def test_var_and_cvar_take_the_worst_five_percent():
    r = np.linspace(-0.05, 0.05, 41)[None, :]  # k = ceil(0.05 × 41) = 3: −5 %, −4.75 %, −4.5 %
    out = risk_metrics(r, np.zeros(41))
    assert out["var_95"][0] == pytest.approx(0.045)
    assert out["cvar_95"][0] == pytest.approx((0.05 + 0.0475 + 0.045) / 3)
    assert math.isnan(out["beta"][0])  # a flat market has no variance


def test_max_drawdown_of_a_path():
    assert max_drawdown(np.array([[100, 120, 90, 110, 60, 130.0]]))[0] == pytest.approx(0.5)
    assert max_drawdown(np.array([[1, 2, 3.0]]))[0] == 0.0


def test_portfolio_weights_are_renormalised_over_known_holdings():
    returns = np.array([[0.01, 0.02], [0.03, nan]])
    port, used, missing = portfolio_returns(returns, {"A": 0, "B": 1}, {"A": 1, "B": 1, "X": 2})
    assert used == {"A": 0.5, "B": 0.5} and missing == ["X"]
    np.testing.assert_allclose(port, [0.02, 0.01])


def test_hot_score_ranks_the_busiest_rising_stock_first():
    symbols = np.array(["A", "B", "C", "D"])
    close = np.array([[10, 10, 10, 10, 10, 11.0], [10, 10, 10, 10, 10, 9.0], [10, 10, 10, 10, 10, 10.0],
                      [nan, nan, nan, nan, 10, 12.0]])
    volume = np.array([[1, 1, 1, 1, 1, 5.0], [1, 1, 1, 1, 1, 1.0], [1, 1, 1, 1, 1, 2.0], [nan] * 4 + [1, 9.0]])
    amount = volume * close
    limit_up = np.zeros_like(close, bool)
    limit_up[0, -1] = True
    frame = hot_scores(symbols, close, volume, amount, limit_up, np.array([3, 0, 1, 0]))
    assert frame["symbol"].tolist() == ["A", "C", "B"]  # D has too few bars
    top = frame.iloc[0]
    assert top["part_turnover"] == 1.0 and top["part_volume_surge"] == 1.0 and top["part_momentum"] == 1.0
    assert top["part_limit_ups"] == pytest.approx(1 / 3) and top["part_news_heat"] == 1.0
    assert top["hot_score"] == pytest.approx(100 * (0.30 + 0.25 + 0.20 + 0.15 / 3 + 0.10))
    assert top["momentum_5d_pct"] == pytest.approx(10.0) and top["volume_surge"] == pytest.approx(5.0)
