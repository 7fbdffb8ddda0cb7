"""The window jobs' bars, each past day read from one column document instead of its bars.

Market sentiment needs 61 trading days of the whole market every day (new 20/60-day highs and
lows, turnover against its 20-day mean), risk 251 (a year of closes). Read bar by bar, that is
one document per stock and day — about 330,000 and 1.35 million at 5,400 stocks — and FerretDB
1.24 (the embedded store) decodes each in Go at 0.2–0.4 ms. A day's bars do not change once
synced, unless daily_sync re-syncs or repairs that day, so each day is read from its bars once
and kept in ``daily_bar_columns`` as one document of columns:

    {"_id": "2026-11-27", "trade_date": "2026-11-27", "data_source": "tushare", "layout": 1,
     "bars": 5400, "symbols": "000001,000002,…,920999",
     "high": <binary>, "low": <binary>, "close": <binary>, "amount": <binary>,
     "adj_factor": <binary>, "updated_at": ..}

``symbols`` are the symbols of every bar document of that day and source, ascending and
comma-joined; each of :data:`COLUMN_FIELDS` is one float64 per symbol
(``stored_bars.pack_floats``): the unadjusted high, low and close in yuan, the amount in yuan, the
adj_factor, NaN where the bar lacks one. These are the numbers the bar read itself gives
(``panel_from_frame`` of the day's bars), so a window assembled from them is, float for float,
the panel of the window's bars, and the jobs' documents are the same.

:func:`window_panel` finds the window as the bar read does (the days with bars among
``stored_bars.window_span``, the last ``n_days`` of them) and reads from the bars only:

- the run's own day, always (so a day re-synced and re-analysed is never read from old columns);
- any day without a valid column document: none yet (first run, a day synced late), of another
  data source or layout, or deleted by :func:`invalidate_bar_columns` — its document is written
  from what was read, so the next run takes it from the columns.

A normal day reads the day's bars (O(stocks)) and one document per window day; a first run reads
the window's bars once. Dates without bars (weekends, holidays) cost one index lookup each, as
in the bar read.

A column document stays right as long as its day's bars do. daily_sync rewrites a past day's
bars in two ways: that day synced again (a manual ``date``, a backfill), after which the
analysis recomputes that day, reading it from the bars and rewriting its columns; and the repair
of days the ledger shows incomplete, whose column documents
``analytics.tasks.recompute_after_repair`` deletes (:func:`invalidate_bar_columns`) as it
invalidates the indicator states.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ta_scheduler.analytics.panel import Panel, panel_from_frame
from ta_scheduler.analytics.stored_bars import (
    bar_projection,
    pack_floats,
    raw_bar_frame,
    unpack_floats,
    window_dates,
    window_span,
)
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.mongo import find_each

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

#: The fields a day's column document keeps (analysis names of ``stored_bars.RAW_PRICE_FIELDS``).
COLUMN_FIELDS: tuple[str, ...] = ("high", "low", "close", "amount", "adj_factor")
#: Version of the document's packing; a document of another version is read from the bars again.
LAYOUT = 1
#: The key of the column documents (``_id`` = the trade date): one per day, of the data source
#: the window jobs read that day with.
KEY = ("trade_date",)


@dataclass
class DayColumns:
    """One day's bars of one data source: ``symbols`` (ascending) and per field one float64
    per symbol (NaN where the bar has no value)."""

    symbols: np.ndarray
    values: dict[str, np.ndarray]


def window_panel(db: Database, trade_date: str, n_days: int, fields: Sequence[str], source: str,
                 day_fields: Sequence[str] = ()) -> Panel:
    """The last ``n_days`` trading days of ``source``'s bars up to ``trade_date``: ``fields``
    (of :data:`COLUMN_FIELDS`) on every day, ``day_fields`` on ``trade_date`` only (NaN before).

    The same panel, for those values, as reading every bar of the window (``jobs._load_bars``);
    past days come from their column documents (module doc).

    :raises BarsMissingError: ``trade_date`` has no bars of ``source``
    """
    unknown = sorted(set(fields) - set(COLUMN_FIELDS))
    if unknown:
        raise ValueError(f"window fields {unknown} are not kept in {C.DAILY_BAR_COLUMNS} {COLUMN_FIELDS}; pass them as day_fields")
    t0 = time.perf_counter()
    span = window_span(trade_date, n_days)
    days, unusable = _read_columns(db, span[:-1], fields, source)
    if unusable:  # written anew below; deleted first, as the writer's manifest may still call them current
        invalidate_bar_columns(db, unusable)
    from_bars = [d for d in span if d not in days]
    read = _read_days(db, from_bars, source, [*COLUMN_FIELDS, *day_fields])
    _write_columns(db, source, read)
    days.update(read)
    dates = window_dates(days, trade_date, n_days, source)
    panel = _assemble(dates, days, fields, day_fields)
    log.info("window %s..%s (%s): %d symbols × %d days; %d days from their bars (%d bars), the rest from %s; %.1f s",
             dates[0], dates[-1], source, len(panel.symbols), len(dates), len(read), sum(len(c.symbols) for c in read.values()),
             C.DAILY_BAR_COLUMNS, time.perf_counter() - t0)
    return panel


def invalidate_bar_columns(db: Database, dates: Iterable[str]) -> int:
    """Delete the column documents of ``dates`` (``YYYY-MM-DD``, every data source): call it after
    those days' bars were rewritten; the next window read takes them from the bars again.
    Returns how many were deleted."""
    from ta_scheduler.analytics.stored_bars import check_trade_date
    from ta_scheduler.storage.writes import delete_where, drop_manifests

    coll = db[C.DAILY_BAR_COLUMNS]
    days = sorted({check_trade_date(d) for d in dates})
    deleted = sum(delete_where(coll, {"_id": d}) for d in days)  # one _id lookup each
    if deleted:  # the manifests no longer describe what is stored: the next writes start afresh
        drop_manifests(coll)
    log.info("bar columns invalidated for %d day(s)%s: %d", len(days), f" ({days[0]} .. {days[-1]})" if days else "", deleted)
    return deleted


def _read_columns(db: Database, dates: Sequence[str], fields: Sequence[str],
                  source: str) -> tuple[dict[str, DayColumns], list[str]]:
    """The column documents of ``dates``: those that serve this read (of ``source``, of this
    :data:`LAYOUT`, whole) by day, and the days of the others.

    One ``_id`` lookup per date: for a ``$in`` over this small table of large (TOASTed) rows,
    PostgreSQL under the embedded store plans a sequential scan that decompresses every row to
    read its ``_id`` (measured: 8.9 s for 84 of 251, against 1.1 s looked up one by one)."""
    projection = {"_id": 1, "data_source": 1, "layout": 1, "bars": 1, "symbols": 1, **dict.fromkeys(fields, 1)}
    coll = db[C.DAILY_BAR_COLUMNS]
    out: dict[str, DayColumns] = {}
    unusable: list[str] = []
    for doc in filter(None, (coll.find_one({"_id": d}, projection) for d in dates)):
        cols = _usable(doc, fields, source)
        if cols is None:
            unusable.append(doc["_id"])
        else:
            out[doc["_id"]] = cols
    return out, unusable


def _usable(doc: dict[str, Any], fields: Sequence[str], source: str) -> DayColumns | None:
    """The columns of a stored document, None unless it is of ``source``, of this layout and whole."""
    if doc.get("layout") != LAYOUT or doc.get("data_source") != source or not isinstance(doc.get("symbols"), str):
        return None
    symbols = np.array(doc["symbols"].split(",") if doc["symbols"] else [], dtype=object)
    if any(not isinstance(doc.get(f), bytes) or len(doc[f]) != 8 * len(symbols) for f in fields) or doc.get("bars") != len(symbols):
        return None
    return DayColumns(symbols, {f: unpack_floats(doc[f]) for f in fields})


def _read_days(db: Database, dates: Sequence[str], source: str, fields: Sequence[str]) -> dict[str, DayColumns]:
    """Every bar of ``dates`` (one query per date), as columns per date that has bars."""
    if not dates:
        return {}
    cursor = find_each(db[C.STOCK_DAILY_QUOTES], "trade_date", dates, {"period": "daily", "data_source": source},
                       bar_projection(dict.fromkeys(fields)), batch_size=10_000)
    frame = raw_bar_frame(list(cursor))
    if frame.empty:
        return {}
    out: dict[str, DayColumns] = {}
    for day, rows in frame.groupby("trade_date", sort=True):
        panel = panel_from_frame(rows, list(dict.fromkeys(fields)), dates=[day])
        out[str(day)] = DayColumns(panel.symbols, {f: a[:, 0] for f, a in panel.fields.items()})
    return out


def _column_doc(day: str, source: str, cols: DayColumns) -> dict[str, Any] | None:
    """The column document of a day read from its bars; None when a symbol cannot be packed
    (not a string, or holding the separator), and the day is read from its bars each time."""
    if not all(isinstance(s, str) and "," not in s for s in cols.symbols):
        log.warning("%s (%s): symbols that cannot be packed; this day is read from its bars each time", day, source)
        return None
    return {"trade_date": day, "data_source": source, "layout": LAYOUT, "bars": len(cols.symbols),
            "symbols": ",".join(cols.symbols), **{f: pack_floats(cols.values[f]) for f in COLUMN_FIELDS}}


def _write_columns(db: Database, source: str, days: dict[str, DayColumns]) -> None:
    """Write the column documents of the days read from their bars (unchanged ones cost nothing)."""
    from ta_scheduler.storage.writes import write_docs

    docs = [doc for day, cols in sorted(days.items()) if (doc := _column_doc(day, source, cols)) is not None]
    if docs:
        write_docs(db[C.DAILY_BAR_COLUMNS], docs, KEY, mode="set", partition=KEY)


def _assemble(dates: list[str], days: dict[str, DayColumns], fields: Sequence[str], day_fields: Sequence[str]) -> Panel:
    """The window's panel from its days' columns: the symbols of any of its days (ascending, as
    ``panel_from_frame`` orders them), ``day_fields`` on the last day only."""
    symbols = np.array(sorted(set().union(*(days[d].symbols.tolist() for d in dates))), dtype=object)
    out = {f: np.full((len(symbols), len(dates)), np.nan) for f in [*fields, *day_fields]}
    for j, day in enumerate(dates):
        cols = days[day]
        rows = np.searchsorted(symbols, cols.symbols)
        names = out if j == len(dates) - 1 else fields
        for f in names:
            out[f][rows, j] = cols.values[f]
    return Panel(symbols=symbols, dates=dates, fields=out)
