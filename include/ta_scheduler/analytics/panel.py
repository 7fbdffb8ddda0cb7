"""Symbols × days panels: the shape every analytics computation works on.

A panel is a set of 2-D ``float64`` arrays, one row per symbol and one column per trading day
(oldest first), with NaN where a symbol has no bar (suspended, not yet listed, delisted). Whole-
market computations are whole-array operations over these matrices, never loops over symbols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Panel:
    """Aligned 2-D arrays for ``symbols`` × ``dates``.

    :param symbols: row labels (6-digit codes, or ts_codes for indices)
    :param dates: column labels, ``YYYY-MM-DD`` trading days, ascending
    :param fields: field name → array of shape ``(len(symbols), len(dates))``; NaN = no value
    """

    symbols: np.ndarray
    dates: list[str]
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.symbols), len(self.dates)

    def row(self, symbol: str) -> int:
        """Row index of ``symbol`` (KeyError naming it when absent)."""
        hits = np.flatnonzero(self.symbols == symbol)
        if hits.size == 0:
            raise KeyError(f"symbol {symbol!r} not in panel")
        return int(hits[0])


def panel_from_frame(
    frame: pd.DataFrame,
    fields: Sequence[str],
    *,
    row_key: str = "symbol",
    dates: Sequence[str] | None = None,
) -> Panel:
    """Pivot long records (one row per symbol and day) into a :class:`Panel`.

    ``dates`` fixes the column axis (e.g. the exchange calendar window); records on other
    dates are dropped. Without it the columns are the sorted distinct dates of ``frame``.
    Missing fields and non-numeric values become NaN. If a (symbol, date) pair repeats, the
    last record wins.
    """
    import pandas as pd

    if dates is None:
        dates = sorted(frame["trade_date"].unique().tolist()) if len(frame) else []
    dates = list(dates)
    date_index = pd.Index(dates)
    col = date_index.get_indexer(frame["trade_date"]) if len(frame) else np.empty(0, dtype=np.intp)
    keep = col >= 0
    sub = frame.loc[keep]
    col = col[keep]
    codes, symbols = pd.factorize(sub[row_key], sort=True)
    symbols = np.asarray(symbols, dtype=object)
    out: dict[str, np.ndarray] = {}
    for name in fields:
        arr = np.full((len(symbols), len(dates)), np.nan)
        if name in sub.columns:
            values = pd.to_numeric(sub[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            arr[codes, col] = values
        out[name] = arr
    return Panel(symbols=symbols, dates=dates, fields=out)


def ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN along days (axis 1); leading NaN stay NaN."""
    n = a.shape[1]
    idx = np.where(np.isfinite(a), np.arange(n), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    return np.take_along_axis(a, idx, axis=1)


def bfill(a: np.ndarray) -> np.ndarray:
    """Backward-fill NaN along days (axis 1); trailing NaN stay NaN."""
    return ffill(a[:, ::-1])[:, ::-1]


def last_valid(a: np.ndarray) -> np.ndarray:
    """Per row, the value in the last column where ``a`` is finite (NaN for empty rows)."""
    finite = np.isfinite(a)
    n = a.shape[1]
    idx = np.where(finite.any(axis=1), n - 1 - np.argmax(finite[:, ::-1], axis=1), 0)
    out = a[np.arange(a.shape[0]), idx]
    out[~finite.any(axis=1)] = np.nan
    return out


def adjustment_ratio(adj_factor: np.ndarray, has_bar: np.ndarray) -> np.ndarray:
    """Forward-adjustment multipliers ``adj_t / adj_T`` per symbol and day.

    ``T`` is the symbol's last bar in the window, so the latest price is the real traded price
    and earlier prices are scaled for dividends, bonus shares and splits (前复权). Days with a
    bar but no ``adj_factor`` take the previous known factor (then the next one); a symbol
    with no factor at all in the window gets 1 (its raw prices).
    """
    adj = np.where(has_bar, adj_factor, np.nan)
    adj = bfill(ffill(adj))
    ref = last_valid(np.where(has_bar, adj, np.nan))
    ratio = adj / ref[:, None]
    ratio[~np.isfinite(ratio)] = 1.0
    return np.where(has_bar, ratio, np.nan)


def forward_adjust(prices: np.ndarray, adj_factor: np.ndarray) -> np.ndarray:
    """Forward-adjusted (前复权) prices: ``raw_t × adj_t / adj_T`` (yuan as of day T).

    NaN prices (no bar) stay NaN. See :func:`adjustment_ratio` for missing factors.
    """
    return prices * adjustment_ratio(adj_factor, np.isfinite(prices))
