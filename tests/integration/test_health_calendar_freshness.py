"""The health check's calendar and freshness parts tell the truth: a provisional calendar is a
warning logged once a day, not an outage (DOWN only when no calendar covers the coming days);
today's bars are due only once daily_sync has stopped waiting for the vendor."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ta_scheduler.constants import Collections as C
from ta_scheduler.maintenance.health import bars_due_at, check_calendar, check_freshness, expected_bars_date
from ta_scheduler.waits import vendor as vendor_ready  # imports the Task SDK (and its logging set-up) before caplog attaches

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def demo_calendar(tmp_path, monkeypatch):
    """A demo deployment: no tushare token, no synced calendar (2026 verified by the baked XSHG
    file, 2027-2036 provisional from the statutory rules, later years assumed)."""
    monkeypatch.setenv("TA_DATA_PROVIDER", "demo")
    monkeypatch.delenv("TUSHARE_TOKEN", raising=False)
    monkeypatch.setenv("TA_CALENDAR_DIR", str(tmp_path / "calendar"))


def test_a_provisional_next_year_in_december_is_a_warning_logged_once_a_day(demo_calendar, mongo_db, caplog):
    now = datetime(2026, 12, 10, 9, 0, tzinfo=TZ)
    with caplog.at_level(logging.WARNING, logger="ta_scheduler.maintenance.health"):
        for minutes in (0, 10, 20):
            res = check_calendar(now + timedelta(minutes=minutes))
            assert (res.name, res.ok, res.warning) == ("calendar", True, True)
            assert res.detail.startswith("trading calendar verified only through 2026-12-31: sessions from 2027-01-01 "
                                         "to 2036-12-31 are PROVISIONAL")
            assert "provisional calendar covers 3675 days ahead" in res.detail
        assert len([r for r in caplog.records if "PROVISIONAL" in r.getMessage()]) == 1
        check_calendar(now + timedelta(days=1))  # a new day: warned again
        assert len([r for r in caplog.records if "PROVISIONAL" in r.getMessage()]) == 2
    assert sorted(d["day"] for d in mongo_db[C.HEALTH_CHECKS].find({"topic": "calendar_provisional"})) == [
        "2026-12-10", "2026-12-11"]


def test_a_verified_calendar_far_ahead_is_up_without_a_warning(demo_calendar, mongo_db):
    res = check_calendar(datetime(2026, 6, 1, 9, 0, tzinfo=TZ))
    assert (res.ok, res.warning) == (True, False)
    assert res.detail == "trading calendar verified through 2026-12-31 (214 days ahead)"


def test_down_when_no_calendar_covers_the_coming_days(demo_calendar, mongo_db):
    res = check_calendar(datetime(2036, 12, 10, 9, 0, tzinfo=TZ))  # the statutory rules end with 2036
    assert (res.ok, res.warning) == (False, False)
    assert "from 2037-01-01 ASSUMED Monday-Friday" in res.detail


def test_down_when_the_provisional_file_is_missing(demo_calendar, mongo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("TA_CALENDAR_PROVISIONAL_FILE", str(tmp_path / "nowhere.json"))
    res = check_calendar(datetime(2026, 12, 10, 9, 0, tzinfo=TZ))
    assert not res.ok and "nowhere.json" in res.detail


def test_todays_bars_are_due_only_after_the_vendor_deadline(demo_calendar, mongo_db):
    """daily_sync may wait for tushare until its vendor_deadline (22:00): until then (plus the
    sync's half hour) yesterday's bars are fresh; after it, the day's bars are late."""
    assert vendor_ready.DEFAULT_DEADLINE == "22:00"
    assert bars_due_at(date(2026, 11, 27)) == datetime(2026, 11, 27, 22, 30, tzinfo=TZ)
    mongo_db[C.STOCK_DAILY_QUOTES].insert_one({"_id": "600000|2026-11-26|demo|daily", "symbol": "600000",
                                               "trade_date": "2026-11-26", "data_source": "demo", "period": "daily"})
    for hour, minute in ((17, 0), (21, 59), (22, 29)):
        res = check_freshness(datetime(2026, 11, 27, hour, minute, tzinfo=TZ))
        assert (res.ok, res.detail) == (True, "daily bars up to 2026-11-26 (expected 2026-11-26)"), (hour, minute)
    late = check_freshness(datetime(2026, 11, 27, 22, 30, tzinfo=TZ))
    assert (late.ok, late.detail) == (False, "latest daily bars are for 2026-11-26, expected 2026-11-27: daily_sync is behind")


def test_the_bars_deadline_comes_from_the_vendor_wait(monkeypatch):
    monkeypatch.setattr("ta_scheduler.waits.vendor.DEFAULT_DEADLINE", "20:00")
    assert bars_due_at(date(2026, 11, 27)) == datetime(2026, 11, 27, 20, 30, tzinfo=TZ)
    assert expected_bars_date(datetime(2026, 11, 27, 20, 31, tzinfo=TZ)) == "2026-11-27"
    assert expected_bars_date(datetime(2026, 11, 27, 20, 29, tzinfo=TZ)) == "2026-11-26"
