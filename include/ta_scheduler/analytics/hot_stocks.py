"""Hot stocks: a documented attention score per stock for one trading day.

Components (each scaled to [0, 1] across the day's eligible stocks):

=================  ======  ==============================================================
component          weight  value
=================  ======  ==============================================================
turnover           0.30    percentile rank of the day's traded amount (yuan)
volume surge       0.25    percentile rank of volume / mean volume of the previous 5 bars
momentum           0.20    percentile rank of the 5-bar return of the adjusted close
limit-ups          0.15    limit-up closes in the last 5 bars, capped at 3, divided by 3
news heat          0.10    log(1 + mentions) / log(1 + the day's most mentions)
=================  ======  ==============================================================

``hot_score = 100 × Σ weight × component`` (0–100). Eligible: a bar on the day and at least
five earlier bars (so the momentum and surge are defined and listing-day spikes are left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

WEIGHTS: dict[str, float] = {
    "turnover": 0.30,
    "volume_surge": 0.25,
    "momentum": 0.20,
    "limit_ups": 0.15,
    "news_heat": 0.10,
}
LOOKBACK_BARS = 5
LIMIT_UP_CAP = 3


def _pct_rank(x: np.ndarray) -> np.ndarray:
    """Percentile rank in (0, 1] with average ranks for ties; NaN stays NaN."""
    import pandas as pd

    return pd.Series(x).rank(pct=True, method="average").to_numpy()


def hot_scores(
    symbols: np.ndarray,
    close_adj: np.ndarray,
    volume: np.ndarray,
    amount: np.ndarray,
    limit_up: np.ndarray,
    news_mentions: np.ndarray,
) -> pd.DataFrame:
    """Score every eligible stock on the last day of the panels, best first.

    :param symbols: row labels
    :param close_adj: symbols × days forward-adjusted closes (yuan), NaN = no bar
    :param volume: symbols × days volume (shares); ``amount``: yuan
    :param limit_up: symbols × days booleans (closed at limit-up)
    :param news_mentions: per symbol, news items naming it in the day's news window
    :returns: frame with symbol, hot_score and the components' raw values and scaled parts
    """
    import pandas as pd

    n = LOOKBACK_BARS
    has = np.isfinite(close_adj)
    today = has[:, -1]
    # per symbol, positions of its last n+1 bars: index from the end of its own bar sequence
    rank_from_end = np.cumsum(has[:, ::-1], axis=1)[:, ::-1]  # 1 = the last bar
    n_bars = has.sum(axis=1)
    eligible = today & (n_bars >= n + 1)
    rows = np.arange(len(symbols))

    def bar_at(values: np.ndarray, k: int) -> np.ndarray:
        """Each symbol's value at its k-th last bar (k = 1: the day itself)."""
        pos = np.argmax(has & (rank_from_end == k), axis=1)
        return values[rows, pos]

    close_t = close_adj[:, -1]
    close_5 = bar_at(close_adj, n + 1)
    prev_vol = np.stack([bar_at(volume, k) for k in range(2, n + 2)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        momentum = close_t / close_5 - 1.0
        mean_prev = np.nanmean(prev_vol, axis=1) if prev_vol.size else np.full(len(symbols), np.nan)
        surge = np.where(mean_prev > 0, volume[:, -1] / mean_prev, np.nan)
    recent = has & (rank_from_end <= n)
    limit_ups = (recent & limit_up.astype(bool)).sum(axis=1)
    mentions = np.asarray(news_mentions, dtype=float)

    e = eligible
    parts = {k: np.zeros(int(e.sum())) for k in WEIGHTS}
    if e.any():
        parts["turnover"] = np.nan_to_num(_pct_rank(amount[e, -1]))
        parts["volume_surge"] = np.nan_to_num(_pct_rank(surge[e]))
        parts["momentum"] = np.nan_to_num(_pct_rank(momentum[e]))
        parts["limit_ups"] = np.minimum(limit_ups[e], LIMIT_UP_CAP) / LIMIT_UP_CAP
        top = mentions[e].max()
        parts["news_heat"] = np.log1p(mentions[e]) / np.log1p(top) if top > 0 else np.zeros(int(e.sum()))
    score = 100.0 * sum(WEIGHTS[k] * parts[k] for k in WEIGHTS)
    frame = pd.DataFrame(
        {
            "symbol": symbols[e],
            "hot_score": score,
            "amount": amount[e, -1],
            "volume_surge": surge[e],
            "momentum_5d_pct": 100.0 * momentum[e],
            "limit_up_days_5": limit_ups[e].astype(int),
            "news_mentions": mentions[e].astype(int),
            **{f"part_{k}": parts[k] for k in WEIGHTS},
        }
    )
    return frame.sort_values(["hot_score", "amount", "symbol"], ascending=[False, False, True], kind="stable").reset_index(
        drop=True
    )
