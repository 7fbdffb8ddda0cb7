"""The merged calendar: exact for 2024–2026, provisional rules then Mon–Fri beyond, visible about which is which."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from ta_scheduler.calendar import (
    calendar_coverage_report,
    coverage_end,
    date_status,
    get_calendar,
    is_session,
)
from ta_scheduler.calendar.files import BAKED_FILE_NAME

CLOSED_WEEKDAYS = [
    *[date(2024, 2, 9) + timedelta(days=i) for i in range(8)],  # 02-09 .. 02-16
    *[date(2025, 1, 28) + timedelta(days=i) for i in range(8)],  # 01-28 .. 02-04
    *[date(2026, 2, 16) + timedelta(days=i) for i in range(5)],
    date(2026, 2, 23),
    *[date(2025, 10, 1) + timedelta(days=i) for i in range(8)],  # 10-01 .. 10-08
    date(2026, 9, 25),
    *[date(2026, 10, 1) + timedelta(days=i) for i in range(7)],  # 10-01 .. 10-07
]
MAKE_UP_WEEKEND_DAYS = [
    date(2024, 2, 4), date(2024, 2, 18), date(2025, 1, 26), date(2025, 2, 8), date(2026, 1, 4),
    date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10),
]


@pytest.mark.parametrize("day", [d for d in CLOSED_WEEKDAYS if d.weekday() < 5], ids=str)
def test_holiday_weekdays_are_closed(calendar_dir, day):
    assert not is_session(day)
    assert date_status(day) == "verified"


@pytest.mark.parametrize("day", MAKE_UP_WEEKEND_DAYS, ids=str)
def test_make_up_weekend_days_stay_closed(calendar_dir, day):
    assert day.weekday() >= 5
    assert not is_session(day)


@pytest.mark.parametrize(("year", "count"), [(2024, 242), (2025, 243), (2026, 242)])
def test_session_counts_match_the_exchange(calendar_dir, year, count):
    assert len(get_calendar().sessions_between(date(year, 1, 1), date(year, 12, 31))) == count


def test_ordinary_days_around_the_holidays_are_open(calendar_dir):
    assert is_session(date(2024, 2, 8)) and is_session(date(2024, 2, 19))
    assert is_session("2025-02-05") and is_session("20251009")
    assert get_calendar().next_session(date(2026, 9, 30)) == date(2026, 10, 8)


def test_beyond_known_years_the_statutory_rules_decide_provisionally(calendar_dir):
    assert not is_session(date(2027, 1, 1))  # New Year's Day, a Friday
    assert not is_session(date(2027, 1, 2))
    assert is_session(date(2027, 1, 4))
    assert date_status(date(2027, 1, 1)) == "provisional"
    assert date_status(date(2027, 1, 4)) == "provisional"
    assert date_status(date(2026, 12, 31)) == "verified"


def test_beyond_the_provisional_years_weekdays_are_assumed_sessions(calendar_dir):
    assert is_session(date(2037, 1, 1))  # a Thursday: surely a holiday, but no source says so
    assert date_status(date(2037, 1, 1)) == "assumed"
    assert date_status(date(2036, 12, 31)) == "provisional"


def test_coverage_report_alerts_within_30_days_of_the_end(calendar_dir):
    near = calendar_coverage_report(date(2026, 12, 10))
    assert not near["ok"]
    assert near["verified_through"] == "2026-12-31"
    assert near["provisional_from"] == "2027-01-01"
    assert near["provisional_through"] == "2036-12-31"
    assert near["assumed_from"] == "2037-01-01"
    assert near["provisional_years"] == list(range(2027, 2037))
    assert near["days_left"] == 22
    assert "PROVISIONAL" in near["message"] and "2027-01-01" in near["message"]
    far = calendar_coverage_report(date(2026, 6, 1))
    assert far["ok"] and far["days_left"] == 214
    assert coverage_end(date(2026, 6, 1)) == date(2026, 12, 31)
    assert coverage_end(date(2027, 3, 1)) is None


def test_coverage_report_without_provisional_file_says_assumed(calendar_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TA_CALENDAR_PROVISIONAL_FILE", str(tmp_path / "nowhere.json"))
    near = calendar_coverage_report(date(2026, 12, 10))
    assert near["assumed_from"] == "2027-01-01" and near["provisional_from"] is None
    assert "ASSUMED" in near["message"] and any("nowhere.json" in p for p in near["problems"])
    assert date_status(date(2027, 1, 1)) == "assumed" and is_session(date(2027, 1, 1))


def test_missing_baked_file_falls_back_to_weekdays_and_reports_it(calendar_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TA_CALENDAR_BAKED_FILE", str(tmp_path / "nowhere.json"))
    assert is_session(date(2024, 2, 9))  # the Spring Festival eve, now only "assumed"
    report = calendar_coverage_report(date(2026, 6, 1))
    assert not report["ok"]
    assert any("nowhere.json" in p for p in report["problems"])


def test_tampered_baked_file_is_rejected_by_its_checksum(calendar_dir, tmp_path, monkeypatch):
    from ta_scheduler.calendar.files import baked_file

    doc = json.loads(baked_file().read_text())
    doc["years"]["2025"]["closed_weekdays"].remove("2025-10-08")  # sessions count no longer matches
    bad = tmp_path / BAKED_FILE_NAME
    bad.write_text(json.dumps(doc))
    monkeypatch.setenv("TA_CALENDAR_BAKED_FILE", str(bad))
    assert date_status(date(2025, 10, 8)) == "assumed"
    assert "checksum" in " ".join(calendar_coverage_report(date(2025, 1, 1))["problems"])


def test_baked_file_matches_exchange_calendars(calendar_dir):
    """The committed file is what ``python -m ta_scheduler.calendar.xshg`` produces."""
    import exchange_calendars as xcals

    xshg = xcals.get_calendar("XSHG", start="2005-01-01", end="2026-12-31")
    expected = {ts.date() for ts in xshg.sessions}
    ours = set(get_calendar().sessions_between(date(2005, 1, 1), date(2026, 12, 31)))
    assert ours == expected


def test_calendar_package_imports_without_heavy_modules():
    code = (
        "import sys, ta_scheduler.calendar, ta_scheduler.calendar.runs;"
        "bad=[m for m in ('pandas','numpy','exchange_calendars','holidays','pymongo','tushare') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ))


@pytest.mark.parametrize(
    "content",
    [
        "",
        "[1, 2]",
        '{"format": "ta-trade-calendar/1", "years": {"2027": {"first": 5}}}',
        '{"format": "ta-trade-calendar/1", "years": {"2027": {"first": "2027-01-01", "last": "2027-12-31",'
        ' "sessions": 261, "closed_weekdays": "2027-01-01"}}}',
        '{"format": "ta-trade-calendar/1", "years": {"2027": {"first": "2026-01-01", "last": "2027-12-31",'
        ' "sessions": 1, "closed_weekdays": []}}}',
        '{"format": "something-else", "years": {}}',
    ],
    ids=["empty", "list", "wrong-type", "string-list", "range-outside-year", "other-format"],
)
def test_unusable_synced_file_never_raises(calendar_dir, content):
    from ta_scheduler.calendar.files import SYNCED_FILE_NAME

    calendar_dir.mkdir(parents=True)
    (calendar_dir / SYNCED_FILE_NAME).write_text(content)
    assert not is_session(date(2027, 2, 8))  # the provisional rules still apply
    assert not is_session(date(2026, 2, 16))  # XSHG still applies
    assert calendar_coverage_report(date(2026, 6, 1))["problems"]
