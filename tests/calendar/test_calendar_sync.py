"""tushare trade_cal → MongoDB + calendar file → timetables, through the real tushare SDK."""

from __future__ import annotations

from datetime import date, timedelta

import pendulum
import pytest
from airflow.timetables.base import TimeRestriction
from fake_trade_cal import HOLIDAYS_2027
from fakes import TEST_TOKEN
from ta_scheduler.calendar import calendar_coverage_report, date_status, get_calendar, is_session
from ta_scheduler.calendar.files import BACKUP_FILE_NAME, SYNCED_FILE_NAME
from ta_scheduler.calendar.lookup import get_store
from ta_scheduler.calendar.sync import (
    CalendarSyncError,
    provider_trade_cal_fetch,
    sync_trade_calendar,
    sync_trade_calendar_from_provider,
    validate_year,
)
from ta_scheduler.constants import Collections
from ta_scheduler.providers import get_provider
from ta_scheduler.providers.tushare_pro import TushareProvider
from ta_timetables import TradingDayTimetable

SESSIONS_2027 = 261 - len(HOLIDAYS_2027)  # 2027 has 261 weekdays; every made-up holiday is one


def trading_days_2027() -> list[date]:
    tt, sh = TradingDayTimetable(), "Asia/Shanghai"
    restriction = TimeRestriction(pendulum.datetime(2027, 1, 1, tz=sh), None, True)
    out, last = [], None
    while True:
        info = tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        day = info.run_after.in_timezone(sh).date()
        if day.year > 2027:
            return out
        out.append(day)
        last = info.data_interval


def sync(fake_url: str, db, years, token: str = TEST_TOKEN) -> dict:
    return sync_trade_calendar(db, provider_trade_cal_fetch(TushareProvider(token, fake_url, max_attempts=1)), years)


def test_synced_2027_makes_the_timetable_exact(calendar_dir, mongo_db, fake_tushare):
    fake, url = fake_tushare
    report = sync(url, mongo_db, [2026, 2027])

    assert report["years"]["2027"]["status"] == "complete"
    assert report["years"]["2027"]["sessions"] == SESSIONS_2027
    assert report["years"]["2026"] == {"status": "not_published"}
    days = trading_days_2027()
    assert len(days) == SESSIONS_2027
    assert not set(days) & set(HOLIDAYS_2027)
    assert date_status(date(2027, 2, 8)) == "verified"
    assert get_calendar().source(date(2027, 2, 8)) == "tushare trade_cal"
    assert get_calendar().source(date(2026, 2, 9)).startswith("exchange_calendars XSHG")
    report = calendar_coverage_report(date(2026, 12, 10))
    assert report["ok"] and report["verified_through"] == "2027-12-31"
    assert (calendar_dir / SYNCED_FILE_NAME).is_file()
    assert fake.requests[0]["params"]["exchange"] == "SSE"


def test_sync_writes_trade_calendar_idempotently(calendar_dir, mongo_db, fake_tushare):
    fake, url = fake_tushare
    first = sync(url, mongo_db, [2027])
    coll = mongo_db[Collections.TRADE_CALENDAR]
    assert first["years"]["2027"]["inserted"] == 365
    assert coll.count_documents({"exchange": "SSE", "is_open": 1}) == SESSIONS_2027
    doc = coll.find_one({"cal_date": "2027-02-15"}, {"_id": 0})
    assert doc == {"exchange": "SSE", "cal_date": "2027-02-15", "is_open": 1,
                   "pretrade_date": "2027-02-05", "source": "tushare"}
    assert coll.find_one({"cal_date": "2027-01-04"})["pretrade_date"] == "2026-12-31"
    again = sync(url, mongo_db, [2027])
    assert (again["years"]["2027"]["inserted"], again["years"]["2027"]["updated"]) == (0, 0)
    assert again["years"]["2027"]["unchanged"] == 365
    assert coll.count_documents({}) == 365
    fake.publish(2027, [*HOLIDAYS_2027, date(2027, 3, 1)])
    changed = sync(url, mongo_db, [2027])["years"]["2027"]
    assert (changed["inserted"], changed["updated"]) == (0, 2)  # 03-01 closes; 03-02's pretrade_date
    assert coll.find_one({"cal_date": "2027-03-02"})["pretrade_date"] == "2027-02-26"


def test_without_a_synced_file_2027_is_provisional(calendar_dir):
    days = trading_days_2027()
    assert len(days) == 243  # the statutory holiday rules close 18 of 2027's 261 weekdays
    assert date(2027, 2, 8) not in days and date(2027, 2, 5) not in days
    assert date_status(date(2027, 2, 15)) == "provisional"
    report = calendar_coverage_report(date(2026, 12, 10))
    assert not report["ok"] and report["provisional_from"] == "2027-01-01"


def test_corrupted_file_falls_back_to_the_previous_good_one(calendar_dir, mongo_db, fake_tushare):
    fake, url = fake_tushare
    sync(url, mongo_db, [2027])
    fake.publish(2027, [*HOLIDAYS_2027, date(2027, 3, 1)])  # a later notice closes one more day
    sync(url, mongo_db, [2027])
    assert not is_session(date(2027, 3, 1))
    assert (calendar_dir / BACKUP_FILE_NAME).is_file()

    (calendar_dir / SYNCED_FILE_NAME).write_text('{"format": "ta-trade-calendar/1", "years": {"2027": ')
    get_store().invalidate()
    assert is_session(date(2027, 3, 1))  # the previous good file did not have that closure
    assert not is_session(date(2027, 2, 8))  # ... but still has the Spring Festival
    assert get_store().synced_source == "backup"
    assert not calendar_coverage_report(date(2027, 1, 5))["ok"]  # a broken file is an alert

    (calendar_dir / BACKUP_FILE_NAME).write_text("garbage")
    get_store().invalidate()
    assert is_session(date(2027, 3, 1))  # nothing left but the provisional rules
    assert not is_session(date(2027, 2, 8))
    assert date_status(date(2027, 2, 8)) == "provisional"
    assert date_status(date(2026, 2, 16)) == "verified" and not is_session(date(2026, 2, 16))


def test_resync_after_corruption_restores_the_file(calendar_dir, mongo_db, fake_tushare):
    _, url = fake_tushare
    calendar_dir.mkdir(parents=True)
    (calendar_dir / SYNCED_FILE_NAME).write_text("garbage")
    sync(url, mongo_db, [2027])
    assert not is_session(date(2027, 2, 8))
    assert get_store().synced_source == "current"


def test_partial_publication_covers_only_its_dates(calendar_dir, mongo_db, fake_tushare):
    fake, url = fake_tushare
    fake.publish(2027, HOLIDAYS_2027, through=date(2027, 6, 30))
    report = sync(url, mongo_db, [2027])
    assert report["years"]["2027"]["status"] == "partial"
    assert report["years"]["2027"]["last"] == "2027-06-30"
    assert date_status(date(2027, 6, 30)) == "verified"
    assert date_status(date(2027, 7, 1)) == "provisional"
    assert calendar_coverage_report(date(2027, 6, 1))["days_left"] == 30


def test_invalid_year_is_rejected_but_valid_years_are_saved(calendar_dir, mongo_db, fake_tushare):
    fake, url = fake_tushare
    fake.publish(2028, [], open_weekend=[date(2028, 1, 8)])
    with pytest.raises(CalendarSyncError, match=r"2028.*weekend days \['2028-01-08'\].*valid years saved: \[2027\]"):
        sync(url, mongo_db, [2027, 2028])
    assert not is_session(date(2027, 2, 8))
    assert date_status(date(2028, 1, 10)) == "provisional"
    assert mongo_db[Collections.TRADE_CALENDAR].count_documents({"cal_date": {"$gte": "2028-01-01"}}) == 0


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"cal_date": "20270101", "is_open": 1}, {"cal_date": "20270101", "is_open": 0}], "appears twice"),
        ([{"cal_date": "20270101", "is_open": 0}, {"cal_date": "20270104", "is_open": 1}], "2 calendar days missing"),
        ([{"cal_date": "20270104", "is_open": "x"}], "is_open='x'"),
        ([{"cal_date": "20260104", "is_open": 0}], "outside the year"),
        ([{"cal_date": (date(2027, 1, 1) + timedelta(days=i)).strftime("%Y%m%d"), "is_open": 0}
          for i in range(365)], "0 sessions in a complete year"),
    ],
    ids=["duplicate", "gap", "bad-flag", "wrong-year", "all-closed"],
)
def test_validate_year_refuses_incredible_data(rows, message):
    with pytest.raises(CalendarSyncError, match=message):
        validate_year(2027, rows)


def test_validate_year_without_rows_is_not_covered():
    assert validate_year(2028, []) is None


def test_wrong_token_fails_with_tushare_message(calendar_dir, mongo_db, fake_tushare):
    _, url = fake_tushare
    with pytest.raises(CalendarSyncError, match="tushare trade_cal SSE 20270101-20271231: 您的token不对"):
        sync(url, mongo_db, [2027], token="WRONG")


def test_task_entry_point_asks_the_configured_provider(calendar_dir, mongo_db, fake_tushare, monkeypatch):
    fake, url = fake_tushare
    monkeypatch.setenv("TUSHARE_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("TUSHARE_API_URL", url)
    report = sync_trade_calendar_from_provider(get_provider("tushare"), today=date(2026, 12, 23))
    assert set(report["years"]) == {"2026", "2027"}
    assert report["years"]["2027"]["status"] == "complete"
    assert mongo_db[Collections.TRADE_CALENDAR].count_documents({}) == 365  # MONGO_URI → this test's db
    assert {r["params"]["start_date"] for r in fake.requests} == {"20260101", "20270101"}


def test_sync_overrides_xshg_and_reports_the_difference(calendar_dir, mongo_db):
    xshg = get_calendar()

    def fetch(start: str, end: str) -> list[dict]:
        if start[:4] != "2026":
            return []
        rows, d = [], date(2026, 1, 1)
        while d.year == 2026:  # XSHG's 2026 plus a made-up extra closure on 03-02
            is_open = xshg.is_session(d) and d != date(2026, 3, 2)
            rows.append({"cal_date": d.strftime("%Y%m%d"), "is_open": int(is_open)})
            d += timedelta(days=1)
        return rows

    report = sync_trade_calendar(mongo_db, fetch, [2026])
    assert report["years"]["2026"]["differs_from_xshg"] == ["2026-03-02"]
    assert not is_session(date(2026, 3, 2))  # tushare wins over XSHG
    assert get_calendar().source(date(2026, 3, 2)) == "tushare trade_cal"


def test_publishing_2027_replaces_the_provisional_calendar(calendar_dir, mongo_db, fake_tushare):
    # Provisional: the Spring Festival block from the eve (Fri 02-05) and 1-5 May are closed.
    assert [date_status(d) for d in (date(2027, 2, 5), date(2027, 5, 4))] == ["provisional"] * 2
    assert not is_session(date(2027, 2, 5)) and not is_session(date(2027, 5, 4))
    _, url = fake_tushare
    sync(url, mongo_db, [2027])  # the fake's made-up notice keeps 02-05 and 05-04 open
    assert is_session(date(2027, 2, 5)) and is_session(date(2027, 5, 4))
    assert trading_days_2027() == [d for d in _weekdays_2027() if d not in set(HOLIDAYS_2027)]
    assert {date_status(d) for d in _weekdays_2027()} == {"verified"}
    report = calendar_coverage_report(date(2026, 12, 23))
    assert report["verified_through"] == "2027-12-31" and report["provisional_from"] == "2028-01-01"
    assert report["provisional_years"] == list(range(2028, 2037))


def _weekdays_2027() -> list[date]:
    return [date(2027, 1, 1) + timedelta(days=i) for i in range(365) if (date(2027, 1, 1) + timedelta(days=i)).weekday() < 5]
