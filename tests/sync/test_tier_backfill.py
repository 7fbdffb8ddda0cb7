"""A backfill on a 120-point token: the fake tushare enforces the tier on a fake clock shared with
the limiter (counts in the real Redis), so minutes pass without waiting. The backfill says its
cost up front, stays under 50 calls a minute, asks each refused endpoint once, and stops between
days at the daily cap, to finish after midnight with only the missing days."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from fakes.tushare_server import FakeTushareServer
from ta_scheduler.constants import Collections as C
from ta_scheduler.providers import QuotaExceeded
from ta_scheduler.providers.ratelimit import RateLimiter
from ta_scheduler.providers.synthetic import TZ
from ta_scheduler.providers.tiers import TIERS
from ta_scheduler.providers.tushare_pro import TushareProvider
from ta_scheduler.storage import ledger
from ta_scheduler.storage.cache import RedisCallStore
from ta_scheduler.sync.bars import backfill_daily

REFUSED = {"adj_factor": "adj_factor", "daily_basic": "daily_basic", "stk_limit": "limit_prices"}


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now.timestamp()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def token() -> str:
    return f"T{uuid.uuid4().hex}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 18, 17, 0, tzinfo=TZ))


@pytest.fixture
def server(token, clock):
    with FakeTushareServer(n_stocks=30, token=token) as srv:
        srv.set_tier(120)
        srv.clock = clock
        yield srv


@pytest.fixture
def provider(server, token, clock, redis_url):
    limiter = RateLimiter(tier=TIERS["120"], store=RedisCallStore(redis_url, token), clock=clock, sleep=clock.sleep)
    return TushareProvider(token, server.url, limiter=limiter, sleep=clock.sleep)


def sessions(server, last: date, n: int) -> list[str]:
    out, d = [], last
    while len(out) < n:
        if server.market.is_session(d):
            out.append(d.isoformat())
        d -= timedelta(days=1)
    return out[::-1]


def busiest_minute(times: list[float]) -> int:
    """Most calls in any 60 s window (sliding, starting at each call)."""
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u - t < 60.0) for i, t in enumerate(times)), default=0)


def marked_days(db) -> list[str]:
    return sorted(d["trade_date"] for d in db[C.SYNC_STATE].find({"job": "daily_bars"}))


def test_a_120_point_backfill_says_its_cost_and_stays_under_50_calls_a_minute(server, provider, clock, mongo_db):
    days = sessions(server, date(2026, 11, 18), 80)
    started = clock.now
    summary = backfill_daily(provider, mongo_db, days)

    assert summary["plan"] == {"days": 80, "tier": "120", "calls": 320, "minutes": 1.6, "calls_left_today": 8000,
                               "days_today": 80}
    assert summary["fetched"] == days and marked_days(mongo_db) == days
    assert Counter(name for name, _ in server.calls) == {"daily": 80, "adj_factor": 1, "daily_basic": 1, "stk_limit": 1}
    assert server.refusals == [("adj_factor", "permission"), ("daily_basic", "permission"), ("stk_limit", "permission")]
    assert busiest_minute([t for name, t in server.call_times if name == "daily"]) == 50
    assert 60.0 <= clock.now - started < 61.0  # the 51st call waited for the minute, once
    bars = list(mongo_db[C.STOCK_DAILY_QUOTES].find({"trade_date": days[-1]}))
    assert bars and {(b["adj_factor"], b["pe"], b["up_limit"]) for b in bars} == {(None, None, None)}
    grid = ledger.grid(mongo_db, days, list(REFUSED.values()))
    assert grid == {dataset: {d: "not_permitted" for d in days} for dataset in REFUSED.values()}
    doc = mongo_db[ledger.COLLECTION].find_one({"_id": f"limit_prices|{days[0]}"})
    assert isinstance(doc.pop("updated_at"), datetime)
    assert doc == {"_id": f"limit_prices|{days[0]}", "dataset": "limit_prices", "period": days[0],
                   "state": "not_permitted", "expected": None, "stored": None, "data_source": "tushare",
                   "reason": "tushare stk_limit: no permission for endpoint 'stk_limit' (needs 2000 points): "
                             "抱歉，您没有接口访问权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"}


def test_a_120_point_backfill_stops_between_days_at_the_daily_cap_and_resumes_after_midnight(
        server, provider, clock, mongo_db):
    for _ in range(7990):  # earlier today this token made 7,990 calls through the project
        provider.limiter.acquire("daily")
    server.spend(7990)
    days = sessions(server, date(2026, 11, 18), 20)

    with pytest.raises(QuotaExceeded, match=r"^tushare backfill: stopped at today's call cap before "
                                            rf"{days[7]} \(0 calls left, a day needs 1\); 7 of 20 days stored. Re-run"):
        backfill_daily(provider, mongo_db, days)
    # the first day asked all four endpoints (three refused), the next six only daily: 10 calls
    assert marked_days(mongo_db) == days[:7]
    assert set(mongo_db[C.STOCK_DAILY_QUOTES].distinct("trade_date")) == set(days[:7])
    assert [kind for _, kind in server.refusals] == ["permission"] * 3  # tushare never said "quota"
    assert provider.limiter.remaining_today() == 0

    clock.now = datetime(2026, 11, 19, 9, 0, tzinfo=TZ).timestamp()
    summary = backfill_daily(provider, mongo_db, days)
    assert summary["skipped"] == 7 and summary["fetched"] == days[7:]
    assert summary["plan"] == {"days": 13, "tier": "120", "calls": 52, "minutes": 0.3, "calls_left_today": 8000,
                               "days_today": 13}
    assert marked_days(mongo_db) == days
    assert [kind for _, kind in server.refusals] == ["permission"] * 6  # asked once more on the new day
