"""Tushare tiers: the fake server refuses like tushare, the limiter (counts in Redis, shared by
every worker holding the token) keeps us under the tier's minute and day limits, and an endpoint
the token is refused is asked once a day, never again that day."""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import date

import pytest
from fakes.tushare_server import FakeTushareServer
from paths import PROJECT_DIR
from ta_scheduler.providers import PermissionDenied, ProviderConfigError, QuotaExceeded, RateLimitError
from ta_scheduler.providers.ratelimit import RateLimiter
from ta_scheduler.providers.tiers import TIERS
from ta_scheduler.providers.tushare_pro import TushareProvider
from ta_scheduler.storage.cache import RedisCallStore

DAY_S = 86_400.0
START = 1_795_000_000.0  # 2026-11-18 (a Wednesday) 19:06 Asia/Shanghai


class FakeClock:
    """Epoch seconds that move only when someone sleeps."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def token() -> str:
    return f"T{uuid.uuid4().hex}"  # its own Redis keys: tests never share counts


@pytest.fixture
def server(token):
    with FakeTushareServer(n_stocks=40, token=token) as srv:
        yield srv


def limiter(redis_url: str, token: str, clock: FakeClock, tier: str = "120", **kw) -> RateLimiter:
    return RateLimiter(tier=TIERS[tier], store=RedisCallStore(redis_url, token), clock=clock, sleep=clock.sleep, **kw)


def provider(server, redis_url, token, clock, tier="120", **kw) -> TushareProvider:
    return TushareProvider(token, server.url, limiter=limiter(redis_url, token, clock, tier), sleep=clock.sleep, **kw)


def test_two_workers_share_one_minute_window(redis_url, token):
    clock = FakeClock()
    a, b = limiter(redis_url, token, clock), limiter(redis_url, token, clock)
    for i in range(50):
        (a if i % 2 else b).acquire("daily")
    assert clock.slept == []
    b.acquire("daily")  # the 51st call of the minute, on either worker, waits for the window
    assert len(clock.slept) == 1 and 59.9 < clock.slept[0] < 60.1
    a.acquire("adj_factor")  # endpoints are counted separately
    assert len(clock.slept) == 1


def test_the_day_cap_is_shared_stops_before_tushare_and_resets_at_midnight(redis_url, token):
    clock = FakeClock()
    a = RateLimiter({"*": 50}, per_day={"total": 5}, store=RedisCallStore(redis_url, token), clock=clock, sleep=clock.sleep)
    b = RateLimiter({"*": 50}, per_day={"total": 5}, store=RedisCallStore(redis_url, token), clock=clock, sleep=clock.sleep)
    for lim in (a, a, a, b, b):
        lim.acquire("daily")
    assert a.remaining_today({"daily": 1}) == 0 == b.remaining_today()
    with pytest.raises(QuotaExceeded, match=r"all endpoints' 5 calls for 2026-11-18 .* are used up; stopped before "
                                            r"tushare refuses. Re-run after 00:00 Asia/Shanghai"):
        a.acquire("daily")
    clock.now += DAY_S
    assert a.acquire("daily") == 0.0 and b.remaining_today() == 4


def test_a_refused_endpoint_is_asked_once_a_day_by_all_workers(server, redis_url, token):
    server.set_tier(120)
    clock = FakeClock()
    first, second = provider(server, redis_url, token, clock), provider(server, redis_url, token, clock)
    with pytest.raises(PermissionDenied, match=r"^tushare adj_factor: no permission for endpoint 'adj_factor' "
                                               r"\(needs 2000 points\): 抱歉，您没有接口访问权限"):
        first.adj_factor("2026-11-18")
    with pytest.raises(PermissionDenied) as again:
        second.adj_factor("2026-11-17")  # another worker, another day's data: not asked
    assert str(again.value).startswith("tushare adj_factor: no permission")
    assert len(server.calls_to("adj_factor")) == 1 and server.refusals == [("adj_factor", "permission")]
    assert len(first.daily("2026-11-18")) == len(server.market.daily(date(2026, 11, 18)))  # what the tier grants works
    assert first.limiter.refused() == {"adj_factor": str(again.value)}
    clock.now += DAY_S  # a new day: the token may have been upgraded, so it is asked once more
    with pytest.raises(PermissionDenied):
        second.adj_factor("2026-11-18")
    assert len(server.calls_to("adj_factor")) == 2


@pytest.mark.parametrize(
    ("points", "extra", "granted", "refused"),
    [
        (120, set(), {"daily"}, {"stock_basic", "trade_cal", "adj_factor", "daily_basic", "stk_limit", "index_daily",
                                 "income", "income_vip", "news", "rt_k"}),
        (120, {"news"}, {"daily", "news"}, {"adj_factor", "rt_k"}),
        (2000, set(), {"daily", "stock_basic", "trade_cal", "adj_factor", "daily_basic", "stk_limit", "index_daily",
                       "income"}, {"income_vip", "news", "rt_k"}),
        (5000, set(), {"daily", "adj_factor", "income", "income_vip", "fina_indicator_vip"}, {"news", "rt_k"}),
    ],
)
def test_the_fake_server_grants_endpoints_by_tier(server, redis_url, token, points, extra, granted, refused):
    server.set_tier(points, permissions=extra)
    tp = TushareProvider(token, server.url, limiter=RateLimiter({"*": 10_000}))
    params = {"daily": {"trade_date": "20261118"}, "news": {"src": "sina", "start_date": "2026-11-18 09:00:00",
                                                            "end_date": "2026-11-18 10:00:00"}}
    for endpoint in sorted(granted):
        tp.call(endpoint, expect_rows=False, **params.get(endpoint, {"trade_date": "20261118"}))
    for endpoint in sorted(refused):
        with pytest.raises(PermissionDenied, match=f"^tushare {endpoint}: no permission"):
            tp.call(endpoint, expect_rows=False, **params.get(endpoint, {"trade_date": "20261118"}))
    assert sorted(server.refusals) == sorted((e, "permission") for e in refused)


def test_the_fake_server_enforces_the_minute_and_day_limits_with_tushare_texts(server, token):
    server.set_tier(120)
    clock = FakeClock()
    server.clock = clock
    unlimited = TushareProvider(token, server.url, limiter=RateLimiter({"*": 10_000}, clock=clock), max_attempts=1)
    for _ in range(50):
        unlimited.call("daily", trade_date="20261118")
    with pytest.raises(RateLimitError, match=r"rate limit \(50/min\): 抱歉，您每分钟最多访问该接口50次，权限的具体详情访问"):
        unlimited.call("daily", trade_date="20261118")
    clock.now += 60
    server.spend(8000 - 51)  # the rest of the day went to another program with the same token
    unlimited.call("daily", trade_date="20261118")
    with pytest.raises(QuotaExceeded, match=r"quota used up \(抱歉，您每天最多访问该接口8000次"):
        unlimited.call("daily", trade_date="20261118")
    assert server.refusals == [("daily", "rate_limit"), ("daily", "daily_quota")]


def test_the_tier_setting(monkeypatch):
    from ta_scheduler.providers.tiers import configured_tier

    monkeypatch.delenv("TA_TUSHARE_RATE_LIMITS", raising=False)
    monkeypatch.delenv("TA_TUSHARE_DAILY_LIMITS", raising=False)
    monkeypatch.setenv("TA_TUSHARE_TIER", "120")
    t = configured_tier()
    assert (t.name, t.minute_limit("daily"), t.minute_limit("index_daily"), t.day_limit("daily"), dict(t.per_day),
            t.pool_slots) == ("120", 50, 50, None, {"total": 8000}, 1)
    monkeypatch.setenv("TA_TUSHARE_TIER", "5000")
    t = configured_tier()
    assert (t.minute_limit("daily"), t.minute_limit("stock_basic"), dict(t.per_day), t.pool_slots) == (500, 50, {}, 8)
    monkeypatch.setenv("TA_TUSHARE_TIER", "custom")
    monkeypatch.setenv("TA_TUSHARE_RATE_LIMITS", '{"daily": 80, "*": 20}')
    monkeypatch.setenv("TA_TUSHARE_DAILY_LIMITS", '{"total": 3000}')
    t = configured_tier()
    assert (t.minute_limit("daily"), t.minute_limit("adj_factor"), dict(t.per_day)) == (80, 20, {"total": 3000})
    monkeypatch.setenv("TA_TUSHARE_TIER", "300")
    with pytest.raises(ProviderConfigError, match=r"tushare tier '300': unknown; use one of 120, 2000, 5000, custom"):
        configured_tier()


@pytest.mark.parametrize("tier", ["120", "2000", "5000", "custom"])
def test_the_airflow_pool_is_sized_from_the_tier(tier):
    env = {k: v for k, v in os.environ.items() if k != "TA_TUSHARE_POOL_SLOTS"} | {"TA_TUSHARE_TIER": tier}
    out = subprocess.run(["bash", "-c", f". {PROJECT_DIR}/scripts/env.sh && echo $TA_TUSHARE_POOL_SLOTS"],
                         env=env, capture_output=True, text=True, check=True).stdout.split()[-1]
    assert int(out) == TIERS[tier].pool_slots
