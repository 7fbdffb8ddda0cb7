"""Intraday snapshot of the whole market (``intraday_prices``, every 5 minutes in sessions).

One provider call set per tick; writes the latest quote per code (``market_quotes``, replaced
whole), appends the tick's snapshot (``market_quotes_intraday``, key code+snapshot_time) and
swaps the Redis latest-quote cache atomically.

Redis: space ``quotes`` of ``storage.cache`` (its key scheme and atomic switch), entries
  ``latest``  hash code -> JSON quote (prices yuan, volume shares, amount yuan)
  ``meta``    JSON snapshot_time (ISO), count, data_source
The version expires after ``ttl`` seconds (default 900: a missed tick or two leaves no stale
cache behind for long).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.writes import columns_from_frame, docs_from_columns, write_docs
from ta_scheduler.sync.tacn_format import yyyymmdd_series

if TYPE_CHECKING:
    from pymongo.database import Database
    from redis import Redis

    from ta_scheduler.providers.base import MarketDataProvider

log = logging.getLogger(__name__)

REDIS_SPACE = "quotes"
#: TradingAgents-CN reads the price from ``close`` and compares ``trade_date`` (``YYYYMMDD``) as
#: strings in its staleness check; ``price`` is the same value under our older name.
QUOTE_FIELDS = ("code", "symbol", "ts_code", "name", "close", "price", "open", "high", "low", "pre_close", "pct_chg",
                "volume", "amount", "bid1", "ask1", "trade_date", "quote_time")


def sync_realtime_quotes(
    provider: MarketDataProvider,
    db: Database,
    redis: Redis | str | None,
    snapshot_time: datetime,
    *,
    ttl: int = 900,
    store_snapshot: bool = True,
) -> dict[str, Any]:
    """Take one whole-market snapshot at ``snapshot_time`` (the run's tick, timezone-aware).

    ``store_snapshot=False`` (a tick outside the trading sessions) refreshes the latest quotes
    and the cache but appends nothing to ``market_quotes_intraday``.
    """
    if snapshot_time.tzinfo is None:
        raise ValueError(f"snapshot_time {snapshot_time!r} must be timezone-aware (the run's logical tick)")
    snapshot_time = snapshot_time.replace(microsecond=snapshot_time.microsecond // 1000 * 1000)
    frame = provider.realtime_quotes(at=snapshot_time)
    frame = frame.drop_duplicates("code", keep="last").reset_index(drop=True)
    pre = frame["pre_close"].to_numpy(dtype=float)
    price = frame["price"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["pct_chg"] = np.where(pre > 0, np.round((price / pre - 1) * 100, 4), np.nan)
    frame["symbol"], frame["close"] = frame["code"], frame["price"]
    frame["trade_date"] = yyyymmdd_series(frame["trade_date"])
    cols = columns_from_frame(frame, QUOTE_FIELDS)
    constants = {"data_source": provider.name, "snapshot_time": snapshot_time}
    latest = write_docs(db[C.MARKET_QUOTES], docs_from_columns(cols, constants), mode="replace", partition=("data_source",))
    if store_snapshot:
        snap = write_docs(db[C.INTRADAY_SNAPSHOTS], docs_from_columns(cols, constants), mode="insert").as_dict()
        from ta_scheduler.sync.completeness import record_intraday_day

        snap["ledger"] = record_intraday_day(db, provider.name, snapshot_time)
    else:
        snap = {"skipped": "outside trading sessions"}
    cached = refresh_quote_cache(redis, cols, snapshot_time, provider.name, ttl) if redis is not None else 0
    log.info("%s quotes %s: %d codes; latest %s; snapshot %s; redis %d", provider.name, snapshot_time.isoformat(),
             len(frame), latest.as_dict(), snap, cached)
    return {"snapshot_time": snapshot_time.isoformat(), "quotes": len(frame), "data_source": provider.name,
            "latest": latest.as_dict(), "snapshot": snap, "redis_cached": cached}


def refresh_quote_cache(redis: Redis | str, cols: dict[str, list], snapshot_time: datetime, data_source: str, ttl: int) -> int:
    """Publish the tick's quotes as a new version of the ``quotes`` space (readers never see half a tick)."""
    from ta_scheduler.storage.cache import connect, new_version, publish

    names = list(cols)
    mapping = {}
    for values in zip(*(cols[n] for n in names), strict=True):
        row = dict(zip(names, values, strict=True))
        row["quote_time"] = row["quote_time"].isoformat() if row.get("quote_time") else None
        mapping[row["code"]] = json.dumps(row, ensure_ascii=False)
    if not mapping:
        return 0
    client = connect(redis)
    meta = {"snapshot_time": snapshot_time.isoformat(), "count": len(mapping), "data_source": data_source}
    publish(client, REDIS_SPACE, new_version(client, REDIS_SPACE), hashes={"latest": mapping}, values={"meta": meta},
            ttl=ttl)
    client.close()
    return len(mapping)
