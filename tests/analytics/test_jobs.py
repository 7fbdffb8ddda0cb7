"""The analysis jobs end to end on a seeded real store: results, idempotency, missing days."""

from __future__ import annotations

import numpy as np
import pytest
from analytics_seed import make_bars, make_index, news, trading_days
from ta_scheduler.analytics.jobs import (
    compute_hot_stocks,
    compute_indicators_for_date,
    compute_market_sentiment,
    compute_risk,
)
from ta_scheduler.analytics.stored_bars import BarsMissingError, latest_trade_date_with_bars
from ta_scheduler.constants import Collections as C

SYMBOLS = ["600000", "000001", "300750", "688981"]
DAYS = trading_days(80)
T = DAYS[-1]


@pytest.fixture
def store(mongo_db):
    bars = make_bars(SYMBOLS, DAYS)
    bars = [b for b in bars if not (b["symbol"] == "000001" and b["trade_date"] in DAYS[30:35])]  # suspended
    mongo_db[C.STOCK_DAILY_QUOTES].insert_many(bars)
    idx = 4000 * np.cumprod(1 + np.random.default_rng(3).normal(0, 0.01, len(DAYS)))
    mongo_db[C.INDEX_DAILY].insert_many(make_index(DAYS, idx))
    mongo_db[C.STOCK_BASIC_INFO].insert_many(
        [{"code": s, "symbol": s, "name": f"股票{s}", "source": "demo", "data_source": "demo"} for s in SYMBOLS]
    )
    mongo_db[C.STOCK_NEWS].insert_many([
        news("n1", T, 10, "公司股价涨停，业绩大幅增长", ["600000"]),
        news("n2", T, 11, "公司被立案调查，股价大跌", ["000001"]),
        news("n3", T, 9, "中标大额订单", ["600000", "300750"]),
        news("n4", T, 16, "盘后公告：大股东减持", ["688981"]),  # after the close: tomorrow's news
        news("n5", DAYS[-3], 10, "旧闻：股价涨停", ["600000"]),  # before the window
    ])
    mongo_db[C.PORTFOLIOS].insert_one({
        "portfolio_id": "p1", "name": "测试组合", "benchmark": "000300.SH",
        "holdings": [{"symbol": "600000", "weight": 0.6}, {"symbol": "300750", "weight": 0.4}],
    })
    return mongo_db


def test_jobs_name_the_missing_day(store):
    with pytest.raises(BarsMissingError, match=r"no daily bars for 2026-11-30 .*latest day with bars: 2026-11-27"):
        compute_indicators_for_date(store, "2026-11-30")
    for job in (compute_market_sentiment, compute_hot_stocks, compute_risk):
        with pytest.raises(BarsMissingError, match="2026-11-30"):
            job(store, "2026-11-30")


def test_latest_trade_date_with_bars(store):
    assert latest_trade_date_with_bars(store) == T
    assert latest_trade_date_with_bars(store, on_or_before=DAYS[10]) == DAYS[10]
    assert latest_trade_date_with_bars(store, on_or_before="2026-12-05") == T  # a weekend after the last day: probed
    assert latest_trade_date_with_bars(store, on_or_before="2027-03-01") == T  # beyond the probed days: the sort
    assert latest_trade_date_with_bars(store, on_or_before="2000-01-03") is None


def test_market_sentiment_job(store):
    out = compute_market_sentiment(store, T)
    doc = store[C.MARKET_SENTIMENT].find_one({"trade_date": T})
    bars = list(store[C.STOCK_DAILY_QUOTES].find({"trade_date": T}))
    assert doc["stocks"] == 4
    assert doc["advancers"] == sum(b["close"] > b["pre_close"] + 0.005 for b in bars)
    assert doc["limit_up"] == sum(b["close"] >= b["up_limit"] - 0.005 for b in bars)
    assert doc["amount_total"] == pytest.approx(sum(b["amount"] for b in bars))
    assert doc["news_count"] == 3  # n4 is after the close, n5 before the window
    per = {r["symbol"]: r for r in doc["stock_news_sentiment"]}
    assert per["600000"]["news_count"] == 2 and per["600000"]["sentiment"] > 0.5
    assert per["000001"]["sentiment"] < -0.5
    assert doc["sentiment_model"] == "lexicon-v1"
    assert (out["inserted"], out["updated"], out["unchanged"]) == (1, 0, 0)
    stored = list(store[C.MARKET_SENTIMENT].find())
    again = compute_market_sentiment(store, T)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 1)
    assert list(store[C.MARKET_SENTIMENT].find()) == stored  # whole documents, updated_at and _id included


def test_market_sentiment_uses_a_plugged_scorer(store):
    class Constant:
        name = "constant"

        def score(self, texts: list[str]) -> list[float]:
            return [0.25] * len(texts)

    compute_market_sentiment(store, T, scorer=Constant())
    doc = store[C.MARKET_SENTIMENT].find_one({"trade_date": T})
    assert doc["news_sentiment"] == 0.25 and doc["sentiment_model"] == "constant"


def test_hot_stocks_job_ranks_and_rerun_shrinks_cleanly(store):
    out = compute_hot_stocks(store, T, top_n=4)
    ranks = list(store[C.HOT_STOCKS].find({"trade_date": T}).sort("rank", 1))
    assert [d["rank"] for d in ranks] == [1, 2, 3, 4] and out["ranked"] == 4
    assert ranks[0]["hot_score"] >= ranks[1]["hot_score"] >= ranks[2]["hot_score"] >= ranks[3]["hot_score"]
    assert set(ranks[0]["components"]) == {"turnover", "volume_surge", "momentum", "limit_ups", "news_heat"}
    by_symbol = {d["symbol"]: d for d in ranks}
    assert by_symbol["600000"]["news_mentions"] == 2 and by_symbol["688981"]["news_mentions"] == 0
    assert by_symbol["600000"]["components"]["news_heat"] == 1.0
    again = compute_hot_stocks(store, T, top_n=4)
    assert (again["inserted"], again["updated"], again["unchanged"], again["stale_removed"]) == (0, 0, 4, 0)
    assert list(store[C.HOT_STOCKS].find({"trade_date": T}).sort("rank", 1)) == ranks  # whole documents
    compute_hot_stocks(store, T, top_n=2)
    assert store[C.HOT_STOCKS].count_documents({"trade_date": T}) == 2


def test_risk_job_for_stocks_and_portfolios(store):
    out = compute_risk(store, T, lookback=60, min_obs=40)
    assert out["stocks"] == 4 and out["portfolios"] == 1
    doc = store[C.RISK_ASSESSMENTS].find_one({"subject_type": "stock", "subject_id": "300750", "as_of": T})
    closes = np.array([d["unadj_close"] * d["adj_factor"] for d in sorted(
        store[C.STOCK_DAILY_QUOTES].find({"symbol": "300750"}), key=lambda d: d["trade_date"])][-61:])
    r = closes[1:] / closes[:-1] - 1
    assert doc["n_obs"] == 60
    assert doc["volatility_ann"] == pytest.approx(np.std(r, ddof=1) * np.sqrt(242), rel=1e-5)
    assert doc["var_95"] == pytest.approx(-np.sort(r)[2], abs=1e-6)  # k = ceil(0.05 × 60) = 3
    assert doc["cvar_95"] == pytest.approx(-np.sort(r)[:3].mean(), abs=1e-6)
    port = store[C.RISK_ASSESSMENTS].find_one({"subject_type": "portfolio", "subject_id": "p1"})
    assert port["benchmark"] == "000300.SH" and port["missing_symbols"] == []
    assert 0 < port["volatility_ann"] < 1 and port["beta"] is not None
    stored = list(store[C.RISK_ASSESSMENTS].find().sort("subject_id", 1))
    again = compute_risk(store, T, lookback=60, min_obs=40)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 5)
    assert list(store[C.RISK_ASSESSMENTS].find().sort("subject_id", 1)) == stored  # whole documents


def test_risk_job_needs_the_index_on_as_of(store):
    store[C.INDEX_DAILY].delete_many({"trade_date": T})
    with pytest.raises(BarsMissingError, match="000300.SH"):
        compute_risk(store, T, lookback=60)


def test_risk_on_a_new_deployment_waits_for_history_even_without_indices(store):
    """A first sync stores a few weeks of bars and one day of indices: risk skips, naming why,
    instead of failing on the index history it does not need yet."""
    store[C.INDEX_DAILY].delete_many({})
    out = compute_risk(store, T, lookback=250, min_obs=500)
    assert out["stocks"] == 0 and out["skipped"].startswith("only ") and out["skipped"].endswith("daily returns (< 500)")
    assert store[C.RISK_ASSESSMENTS].count_documents({}) == 0
