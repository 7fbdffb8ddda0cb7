"""Rebuilding the Redis cache from the store, and switching it atomically."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance.cache_refresh import CACHE_NAMES, SPACE, read_cached, read_cached_set, refresh_cache
from ta_scheduler.storage.cache import GRACE_SECONDS, pointer_key, version_key


@pytest.fixture
def prefix(redis_url):
    """A key prefix of this test's own; its keys are removed afterwards."""
    p = f"ta:test:{uuid.uuid4().hex[:10]}:"
    yield p
    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(match=p + "*", count=1000))
    if keys:
        r.delete(*keys)


def _seed(db, n=40):
    codes = [f"{600000 + i:06d}" for i in range(n)]
    db[C.MARKET_QUOTES].insert_many([{"code": c, "price": 10.0 + i, "gen": 0, "trade_date": "2026-11-27"}
                                     for i, c in enumerate(codes)])
    db[C.STOCK_BASIC_INFO].insert_many(
        [{"code": c, "source": "tushare", "name": f"S{c}"} for c in codes]
        + [{"code": codes[0], "source": "demo", "name": "duplicate from another source"}]
    )
    db[C.TECHNICAL_INDICATORS].insert_many(
        [{"symbol": c, "trade_date": d, "ma5": 1.0 if d == "2026-11-27" else 0.0}
         for c in codes for d in ("2026-11-26", "2026-11-27")]
    )
    db[C.HOT_STOCKS].insert_many(
        [{"trade_date": "2026-11-27", "rank": r, "code": codes[r - 1], "gen": 0} for r in (3, 1, 2)]
        + [{"trade_date": "2026-11-26", "rank": 1, "code": "old"}]
    )
    return codes


def test_refresh_builds_every_name_from_the_latest_data(mongo_db, redis_url, prefix):
    codes = _seed(mongo_db)
    result = refresh_cache(mongo_db, redis_url, prefix=prefix, ttl_seconds=600)
    assert result["counts"] == {"quotes": 40, "stock_list": 40, "indicators": 40, "hot_stocks": 3}
    quotes = read_cached(redis_url, "quotes", prefix)
    assert quotes[codes[1]]["price"] == 11.0 and "_id" not in quotes[codes[1]]
    stock_list = read_cached(redis_url, "stock_list", prefix)
    assert [s["code"] for s in stock_list] == codes
    assert stock_list[0]["source"] == "demo"  # one entry per code
    indicators = read_cached(redis_url, "indicators", prefix)
    assert {v["trade_date"] for v in indicators.values()} == {"2026-11-27"}
    assert [h["rank"] for h in read_cached(redis_url, "hot_stocks", prefix)] == [1, 2, 3]
    assert read_cached(redis_url, "meta", prefix)["indicators_trade_date"] == "2026-11-27"


def test_keys_expire_and_outlive_the_pointer(mongo_db, redis_url, prefix):
    _seed(mongo_db, n=3)
    v1 = refresh_cache(mongo_db, redis_url, prefix=prefix, ttl_seconds=600)["version"]
    r = redis.Redis.from_url(redis_url)
    assert 590 <= r.ttl(pointer_key(SPACE, prefix)) <= 600
    for name in CACHE_NAMES:
        assert 600 < r.ttl(version_key(SPACE, v1, name, prefix)) <= 600 + GRACE_SECONDS
    v2 = refresh_cache(mongo_db, redis_url, prefix=prefix, ttl_seconds=600)["version"]
    assert v2 != v1 and r.get(pointer_key(SPACE, prefix)).decode() == v2
    for name in CACHE_NAMES:  # the replaced version lingers only for readers mid-read
        assert 0 < r.ttl(version_key(SPACE, v1, name, prefix)) <= GRACE_SECONDS


def test_empty_cache_reads_none(redis_url, prefix):
    assert read_cached(redis_url, "quotes", prefix) is None


def test_readers_never_see_a_partial_or_mixed_set_during_rebuilds(mongo_db, redis_url, prefix):
    _seed(mongo_db, n=60)
    refresh_cache(mongo_db, redis_url, prefix=prefix, ttl_seconds=600)
    stop = threading.Event()
    seen_versions: set[str] = set()
    problems: list[str] = []
    reads = 0

    def reader():
        nonlocal reads
        while not stop.is_set():
            try:
                got = read_cached_set(redis_url, CACHE_NAMES, prefix)
            except KeyError as exc:  # a name missing from the resolved version: a partial set
                problems.append(str(exc))
                continue
            reads += 1
            counts = got["meta"]["counts"]
            for name in ("quotes", "stock_list", "indicators", "hot_stocks"):
                if len(got[name]) != counts[name]:
                    problems.append(f"{got['version']}: {name} has {len(got[name])} of {counts[name]}")
            gens = {q["gen"] for q in got["quotes"].values()} | {h["gen"] for h in got["hot_stocks"]}
            if len(gens) != 1:
                problems.append(f"{got['version']}: mixed generations {sorted(gens)}")
            seen_versions.add(got["version"])
            time.sleep(0.005)  # leave the GIL to the rebuilding thread now and then

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for gen in range(1, 21):
            mongo_db[C.MARKET_QUOTES].update_many({}, {"$set": {"gen": gen}})
            mongo_db[C.HOT_STOCKS].update_many({"trade_date": "2026-11-27"}, {"$set": {"gen": gen}})
            refresh_cache(mongo_db, redis_url, prefix=prefix, ttl_seconds=600)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert problems == []
    assert reads > 20 and len(seen_versions) > 5
    final = read_cached_set(redis_url, ["quotes", "hot_stocks"], prefix)
    assert {q["gen"] for q in final["quotes"].values()} == {20}
