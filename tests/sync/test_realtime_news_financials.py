"""intraday_prices, news_sync and weekly_financials logic against FerretDB, Redis and the fake."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
from ta_scheduler.constants import Collections as C
from ta_scheduler.providers.demo import DemoProvider
from ta_scheduler.storage.cache import GRACE_SECONDS, pointer_key, read_set, version_key
from ta_scheduler.storage.mongo import ensure_indexes
from ta_scheduler.sync import sync_financials, sync_news, sync_realtime_quotes, sync_stock_basic
from ta_scheduler.sync.realtime import REDIS_SPACE

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def db(mongo_db):
    ensure_indexes(mongo_db, [C.STOCK_BASIC_INFO, C.MARKET_QUOTES, C.INTRADAY_SNAPSHOTS, C.STOCK_NEWS,
                              C.STOCK_FINANCIAL_DATA, C.SYNC_STATE])
    return mongo_db


def test_realtime_writes_latest_snapshot_and_redis_cache(make_tushare, db, tushare_server, redis_url):
    provider = make_tushare()
    client = redis.Redis.from_url(redis_url)
    client.delete(pointer_key(REDIS_SPACE))
    ticks = [datetime(2026, 11, 27, 10, 30, tzinfo=TZ), datetime(2026, 11, 27, 10, 35, tzinfo=TZ)]
    for tick in ticks:
        tushare_server.now = tick
        counts = sync_realtime_quotes(provider, db, redis_url, tick, ttl=120)
        assert counts["quotes"] == 300 and counts["redis_cached"] == 300
    assert db[C.MARKET_QUOTES].count_documents({}) == 300
    assert db[C.INTRADAY_SNAPSHOTS].count_documents({}) == 600
    latest = db[C.MARKET_QUOTES].find_one({"code": "600000"})
    assert latest["snapshot_time"] == ticks[1] and latest["name"] == "浦发银行"
    assert latest["pct_chg"] == pytest.approx((latest["price"] / latest["pre_close"] - 1) * 100, abs=1e-4)
    live = read_set(client, REDIS_SPACE, hashes=["latest"], values=["meta"])
    cached = live["latest"]["600000"]
    assert cached["price"] == latest["price"] and cached["quote_time"] == "2026-11-27T10:35:00+08:00"
    assert len(live["latest"]) == 300
    assert 0 < client.ttl(pointer_key(REDIS_SPACE)) <= 120
    assert 120 < client.ttl(version_key(REDIS_SPACE, live["version"], "latest")) <= 120 + GRACE_SECONDS
    assert live["meta"] == {"snapshot_time": ticks[1].isoformat(), "count": 300, "data_source": provider.name}
    # the same tick again (a retry) changes nothing
    again = sync_realtime_quotes(provider, db, redis_url, ticks[1])
    assert again["latest"]["unchanged"] == 300 and again["snapshot"]["unchanged"] == 300
    client.delete(pointer_key(REDIS_SPACE))


def test_news_is_deduplicated_and_linked_to_the_stocks_it_names(make_tushare, db, tushare_server):
    provider = make_tushare(news_sources=["sina"])
    sync_stock_basic(provider, db)
    first = sync_news(provider, db, datetime(2026, 11, 27, 9, tzinfo=TZ), datetime(2026, 11, 27, 11, tzinfo=TZ))
    overlap = sync_news(provider, db, datetime(2026, 11, 27, 10, tzinfo=TZ), datetime(2026, 11, 27, 12, tzinfo=TZ))
    assert first["inserted"] == first["unique"] > 0
    assert overlap["unchanged"] > 0 and overlap["inserted"] < overlap["unique"]
    assert db[C.STOCK_NEWS].count_documents({}) == first["inserted"] + overlap["inserted"]
    names = {d["code"]: d["name"] for d in db[C.STOCK_BASIC_INFO].find({})}
    for doc in db[C.STOCK_NEWS].find({}):
        assert doc["symbols"], doc["title"]
        for code, name in zip(doc["symbols"], doc["stock_names"], strict=True):
            assert names[code] == name
            assert name in doc["title"] + doc["content"] or code in doc["title"] + doc["content"]
        assert doc["source"] == "sina" and doc["symbol"] == doc["symbols"][0]
        # the wall-clock time (stored naive, read back as UTC) is the instant's Beijing time
        assert doc["publish_time"].replace(tzinfo=None) == doc["published_at"].astimezone(TZ).replace(tzinfo=None)


def test_financials_are_incremental_by_announcement_date(make_tushare, db, tushare_server):
    provider = make_tushare()
    first = sync_financials(provider, db, "2026-10-20", first_lookback_days=3)
    assert first["start"] == "2026-10-17" and first["reports"] > 0
    doc = db[C.STOCK_FINANCIAL_DATA].find_one({})
    assert {"income", "balancesheet", "cashflow", "fina_indicator"} <= set(doc)
    assert doc["report_period"] == "20260930" and doc["report_type"] == "quarterly"
    assert doc["revenue"] == doc["income"]["revenue"] and doc["roe"] == doc["fina_indicator"]["roe"]
    tushare_server.reset()
    second = sync_financials(provider, db, "2026-10-22")
    assert second["start"] == "2026-10-20"  # the last, possibly incomplete, day is fetched again
    assert [c["ann_date"] for c in tushare_server.calls_to("income_vip")] == ["20261020", "20261021", "20261022"]
    per_report = db[C.STOCK_FINANCIAL_DATA].count_documents({})
    assert per_report == first["written"]["inserted"] + second["written"]["inserted"]


def test_demo_provider_documents_are_labelled_demo(db, redis_url):
    demo = DemoProvider(300)
    sync_stock_basic(demo, db)
    tick = datetime(2026, 11, 27, 14, 0, tzinfo=TZ)
    sync_realtime_quotes(demo, db, None, tick)
    sync_news(demo, db, datetime(2026, 11, 27, 9, tzinfo=TZ), datetime(2026, 11, 27, 10, tzinfo=TZ))
    for name in (C.STOCK_BASIC_INFO, C.MARKET_QUOTES, C.STOCK_NEWS):
        assert set(db[name].distinct("data_source")) == {"demo"}, name


def test_financials_carry_ttm_figures_computed_like_tradingagents_cn(db):
    demo = DemoProvider(300)
    some = demo.stock_basic()["ts_code"].tolist()[:20]
    sync_financials(demo, db, "2026-11-23", first_lookback_days=420, ts_codes=some)  # Q3 2025 .. Q3 2026 announced
    docs = {(d["symbol"], d["report_period"]): d for d in db[C.STOCK_FINANCIAL_DATA].find({})}
    q3 = [d for (s, p), d in docs.items() if p == "20260930" and (s, "20250930") in docs and (s, "20251231") in docs]
    assert len(q3) >= 15
    for doc in q3:
        last_q3, annual = docs[(doc["symbol"], "20250930")], docs[(doc["symbol"], "20251231")]
        for ttm, field in (("revenue_ttm", "revenue"), ("net_profit_ttm", "n_income_attr_p")):
            expected = annual["income"][field] + doc["income"][field] - last_q3["income"][field]
            assert doc[ttm] == pytest.approx(expected, abs=0.01)
        assert doc["report_type"] == "quarterly" and annual["report_type"] == "annual"
    assert all(d["revenue_ttm"] == d["revenue"] for d in docs.values() if d["report_type"] == "annual")
    assert all(docs[k]["revenue_ttm"] is None for k in docs if k[1] == "20250930")  # 2024 is not stored


def test_stock_basic_info_carries_the_newest_reported_roe(db):
    demo = DemoProvider(300)
    sync_stock_basic(demo, db)
    before = {d["code"]: d for d in db[C.STOCK_BASIC_INFO].find({})}
    some = demo.stock_basic()["ts_code"].tolist()[:20]
    counts = sync_financials(demo, db, "2026-11-23", first_lookback_days=420, ts_codes=some)
    reports = list(db[C.STOCK_FINANCIAL_DATA].find({}))
    newest = {}
    for r in reports:
        if r["roe"] is not None and r["report_period"] > newest.get(r["symbol"], {}).get("report_period", ""):
            newest[r["symbol"]] = r
    assert len(newest) == 20 and {r["report_period"] for r in newest.values()} == {"20260930"}
    assert counts["roe"] == {"stocks": 20, "inserted": 0, "updated": 20, "unchanged": 0}
    after = {d["code"]: d for d in db[C.STOCK_BASIC_INFO].find({})}
    assert set(after) == set(before)  # no document made for a stock outside the list
    for code, doc in after.items():
        if code in newest:
            expected = {**before[code], "roe": newest[code]["roe"], "roe_period": "20260930", "updated_at": doc["updated_at"]}
            assert doc == expected and doc["updated_at"] > before[code]["updated_at"]
        else:
            assert doc == before[code]
    # a later valuation refresh (the whole document rewritten) keeps it; a re-run changes nothing
    again = sync_financials(demo, db, "2026-11-23", first_lookback_days=420, ts_codes=some)
    assert again["roe"]["unchanged"] == 20
    assert {d["code"]: d for d in db[C.STOCK_BASIC_INFO].find({})} == after


def test_news_items_carry_the_labels_tradingagents_cn_reads():
    from ta_scheduler.sync.news import news_labels

    good = news_labels("贵州茅台业绩大增 净利润增长超预期", "公司三季度营收上涨。" * 30, True)
    assert good["sentiment"] == "positive" and good["sentiment_score"] >= 0.7
    assert good["keywords"] == ["大增", "净利润增长", "超预期", "上涨"]
    assert (good["category"], good["importance"], good["author"]) == ("company_announcement", "high", "")
    assert len(good["summary"]) == 200 and good["summary"].endswith("…")
    bad = news_labels("证监会对某公司立案调查", "涉嫌信息披露违规", True)
    assert (bad["sentiment"], bad["category"], bad["importance"]) == ("negative", "policy_news", "high")
    assert bad["summary"] == "涉嫌信息披露违规"
    plain = news_labels("两市成交额公布", "", False)
    assert plain == {"sentiment": "neutral", "sentiment_score": 0.0, "keywords": [], "category": "market_news",
                     "importance": "low", "summary": "", "author": ""}
    assert news_labels("公司召开股东大会", "", True)["importance"] == "medium"


def test_stocks_added_to_the_list_get_the_roe_already_stored(db):
    """A new deployment's weekly_financials may run before the first stock list: the list's
    first sync then takes each stock's roe from the reports already stored."""
    demo = DemoProvider(300)
    some = demo.stock_basic()["ts_code"].tolist()[:20]
    counts = sync_financials(demo, db, "2026-11-23", first_lookback_days=420, ts_codes=some)
    assert counts["roe"] == {"stocks": 0} and db[C.STOCK_BASIC_INFO].count_documents({}) == 0
    listed = sync_stock_basic(demo, db)
    assert listed["roe"]["stocks"] == 20
    with_roe = {d["code"]: d for d in db[C.STOCK_BASIC_INFO].find({"roe": {"$exists": True}})}
    q3 = {d["symbol"]: d["roe"] for d in db[C.STOCK_FINANCIAL_DATA].find({"report_period": "20260930"})}
    assert {c: (d["roe"], d["roe_period"]) for c, d in with_roe.items()} == {c: (r, "20260930") for c, r in q3.items()}
    assert sync_stock_basic(demo, db)["roe"] == {"stocks": 0}  # nothing new: no financial read


def test_a_news_items_first_named_stock_is_its_symbol():
    from ta_scheduler.sync.news import StockMatcher

    matcher = StockMatcher({"300631": "明锦矿业", "001547": "海康煤业", "600000": "浦发银行"})
    text = "明锦矿业(300631)发布新产品\n同行业公司海康煤业(001547)亦受关注，浦发银行未参与。"
    assert matcher.codes_in(text) == ["300631", "001547", "600000"]
    assert matcher.codes_in("600000 与 明锦矿业") == ["600000", "300631"]
