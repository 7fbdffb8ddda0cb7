from __future__ import annotations

import pytest

from fakes.tushare_server import FakeTushareServer


@pytest.fixture(scope="module")
def tushare_server():
    """The local tushare fake (300 synthetic stocks) for this module."""
    with FakeTushareServer(n_stocks=300) as server:
        yield server


@pytest.fixture
def make_tushare(tushare_server):
    """Build a TushareProvider on the real SDK pointed at the fake; sleeps are recorded, not slept."""
    from ta_scheduler.providers.ratelimit import RateLimiter
    from ta_scheduler.providers.tushare_pro import TushareProvider

    def make(**kwargs):
        slept: list[float] = []
        kwargs.setdefault("limiter", RateLimiter({"*": 10_000}))
        provider = TushareProvider("TESTTOKEN", tushare_server.url, sleep=slept.append, **kwargs)
        provider.slept = slept
        return provider

    tushare_server.reset()
    return make
