"""Reading stored daily bars for the analyses: which stored field holds each unadjusted price,
the projection and frame every job reads bars with, and the latest day that has bars.

Shared by :mod:`~ta_scheduler.analytics.jobs` and :mod:`~ta_scheduler.analytics.indicator_state`
(both read bars; neither imports the other for it).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C

if TYPE_CHECKING:
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


#: Calendar days :func:`latest_trade_date_with_bars` probes one at a time before it sorts the store.
PROBE_DAYS = 31


def latest_trade_date_with_bars(db: Database, on_or_before: str | None = None) -> str | None:
    """The most recent ``trade_date`` that has daily bars (optionally not after ``on_or_before``).

    With ``on_or_before``, the :data:`PROBE_DAYS` dates up to it are probed newest first, one
    index lookup each; only beyond them (and without ``on_or_before``) is the newest bar found
    by a sort over the stored bars, which FerretDB answers by decoding every one of them."""
    coll = db[C.STOCK_DAILY_QUOTES]
    query: dict[str, Any] = {"period": "daily"}
    if on_or_before:
        last = date.fromisoformat(check_trade_date(on_or_before))
        for back in range(PROBE_DAYS):
            day = (last - timedelta(days=back)).isoformat()
            if coll.find_one({"trade_date": day, "period": "daily"}, {"_id": 1}) is not None:
                return day
        query["trade_date"] = {"$lte": on_or_before}
    doc = coll.find_one(query, {"_id": 0, "trade_date": 1}, sort=[("trade_date", -1)])
    return doc["trade_date"] if doc else None
