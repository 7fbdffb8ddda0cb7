"""The hourly Redis cache the analysis and reports read, rebuilt from the store and switched
atomically (``storage.cache.publish``, space ``cache``; the key scheme and the switch are
described there).

Entries (JSON values, datetimes as ISO 8601 strings):

  quotes        hash code → latest quote (``market_quotes`` document)
  stock_list    JSON list of listed stocks (``stock_basic_info``, one per code)
  indicators    hash symbol → ``technical_indicators`` of the latest trade_date
  hot_stocks    JSON list of the latest ``hot_stocks`` day, by rank
  meta          JSON: version, built_at, counts and trade dates of the set
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.cache import connect, dumps, new_version, publish, read_set

if TYPE_CHECKING:
    from pymongo.database import Database
    from redis import Redis

log = logging.getLogger(__name__)

#: Default lifetime of a cache version: two hourly refreshes may fail before readers miss.
DEFAULT_TTL_SECONDS = 3 * 3600

HASH_NAMES = ("quotes", "indicators")
STRING_NAMES = ("stock_list", "hot_stocks", "meta")
CACHE_NAMES = HASH_NAMES + STRING_NAMES
SPACE = "cache"


def _without_id(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


def _latest_trade_date(db: Database, collection: str) -> str | None:
    """The newest day of ``collection`` up to today, probed a day at a time (not a sort of its history)."""
    from ta_scheduler.analytics.stored_bars import latest_trade_date
    from ta_scheduler.market import exchange_today

    return latest_trade_date(db[collection], exchange_today().isoformat())


def _collect(db: Database) -> tuple[dict[str, dict[str, str]], dict[str, Any], dict[str, Any]]:
    """Hash contents, string values and meta facts read from the store."""
    quotes = {str(d["code"]): dumps(_without_id(d)) for d in db[C.MARKET_QUOTES].find({"code": {"$exists": True}})}

    by_code: dict[str, dict[str, Any]] = {}
    for doc in db[C.STOCK_BASIC_INFO].find({"code": {"$exists": True}}).sort([("code", 1), ("source", 1)]):
        by_code.setdefault(str(doc["code"]), _without_id(doc))
    stock_list = [by_code[c] for c in sorted(by_code)]

    ind_date = _latest_trade_date(db, C.TECHNICAL_INDICATORS)
    indicators = {}
    if ind_date:
        for d in db[C.TECHNICAL_INDICATORS].find({"trade_date": ind_date}):
            indicators[str(d["symbol"])] = dumps(_without_id(d))

    hot_date = _latest_trade_date(db, C.HOT_STOCKS)
    hot = [_without_id(d) for d in db[C.HOT_STOCKS].find({"trade_date": hot_date}).sort("rank", 1)] if hot_date else []

    hashes = {"quotes": quotes, "indicators": indicators}
    strings = {"stock_list": stock_list, "hot_stocks": hot}
    meta = {
        "counts": {"quotes": len(quotes), "stock_list": len(stock_list), "indicators": len(indicators),
                   "hot_stocks": len(hot)},
        "indicators_trade_date": ind_date,
        "hot_stocks_trade_date": hot_date,
    }
    return hashes, strings, meta


def refresh_cache(
    db: Database,
    redis: Redis | str | None = None,
    *,
    prefix: str = "ta:",
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Rebuild every cache key from the store and make the new set live atomically.

    ``ttl_seconds`` is how long the set stays live without another refresh (seconds). Returns the
    new version id, counts per name and the trade dates used. Raises ``CacheSwitchConflict`` if
    a newer version went live meanwhile (that build is discarded, the newer one stays).
    """
    if ttl_seconds < 60:
        raise ValueError(f"cache ttl_seconds must be at least 60, got {ttl_seconds}")
    now = now or dt.datetime.now(dt.timezone.utc)
    hashes, strings, meta = _collect(db)
    r = connect(redis)
    version = new_version(r, SPACE, prefix)
    meta = {"version": version, "built_at": now.isoformat(), **meta}
    old = publish(r, SPACE, version, hashes=hashes, values={**strings, "meta": meta}, ttl=ttl_seconds, prefix=prefix)
    log.info("cache %s live under %s (previous %s): %s", version, prefix, old, meta["counts"])
    return {"version": version, "previous": old, "ttl_seconds": ttl_seconds, **meta}


def read_cached_set(redis: Redis | str | None, names: Iterable[str] = CACHE_NAMES, prefix: str = "ta:") -> dict[str, Any] | None:
    """Several cache entries from one consistent version, or None when no version is live.

    Hashes come back as dicts (code/symbol → document), the rest as decoded JSON. A name missing
    from a resolved version (the version expired between reading the pointer and the keys) raises
    ``KeyError`` rather than returning a mixed set.
    """
    names = list(names)
    unknown = [n for n in names if n not in CACHE_NAMES]
    if unknown:
        raise KeyError(f"unknown cache names {unknown}; known: {', '.join(CACHE_NAMES)}")
    return read_set(connect(redis), SPACE, hashes=[n for n in names if n in HASH_NAMES],
                    values=[n for n in names if n not in HASH_NAMES], prefix=prefix)


def read_cached(redis: Redis | str | None, name: str, prefix: str = "ta:") -> Any:
    """One cache entry (e.g. ``"quotes"``) of the live version, or None when the cache is empty."""
    found = read_cached_set(redis, [name], prefix)
    return None if found is None else found[name]
