"""The Redis cache the analysis and reports read, rebuilt from the store and switched atomically.

Key scheme (``prefix`` defaults to ``ta:``; JSON values, datetimes as ISO 8601 strings):

  {prefix}cache:current                  the live version id (string), TTL = ``ttl_seconds``
  {prefix}cache:seq                      version counter (INCR), no TTL
  {prefix}cache:v{N}:quotes              hash code → latest quote (``market_quotes`` document)
  {prefix}cache:v{N}:stock_list          JSON list of listed stocks (``stock_basic_info``, one per code)
  {prefix}cache:v{N}:indicators          hash symbol → ``technical_indicators`` of the latest trade_date
  {prefix}cache:v{N}:hot_stocks          JSON list of the latest ``hot_stocks`` day, by rank
  {prefix}cache:v{N}:meta                JSON: version, built_at, counts and trade dates of the set

Atomicity: a rebuild writes a complete new version ``v{N}`` first, then switches the single
pointer ``cache:current`` in one MULTI/EXEC together with the TTLs, and gives the previous
version a short grace TTL (``GRACE_SECONDS``) instead of deleting it. A reader resolves the pointer
once and reads that version's keys (``read_cached_set``), so it sees either the whole old set or
the whole new one, never a mix or a half-built set; the grace period covers readers that resolved
the old pointer just before the switch. Version keys live ``ttl_seconds + GRACE_SECONDS`` so they
always outlive the pointer that names them. A crashed rebuild leaves only keys that expire.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C

if TYPE_CHECKING:
    import redis
    from pymongo.database import Database

log = logging.getLogger(__name__)

#: Default lifetime of a cache version: two hourly refreshes may fail before readers miss.
DEFAULT_TTL_SECONDS = 3 * 3600
#: How long a replaced version stays readable after the switch.
GRACE_SECONDS = 120

HASH_NAMES = ("quotes", "indicators")
STRING_NAMES = ("stock_list", "hot_stocks", "meta")
CACHE_NAMES = HASH_NAMES + STRING_NAMES

_CHUNK = 1000


class CacheSwitchConflict(RuntimeError):
    """A newer cache version went live while this one was being built."""


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)  # ObjectId, Decimal128, ...: readable text rather than a failed refresh


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def pointer_key(prefix: str) -> str:
    """The key naming the live version."""
    return f"{prefix}cache:current"


def version_key(prefix: str, version: str, name: str) -> str:
    """The key of cache ``name`` in ``version``."""
    return f"{prefix}cache:{version}:{name}"


def _client(redis_url: str) -> redis.Redis:
    import redis

    return redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=30)


def _without_id(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


def _latest_trade_date(db: Database, collection: str) -> str | None:
    doc = db[collection].find_one({"trade_date": {"$type": "string"}}, {"trade_date": 1}, sort=[("trade_date", -1)])
    return doc["trade_date"] if doc else None


def _collect(db: Database) -> tuple[dict[str, dict[str, str]], dict[str, Any], dict[str, Any]]:
    """Hash contents, string values and meta facts read from the store."""
    quotes = {str(d["code"]): _dumps(_without_id(d)) for d in db[C.MARKET_QUOTES].find({"code": {"$exists": True}})}

    by_code: dict[str, dict[str, Any]] = {}
    for doc in db[C.STOCK_BASIC_INFO].find({"code": {"$exists": True}}).sort([("code", 1), ("source", 1)]):
        by_code.setdefault(str(doc["code"]), _without_id(doc))
    stock_list = [by_code[c] for c in sorted(by_code)]

    ind_date = _latest_trade_date(db, C.TECHNICAL_INDICATORS)
    indicators = {}
    if ind_date:
        for d in db[C.TECHNICAL_INDICATORS].find({"trade_date": ind_date}):
            indicators[str(d["symbol"])] = _dumps(_without_id(d))

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
    redis_url: str,
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
    import redis

    if ttl_seconds < 60:
        raise ValueError(f"cache ttl_seconds must be at least 60, got {ttl_seconds}")
    now = now or dt.datetime.now(dt.timezone.utc)
    hashes, strings, meta = _collect(db)

    r = _client(redis_url)
    seq = r.incr(f"{prefix}cache:seq")
    version = f"v{seq}"
    keep = ttl_seconds + GRACE_SECONDS
    keys = [version_key(prefix, version, n) for n in CACHE_NAMES]
    meta = {"version": version, "built_at": now.isoformat(), **meta}

    # Build the new version completely; nobody reads it until the pointer names it.
    pipe = r.pipeline(transaction=False)
    for name, mapping in hashes.items():
        key = version_key(prefix, version, name)
        pipe.delete(key)
        items = list(mapping.items())
        for i in range(0, len(items), _CHUNK):
            pipe.hset(key, mapping=dict(items[i : i + _CHUNK]))
        if not items:  # an empty hash does not exist in Redis; keep a marker field instead
            pipe.hset(key, "__empty__", "1")
        pipe.expire(key, keep)
    for name, value in strings.items():
        pipe.set(version_key(prefix, version, name), _dumps(value), ex=keep)
    pipe.set(version_key(prefix, version, "meta"), _dumps(meta), ex=keep)
    pipe.execute()

    pkey = pointer_key(prefix)
    with r.pipeline(transaction=True) as tx:
        try:
            tx.watch(pkey)
            old = tx.get(pkey)
            if old and old.startswith("v") and old[1:].isdigit() and int(old[1:]) > seq:
                tx.unwatch()
                r.delete(*keys)
                raise CacheSwitchConflict(
                    f"cache version {old} went live while {version} was being built; keeping {old}"
                )
            tx.multi()
            for key in keys:
                tx.expire(key, keep)
            tx.set(pkey, version, ex=ttl_seconds)
            if old and old != version:
                for name in CACHE_NAMES:
                    tx.expire(version_key(prefix, old, name), GRACE_SECONDS)
            tx.execute()
        except redis.WatchError as exc:
            r.delete(*keys)
            raise CacheSwitchConflict(f"cache pointer {pkey} changed while switching to {version}; retry") from exc
    log.info("cache %s live under %s (previous %s): %s", version, prefix, old, meta["counts"])
    return {"version": version, "previous": old, "ttl_seconds": ttl_seconds, **meta}


def _decode(name: str, raw: Any) -> Any:
    if name in HASH_NAMES:
        if not raw:
            return None
        return {k: json.loads(v) for k, v in raw.items() if k != "__empty__"}
    return None if raw is None else json.loads(raw)


def read_cached_set(redis_url: str, names: Iterable[str] = CACHE_NAMES, prefix: str = "ta:") -> dict[str, Any] | None:
    """Several cache entries from one consistent version, or None when no version is live.

    Hashes come back as dicts (code/symbol → document), the rest as decoded JSON. A name missing
    from a resolved version (the version expired between reading the pointer and the keys) raises
    ``KeyError`` rather than returning a mixed set.
    """
    names = list(names)
    unknown = [n for n in names if n not in CACHE_NAMES]
    if unknown:
        raise KeyError(f"unknown cache names {unknown}; known: {', '.join(CACHE_NAMES)}")
    r = _client(redis_url)
    version = r.get(pointer_key(prefix))
    if not version:
        return None
    pipe = r.pipeline(transaction=False)
    for name in names:
        key = version_key(prefix, version, name)
        pipe.hgetall(key) if name in HASH_NAMES else pipe.get(key)
    raws = pipe.execute()
    out: dict[str, Any] = {"version": version}
    for name, raw in zip(names, raws, strict=True):
        value = _decode(name, raw)
        if value is None:
            raise KeyError(f"cache {name!r} of version {version} under {prefix!r} has expired; re-read")
        out[name] = value
    return out


def read_cached(redis_url: str, name: str, prefix: str = "ta:") -> Any:
    """One cache entry (e.g. ``"quotes"``) of the live version, or None when the cache is empty."""
    found = read_cached_set(redis_url, [name], prefix)
    return None if found is None else found[name]
