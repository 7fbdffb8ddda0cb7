"""Forward-adjusted daily prices (docs/data-model.md "Prices"): qfq in open..pre_close, the exchange's
prices in unadj_*, the whole history of a stock rebased in the run that brings its new factor."""

from __future__ import annotations

import pandas as pd
import pytest
from ta_scheduler.constants import Collections as C
from ta_scheduler.providers.demo import DemoProvider
from ta_scheduler.storage.mongo import ensure_indexes
from ta_scheduler.sync import sync_daily_bars, sync_stock_basic

# In the synthetic market 4 stocks go ex-dividend on 2026-05-20 (their adj_factor changes that day).
BEFORE, EX_DAY, OLDER = ["2026-05-18", "2026-05-19"], "2026-05-20", "2026-05-15"
PRICES = ("open", "high", "low", "close", "pre_close")


@pytest.fixture
def db(mongo_db):
    ensure_indexes(mongo_db, [C.STOCK_BASIC_INFO, C.STOCK_DAILY_QUOTES, C.QUARANTINE, C.SYNC_STATE])
    return mongo_db


@pytest.fixture
def demo():
    return DemoProvider(300)


def _factors(provider, day: str) -> dict[str, float]:
    f = provider.adj_factor(day)
    return dict(zip(f["ts_code"].str[:6], f["adj_factor"], strict=True))


def _bars(db) -> list[dict]:
    return sorted(db[C.STOCK_DAILY_QUOTES].find({}), key=lambda d: d["_id"])


def _expected_qfq(bar: dict, base: float) -> dict[str, float]:
    return {p: round(bar[f"unadj_{p}"] * bar["adj_factor"] / base + 1e-9, 2) for p in PRICES}


def test_an_ex_dividend_day_rebases_the_stocks_whole_history(db, demo):
    sync_stock_basic(demo, db)
    for day in BEFORE:
        sync_daily_bars(demo, db, day)
    before, ex = _factors(demo, BEFORE[-1]), _factors(demo, EX_DAY)
    moved = sorted(c for c in ex if ex[c] != before.get(c, ex[c]))
    assert len(moved) == 4
    assert all(b["close"] == b["unadj_close"] for b in _bars(db))  # one factor so far: qfq == unadjusted

    sync_daily_bars(demo, db, EX_DAY)
    for bar in _bars(db):
        base = ex[bar["symbol"]]
        assert bar["qfq_base_factor"] == base and bar["adjustflag"] == 2.0 and bar["price_adjust"] == "qfq"
        assert {p: bar[p] for p in PRICES} == _expected_qfq(bar, base), bar["_id"]
        raw = demo.daily(bar["trade_date"]).set_index("code").loc[bar["symbol"]]
        assert {p: bar[f"unadj_{p}"] for p in PRICES} == {p: raw[p] for p in PRICES}  # the exchange's prices kept
    history = [b for b in _bars(db) if b["symbol"] in moved and b["trade_date"] in BEFORE]
    assert len(history) == 8 and all(b["close"] < b["unadj_close"] for b in history)  # dividends lower the past


def test_rerunning_the_ex_day_or_losing_the_cache_changes_nothing(db, demo):
    sync_stock_basic(demo, db)
    for day in [*BEFORE, EX_DAY]:
        sync_daily_bars(demo, db, day)
    stored = _bars(db)

    assert sync_daily_bars(demo, db, EX_DAY)["unchanged"] == 300
    assert _bars(db) == stored  # updated_at included
    db[C.SYNC_STATE].delete_one({"job": "qfq_base"})
    sync_daily_bars(demo, db, EX_DAY)
    assert _bars(db) == stored


def test_a_backfilled_older_day_is_adjusted_to_the_current_base(db, demo):
    sync_stock_basic(demo, db)
    for day in [*BEFORE, EX_DAY]:
        sync_daily_bars(demo, db, day)
    newest = _factors(demo, EX_DAY)

    sync_daily_bars(demo, db, OLDER)
    older = list(db[C.STOCK_DAILY_QUOTES].find({"trade_date": OLDER}))
    assert len(older) == 300
    for bar in older:
        assert bar["qfq_base_factor"] == newest[bar["symbol"]]
        assert {p: bar[p] for p in PRICES} == _expected_qfq(bar, newest[bar["symbol"]])
    # the newest bars were not rebased to the older day's factor
    assert all(b["close"] == b["unadj_close"] for b in db[C.STOCK_DAILY_QUOTES].find({"trade_date": EX_DAY}))


class NoAdjFactorProvider(DemoProvider):
    """An account without the adj_factor permission: no factors at all."""

    def adj_factor(self, trade_date: str) -> pd.DataFrame:
        return pd.DataFrame(columns=["ts_code", "trade_date", "adj_factor"])


def test_without_adj_factor_prices_are_stored_unadjusted_and_flagged(db):
    provider = NoAdjFactorProvider(300)
    sync_stock_basic(provider, db)
    for day in [*BEFORE, EX_DAY]:
        sync_daily_bars(provider, db, day)
    bars = _bars(db)
    assert len(bars) == 900
    for bar in bars:
        assert {p: bar[p] for p in PRICES} == {p: bar[f"unadj_{p}"] for p in PRICES}
        assert bar["adj_factor"] is None and bar["qfq_base_factor"] is None
        assert bar["adjustflag"] == 3.0 and bar["price_adjust"] == "none"


def test_valuation_in_stock_basic_info_in_its_units_newest_day_wins(db, demo):
    sync_stock_basic(demo, db)
    sync_daily_bars(demo, db, EX_DAY)
    sync_daily_bars(demo, db, OLDER)  # a backfill must not overwrite the newer valuation
    basic = demo.daily_basic(EX_DAY).set_index("ts_code")
    listed = demo.stock_basic().set_index("code")
    for doc in db[C.STOCK_BASIC_INFO].find({}):
        row = basic.loc[doc["ts_code"]]
        assert doc["valuation_date"] == EX_DAY.replace("-", "")
        assert doc["total_mv"] == pytest.approx(row["total_mv"] / 1e8) and doc["circ_mv"] == pytest.approx(row["circ_mv"] / 1e8)
        assert doc["total_share"] == pytest.approx(row["total_share"] / 1e4)
        assert doc["float_share"] == pytest.approx(row["float_share"] / 1e4)
        assert doc["pe_ttm"] == (None if pd.isna(row["pe_ttm"]) else row["pe_ttm"])
        assert (doc["pb"], doc["pb_mrq"], doc["ps"], doc["ps_ttm"]) == (row["pb"], row["pb"], row["ps"], row["ps_ttm"])
        assert doc["is_hs"] is (doc["hs_type"] in ("H", "S"))
        assert doc["list_date"] == listed.loc[doc["code"], "list_date"].replace("-", "")
