"""Risk figures per stock (all at once, symbols × days) and per portfolio.

Returns are **simple daily returns** of forward-adjusted closes, ``r_t = P_t / P_{t−1} − 1``
between a symbol's consecutive bars (the return across a suspension lands on the day trading
resumes). Simple returns aggregate across holdings (a portfolio's return is the weighted sum),
which log returns do not. Definitions (``docs/analytics.md``):

* volatility_ann = std(r, ddof=1) × √242 (242 A-share trading days a year), a fraction
* beta = cov(r, r_m) / var(r_m), correlation = cov / (σ σ_m), over days both have returns
* var_95 = −r_(k), cvar_95 = −mean(r_(1)…r_(k)), k = ⌈0.05 n⌉ of the n returns sorted
  ascending: the 1-day historical loss (fraction of value) not exceeded on 95 % of days, and
  the mean loss on the worst 5 % of days
* max_drawdown = max_t (1 − P_t / max_{s≤t} P_s) over the window's price path, a fraction
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

TRADING_DAYS_PER_YEAR = 242
CONFIDENCE = 0.95


def simple_returns(prices: np.ndarray) -> np.ndarray:
    """Returns between each row's consecutive finite prices, on the later bar's day (NaN else)."""
    p = np.atleast_2d(np.asarray(prices, dtype=float))
    from ta_scheduler.analytics.panel import ffill

    prev = np.full_like(p, np.nan)
    prev[:, 1:] = ffill(p)[:, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return p / prev - 1.0


def risk_metrics(returns: np.ndarray, market: np.ndarray, prices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Vectorised risk figures for each row of ``returns`` (symbols × days, NaN = none).

    :param market: 1-D benchmark returns on the same days
    :param prices: the price path for drawdowns (default: compounded returns)
    :returns: arrays per row: n_obs, mean_daily, volatility_ann, beta, correlation, var_95,
        cvar_95, max_drawdown (NaN where a row has fewer than two returns)
    """
    r = np.atleast_2d(np.asarray(returns, dtype=float))
    m = np.asarray(market, dtype=float)
    has = np.isfinite(r)
    n = has.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(r, axis=1) / n
        dev = np.where(has, r - mean[:, None], 0.0)
        vol = np.sqrt((dev * dev).sum(axis=1) / (n - 1)) * math.sqrt(TRADING_DAYS_PER_YEAR)

        pair = has & np.isfinite(m)[None, :]
        n_pair = pair.sum(axis=1)
        rm = np.where(pair, m[None, :], 0.0)
        rs = np.where(pair, r, 0.0)
        mean_s = rs.sum(axis=1) / n_pair
        mean_m = rm.sum(axis=1) / n_pair
        ds = np.where(pair, rs - mean_s[:, None], 0.0)
        dm = np.where(pair, rm - mean_m[:, None], 0.0)
        cov = (ds * dm).sum(axis=1) / (n_pair - 1)
        var_m = (dm * dm).sum(axis=1) / (n_pair - 1)
        var_s = (ds * ds).sum(axis=1) / (n_pair - 1)
        beta = cov / var_m
        corr = cov / np.sqrt(var_m * var_s)

        srt = np.sort(np.where(has, r, np.inf), axis=1)  # NaN-free: missing sort last
        k = np.maximum(np.ceil(np.round((1.0 - CONFIDENCE) * n, 9)).astype(int), 1)  # 0.05 × 60 is 3.0000000000000004
        idx = np.clip(k - 1, 0, r.shape[1] - 1)
        rows = np.arange(r.shape[0])
        var95 = -srt[rows, idx]
        csum = np.cumsum(np.where(np.isfinite(srt), srt, 0.0), axis=1)
        cvar95 = -csum[rows, idx] / k

    if prices is None:
        prices = np.cumprod(np.where(has, 1.0 + r, 1.0), axis=1)
        prices = np.concatenate([np.ones((r.shape[0], 1)), prices], axis=1)
    mdd = max_drawdown(prices)
    few = n < 2
    out = {
        "n_obs": n,
        "mean_daily": mean,
        "volatility_ann": vol,
        "beta": beta,
        "correlation": corr,
        "var_95": var95,
        "cvar_95": cvar95,
        "max_drawdown": mdd,
    }
    for key, arr in out.items():
        if key != "n_obs":
            arr[few] = np.nan
    for key in ("beta", "correlation"):
        out[key][n_pair < 2] = np.nan
    return out


def max_drawdown(prices: np.ndarray) -> np.ndarray:
    """Largest peak-to-trough fall of each row's price path, as a fraction (0.25 = −25 %)."""
    p = np.atleast_2d(np.asarray(prices, dtype=float))
    peak = np.fmax.accumulate(p, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dd = 1.0 - p / peak
    dd[~np.isfinite(dd)] = 0.0
    return dd.max(axis=1) if p.shape[1] else np.zeros(p.shape[0])


def portfolio_returns(
    returns: np.ndarray, row_of: Mapping[str, int], weights: Mapping[str, float]
) -> tuple[np.ndarray, dict[str, float], list[str]]:
    """Daily returns of a portfolio held at constant ``weights`` (rebalanced daily).

    Holdings without any row are left out and the rest re-normalised to sum to 1; a holding
    without a bar on a day contributes 0 that day (its price did not move for the holder).
    :returns: (1-D returns, the weights used, the missing symbols)
    """
    missing = [s for s in weights if s not in row_of]
    used = {s: float(w) for s, w in weights.items() if s in row_of and float(w) != 0.0}
    total = sum(used.values())
    if not used or total == 0:
        return np.full(returns.shape[1], np.nan), {}, missing
    used = {s: w / total for s, w in used.items()}
    rows = np.array([row_of[s] for s in used])
    w = np.array(list(used.values()))
    block = returns[rows]
    any_bar = np.isfinite(block).any(axis=0)
    port = (np.nan_to_num(block) * w[:, None]).sum(axis=0)
    port[~any_bar] = np.nan
    return port, used, missing
