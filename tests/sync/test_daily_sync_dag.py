"""``daily_sync`` as Airflow runs it: ``airflow dags test`` against the fake tushare server (real
SDK) and a database of its own on the real store — a whole trading day, then the same day again."""

from __future__ import annotations

from airflow_cli import dags_test
from ta_scheduler.constants import Collections as C

DAY = "2026-11-27"
SYNCED = (C.STOCK_BASIC_INFO, C.STOCK_DAILY_QUOTES, C.INDEX_DAILY, C.QUARANTINE)


def _sync_day(conf: dict) -> str:
    res = dags_test("daily_sync", f"{DAY}T16:30:00+08:00", conf)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "state=success" in out, out[-6000:]
    return out


def _contents(db) -> dict[str, list]:
    return {name: sorted(db[name].find({}), key=lambda d: str(d["_id"])) for name in SYNCED}


def test_a_trading_day_through_dags_test_twice(mongo_db, tushare_server, tmp_path, monkeypatch):
    tushare_server.reset()
    monkeypatch.setenv("TA_DATA_PROVIDER", "tushare")
    monkeypatch.setenv("TUSHARE_TOKEN", tushare_server.token)
    monkeypatch.setenv("TUSHARE_API_URL", tushare_server.url)
    monkeypatch.setenv("TA_CALENDAR_DIR", str(tmp_path / "calendar"))

    _sync_day({"date": DAY})
    first = _contents(mongo_db)
    assert len(first[C.STOCK_BASIC_INFO]) == 300
    assert len(first[C.STOCK_DAILY_QUOTES]) == 300 and {d["trade_date"] for d in first[C.STOCK_DAILY_QUOTES]} == {DAY}
    assert {d["data_source"] for d in first[C.STOCK_DAILY_QUOTES]} == {"tushare"}
    assert {d["ts_code"] for d in first[C.INDEX_DAILY]} == {"000300.SH", "000001.SH", "399001.SZ", "399006.SZ"}
    assert mongo_db[C.SYNC_STATE].find_one({"job": "daily_bars", "key": f"tushare|{DAY}"})["stored"] == 300
    assert (tmp_path / "calendar" / "trade_calendar_sse.json").exists()  # sync_calendar wrote the exchange calendar
    assert {name for name, _ in tushare_server.calls} >= {"trade_cal", "stock_basic", "daily", "adj_factor", "daily_basic",
                                                           "stk_limit", "index_daily"}

    _sync_day({"date": DAY})
    assert _contents(mongo_db) == first  # byte for byte, updated_at included
