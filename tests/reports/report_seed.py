"""A small seeded market for the report tests: bars, indices, names and industries, news,
portfolios, and the analysis documents computed by the real analytics jobs."""

from __future__ import annotations

import numpy as np
from analytics.analytics_seed import make_bars, news, trading_days
from ta_scheduler.analytics.jobs import compute_hot_stocks, compute_indicators_for_date, compute_market_sentiment, compute_risk
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage import ledger

DAYS = trading_days(90, end="2026-11-27")
T = DAYS[-1]
INDUSTRIES = ["银行", "白酒", "半导体", "医药", "电力"]
SYMBOLS = [f"6000{i:02d}" for i in range(10)] + [f"0000{i:02d}" for i in range(1, 9)] + ["300750", "300059"]
NAMES = {s: f"测试{i:02d}号" for i, s in enumerate(SYMBOLS)} | {"600000": "浦发银行", "300750": "宁德时代"}
INDICES = {"000300.SH": ("沪深300", 3900.0), "000001.SH": ("上证指数", 3300.0),
           "399001.SZ": ("深证成指", 10500.0), "399006.SZ": ("创业板指", 2100.0)}
LIMIT_UP, LIMIT_DOWN = "600003", "000002"


def _set_last_close(bars: list[dict], symbol: str, price_of) -> None:
    bar = next(b for b in bars if b["symbol"] == symbol and b["trade_date"] == T)
    bar["close"] = bar["unadj_close"] = price_of(bar)  # the last day: qfq == unadjusted
    bar["high"], bar["low"] = max(bar["high"], bar["close"]), min(bar["low"], bar["close"])
    bar["unadj_high"], bar["unadj_low"] = bar["high"], bar["low"]
    bar["change"] = round(bar["close"] - bar["pre_close"], 2)
    bar["pct_chg"] = round((bar["close"] / bar["pre_close"] - 1) * 100, 4)
    bar["amount"] = bar["volume"] * bar["close"]


def seed_market(db, *, with_analysis: bool = True) -> None:
    bars = make_bars(SYMBOLS, DAYS, seed=11)
    _set_last_close(bars, LIMIT_UP, lambda b: b["up_limit"])
    _set_last_close(bars, LIMIT_DOWN, lambda b: b["down_limit"])
    db[C.STOCK_DAILY_QUOTES].insert_many(bars)
    record_seeded_days(db, DAYS, len(SYMBOLS))
    rng = np.random.default_rng(5)
    docs = []
    for code, (name, level) in INDICES.items():
        closes = level * np.cumprod(1 + rng.normal(0.0005, 0.01, len(DAYS)))
        for i, d in enumerate(DAYS):
            pct = None if i == 0 else round((closes[i] / closes[i - 1] - 1) * 100, 4)
            docs.append({"ts_code": code, "name": name, "trade_date": d, "close": round(float(closes[i]), 2),
                         "pct_chg": pct, "amount": 3e11, "data_source": "demo"})
    db[C.INDEX_DAILY].insert_many(docs)
    db[C.STOCK_BASIC_INFO].insert_many([
        {"code": s, "symbol": s, "name": NAMES[s], "industry": INDUSTRIES[i % len(INDUSTRIES)], "source": "demo", "data_source": "demo"}
        for i, s in enumerate(SYMBOLS)])
    db[C.STOCK_NEWS].insert_many([
        news("r1", T, 10, "宁德时代业绩大幅增长，股价涨停", ["300750"]),
        news("r2", T, 11, "某公司被立案调查", ["000002"]),
        news("r3", T, 9, "浦发银行中标大额订单", ["600000"]),
        news("r4", DAYS[-5], 10, "旧闻：不应出现在今日要闻", ["600001"]),
    ])
    if with_analysis:
        seed_analysis(db)


def record_seeded_days(db, days, stocks: int) -> None:
    """The ledger entries a sync would have written for the seeded days (bars, their adj factors,
    valuations and limit prices, the four indices)."""
    entries = [ledger.Entry(dataset, d, "complete", stocks, stocks, "demo") for d in days
               for dataset in ("daily_bars", "adj_factor", "daily_basic", "limit_prices")]
    entries += [ledger.Entry("index_bars", d, "complete", len(INDICES), len(INDICES), "demo") for d in days]
    ledger.record_many(db, entries)


def seed_analysis(db) -> None:
    """The day's analysis (indicators, market sentiment, hot stocks) by the analytics jobs."""
    compute_indicators_for_date(db, T)
    compute_market_sentiment(db, T)
    compute_hot_stocks(db, T, top_n=15)


def seed_portfolio(db, *, with_risk: bool = True) -> dict:
    portfolio = {"portfolio_id": "core", "name": "核心组合", "benchmark": "000300.SH",
                 "holdings": [{"symbol": "600000", "weight": 0.4}, {"symbol": "300750", "weight": 0.35},
                              {"symbol": "000001", "weight": 0.25}]}
    db[C.PORTFOLIOS].insert_one(dict(portfolio))
    if with_risk:
        compute_risk(db, T, lookback=80, min_obs=60)
    return portfolio
