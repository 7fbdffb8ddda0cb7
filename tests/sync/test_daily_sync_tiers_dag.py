"""``daily_sync`` through ``airflow dags test`` on each tushare tier, the fake server enforcing it
(permissions, per-minute and per-day limits) and the project told the same tier.

120 points: the run succeeds with the bars alone, the ledger marks the rest ``not_permitted``,
each refused endpoint is asked once (a second run that day asks none of them) and no limit is
hit. 2,000 and 5,000 points: everything lands."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

import pytest
from airflow_cli import dags_test
from fakes.tushare_server import FakeTushareServer
from ta_scheduler.constants import Collections as C
from ta_scheduler.storage import ledger

DAY = "2026-11-27"
NOT_PERMITTED = {"adj_factor": "adj_factor", "daily_basic": "daily_basic", "stk_limit": "limit_prices",
                 "index_daily": "index_bars"}
PERMISSION_MSG = "抱歉，您没有接口访问权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"


@pytest.fixture
def tier_server(monkeypatch, tmp_path):
    """Start a fake tushare with a token of its own (its own Redis counts) and point the project at it."""
    servers = []

    def start(points: int) -> FakeTushareServer:
        server = FakeTushareServer(n_stocks=300, token=f"T{uuid.uuid4().hex}").start()
        servers.append(server)
        server.set_tier(points)
        monkeypatch.setenv("TA_DATA_PROVIDER", "tushare")
        monkeypatch.setenv("TUSHARE_TOKEN", server.token)
        monkeypatch.setenv("TUSHARE_API_URL", server.url)
        monkeypatch.setenv("TA_TUSHARE_TIER", str(points))
        monkeypatch.setenv("TA_CALENDAR_DIR", str(tmp_path / "calendar"))
        return server

    yield start
    for server in servers:
        server.stop()


def _sync_day() -> str:
    res = dags_test("daily_sync", f"{DAY}T16:30:00+08:00", {"date": DAY})
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "state=success" in out, out[-6000:]
    return out


def test_120_points_land_the_bars_and_mark_the_rest_not_permitted(tier_server, mongo_db):
    server = tier_server(120)
    out = _sync_day()

    bars = list(mongo_db[C.STOCK_DAILY_QUOTES].find({}))
    assert len(bars) == 300 and {b["trade_date"] for b in bars} == {DAY}
    assert {(b["adj_factor"], b["pe"], b["total_mv"], b["up_limit"], b["down_limit"]) for b in bars} == \
        {(None, None, None, None, None)}
    assert mongo_db[C.SYNC_STATE].find_one({"job": "daily_bars", "key": f"tushare|{DAY}"})["stored"] == 300
    assert mongo_db[C.INDEX_DAILY].count_documents({}) == 0 and mongo_db[C.STOCK_BASIC_INFO].count_documents({}) == 0
    entries = ledger.entries(mongo_db, [DAY], list(NOT_PERMITTED.values()))
    for doc in entries.values():
        assert isinstance(doc.pop("updated_at"), datetime)
    assert entries == {
        (dataset, DAY): {"_id": f"{dataset}|{DAY}", "dataset": dataset, "period": DAY, "state": "not_permitted",
                         "expected": None, "stored": None, "data_source": "tushare",
                         "reason": f"tushare {endpoint}: no permission for endpoint '{endpoint}' (needs 2000 points): "
                                   f"{PERMISSION_MSG}"}
        for endpoint, dataset in NOT_PERMITTED.items()}
    # every refused endpoint asked exactly once (index_daily: the first of four indices), no task retried;
    # daily twice: the vendor-ready check, then the sync
    assert Counter(name for name, _ in server.calls) == {
        "trade_cal": 1, "stock_basic": 1, "daily": 2, "adj_factor": 1, "daily_basic": 1, "stk_limit": 1, "index_daily": 1}
    assert sorted(server.refusals) == sorted((e, "permission") for e in (*NOT_PERMITTED, "trade_cal", "stock_basic"))
    assert "the stock list skipped: tushare stock_basic: no permission" in out
    assert "the exchange calendar skipped: tushare trade_cal: no permission" in out

    first = {name: sorted(mongo_db[name].find({}), key=lambda d: str(d["_id"]))
             for name in (C.STOCK_DAILY_QUOTES, ledger.COLLECTION)}
    server.reset()
    server.set_tier(120)
    _sync_day()  # the same day again: only the bars are asked for, nothing changes
    assert [name for name, _ in server.calls] == ["daily", "daily"] and server.refusals == []  # vendor check + sync
    assert {name: sorted(mongo_db[name].find({}), key=lambda d: str(d["_id"])) for name in first} == first


@pytest.mark.parametrize("points", [2000, 5000])
def test_2000_and_5000_points_land_everything(tier_server, mongo_db, points):
    server = tier_server(points)
    _sync_day()

    bars = list(mongo_db[C.STOCK_DAILY_QUOTES].find({}))
    assert len(bars) == 300 and all(b["adj_factor"] is not None and b["total_mv"] is not None and b["up_limit"] is not None
                                    for b in bars)
    assert mongo_db[C.STOCK_BASIC_INFO].count_documents({}) == 300
    assert {d["ts_code"] for d in mongo_db[C.INDEX_DAILY].find({})} == {"000300.SH", "000001.SH", "399001.SZ", "399006.SZ"}
    assert mongo_db[ledger.COLLECTION].count_documents({"state": "not_permitted"}) == 0
    assert server.refusals == []
    assert Counter(name for name, _ in server.calls) == {
        "trade_cal": 2, "stock_basic": 1, "daily": 2, "adj_factor": 1, "daily_basic": 1, "stk_limit": 1, "index_daily": 4}
