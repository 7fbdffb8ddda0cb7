"""The provisional calendar: statutory holiday rules for years no exchange notice covers yet."""

from __future__ import annotations

import json
from datetime import date, timedelta

import holidays
import pendulum
import pytest
from airflow.timetables.base import TimeRestriction
from ta_scheduler.calendar import date_status, get_calendar
from ta_scheduler.calendar.files import baked_file, provisional_file, read_calendar_file
from ta_scheduler.calendar.provisional import DEFAULT_FIRST_YEAR, DEFAULT_YEARS, provisional_year, provisional_years
from ta_timetables import TradingDayTimetable, TradingSessionsTimetable

SH = "Asia/Shanghai"

#: Where the rules (written for the 2025 statute and the State Council's 2024+ arrangements)
#: and the exchanges' published calendars disagree, per year: (closed by the rules but open,
#: open by the rules but closed). 2024-2026 must be exact; 2020-2023 followed the older
#: statute (a one-day Labour Day, no Spring Festival eve) and are listed as they are.
DIFFERENCES = {
    2020: ([], []),
    2021: ([date(2021, 2, 18)], []),
    2022: ([date(2022, 2, 7), date(2022, 5, 5)], []),
    2023: ([date(2023, 5, 4), date(2023, 5, 5)], []),
    2024: ([], []),
    2025: ([], []),
    2026: ([], []),
}


@pytest.mark.parametrize("year", sorted(DIFFERENCES))
def test_rules_against_the_published_calendar(year):
    published = read_calendar_file(baked_file()).years[year]
    ours = provisional_year(year)
    extra = sorted(ours.closed_weekdays - published.closed_weekdays)
    missed = sorted(published.closed_weekdays - ours.closed_weekdays)
    assert (extra, missed) == DIFFERENCES[year]
    if year >= 2024:
        same = ("first", "last", "closed_weekdays", "open_weekend_days")
        assert [getattr(ours, a) for a in same] == [getattr(published, a) for a in same]


def test_committed_provisional_file_is_what_the_rules_produce():
    """``python -m ta_scheduler.calendar.provisional`` regenerates the committed file."""
    committed = read_calendar_file(provisional_file())
    years = range(DEFAULT_FIRST_YEAR, DEFAULT_FIRST_YEAR + DEFAULT_YEARS)
    expected, source = provisional_years(years)
    assert committed.years == expected
    assert committed.source == source
    assert json.loads(provisional_file().read_text())["years"]["2027"]["sessions"] == 243


def _statutory_days(year: int) -> list[date]:
    """The statutory holidays themselves (no observed or substituted days), from the library."""
    named = holidays.China(years=year, observed=False, language="en_US")
    days = [d for d, name in named.items() if "substituted" not in name]
    first_day = min(d for d, name in named.items() if "Spring Festival" in name and "Eve" not in name)
    return sorted({*days, first_day - timedelta(days=1)})  # the eve is statutory since 2025


def _walk(timetable, year: int) -> list[pendulum.DateTime]:
    restriction = TimeRestriction(pendulum.datetime(year, 1, 1, tz=SH), None, True)
    runs, last = [], None
    while True:
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        moment = info.run_after.in_timezone(SH)
        if moment.year > year:
            return runs
        runs.append(moment)
        last = info.data_interval


def test_timetables_walk_2027_closed_on_every_statutory_holiday_weekday(calendar_dir):
    statutory = _statutory_days(2027)
    assert len(statutory) == 13  # 1 + 4 + 1 + 2 + 1 + 1 + 3 days (2025 statute)
    days = [r.date() for r in _walk(TradingDayTimetable(), 2027)]
    assert len(days) == len(set(days)) == 243
    assert not [d for d in days if d.weekday() >= 5]
    assert not set(days) & set(statutory)
    # every weekday of each block is closed: the Spring Festival eve..初七, 1-5 May, 1-7 October
    for first, last in [(date(2027, 2, 5), date(2027, 2, 12)), (date(2027, 5, 1), date(2027, 5, 5)),
                        (date(2027, 10, 1), date(2027, 10, 7))]:
        assert not [d for d in days if first <= d <= last]
    assert {date_status(d) for d in days} == {"provisional"}
    ticks = _walk(TradingSessionsTimetable(every_minutes=30), 2027)
    assert {t.date() for t in ticks} == set(days)
    assert len(ticks) == 243 * 10


def test_the_provisional_layer_is_lowest(calendar_dir):
    cal = get_calendar()
    assert cal.source(date(2026, 2, 16)).startswith("exchange_calendars XSHG")
    assert cal.source(date(2027, 2, 8)).startswith("provisional: statutory holiday rules (holidays ")
    assert cal.source(date(2037, 1, 5)) is None


def test_daily_report_subtitle_says_when_the_calendar_is_provisional(calendar_dir, tmp_path, monkeypatch):
    from ta_scheduler.reports.daily import calendar_caveat

    assert calendar_caveat("2026-12-31") is None
    assert calendar_caveat("2027-01-04") == "交易日历为临时日历（按法定节假日规则推算，交易所尚未公布）"
    assert calendar_caveat("2037-01-05") == "交易日历未核实（按周一至周五假定）"
