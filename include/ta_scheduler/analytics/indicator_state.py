"""The daily indicator job, carried forward from one small state document per stock.

Each stock's stored indicators are the 通达信 / 同花顺 values over its *whole* forward-adjusted
history (formulas: docs/analytics.md). Recomputing that history every day would read every bar
ever stored, so the job keeps, per stock and data source, what the formulas need to take one
more bar (:class:`~ta_scheduler.analytics.indicators.TerminalState`: the last 60 closes, 14
highs/lows, 6 volumes, the EMA / SMA(X,N,1) values, the bar count, the adj_factor they were
computed with) in ``indicator_state``:

    {"_id": "600000|tushare", "symbol": "600000", "data_source": "tushare",
     "last_date": "2026-11-27", "bars": 5210, "price_basis": "qfq", "adj_factor": 12.7,
     "last_bar": {"high": .., "low": .., "close": .., "volume": .., "adj_factor": ..},
     "layout": 1, "values": <binary: 105 float64, little-endian>, "updated_at": ..}

``values`` packs, in this order (:data:`LAYOUT`), the last 60 closes, 14 highs, 14 lows and 6
volumes (oldest first, NaN before the stock's first bar) and the recursions EMA12, EMA26, DEA,
the RSI6/12/24 average gains and average absolute moves, K and D (NaN before they start); one
binary field instead of 105 numbers keeps the document small and quick to read and write
(the store decodes every field of every document it scans).

A day's job reads the day's bars (and any bars stored since the last day it ran) plus the
states: O(stocks), independent of history length. Per stock with a bar on the day:

- **carried forward** when its state ends on the previous day the job ran and the store has no
  bar of it in between; an adj_factor change (ex-rights) rescales the price-linear parts of the
  state by old / new factor, which equals forward-adjusting the whole history to the new bar;
- **recomputed from its full history** (one read of those stocks' bars) when the state is
  missing (first run, after a backfill, or deleted by :func:`invalidate_indicator_states`),
  when the state is older than the job's previous day (a gap, or a stock resuming after a
  suspension), when the store has a bar between the state's last bar and the day, when the
  price basis changes (adj_factor appears or disappears), when the day's bar differs from the
  one the state already took (a re-run after a repair), or when the state is *later* than the
  day (a re-run of a past day: its state is left as it is);
- **unchanged** on a re-run of the same day with the same bar: the documents are rebuilt from
  the state and match what is stored, so nothing is rewritten (``updated_at`` included).

Price basis: a bar with an ``adj_factor`` is computed on forward-adjusted (qfq) prices
(``raw × adj_t / adj_T``; a history bar without a factor takes the previous known one); a bar
without one (a tushare account without adj_factor permission) on unadjusted prices (factor 1.0
for the whole history), and its document says ``price_basis: "unadjusted"``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ta_scheduler.analytics.stored_bars import (
    BarsMissingError,
    bar_projection,
    check_trade_date,
    latest_trade_date_with_bars,
    pack_floats,
    raw_bar_frame,
    unpack_floats,
)
from ta_scheduler.constants import Collections as C
from ta_scheduler.market import pick_source
from ta_scheduler.storage.mongo import dates_between, find_each

if TYPE_CHECKING:
    from pymongo.database import Database

    from ta_scheduler.analytics.indicators import TerminalState

log = logging.getLogger(__name__)

CONVENTION = "cn"
BAR_FIELDS = ["high", "low", "close", "volume", "adj_factor"]
STATE_KEY = ("symbol", "data_source")
#: The states are written with a content manifest in ``sync_state`` (``storage.writes.write_docs``),
#: so unchanged states cost nothing; deleting states must delete that manifest too.
STATE_WRITER = "indicator_job"


def invalidate_indicator_states(db: Database, since: str, symbols: list[str] | None = None) -> int:
    """Make the next indicator job recompute stocks from their full history: delete the
    states (of every data source) that took a bar on or after ``since`` (``YYYY-MM-DD``),
    optionally only of ``symbols`` (6-digit codes). Call it after a past day's bars were
    rewritten. Returns how many states were deleted."""
    check_trade_date(since)
    query: dict[str, Any] = {"last_date": {"$gte": since}}
    if symbols is not None:
        query["symbol"] = {"$in": sorted({str(s)[:6] for s in symbols})}
    from ta_scheduler.storage.writes import delete_where, drop_manifests

    deleted = delete_where(db[C.INDICATOR_STATE], query)
    if deleted:  # the manifest no longer describes what is stored: the next write starts afresh
        drop_manifests(db[C.INDICATOR_STATE], STATE_WRITER)
    log.info("indicator states invalidated since %s%s: %d", since, f" for {len(symbols)} symbols" if symbols is not None else "", deleted)
    return deleted


def _floats(values: np.ndarray) -> list[float | None]:
    arr = np.asarray(values, dtype=float)
    obj = arr.astype(object)
    obj[~np.isfinite(arr)] = None
    return obj.tolist()


def _value(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _layout() -> list[tuple[str, str, int]]:
    from ta_scheduler.analytics.indicators import STATE_RECURSIONS, STATE_WINDOWS

    return [("windows", k, w) for k, w in STATE_WINDOWS.items()] + [("rec", k, 1) for k in STATE_RECURSIONS]


#: Version of the packing of ``values``; a state of another version is recomputed.
LAYOUT = 1


def _state_from_docs(docs: list[dict]) -> TerminalState:
    from ta_scheduler.analytics.indicators import TerminalState

    state = TerminalState.empty(len(docs))
    state.bars = np.array([d["bars"] for d in docs], dtype=np.int64)
    packed = unpack_floats(b"".join(bytes(d["values"]) for d in docs)).reshape(len(docs), -1)
    col = 0
    for part, k, width in _layout():
        block = packed[:, col : col + width]
        if part == "windows":
            state.windows[k] = block.copy()
        else:
            state.rec[k] = block[:, 0].copy()
        col += width
    return state


def _state_docs(symbols: list[str], source: str, trade_date: str, state: TerminalState, basis: list[str],
                today: dict[str, np.ndarray]) -> list[dict]:
    blocks = [state.windows[k] if part == "windows" else state.rec[k][:, None] for part, k, _w in _layout()]
    packed = np.ascontiguousarray(np.hstack(blocks), dtype="<f8") if len(symbols) else np.empty((0, 0))
    bar = {k: _floats(today[k]) for k in BAR_FIELDS}
    docs = []
    for i, sym in enumerate(symbols):
        docs.append({
            "symbol": sym, "data_source": source, "last_date": trade_date, "bars": int(state.bars[i]),
            "price_basis": basis[i], "adj_factor": bar["adj_factor"][i] if basis[i] == "qfq" else None,
            "last_bar": {k: bar[k][i] for k in BAR_FIELDS}, "layout": LAYOUT, "values": pack_floats(packed[i]),
        })
    return docs


def _read_history(db: Database, trade_date: str, source: str, symbols: list[str], all_today: int):
    """Every stored bar up to ``trade_date`` of ``symbols`` as a panel (one query)."""
    from ta_scheduler.analytics.panel import panel_from_frame

    query: dict[str, Any] = {"trade_date": {"$lte": trade_date}, "period": "daily", "data_source": source}
    t0 = time.perf_counter()
    coll = db[C.STOCK_DAILY_QUOTES]
    # a few stocks: one stock's history a query (the symbol index serves it); all of them: one pass
    docs = (coll.find(query, bar_projection(BAR_FIELDS), batch_size=10_000) if len(symbols) >= all_today
            else find_each(coll, "symbol", symbols, query, bar_projection(BAR_FIELDS), batch_size=10_000))
    frame = raw_bar_frame(list(docs))
    frame = frame[frame["symbol"].isin(symbols)]
    panel = panel_from_frame(frame, BAR_FIELDS)
    log.info("full history of %d stocks: %d bars over %d days read in %.1f s", len(symbols), len(frame),
             len(panel.dates), time.perf_counter() - t0)
    return panel


def _recompute(db: Database, trade_date: str, source: str, symbols: list[str], all_today: int) -> TerminalState:
    """The state after ``trade_date`` of ``symbols`` (each has a bar that day) from full history."""
    from ta_scheduler.analytics.indicators import terminal_history
    from ta_scheduler.analytics.panel import forward_adjust

    panel = _read_history(db, trade_date, source, symbols, all_today)
    adj = panel["adj_factor"].copy()
    unadjusted = ~np.isfinite(adj[:, -1])  # the day's bar has no factor: raw prices throughout
    adj[unadjusted] = np.nan
    prices = {k: forward_adjust(panel[k], adj) for k in ("high", "low", "close")}
    _, state = terminal_history(prices["high"], prices["low"], prices["close"], panel["volume"])
    order = {s: i for i, s in enumerate(panel.symbols)}
    return state.take(np.array([order[s] for s in symbols], dtype=np.intp))


def _pick_source(frame, trade_date: str, data_source: str | None, db: Database) -> str:
    sources = sorted(set(frame.loc[frame["trade_date"] == trade_date, "data_source"])) if len(frame) else []
    if data_source is not None and data_source in sources:
        return data_source
    if data_source is None and sources:
        return pick_source(sources)
    label = f" ({data_source})" if data_source else ""
    raise BarsMissingError(
        f"no daily bars for {trade_date}{label} in {C.STOCK_DAILY_QUOTES} (latest day with bars: "
        f"{latest_trade_date_with_bars(db)}); run daily_sync for {trade_date} first"
    )


def run_indicator_job(db: Database, trade_date: str, *, data_source: str | None = None) -> dict[str, Any]:
    """Compute and write the day's ``technical_indicators`` and the new states (module doc).

    Returns counts for XCom: ``symbols``, ``carried`` (from states), ``recomputed`` (from full
    history), ``unchanged`` (re-run), ``with_ma60``, and the write counts.
    """
    from ta_scheduler.analytics.indicators import INDICATOR_FIELDS
    from ta_scheduler.storage.writes import docs_from_columns, write_docs

    t0 = time.perf_counter()
    state_query = {"data_source": data_source} if data_source else {}
    states = {(d["symbol"], d["data_source"]): d for d in db[C.INDICATOR_STATE].find(state_query, {"_id": 0, "updated_at": 0})}
    phases = {"states_read": time.perf_counter() - t0}
    earlier = [d["last_date"] for d in states.values() if d["last_date"] < trade_date]
    previous = max(earlier) if earlier else None  # the last day the job carried states to
    source, symbols, today, between = _day_bars(db, trade_date, previous, data_source)
    phases["bars_read"] = time.perf_counter() - t0 - sum(phases.values())
    n = len(symbols)
    basis = ["qfq" if np.isfinite(a) else "unadjusted" for a in today["adj_factor"]]

    kind = _kinds(symbols, [states.get((sym, source)) for sym in symbols], trade_date, previous, between, today, basis)
    rows = {k: np.flatnonzero(kind == k) for k in ("carry", "full", "same", "past")}
    state = _day_state(db, trade_date, source, symbols, states, rows, today)
    values = state.outputs()
    phases["compute"] = time.perf_counter() - t0 - sum(phases.values())

    columns: dict[str, list] = {"symbol": symbols, "close_qfq": _floats(today["close"]), "bars": state.bars.tolist(),
                                "price_basis": basis}
    for name in INDICATOR_FIELDS:
        columns[name] = _floats(values[name])
    written = write_docs(db[C.TECHNICAL_INDICATORS],
                         docs_from_columns(columns, {"trade_date": trade_date, "data_source": source, "convention": CONVENTION}),
                         mode="replace", partition=("trade_date",))
    phases["indicators_write"] = time.perf_counter() - t0 - sum(phases.values())
    keep = np.sort(np.concatenate([rows["carry"], rows["full"]]))
    state_res = write_docs(db[C.INDICATOR_STATE],
                           _state_docs([symbols[i] for i in keep], source, trade_date, state.take(keep),
                                       [basis[i] for i in keep], {f: a[keep] for f, a in today.items()}),
                           STATE_KEY, mode="replace", partition=("data_source",), writer=STATE_WRITER)
    phases["states_write"] = time.perf_counter() - t0 - sum(phases.values())
    counts = {k: int(len(v)) for k, v in rows.items()}
    log.info("indicators %s (%s): %d stocks — %d carried forward, %d recomputed from full history, %d unchanged, "
             "%d past-day recomputations in %.2f s (%s)", trade_date, source, n, counts["carry"], counts["full"],
             counts["same"], counts["past"], time.perf_counter() - t0,
             ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
    return {"trade_date": trade_date, "data_source": source, "symbols": n, "carried": counts["carry"],
            "recomputed": counts["full"] + counts["past"], "unchanged": counts["same"],
            "with_ma60": int(np.isfinite(values["ma60"]).sum()), **written.as_dict(),
            "states_written": state_res.inserted + state_res.updated}


def _day_bars(db: Database, trade_date: str, previous: str | None,
              data_source: str | None) -> tuple[str, list[str], dict[str, np.ndarray], set[str]]:
    """The day's bars of one data source: ``(source, symbols, today, between)``, ``today`` holding
    one array per :data:`BAR_FIELDS` in ``symbols`` order (sorted; bars without high/low/close are
    dropped with a warning), ``between`` the symbols with a bar after ``previous`` and before the
    day (one read of the days in ``(previous, trade_date]``)."""
    query: dict[str, Any] = {"period": "daily"}
    if data_source:
        query["data_source"] = data_source
    days = dates_between(previous, trade_date)[1:] if previous else [trade_date]  # (previous, trade_date]
    frame = raw_bar_frame(list(find_each(db[C.STOCK_DAILY_QUOTES], "trade_date", days, query,
                                         {**bar_projection(BAR_FIELDS), "data_source": 1}, batch_size=10_000)))
    source = _pick_source(frame, trade_date, data_source, db)
    frame = frame[frame["data_source"] == source]
    for f in BAR_FIELDS:
        if f not in frame.columns:
            frame[f] = np.nan
    between = set(frame.loc[frame["trade_date"] < trade_date, "symbol"])
    day = frame[frame["trade_date"] == trade_date].sort_values("symbol")
    today = {f: day[f].to_numpy(dtype=float, na_value=np.nan) for f in BAR_FIELDS}
    ok = np.isfinite(today["high"]) & np.isfinite(today["low"]) & np.isfinite(today["close"])
    if not ok.all():
        log.warning("%s: %d bars without high/low/close skipped: %s", trade_date, int((~ok).sum()),
                    ", ".join(day["symbol"][~ok].head(10)))
    day = day[ok]
    today = {f: a[ok] for f, a in today.items()}
    return source, day["symbol"].astype(str).tolist(), today, between


def _kinds(symbols: list[str], stored: list[dict | None], trade_date: str, previous: str | None, between: set[str],
           today: dict[str, np.ndarray], basis: list[str]) -> np.ndarray:
    """How each stock's new state is reached (module doc), from its ``stored`` state: ``carry``
    (forward from the state), ``full`` (from full history), ``same`` (a re-run with the same
    bar) or ``past`` (a past day: recomputed, its state left as it is)."""
    kind = np.empty(len(symbols), dtype=object)
    for i, (sym, st) in enumerate(zip(symbols, stored, strict=True)):
        if st is None or st.get("layout") != LAYOUT:
            kind[i] = "full"
        elif st["last_date"] == trade_date:
            same = all(_same_value(st["last_bar"].get(f), today[f][i]) for f in BAR_FIELDS)
            kind[i] = "same" if same else "full"
        elif st["last_date"] > trade_date:
            kind[i] = "past"
        elif st["last_date"] != previous or sym in between or st["price_basis"] != basis[i]:
            kind[i] = "full"
        else:
            kind[i] = "carry"
    return kind


def _day_state(db: Database, trade_date: str, source: str, symbols: list[str], states: dict[tuple[str, str], dict],
               rows: dict[str, np.ndarray], today: dict[str, np.ndarray]) -> TerminalState:
    """Every stock's state after ``trade_date``, its ``rows`` by kind (:func:`_kinds`): read from
    the stored states (``same``), carried forward by the day's bar (``carry``), or recomputed
    from full history (``full``, ``past``)."""
    from ta_scheduler.analytics.indicators import TerminalState

    state = TerminalState.empty(len(symbols))
    for k in ("carry", "same"):
        if len(rows[k]):
            state.put(rows[k], _state_from_docs([states[(symbols[i], source)] for i in rows[k]]))
    if len(rows["carry"]):
        r = rows["carry"]
        state.put(r, _carried_forward(state.take(r), [states[(symbols[i], source)] for i in r],
                                      {f: a[r] for f, a in today.items()}))
    full = np.concatenate([rows["full"], rows["past"]])
    if len(full):
        full.sort()
        state.put(full, _recompute(db, trade_date, source, [symbols[i] for i in full], len(symbols)))
    return state


def _carried_forward(sub: TerminalState, docs: list[dict], today: dict[str, np.ndarray]) -> TerminalState:
    """``sub`` (the states stored in ``docs``) advanced by the day's bars ``today``; a stock whose
    adj_factor changed (ex-rights) is rescaled by old / new factor first."""
    old = np.array([_value(d["adj_factor"]) for d in docs])
    new = today["adj_factor"]
    qfq = np.isfinite(old) & np.isfinite(new)
    ratio = np.where(qfq, old / np.where(qfq, new, 1.0), 1.0)
    if (ratio != 1.0).any():
        sub.rescale(ratio)
    sub.advance(today["high"], today["low"], today["close"], today["volume"])
    return sub


def _same_value(stored: Any, value: float) -> bool:
    if stored is None:
        return not np.isfinite(value)
    return float(stored) == float(value)
