"""The synthetic market: deterministic, chained day to day, within the exchanges' price limits."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from ta_scheduler.providers.demo import DemoProvider
from ta_scheduler.providers.synthetic import SyntheticMarket

TZ = ZoneInfo("Asia/Shanghai")


def test_same_date_gives_the_same_data():
    a, b = DemoProvider(300), DemoProvider(300)
    for method in ("daily", "adj_factor", "daily_basic", "stk_limit"):
        pd.testing.assert_frame_equal(getattr(a, method)("2026-11-27"), getattr(b, method)("2026-11-27"))
    pd.testing.assert_frame_equal(a.stock_basic(), b.stock_basic())


def test_a_days_pre_close_is_the_previous_close_adjusted_on_ex_dates():
    demo = DemoProvider(300)
    prev, today = demo.daily("2026-09-30").set_index("ts_code"), demo.daily("2026-10-08").set_index("ts_code")
    adj_prev = demo.adj_factor("2026-09-30").set_index("ts_code").adj_factor
    adj_today = demo.adj_factor("2026-10-08").set_index("ts_code").adj_factor
    same_factor = (adj_prev == adj_today).reindex(today.index)
    assert (today.pre_close[same_factor] == prev.close.reindex(today.index)[same_factor]).all()


def test_closes_stay_within_limits_and_limit_days_happen_on_every_board():
    market = SyntheticMarket(1000)
    hits: dict[str, int] = {}
    d = date(2025, 1, 2)
    while d <= date(2025, 12, 31):
        if market.is_session(d):
            bars = market.daily(d)
            up, down = (x[market.listed(d)] for x in market.limits(d))
            close = bars.close.to_numpy()
            assert ((close <= up + 1e-9) & (close >= down - 1e-9)).all(), d
            assert (bars.high >= bars.low).all() and (bars.high >= bars.close).all() and (bars.low <= bars.close).all()
            boards = market.universe.boards[market.listed(d)]
            st = market.universe.is_st[market.listed(d)]
            for name in np.unique(boards[np.isclose(close, up)]):
                hits[name] = hits.get(name, 0) + 1
            if np.isclose(close, up)[st].any():
                hits["ST"] = hits.get("ST", 0) + 1
        d = date.fromordinal(d.toordinal() + 1)
    assert set(hits) >= {"主板", "创业板", "科创板", "北交所", "ST"}


def test_market_has_every_board_chinese_names_and_famous_codes():
    basic = DemoProvider(300).stock_basic()
    assert set(basic.market) == {"主板", "创业板", "科创板", "北交所"}
    assert set(basic.exchange) == {"SSE", "SZSE", "BSE"}
    assert basic.code.is_unique and basic.name.is_unique
    assert basic.set_index("code").loc["600000", "name"] == "浦发银行"
    assert basic.name.str.contains("ST").any()


def test_the_close_quote_equals_the_daily_bar():
    demo = DemoProvider(300)
    quotes = demo.realtime_quotes(at=datetime(2026, 11, 27, 15, 0, tzinfo=TZ)).set_index("code")
    bars = demo.daily("2026-11-27").set_index("code")
    assert (quotes.price == bars.close.reindex(quotes.index)).all()
    assert (quotes.volume == bars.volume.reindex(quotes.index)).all()


def test_news_names_stocks_and_is_deterministic():
    demo = DemoProvider(300)
    start, end = datetime(2026, 11, 27, 9, tzinfo=TZ), datetime(2026, 11, 27, 12, tzinfo=TZ)
    a, b = demo.news(start, end), demo.news(start, end)
    pd.testing.assert_frame_equal(a, b)
    names = set(demo.stock_basic().name)
    assert len(a) >= 6 and all(any(n in t for n in names) for t in a.title)
