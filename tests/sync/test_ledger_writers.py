"""The writers keep the completeness ledger: its counts are the store's counts (news per hour,
financials per report period, intraday ticks per day, index bars, analysis outputs)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ta_scheduler.constants import Collections as C
from ta_scheduler.providers.demo import DemoProvider
from ta_scheduler.storage import ledger
from ta_scheduler.sync import sync_financials, sync_news, sync_realtime_quotes, sync_stock_basic
from ta_scheduler.sync.completeness import record_intraday_day, session_ticks
from undecodable import insert_undecodable

TZ = ZoneInfo("Asia/Shanghai")


def _entry(db, dataset, period):
    doc = db[ledger.COLLECTION].find_one({"_id": f"{dataset}|{period}"})
    assert doc is not None, (dataset, period)
    return {k: doc[k] for k in ("state", "expected", "stored", "data_source")}


def test_news_hours_in_the_ledger_match_the_store(mongo_db):
    provider = DemoProvider(50)
    sync_stock_basic(provider, mongo_db)
    start, end = datetime(2026, 11, 27, 8, 0, tzinfo=TZ), datetime(2026, 11, 27, 11, 0, tzinfo=TZ)
    result = sync_news(provider, mongo_db, start, end)
    assert result["ledger_hours"] == ["2026-11-27T08", "2026-11-27T09", "2026-11-27T10"]
    for i, period in enumerate(result["ledger_hours"]):
        h = start + timedelta(hours=i)
        stored = mongo_db[C.STOCK_NEWS].count_documents({"published_at": {"$gte": h, "$lt": h + timedelta(hours=1)}})
        assert _entry(mongo_db, "news", period) == {"state": "complete", "expected": stored, "stored": stored,
                                                     "data_source": "demo"}
    assert sum(_entry(mongo_db, "news", p)["stored"] for p in result["ledger_hours"]) == result["unique"]

    one = mongo_db[C.STOCK_NEWS].find_one({"published_at": {"$gte": start + timedelta(hours=1),
                                                            "$lt": start + timedelta(hours=2)}})
    mongo_db[C.STOCK_NEWS].delete_one({"_id": one["_id"]})
    from ta_scheduler.sync.tasks import repair_news_hours

    ledger.record(mongo_db, "news", "2026-11-27T09", ledger.FAILED, data_source="demo", reason="test: fetch failed")
    assert repair_news_hours(provider, mongo_db, end, hours=3) == {"repaired_hours": ["2026-11-27T09"]}
    assert _entry(mongo_db, "news", "2026-11-27T09")["state"] == "complete"
    assert mongo_db[C.STOCK_NEWS].find_one({"_id": one["_id"]}) is not None


def test_financial_periods_in_the_ledger_match_the_store(mongo_db):
    provider = DemoProvider(30)
    result = sync_financials(provider, mongo_db, "2026-11-20", today=date(2026, 11, 25))
    assert result["report_periods"]
    for period in result["report_periods"]:
        n = mongo_db[C.STOCK_FINANCIAL_DATA].count_documents({"report_period": period})
        assert _entry(mongo_db, "financials", period) == {"state": "complete", "expected": n, "stored": n,
                                                           "data_source": "demo"}


def test_intraday_ticks_count_the_session_ticks_due(mongo_db):
    provider = DemoProvider(20)
    day = date(2026, 11, 27)
    ticks = session_ticks(day)
    assert len(ticks) == 50 and ticks[0].strftime("%H:%M") == "09:30" and ticks[-1].strftime("%H:%M") == "15:00"
    for tick in (ticks[0], ticks[2]):  # ticks[1] was missed
        result = sync_realtime_quotes(provider, mongo_db, None, tick)
    assert result["snapshot"]["ledger"] == {"state": "partial", "expected": 3, "stored": 2}
    assert _entry(mongo_db, "intraday_ticks", "2026-11-27") == {"state": "partial", "expected": 3, "stored": 2,
                                                                 "data_source": "demo"}
    # each tick due is looked up: a snapshot between ticks is never read (nor could the store decode it)
    between = int((ticks[1] + timedelta(minutes=2, seconds=30)).timestamp() * 1000)
    insert_undecodable(mongo_db, C.INTRADAY_SNAPSHOTS, f'{{"_id": "broken", "snapshot_time": {between}, "data_source": "demo"}}')
    assert record_intraday_day(mongo_db, "demo", ticks[2]) == {"state": "partial", "expected": 3, "stored": 2}
