"""The Redis side of the store: every Redis write of the project goes through this module.

**Cache sets.** A *space* (``quotes``: the 5-minute latest-quote refresh; ``cache``: the hourly
rebuild from the store) holds named entries, each a hash (field → JSON text) or one JSON value.
One key scheme (``prefix`` defaults to ``ta:``):

  {prefix}{space}:current          the live version id (``v{N}``), TTL = ``ttl`` seconds
  {prefix}{space}:seq              version counter (INCR), no TTL
  {prefix}{space}:v{N}:{name}      one entry of version N, TTL = ``ttl + GRACE_SECONDS``

One atomic switch (:func:`publish`): a complete new version is written first, then the single
pointer ``{space}:current`` moves in one MULTI/EXEC (WATCHed) together with the TTLs; the
previous version keeps a short grace TTL instead of being deleted. A reader resolves the pointer
once and reads that version (:func:`read_set`), so it sees the whole old set or the whole new one,
never a mix. Version keys outlive the pointer that names them; a crashed publish leaves only keys
that expire.

**Tushare call counts** (:class:`RedisCallStore`): the rate limiter's shared state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

#: How long a replaced version stays readable after the switch (seconds).
GRACE_SECONDS = 120
#: An empty hash does not exist in Redis; this field marks one.
EMPTY_FIELD = "__empty__"
_CHUNK = 1000


class CacheSwitchConflict(RuntimeError):
    """A newer version of the space went live while this one was being built."""


def connect(redis_or_url: redis.Redis | str | None = None, *, socket_timeout: float = 30) -> redis.Redis:
    """A Redis client: ``redis_or_url`` itself when it is one, a client for that URL, or (None) the
    configured cache — connection ``redis_default`` through the Redis provider's ``RedisHook``,
    else the seed's ``REDIS_URL``; neither raises ``config.ConfigError``. Replies are bytes."""
    import redis

    if isinstance(redis_or_url, redis.Redis):
        return redis_or_url
    if redis_or_url is None:
        from airflow.providers.redis.hooks.redis import RedisHook

        from ta_scheduler.config import provider_hook, seed_redis_url
        from ta_scheduler.constants import Conns

        hook = provider_hook(RedisHook, Conns.REDIS, redis_conn_id=Conns.REDIS)
        if hook is not None:
            client = hook.get_conn()
            client.connection_pool.connection_kwargs.update(socket_connect_timeout=5, socket_timeout=socket_timeout)
            return client
        redis_or_url = seed_redis_url()
    return redis.Redis.from_url(redis_or_url, socket_connect_timeout=5, socket_timeout=socket_timeout)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)  # ObjectId, Decimal128, ...: readable text rather than a failed refresh


def dumps(value: Any) -> str:
    """The JSON text a cache entry holds (datetimes as ISO 8601, compact, UTF-8 kept)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def pointer_key(space: str, prefix: str = "ta:") -> str:
    """The key naming the live version of ``space``."""
    return f"{prefix}{space}:current"


def version_key(space: str, version: str, name: str, prefix: str = "ta:") -> str:
    """The key of entry ``name`` in ``version`` of ``space``."""
    return f"{prefix}{space}:{version}:{name}"


def new_version(r: redis.Redis, space: str, prefix: str = "ta:") -> str:
    """A fresh version id of ``space`` (``v{N}``, N from the space's counter) for :func:`publish`."""
    return f"v{r.incr(f'{prefix}{space}:seq')}"


def publish(
    r: redis.Redis,
    space: str,
    version: str,
    *,
    hashes: Mapping[str, Mapping[str, str]],
    values: Mapping[str, Any],
    ttl: int,
    prefix: str = "ta:",
) -> tuple[str, str | None]:
    """Write ``version`` (from :func:`new_version`) of ``space`` completely and make it live atomically.

    ``hashes``: entry → {field: JSON text}; ``values``: entry → any JSON-able value. ``ttl`` is how
    long the version stays live without another publish (seconds). Returns (new version, previous
    version or None). Raises :class:`CacheSwitchConflict` when a newer version went live meanwhile
    (this one is discarded, the newer one stays).
    """
    import redis

    seq = int(version[1:])
    keep = ttl + GRACE_SECONDS
    names = [*hashes, *values]
    keys = [version_key(space, version, n, prefix) for n in names]

    pipe = r.pipeline(transaction=False)
    for name, mapping in hashes.items():
        key = version_key(space, version, name, prefix)
        pipe.delete(key)
        items = list(mapping.items())
        for i in range(0, len(items), _CHUNK):
            pipe.hset(key, mapping=dict(items[i : i + _CHUNK]))
        if not items:
            pipe.hset(key, EMPTY_FIELD, "1")
        pipe.expire(key, keep)
    for name, value in values.items():
        pipe.set(version_key(space, version, name, prefix), dumps(value), ex=keep)
    pipe.execute()

    pkey = pointer_key(space, prefix)
    with r.pipeline(transaction=True) as tx:
        try:
            tx.watch(pkey)
            old = tx.get(pkey)
            old = old.decode() if isinstance(old, bytes) else old
            if old and old.startswith("v") and old[1:].isdigit() and int(old[1:]) > seq:
                tx.unwatch()
                r.delete(*keys)
                raise CacheSwitchConflict(f"{space} version {old} went live while {version} was being built; keeping {old}")
            tx.multi()
            for key in keys:
                tx.expire(key, keep)
            tx.set(pkey, version, ex=ttl)
            if old and old != version:
                for name in names:
                    tx.expire(version_key(space, old, name, prefix), GRACE_SECONDS)
            tx.execute()
        except redis.WatchError as exc:
            r.delete(*keys)
            raise CacheSwitchConflict(f"{space} pointer {pkey} changed while switching to {version}; retry") from exc
    return old


def read_set(
    r: redis.Redis, space: str, *, hashes: Iterable[str] = (), values: Iterable[str] = (), prefix: str = "ta:"
) -> dict[str, Any] | None:
    """Entries of the live version of ``space``, or None when no version is live.

    Hash entries come back as dicts (field → decoded JSON), value entries decoded; ``version``
    names the version read. An entry missing from the resolved version (it expired between
    reading the pointer and the keys) raises ``KeyError`` rather than returning a mixed set.
    """
    hashes, values = list(hashes), list(values)
    version = r.get(pointer_key(space, prefix))
    if not version:
        return None
    version = version.decode() if isinstance(version, bytes) else version
    pipe = r.pipeline(transaction=False)
    for name in hashes:
        pipe.hgetall(version_key(space, version, name, prefix))
    for name in values:
        pipe.get(version_key(space, version, name, prefix))
    raws = pipe.execute()
    out: dict[str, Any] = {"version": version}
    for i, name in enumerate(hashes + values):
        raw = raws[i]
        if not raw:
            raise KeyError(f"{space} entry {name!r} of version {version} under {prefix!r} has expired; re-read")
        if i < len(hashes):
            out[name] = {_text(k): json.loads(v) for k, v in raw.items() if _text(k) != EMPTY_FIELD}
        else:
            out[name] = json.loads(raw)
    return out


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


# ---- the tushare rate limiter's shared counts ---------------------------------------------------

_TAKE = """
local minute, day_key, total_key = KEYS[1], KEYS[2], KEYS[3]
local now, window, per_minute = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local day_limit, total_limit, member, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
if day_limit > 0 and tonumber(redis.call('GET', day_key) or '0') >= day_limit then return {'day', ARGV[4]} end
if total_limit > 0 and tonumber(redis.call('GET', total_key) or '0') >= total_limit then return {'total', ARGV[5]} end
redis.call('ZREMRANGEBYSCORE', minute, '-inf', now - window)
if redis.call('ZCARD', minute) >= per_minute then
  local oldest = redis.call('ZRANGE', minute, 0, 0, 'WITHSCORES')
  return {'wait', tostring(window - (now - tonumber(oldest[2])) + 0.01)}
end
redis.call('ZADD', minute, now, member)
redis.call('EXPIRE', minute, ttl)
redis.call('INCR', day_key)
redis.call('EXPIRE', day_key, ttl)
redis.call('INCR', total_key)
redis.call('EXPIRE', total_key, ttl)
return {'ok', '0'}
"""

#: Lifetime of the per-day keys (seconds).
DAY_TTL_S = 3 * 86_400
#: The per-day counter of all endpoints together (``providers.tiers.TOTAL`` names the same limit).
TOTAL = "total"


class RedisCallStore:
    """Counts shared by every process using the same Redis and token (keys ``ta:tushare:<token
    hash>:...``): a sorted set of call times per endpoint (the sliding minute), a counter per
    endpoint and day, one for the day's total, and a hash of the day's refused endpoints."""

    def __init__(self, redis_or_url: redis.Redis | str | None, token: str) -> None:
        self.client = connect(redis_or_url, socket_timeout=10)
        self.prefix = f"ta:tushare:{hashlib.sha256(token.encode()).hexdigest()[:12]}"
        self._take = self.client.register_script(_TAKE)

    def take(self, endpoint, now, window, per_minute, day, day_limit, total_limit):
        keys = [f"{self.prefix}:minute:{endpoint}", f"{self.prefix}:day:{day}:{endpoint}", f"{self.prefix}:day:{day}:{TOTAL}"]
        args = [repr(now), repr(window), per_minute, day_limit or 0, total_limit or 0, uuid.uuid4().hex, DAY_TTL_S]
        kind, value = self._take(keys=keys, args=args)
        return kind.decode(), float(value)

    def used(self, day: str, endpoint: str) -> int:
        return int(self.client.get(f"{self.prefix}:day:{day}:{endpoint}") or 0)

    def refuse(self, day: str, endpoint: str, reason: str) -> bool:
        key = f"{self.prefix}:refused:{day}"
        first = bool(self.client.hsetnx(key, endpoint, reason))
        self.client.expire(key, DAY_TTL_S)
        return first

    def refused(self, day: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.client.hgetall(f"{self.prefix}:refused:{day}").items()}

    def first_time(self, day: str, key: str) -> bool:
        return bool(self.client.set(f"{self.prefix}:once:{day}:{key}", "1", nx=True, ex=DAY_TTL_S))
