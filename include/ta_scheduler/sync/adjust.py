"""Forward-adjusted (qfq) daily prices, kept right for each stock's whole stored history.

TradingAgents-CN charts and computes its indicators on ``stock_daily_quotes.open/high/low/
close/pre_close`` and expects them forward-adjusted (前复权, what its tushare importer stores). So
those fields hold qfq prices and the exchange's own prices go to ``unadj_open`` … ``unadj_pre_close``
beside ``adj_factor`` (docs/data-model.md):

    qfq price(t) = round2(unadj price(t) * adj_factor(t) / qfq_base_factor)

``qfq_base_factor`` is the ``adj_factor`` of the stock's newest stored bar, and every stored bar of
a stock carries the same one. When a new newest bar brings a different factor (an ex-rights day),
every earlier bar of that stock is rewritten in the same run (:func:`rebase_history`), never
spliced. Rounding to 0.01 yuan follows tushare's own qfq (``pro_bar``).

Without an ``adj_factor`` (a tushare account without that permission) the bar keeps the exchange's
prices in both sets of fields and says so: ``adjustflag`` 3.0 (baostock's code for 不复权, as
TradingAgents-CN stores the flag) and ``price_adjust: "none"``; adjusted bars carry 2.0 / ``"qfq"``.

The base applied to each stock is cached in ``sync_state`` (``job="qfq_base"``, ``key=<data_source>``:
per code the base factor and the newest bar's date). It is saved only after the rebase writes, so a
run cut short in between rebases again; when the cache is missing it is rebuilt from the stored bars.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ta_scheduler.constants import Collections as C

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

PRICE_FIELDS = ("open", "high", "low", "close", "pre_close")
UNADJ_FIELDS = tuple(f"unadj_{f}" for f in PRICE_FIELDS)
#: Fields derived from the base factor: a rebase rewrites them, a re-run of a day ignores them
#: when deciding whether the day's bar changed (the rebase keeps them right).
DERIVED_FIELDS = (*PRICE_FIELDS, "qfq_base_factor", "adjustflag", "price_adjust")
ADJUSTFLAG_QFQ, ADJUSTFLAG_NONE = 2.0, 3.0
STATE_JOB = "qfq_base"


def qfq_prices(unadj: np.ndarray, adj_factor: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Forward-adjusted prices (pure): ``unadj * adj_factor / base`` rounded to 0.01 yuan; the
    unadjusted price where either factor is missing."""
    ok = np.isfinite(adj_factor) & np.isfinite(base) & (base > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        adjusted = np.round(unadj * adj_factor / np.where(ok, base, 1.0) + 1e-9, 2)
    return np.where(ok, adjusted, unadj)


def _load_state(db: Database, data_source: str) -> dict[str, tuple[float | None, str]] | None:
    doc = db[C.SYNC_STATE].find_one({"_id": f"{STATE_JOB}|{data_source}"})
    if not doc:
        return None
    return {c: (f, d) for c, f, d in zip(doc["codes"], doc["factors"], doc["dates"], strict=True)}


def _state_from_store(db: Database, data_source: str) -> dict[str, tuple[float | None, str]]:
    """The cache rebuilt from the stored bars: per stock the newest bar's date and factor. A stock
    whose bars disagree with that factor gets base ``None`` so that it is rebased."""
    newest: dict[str, tuple[str, Any]] = {}
    bases: dict[str, set] = {}
    for doc in db[C.STOCK_DAILY_QUOTES].find({"data_source": data_source, "period": "daily"},
                                            {"_id": 0, "symbol": 1, "trade_date": 1, "adj_factor": 1, "qfq_base_factor": 1}):
        s = doc["symbol"]
        if s not in newest or doc["trade_date"] > newest[s][0]:
            newest[s] = (doc["trade_date"], doc.get("adj_factor"))
        bases.setdefault(s, set()).add(doc.get("qfq_base_factor"))
    out = {}
    for s, (day, factor) in newest.items():
        consistent = bases[s] == {factor}
        out[s] = (factor if consistent else None, day)
    return out


def _save_state(db: Database, data_source: str, state: dict[str, tuple[float | None, str]]) -> None:
    from ta_scheduler.storage.writes import write_docs

    codes = sorted(state)
    write_docs(db[C.SYNC_STATE], [{"job": STATE_JOB, "key": data_source, "codes": codes,
                                   "factors": [state[c][0] for c in codes], "dates": [state[c][1] for c in codes]}],
               mode="replace")


def adjust_day(db: Database, frame: pd.DataFrame, data_source: str,
               trade_date: str) -> tuple[pd.DataFrame, list[str], dict | None]:
    """Add the qfq and unadjusted price fields to one day's bars (``symbol``, prices, ``adj_factor``).

    Returns (the frame, the stocks whose earlier bars need a rebase, the new cache or ``None``
    when it is unchanged). Reads only the cache (or, without one, the stored bars).
    """
    state = cached = _load_state(db, data_source)
    if state is None:
        state = _state_from_store(db, data_source)
    f = frame.copy()
    for p, u in zip(PRICE_FIELDS, UNADJ_FIELDS, strict=True):
        f[u] = f[p].astype("float64")
    adj = pd.to_numeric(f["adj_factor"], errors="coerce").to_numpy(dtype="float64")
    base = np.empty(len(f), dtype="float64")
    rebase: list[str] = []
    new_state = dict(state)
    for i, (sym, factor) in enumerate(zip(f["symbol"].tolist(), adj.tolist(), strict=True)):
        known = state.get(sym)
        if known is not None and known[1] > trade_date:  # an older day (backfill): the stock's base stays
            base[i] = np.nan if known[0] is None else known[0]
            continue
        if not np.isfinite(factor):  # no factor for the newest bar: unadjusted, the base stays
            base[i] = np.nan
            if known is not None:
                new_state[sym] = (known[0], trade_date)
            continue
        base[i] = factor
        if known is not None and known[0] != factor:
            rebase.append(sym)
        new_state[sym] = (float(factor), trade_date)
    for p, u in zip(PRICE_FIELDS, UNADJ_FIELDS, strict=True):
        f[p] = qfq_prices(f[u].to_numpy(dtype="float64"), adj, base)
    adjusted = np.isfinite(adj) & np.isfinite(base)
    f["qfq_base_factor"] = np.where(adjusted, base, np.nan)
    f["adjustflag"] = np.where(adjusted, ADJUSTFLAG_QFQ, ADJUSTFLAG_NONE)
    f["price_adjust"] = np.where(adjusted, "qfq", "none")
    return f, sorted(rebase), (None if cached is not None and new_state == cached else new_state)


def rebase_history(db: Database, data_source: str, symbols: list[str], new_state: dict | None, trade_date: str) -> int:
    """Rewrite the qfq fields of every stored bar (but ``trade_date``'s) of ``symbols`` against
    their new base, then save the cache (when it changed). Returns the number of bars rewritten."""
    from ta_scheduler.storage.writes import set_fields

    ops = []
    for symbol in symbols:  # one stock's history a query: the symbol index serves it on every store
        cursor = db[C.STOCK_DAILY_QUOTES].find(
            {"symbol": symbol, "data_source": data_source, "period": "daily", "trade_date": {"$ne": trade_date}},
            {"_id": 1, "symbol": 1, "adj_factor": 1, **{u: 1 for u in UNADJ_FIELDS}})
        for doc in cursor:
            base = new_state[doc["symbol"]][0]
            factor = doc.get("adj_factor")
            if factor is None or doc.get("unadj_close") is None:
                continue
            prices = qfq_prices(np.array([doc[u] if doc.get(u) is not None else np.nan for u in UNADJ_FIELDS]),
                                np.full(len(UNADJ_FIELDS), float(factor)), np.full(len(UNADJ_FIELDS), float(base)))
            fields = {p: (None if np.isnan(v) else float(v)) for p, v in zip(PRICE_FIELDS, prices.tolist(), strict=True)}
            ops.append(({"_id": doc["_id"]}, {**fields, "qfq_base_factor": float(base),
                                              "adjustflag": ADJUSTFLAG_QFQ, "price_adjust": "qfq"}))
    if ops:
        set_fields(db[C.STOCK_DAILY_QUOTES], ops)
        log.info("%s %s: adj_factor changed for %d stocks; rebased %d earlier bars to the new factor",
                 data_source, trade_date, len(symbols), len(ops))
    if new_state is not None:
        _save_state(db, data_source, new_state)
    return len(ops)
