"""Reading stored daily bars for the analyses: which stored field holds each unadjusted price,
the projection and frame every job reads bars with, which days a window of trading days is
looked for in, the latest day that has bars, and the binary float64 packing the analyses'
own documents keep arrays in.

Shared by :mod:`~ta_scheduler.analytics.jobs`, :mod:`~ta_scheduler.analytics.indicator_state`
and :mod:`~ta_scheduler.analytics.bar_columns` (all read bars; none imports another for it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C

if TYPE_CHECKING:
    import numpy as np
    from bson.binary import Binary
    from pymongo.database import Database


#: Where the analytics read each unadjusted price (and the adjustment factor) in
#: ``stock_daily_quotes``: analysis name → stored field. ``open``..``pre_close`` there hold
#: forward-adjusted prices for TradingAgents-CN (docs/data-model.md); these jobs adjust the
#: exchange's prices themselves.
RAW_PRICE_FIELDS: dict[str, str] = {
    **{f: f"unadj_{f}" for f in ("open", "high", "low", "close", "pre_close")}, "adj_factor": "adj_factor",
}


def raw_bar_frame(docs: list[dict]):
    """Stored bar documents as a frame whose price columns carry the analysis names of
    :data:`RAW_PRICE_FIELDS` (unadjusted prices)."""
    import pandas as pd

    frame = pd.DataFrame(docs)
    rename = {stored: name for name, stored in RAW_PRICE_FIELDS.items() if stored != name and stored in frame.columns}
    return frame.rename(columns=rename) if rename else frame


def bar_projection(fields) -> dict[str, int]:
    """A find projection reading ``fields`` (analysis names) from stored bars."""
    return {"_id": 0, "symbol": 1, "trade_date": 1, **{RAW_PRICE_FIELDS.get(f, f): 1 for f in fields}}


class BarsMissingError(RuntimeError):
    """The store has no bars for the day a job was asked to compute."""


def check_trade_date(value: str) -> str:
    """``value`` if it is a ``YYYY-MM-DD`` date, else a ValueError naming it."""
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"trade date must be 'YYYY-MM-DD', got {value!r}") from None
    return value


#: Calendar days :func:`latest_trade_date` probes one at a time before it sorts the collection.
PROBE_DAYS = 31


def latest_trade_date(coll, on_or_before: str | None = None, query: dict[str, Any] | None = None) -> str | None:
    """The most recent ``trade_date`` of ``coll``'s documents matching ``query`` (optionally not
    after ``on_or_before``).

    With ``on_or_before``, the :data:`PROBE_DAYS` dates up to it are probed newest first, one
    index lookup each; only beyond them (and without ``on_or_before``) is the newest found by a
    sort over the collection, which FerretDB answers by decoding every document."""
    query = dict(query or {})
    if on_or_before:
        last = date.fromisoformat(check_trade_date(on_or_before))
        for back in range(PROBE_DAYS):
            day = (last - timedelta(days=back)).isoformat()
            if coll.find_one({**query, "trade_date": day}, {"_id": 1}) is not None:
                return day
        query["trade_date"] = {"$lte": on_or_before}
    doc = coll.find_one(query, {"_id": 0, "trade_date": 1}, sort=[("trade_date", -1)])
    return doc["trade_date"] if doc else None


def latest_trade_date_with_bars(db: Database, on_or_before: str | None = None) -> str | None:
    """The most recent ``trade_date`` that has daily bars (optionally not after ``on_or_before``;
    :func:`latest_trade_date`)."""
    return latest_trade_date(db[C.STOCK_DAILY_QUOTES], on_or_before, {"period": "daily"})


def window_span(trade_date: str, n_days: int) -> list[str]:
    """The calendar dates a window of the last ``n_days`` trading days up to ``trade_date`` is
    looked for in: about 1.6 × ``n_days`` + 15 calendar days before it, which covers the longest
    exchange holidays (the window's days are the days of that span that have bars)."""
    from ta_scheduler.storage.mongo import dates_between

    span = int(math.ceil(n_days * 1.6)) + 15
    return dates_between((date.fromisoformat(trade_date) - timedelta(days=span)).isoformat(), trade_date)


def days_with_bars(db: Database, dates: Sequence[str], source: str, n_days: int) -> list[str]:
    """The last ``n_days`` of ``dates`` (ascending) that hold daily bars of ``source``, oldest
    first: one count per date, newest first, until ``n_days`` are found (the embedded store's
    PostgreSQL counts them without decoding a bar: docs/store.md, "The patch"). So a window
    reads the bars of its own days only, not of the whole calendar span it is looked for in."""
    coll = db[C.STOCK_DAILY_QUOTES]
    found: list[str] = []
    for day in reversed(dates):
        if len(found) == n_days:
            break
        if coll.count_documents({"trade_date": day, "period": "daily", "data_source": source}):
            found.append(day)
    return found[::-1]


def window_dates(days_with_bars: Iterable[str], trade_date: str, n_days: int, source: str) -> list[str]:
    """The window: the last ``n_days`` of ``days_with_bars`` (within :func:`window_span`),
    oldest first; :class:`BarsMissingError` when it does not end on ``trade_date``."""
    days = sorted(set(days_with_bars))
    if not days:
        raise BarsMissingError(f"no daily bars for {trade_date} ({source})")
    dates = days[-n_days:]
    if dates[-1] != trade_date:
        raise BarsMissingError(f"no daily bars for {trade_date} ({source}); latest in window is {dates[-1]}")
    return dates


def pack_floats(values: np.ndarray) -> Binary:
    """A float array as one binary field: little-endian float64, NaN kept (one field instead of
    an array of numbers keeps a document small and quick for the store to decode)."""
    import numpy as np
    from bson.binary import Binary

    return Binary(np.ascontiguousarray(values, dtype="<f8").tobytes())


def unpack_floats(data: bytes) -> np.ndarray:
    """The float64 array :func:`pack_floats` packed (read-only; ``bytes`` of several packed
    fields joined give them one after the other)."""
    import numpy as np

    return np.frombuffer(bytes(data), dtype="<f8")
