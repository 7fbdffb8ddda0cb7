"""The tushare provider through the real SDK against the local fake: units, errors, retries."""

from __future__ import annotations

import pandas as pd
import pytest
from fakes import TEST_TOKEN
from ta_scheduler.providers import (
    EmptyResponse,
    InvalidToken,
    PermissionDenied,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimitError,
    get_provider,
)
from ta_scheduler.providers.demo import DemoProvider
from ta_scheduler.providers.ratelimit import RateLimiter
from ta_scheduler.providers.tiers import parse_limits
from ta_scheduler.providers.tushare_pro import REALTIME_PATTERNS, TushareProvider, classify_error

DAY = "2026-11-27"


@pytest.mark.parametrize("method", ["daily", "adj_factor", "daily_basic", "stk_limit"])
def test_whole_market_frames_are_converted_to_our_units(make_tushare, method):
    """Lots -> shares, thousand yuan -> yuan, 万 -> units: the tushare round trip equals the demo market."""
    got = getattr(make_tushare(), method)(DAY).sort_values("ts_code").reset_index(drop=True)
    want = getattr(DemoProvider(300), method)(DAY).sort_values("ts_code").reset_index(drop=True)[got.columns]
    assert len(got) == 300
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_daily_is_one_whole_market_call_by_trade_date(make_tushare, tushare_server):
    make_tushare().daily(DAY)
    assert tushare_server.calls_to("daily") == [{"trade_date": "20261127"}]


def test_rate_limit_is_retried_after_waiting(make_tushare, tushare_server):
    provider = make_tushare(rate_limit_wait=61)
    tushare_server.inject("daily", "rate_limit", times=2)
    frame = provider.daily(DAY)
    assert len(frame) == 300
    assert provider.slept == [61, 61]


def test_rate_limit_gives_up_after_max_attempts(make_tushare, tushare_server):
    tushare_server.inject("daily", "rate_limit", times=5)
    with pytest.raises(RateLimitError, match=r"tushare daily trade_date=20261127: rate limit \(500/min\)"):
        make_tushare(max_attempts=3).daily(DAY)


def test_daily_quota_fails_fast(make_tushare, tushare_server):
    tushare_server.inject("daily", "daily_quota")
    provider = make_tushare()
    with pytest.raises(QuotaExceeded, match="quota used up"):
        provider.daily(DAY)
    assert provider.slept == []


def test_permission_error_fails_fast_naming_the_endpoint(make_tushare, tushare_server):
    tushare_server.inject("index_daily", "permission", times=10)
    provider = make_tushare()
    with pytest.raises(PermissionDenied, match="no permission for endpoint 'index_daily' \\(needs 2000 points\\)"):
        provider.index_daily(["000300.SH"], DAY, DAY)
    assert len(tushare_server.calls_to("index_daily")) == 1


def test_bad_token_fails_fast(tushare_server):
    tushare_server.reset()
    provider = TushareProvider("WRONG", tushare_server.url, limiter=RateLimiter({"*": 1000}), sleep=lambda s: None)
    with pytest.raises(InvalidToken, match="token was rejected"):
        provider.stock_basic()
    assert tushare_server.calls == [] and [name for name, _ in tushare_server.foreign_calls] == ["stock_basic"]


def test_http_500_is_not_mistaken_for_an_empty_day(make_tushare, tushare_server):
    tushare_server.inject("daily", "http500", times=10)
    provider = make_tushare(max_attempts=3, backoff=0.5)
    with pytest.raises(ProviderUnavailable, match="HTTP error"):
        provider.daily(DAY)
    assert provider.slept == [0.5, 1.0]


def test_http_500_once_then_success(make_tushare, tushare_server):
    tushare_server.inject("adj_factor", "http500")
    assert len(make_tushare().adj_factor(DAY)) == 300


def test_empty_reply_for_a_trading_day_is_an_error(make_tushare):
    with pytest.raises(EmptyResponse, match="empty reply where rows were due"):
        make_tushare(max_attempts=1).daily("2026-10-01")  # National Day: the server has no rows


def test_realtime_quotes_cover_the_whole_market_in_batches(make_tushare, tushare_server):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    tushare_server.now = datetime(2026, 11, 27, 10, 35, tzinfo=ZoneInfo("Asia/Shanghai"))
    frame = make_tushare().realtime_quotes()
    assert len(frame) == 300 and frame["code"].is_unique
    assert len(tushare_server.calls_to("rt_k")) == len(REALTIME_PATTERNS) == 9
    assert frame["quote_time"].iloc[0].isoformat() == "2026-11-27T10:35:00+08:00"


def test_financial_statements_by_announcement_day(make_tushare, tushare_server):
    frame = make_tushare().financial_statements("income", "2026-10-19", "2026-10-20")
    assert [p["ann_date"] for p in tushare_server.calls_to("income_vip")] == ["20261019", "20261020"]
    assert set(frame["ann_date"]) <= {"2026-10-19", "2026-10-20"} and len(frame) > 0
    assert set(frame["report_period"]) == {"2026-09-30"}


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("抱歉，您每分钟最多访问该接口200次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。", RateLimitError),
        ("抱歉，您每天最多访问该接口2次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。", QuotaExceeded),
        ("抱歉，您没有访问该接口的权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。", PermissionDenied),
        ("抱歉，您没有接口访问权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。", PermissionDenied),
        ("您的token不对，请确认。", InvalidToken),
    ],
)
def test_error_texts_are_classified(message, kind):
    err = classify_error("daily", "trade_date=20261127", message)
    assert type(err) is kind
    # a refusal is the token's, whatever the input: its text names the endpoint and its points only
    prefix = "tushare daily: no permission for endpoint 'daily' (needs 120 points): " if kind is PermissionDenied \
        else "tushare daily trade_date=20261127:"
    assert str(err).startswith(prefix)


def test_local_limiter_spaces_calls_within_the_window():
    now = [0.0]
    slept: list[float] = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    limiter = RateLimiter({"stock_basic": 2}, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire("stock_basic")
    assert len(slept) == 1 and 59.9 < slept[0] < 60.1


def test_rate_limit_config_is_validated():
    assert parse_limits('{"daily": 300, "*": 50}', "env") == {"daily": 300, "*": 50}
    with pytest.raises(Exception, match="positive integer"):
        parse_limits('{"daily": -1}', "env TA_TUSHARE_RATE_LIMITS")


def test_provider_selection(monkeypatch, tushare_server):
    monkeypatch.delenv("TUSHARE_TOKEN", raising=False)
    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    assert get_provider().name == "demo"
    monkeypatch.setenv("TA_DATA_PROVIDER", "tushare")
    monkeypatch.setenv("TUSHARE_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("TUSHARE_API_URL", tushare_server.url)
    provider = get_provider()
    assert provider.name == "tushare" and provider.url == tushare_server.url
    monkeypatch.setenv("TA_DATA_PROVIDER", "bogus")
    with pytest.raises(Exception, match="unknown provider"):
        get_provider()
