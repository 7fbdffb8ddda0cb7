"""The window jobs (sentiment: 61 days, risk: lookback + 1) read past days from their column
documents: the stored documents equal, whole, the ones computed from every bar of the window, on
a market with suspensions, a listing inside the window, an ex-rights day, missing factors and
limit prices, on first runs, re-runs, past days, re-synced and repaired days; and a normal day
reads only that day's bars (counted on the wire)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest
from analytics_seed import make_index, news, trading_days
from pymongo import monitoring
from ta_scheduler.analytics.bar_columns import COLUMN_FIELDS, invalidate_bar_columns
from ta_scheduler.analytics.jobs import compute_market_sentiment, compute_risk
from ta_scheduler.analytics.stored_bars import RAW_PRICE_FIELDS, window_span
from ta_scheduler.analytics.tasks import recompute_after_repair
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.writes import write_docs
from undecodable import insert_undecodable

DAYS = trading_days(130)
T = DAYS[-1]
LOOKBACK = 100  # risk: 101 days, longer than sentiment's 61, so risk reads days sentiment never did
SUSPENDED, NEW, EX, GAPPY, ST, UNADJUSTED = "600003", "600004", "600001", "000002", "600006", "000003"
SYMBOLS = ["000001", GAPPY, UNADJUSTED, "300001", "300002", "600000", EX, "600002", SUSPENDED, NEW, "600005", ST,
           "688001", "830001"]
EX_DAY = DAYS[110]  # 10送10: the price halves, adj_factor doubles (inside both windows of T)


def _bar(rng, sym: str, day: str, pre: float, adj: float | None) -> dict:
    close = round(max(pre * (1 + rng.normal(0.0, 0.035)), 1.0), 2)
    limit = 0.2 if sym.startswith(("300", "688")) else 0.3 if sym.startswith("83") else 0.05 if sym == ST else 0.1
    up, down = round(pre * (1 + limit), 2), round(pre * (1 - limit), 2)
    if rng.random() < 0.08:  # locked at a limit
        close = up if rng.random() < 0.5 else down
    close = min(max(close, down), up)
    high = round(max(close, pre) * (1 + abs(rng.normal(0, 0.01))), 2)
    low = round(min(close, pre) * (1 - abs(rng.normal(0, 0.01))), 2)
    volume = float(int(rng.uniform(1e5, 5e6)))
    doc = {"symbol": sym, "code": sym, "trade_date": day, "period": "daily", "data_source": "demo", "volume": volume,
           "amount": volume * close, RAW_PRICE_FIELDS["open"]: pre, RAW_PRICE_FIELDS["high"]: min(high, up),
           RAW_PRICE_FIELDS["low"]: max(low, down), RAW_PRICE_FIELDS["close"]: close, RAW_PRICE_FIELDS["pre_close"]: pre}
    if adj is not None:
        doc[RAW_PRICE_FIELDS["adj_factor"]] = adj
    if sym != "000001":  # 000001 has no limit prices stored: the board's rule applies
        doc["up_limit"], doc["down_limit"] = up, down
    return doc


def _skipped(sym: str, i: int, rng) -> bool:
    return (sym == SUSPENDED and 90 <= i < 101) or (sym == NEW and i < 100) or rng.random() < 0.03


def market() -> list[dict]:
    """Stored bars (unadjusted prices under the stored names, adj_factor, amount, limits): random
    walks; 600003 suspended on days 90–100, 600004 listed on day 100, 600001 ex-rights on day
    110, 000002 without adj_factor on some days (the previous factor applies), 000003 without
    any, 000001 without limit prices, a few random days missing."""
    rng = np.random.default_rng(5)
    docs = []
    for k, sym in enumerate(SYMBOLS):
        price, adj = float(rng.uniform(3, 80)), 1.0 + k / 7
        for i, day in enumerate(DAYS):
            if _skipped(sym, i, rng):
                continue
            if sym == EX and day == EX_DAY:
                price, adj = round(price / 2, 2), adj * 2
            factor = None if sym == UNADJUSTED or (sym == GAPPY and i % 9 == 4) else adj
            doc = _bar(rng, sym, day, price, factor)
            docs.append(doc)
            price = doc[RAW_PRICE_FIELDS["close"]]
    return docs


BARS = market()


def store_bars(db, docs: list[dict]) -> None:
    write_docs(db[C.STOCK_DAILY_QUOTES], docs, mode="replace", partition=("trade_date", "data_source"))


def seed(db) -> None:
    store_bars(db, BARS)
    closes = 4000 * np.cumprod(1 + np.random.default_rng(3).normal(0, 0.01, len(DAYS)))
    db[C.INDEX_DAILY].insert_many(make_index(DAYS, closes))
    db[C.STOCK_BASIC_INFO].insert_many([{"code": s, "symbol": s, "name": "ST 某某" if s == ST else f"股票{s}",
                                         "source": "demo", "data_source": "demo"} for s in SYMBOLS])
    db[C.STOCK_NEWS].insert_many([news("n1", T, 10, "公司股价涨停，业绩大幅增长", ["600000"]),
                                  news("n2", DAYS[-2], 11, "公司被立案调查", [EX])])
    db[C.PORTFOLIOS].insert_one({"portfolio_id": "p1", "name": "组合", "benchmark": "000300.SH",
                                 "holdings": [{"symbol": NEW, "weight": 0.5}, {"symbol": EX, "weight": 0.5}]})


class BarReads(monitoring.CommandListener):
    """Counts the ``stock_daily_quotes`` documents the store sends (find, aggregate and getMore
    replies; the one document ``count_documents`` receives is a number, not a bar)."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event) -> None:
        pass

    def succeeded(self, event) -> None:
        cursor = event.reply.get("cursor") if isinstance(event.reply, Mapping) else None
        if cursor and str(cursor.get("ns", "")).endswith("." + C.STOCK_DAILY_QUOTES):
            batch = cursor.get("firstBatch") or cursor.get("nextBatch") or []
            self.count += sum(1 for d in batch if set(d) != {"_id", "n"})  # not count_documents' answer

    def failed(self, event) -> None:
        pass


@pytest.fixture
def counted(mongo_target):
    """``(db, reads)``: the test store through a client that counts the bar documents it receives."""
    from pymongo import MongoClient

    reads = BarReads()
    client = MongoClient(mongo_target.uri, event_listeners=[reads], tz_aware=True, retryWrites=False)
    db = client[mongo_target.database]
    seed(db)
    reads.count = 0
    yield db, reads
    client.close()


def _column_days(db) -> list[str]:
    return sorted(d["_id"] for d in db[C.DAILY_BAR_COLUMNS].find({}, {"_id": 1}))


def _span_days(day: str, n_days: int) -> list[str]:
    """The days with bars from the start of ``day``'s window span up to the last day."""
    return [d for d in DAYS if d >= window_span(day, n_days)[0]]


def _bars_on(day: str) -> int:
    return sum(1 for b in BARS if b["trade_date"] == day)


def _sentiment(db, day: str, **kw) -> dict:
    return compute_market_sentiment(db, day, **kw)


def _risk(db, day: str, **kw) -> dict:
    return compute_risk(db, day, LOOKBACK, min_obs=40, **kw)


def _stored(db) -> dict[str, list[dict]]:
    return {c: list(db[c].find().sort("_id", 1)) for c in (C.MARKET_SENTIMENT, C.RISK_ASSESSMENTS)}


def assert_same_as_every_bar(db, job, day: str) -> None:
    """``job`` on ``day`` from every bar of its window rewrites nothing: the stored documents are
    the ones it computes, whole (``updated_at`` and ``_id`` included)."""
    before = _stored(db)
    out = job(db, day, from_columns=False)
    assert out["inserted"] == out["updated"] == 0, (day, out)
    assert _stored(db) == before


def test_the_market_has_what_the_windows_must_survive():
    window = set(DAYS[-61:])
    days_of = {s: [b["trade_date"] for b in BARS if b["symbol"] == s] for s in SYMBOLS}
    assert days_of[NEW][0] in window and days_of[NEW][0] != DAYS[-61]  # listed inside the window
    assert len(window - set(days_of[SUSPENDED])) >= 10 and days_of[SUSPENDED][-1] == T  # suspended, then back
    factors = [b.get("adj_factor") for b in BARS if b["symbol"] == EX and b["trade_date"] in window]
    assert len(set(factors)) == 2
    assert any(b.get("adj_factor") is None for b in BARS if b["symbol"] == GAPPY and b["trade_date"] in window)


def test_day_by_day_from_columns_equals_every_bar(counted):
    """The first day builds the columns (no state yet); each later day takes them; every stored
    document equals the full-window computation."""
    db, _reads = counted
    for day in DAYS[-6:]:
        _sentiment(db, day)
        assert_same_as_every_bar(db, _sentiment, day)
    assert _column_days(db) == _span_days(DAYS[-6], 61)  # every day with bars the windows looked at
    _risk(db, T)  # days beyond sentiment's windows are read from their bars and kept
    assert_same_as_every_bar(db, _risk, T)
    assert _column_days(db) == _span_days(T, LOOKBACK + 1)
    doc = db[C.MARKET_SENTIMENT].find_one({"trade_date": T})
    assert doc["new_high_20"] + doc["new_low_20"] > 0 and doc["limit_up"] + doc["limit_down"] > 0


def test_a_normal_day_reads_only_its_own_bars(counted):
    db, reads = counted
    _sentiment(db, DAYS[-2])  # the first run: the window's bars, once
    assert reads.count >= 60 * 12
    _risk(db, DAYS[-2])
    reads.count = 0
    _sentiment(db, T)
    assert reads.count <= _bars_on(T) + 1  # + the data-source probe
    reads.count = 0
    _risk(db, T)
    assert reads.count <= _bars_on(T) + 1
    reads.count = 0
    out = _sentiment(db, T)  # a re-run: nothing rewritten, still the day's bars only
    assert out["unchanged"] == 1 and reads.count <= _bars_on(T) + 1
    reads.count = 0
    assert_same_as_every_bar(db, _sentiment, T)
    assert reads.count >= 60 * 12  # the counter sees a full-window read
    assert_same_as_every_bar(db, _risk, T)


def test_no_columns_and_deleted_columns_give_the_same_documents(counted):
    db, _reads = counted
    _sentiment(db, DAYS[-2])
    _sentiment(db, T)
    _risk(db, T)
    before = _stored(db)
    db[C.DAILY_BAR_COLUMNS].delete_many({})
    assert _sentiment(db, T)["unchanged"] == 1 and _risk(db, T)["unchanged"] == len(before[C.RISK_ASSESSMENTS])
    assert _stored(db) == before


def test_a_past_day_rerun_equals_every_bar(counted):
    db, _reads = counted
    _sentiment(db, T)
    for day in (DAYS[-20], EX_DAY):
        _sentiment(db, day)
        assert_same_as_every_bar(db, _sentiment, day)
        _risk(db, day)
        assert_same_as_every_bar(db, _risk, day)


def _changed_bar(day: str, sym: str = "600000", amount_times: float = 25.0) -> dict:
    bar = dict(next(b for b in BARS if b["symbol"] == sym and b["trade_date"] == day))
    bar["amount"] *= amount_times
    for f, times in (("high", 1.4), ("close", 1.3)):  # every field a window job reads
        bar[RAW_PRICE_FIELDS[f]] = round(bar[RAW_PRICE_FIELDS[f]] * times, 2)
    return bar


def test_a_repaired_past_day_is_read_from_its_bars_again(counted):
    db, reads = counted
    day = DAYS[-5]
    _sentiment(db, DAYS[-2])
    _risk(db, DAYS[-2])
    first = db[C.MARKET_SENTIMENT].find_one({"trade_date": DAYS[-2]})
    store_bars(db, [_changed_bar(day)])  # daily_sync's repair rewrites the day
    days = recompute_after_repair(db, [day], [T])
    assert days == DAYS[-5:]
    _risk(db, T)  # before any sentiment run rewrote the day: its columns are gone, its bars are read
    assert_same_as_every_bar(db, _risk, T)
    assert db[C.DAILY_BAR_COLUMNS].find_one({"_id": day}, {"_id": 1}) is not None  # and kept again
    reads.count = 0
    for d in days:
        _sentiment(db, d)
    assert reads.count <= sum(_bars_on(d) + 1 for d in days)  # each day's own bars only
    again = db[C.MARKET_SENTIMENT].find_one({"trade_date": DAYS[-2]})
    assert again["amount_mean_20"] > first["amount_mean_20"]
    for d in days:
        assert_same_as_every_bar(db, _sentiment, d)
    assert_same_as_every_bar(db, _risk, T)


def test_the_repair_recount_reads_no_bar_of_other_days(counted):
    """The days to recompute after a repair are found day by day (an index lookup each): a bar
    of any other day is never read, here one the store could not even decode."""
    db, _reads = counted
    insert_undecodable(db, C.STOCK_DAILY_QUOTES, f'{{"_id": "broken", "trade_date": "{DAYS[0]}", "period": "daily"}}')
    assert recompute_after_repair(db, [DAYS[-5]], [T]) == DAYS[-5:]
    assert recompute_after_repair(db, [DAYS[-3]], [DAYS[-4], T]) == DAYS[-4:]


def test_a_resynced_day_rewrites_its_columns_when_it_is_analysed(counted):
    """A day synced again (a manual date, a backfill) is recomputed by the analysis: that run
    reads the day from its bars and rewrites its columns, which the next days take."""
    db, _reads = counted
    _sentiment(db, DAYS[-3])
    _sentiment(db, DAYS[-2])
    store_bars(db, [_changed_bar(DAYS[-2])])
    assert _sentiment(db, DAYS[-2])["updated"] == 1
    _sentiment(db, T)
    _risk(db, T)
    for d in DAYS[-2:]:
        assert_same_as_every_bar(db, _sentiment, d)
    assert_same_as_every_bar(db, _risk, T)


def test_columns_of_another_source_or_layout_are_read_from_the_bars(counted):
    db, reads = counted
    _sentiment(db, DAYS[-2])
    db[C.DAILY_BAR_COLUMNS].update_one({"_id": DAYS[-4]}, {"$set": {"data_source": "tushare"}})
    db[C.DAILY_BAR_COLUMNS].update_one({"_id": DAYS[-5]}, {"$set": {"layout": 0}})
    reads.count = 0
    _sentiment(db, T)
    assert _bars_on(DAYS[-4]) + _bars_on(DAYS[-5]) + _bars_on(T) <= reads.count <= _bars_on(DAYS[-4]) + _bars_on(DAYS[-5]) + _bars_on(T) + 1
    assert {d["data_source"] for d in db[C.DAILY_BAR_COLUMNS].find({}, {"data_source": 1})} == {"demo"}
    assert db[C.DAILY_BAR_COLUMNS].find_one({"_id": DAYS[-5]})["layout"] == 1
    assert_same_as_every_bar(db, _sentiment, T)


def test_a_column_document_holds_the_days_bars(counted):
    from ta_scheduler.analytics.stored_bars import unpack_floats

    db, _reads = counted
    _sentiment(db, T)
    doc = db[C.DAILY_BAR_COLUMNS].find_one({"_id": EX_DAY})
    bars = sorted((b for b in BARS if b["trade_date"] == EX_DAY), key=lambda b: b["symbol"])
    assert doc["symbols"].split(",") == [b["symbol"] for b in bars] and doc["bars"] == len(bars)
    assert doc["data_source"] == "demo" and doc["layout"] == 1
    for f in COLUMN_FIELDS:
        expected = [b.get(RAW_PRICE_FIELDS.get(f, f), np.nan) for b in bars]
        np.testing.assert_array_equal(unpack_floats(doc[f]), np.array(expected, dtype=float))


def test_invalidate_deletes_the_days_columns(counted):
    db, _reads = counted
    _sentiment(db, T)
    assert invalidate_bar_columns(db, [DAYS[-3], DAYS[-2], "2000-01-03"]) == 2
    assert invalidate_bar_columns(db, [DAYS[-3]]) == 0
    assert _column_days(db) == [d for d in _span_days(T, 61) if d not in DAYS[-3:-1]]
    _sentiment(db, T)
    assert _column_days(db) == _span_days(T, 61)  # written again, whatever the writer's manifest said
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        invalidate_bar_columns(db, ["yesterday"])


def test_a_window_read_from_every_bar_reads_the_bars_of_its_own_days_only(counted):
    """Hot stocks' 6 days (and the ``from_columns=False`` path): the window's days are found by
    a count per date, so only their bars are read, not those of the whole calendar span it is
    looked for in (about 17 trading days for 6); a day without bars is skipped, as before."""
    from ta_scheduler.analytics.jobs import compute_hot_stocks
    from ta_scheduler.analytics.stored_bars import days_with_bars

    db, reads = counted
    assert days_with_bars(db, window_span(T, 6), "demo", 6) == DAYS[-6:]
    assert days_with_bars(db, window_span(T, 6), "tushare", 6) == []
    compute_hot_stocks(db, T)
    assert reads.count == sum(_bars_on(d) for d in DAYS[-6:]) + 1  # + the data-source probe

    db[C.STOCK_DAILY_QUOTES].delete_many({"trade_date": DAYS[-3]})
    window = [*DAYS[-7:-3], *DAYS[-2:]]
    assert days_with_bars(db, window_span(T, 6), "demo", 6) == window
    reads.count = 0
    compute_hot_stocks(db, T)
    assert reads.count == sum(_bars_on(d) for d in window) + 1
