"""The timetables, driven the way the scheduler drives them (``next_dagrun_info`` walks)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone

import pendulum
import pytest
import ta_timetables
from airflow.timetables.base import DataInterval, TimeRestriction
from ta_scheduler.calendar.runs import jobs_due, select_jobs
from ta_timetables import MultiScheduleTimetable, TradingDayTimetable, TradingSessionsTimetable

SH = "Asia/Shanghai"


def sh(*args: int) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=SH)


def walk(timetable, start, end, *, catchup: bool = True):
    """run_after of every run from ``start`` until the first run after ``end`` (local times)."""
    restriction = TimeRestriction(earliest=start, latest=None, catchup=catchup)
    runs, last = [], None
    while True:
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None
        if info.run_after > end:
            return runs
        runs.append(info.run_after.in_timezone(SH))
        last = info.data_interval


@pytest.fixture
def clock(monkeypatch):
    """Pin the timetables' notion of now (UTC) for the catchup=False cases."""

    def set_now(moment: pendulum.DateTime) -> None:
        monkeypatch.setattr(ta_timetables, "_now", lambda: moment.in_timezone("UTC"))

    return set_now


@pytest.mark.parametrize(("year", "count"), [(2024, 242), (2025, 243), (2026, 242)])
def test_trading_day_runs_once_per_session(calendar_dir, year, count):
    runs = walk(TradingDayTimetable(at="16:30"), sh(year, 1, 1), sh(year, 12, 31, 23, 59))
    assert len(runs) == count
    assert len({r.date() for r in runs}) == count
    assert all((r.hour, r.minute) == (16, 30) for r in runs)


def test_trading_day_skips_holidays_and_make_up_weekends(calendar_dir):
    days = {r.date() for r in walk(TradingDayTimetable(), sh(2026, 1, 1), sh(2026, 12, 31, 23))}
    closed = [date(2026, 2, 16), date(2026, 2, 20), date(2026, 2, 23), date(2026, 9, 25), date(2026, 10, 7),
              date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20),
              date(2026, 10, 10)]
    assert not days & set(closed)
    assert {date(2026, 2, 13), date(2026, 2, 24), date(2026, 10, 8)} <= days


def test_trading_day_interval_spans_previous_session(calendar_dir):
    info = TradingDayTimetable(at="16:30").next_dagrun_info(
        last_automated_data_interval=DataInterval(sh(2024, 2, 7, 16, 30), sh(2024, 2, 8, 16, 30)),
        restriction=TimeRestriction(earliest=sh(2024, 1, 1), latest=None, catchup=True),
    )
    assert info.data_interval == DataInterval(sh(2024, 2, 8, 16, 30), sh(2024, 2, 19, 16, 30))
    assert info.run_after == sh(2024, 2, 19, 16, 30)


def test_trading_sessions_fifty_five_minute_runs_a_day(calendar_dir):
    runs = walk(TradingSessionsTimetable(every_minutes=5), sh(2026, 3, 2), sh(2026, 3, 2, 23, 59))
    times = [r.strftime("%H:%M") for r in runs]
    assert len(times) == 50
    assert times[0] == "09:30" and "11:30" in times and "13:00" in times and times[-1] == "15:00"
    assert not [t for t in times if "11:30" < t < "13:00"]
    assert "12:00" not in times


@pytest.mark.parametrize("day", [date(2026, 2, 16), date(2026, 2, 14), date(2026, 10, 10)], ids=str)
def test_trading_sessions_silent_on_closed_days(calendar_dir, day):
    runs = walk(TradingSessionsTimetable(), sh(day.year, day.month, day.day), sh(day.year, day.month, day.day, 23, 59))
    assert runs == []


def test_trading_sessions_lunch_break_jumps_to_13_00(calendar_dir):
    info = TradingSessionsTimetable().next_dagrun_info(
        last_automated_data_interval=DataInterval(sh(2026, 3, 2, 11, 25), sh(2026, 3, 2, 11, 30)),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert info.data_interval == DataInterval(sh(2026, 3, 2, 11, 30), sh(2026, 3, 2, 13, 0))


def test_catchup_false_schedules_only_the_latest_past_tick(calendar_dir, clock):
    clock(sh(2026, 2, 14, 10, 0))  # a make-up Saturday; last session Friday 2026-02-13
    info = TradingDayTimetable(at="16:30").next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=sh(2024, 1, 1), latest=None, catchup=False),
    )
    assert info.run_after == sh(2026, 2, 13, 16, 30)
    after_old_run = TradingDayTimetable(at="16:30").next_dagrun_info(
        last_automated_data_interval=DataInterval(sh(2025, 6, 2, 16, 30), sh(2025, 6, 3, 16, 30)),
        restriction=TimeRestriction(earliest=sh(2024, 1, 1), latest=None, catchup=False),
    )
    assert after_old_run.run_after == sh(2026, 2, 13, 16, 30)


def test_catchup_false_after_latest_run_waits_for_the_next_tick(calendar_dir, clock):
    clock(sh(2026, 2, 14, 10, 0))
    info = TradingSessionsTimetable().next_dagrun_info(
        last_automated_data_interval=DataInterval(sh(2026, 2, 13, 14, 55), sh(2026, 2, 13, 15, 0)),
        restriction=TimeRestriction(earliest=sh(2024, 1, 1), latest=None, catchup=False),
    )
    assert info.run_after == sh(2026, 2, 24, 9, 30)  # after the Spring Festival closure


def test_catchup_false_with_real_clock_never_floods(calendar_dir):
    now = datetime.now(timezone.utc)
    info = TradingDayTimetable().next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=sh(2020, 1, 1), latest=None, catchup=False),
    )
    assert (now - info.run_after).days < 15


def test_latest_restriction_ends_scheduling(calendar_dir):
    info = TradingDayTimetable().next_dagrun_info(
        last_automated_data_interval=DataInterval(sh(2026, 12, 30, 16, 30), sh(2026, 12, 31, 16, 30)),
        restriction=TimeRestriction(earliest=sh(2026, 1, 1), latest=sh(2026, 12, 31, 23, 59), catchup=True),
    )
    assert info is None


@pytest.mark.parametrize(
    ("run_after", "start", "end"),
    [
        (sh(2026, 1, 4, 16), sh(2025, 12, 30, 16, 30), sh(2025, 12, 31, 16, 30)),  # make-up Sunday
        (sh(2026, 1, 5, 0, 0), sh(2025, 12, 31, 16, 30), sh(2026, 1, 5, 16, 30)),  # a trading day
        (sh(2026, 2, 20, 9), sh(2026, 2, 12, 16, 30), sh(2026, 2, 13, 16, 30)),  # Spring Festival
    ],
    ids=["weekend", "session", "holiday"],
)
def test_trading_day_manual_interval_previous_session_to_session(calendar_dir, run_after, start, end):
    assert TradingDayTimetable().infer_manual_data_interval(run_after=run_after) == DataInterval(start, end)


def test_trading_sessions_manual_interval_is_the_last_tick(calendar_dir):
    got = TradingSessionsTimetable().infer_manual_data_interval(run_after=sh(2026, 3, 2, 12, 10))
    assert got == DataInterval(sh(2026, 3, 2, 11, 25), sh(2026, 3, 2, 11, 30))


def test_beyond_known_years_trading_day_follows_the_provisional_rules(calendar_dir):
    runs = walk(TradingDayTimetable(), sh(2027, 1, 1), sh(2027, 1, 31, 23))
    assert len(runs) == 20  # January 2027 has 21 weekdays; New Year's Day is closed
    assert runs[0].date() == date(2027, 1, 4)


def test_description_says_from_when_the_calendar_is_provisional(calendar_dir, clock):
    clock(sh(2026, 11, 29, 10))
    note = "PROVISIONAL from 2027-01-01 to 2036-12-31 (statutory holiday rules"
    assert note in TradingDayTimetable().description
    assert note in TradingSessionsTimetable().description
    assert note in MultiScheduleTimetable({"backup": "0 1 * * 0"}).description


# -- MultiScheduleTimetable -----------------------------------------------------------------

SCHEDULES = {
    "daily_report": "trading_day@16:30",
    "weekly_backup": "0 1 * * 0",
    "cleanup": "30 16 * * 1-5",  # coincides with daily_report on trading days
    "cache_refresh": "trading_day@09:00",
}


def test_multi_fires_at_the_union_once_per_instant(calendar_dir):
    runs = walk(MultiScheduleTimetable(SCHEDULES), sh(2026, 2, 9), sh(2026, 2, 22, 23, 59))
    got = [r.strftime("%m-%d %a %H:%M") for r in runs]
    assert got == [
        "02-09 Mon 09:00", "02-09 Mon 16:30", "02-10 Tue 09:00", "02-10 Tue 16:30",
        "02-11 Wed 09:00", "02-11 Wed 16:30", "02-12 Thu 09:00", "02-12 Thu 16:30",
        "02-13 Fri 09:00", "02-13 Fri 16:30", "02-15 Sun 01:00",
        "02-16 Mon 16:30", "02-17 Tue 16:30", "02-18 Wed 16:30", "02-19 Thu 16:30", "02-20 Fri 16:30",
        "02-22 Sun 01:00",
    ]


def test_multi_runs_are_instants(calendar_dir):
    info = MultiScheduleTimetable(SCHEDULES).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=sh(2026, 2, 15), latest=None, catchup=True),
    )
    assert info.data_interval == DataInterval(sh(2026, 2, 15, 1), sh(2026, 2, 15, 1))


@pytest.mark.parametrize(
    ("moment", "due"),
    [
        (sh(2026, 2, 13, 16, 30), ["daily_report", "cleanup"]),
        (sh(2026, 2, 16, 16, 30), ["cleanup"]),  # Spring Festival: cron only
        (sh(2026, 2, 15, 1, 0), ["weekly_backup"]),
        (sh(2026, 2, 13, 9, 0), ["cache_refresh"]),
        (sh(2026, 2, 13, 12, 0), []),
    ],
    ids=["coinciding", "holiday", "sunday", "morning", "none"],
)
def test_jobs_due_at_scheduled_times(calendar_dir, moment, due):
    assert jobs_due(SCHEDULES, moment.in_timezone("UTC")) == due
    assert select_jobs(SCHEDULES, run_type="scheduled", run_time=moment, requested_jobs=["weekly_backup"]) == due


def test_select_jobs_for_manual_runs(calendar_dir):
    at = sh(2026, 2, 16, 12, 0)
    assert select_jobs(SCHEDULES, run_type="manual", run_time=at, requested_jobs=None) == list(SCHEDULES)
    assert select_jobs(SCHEDULES, run_type="manual", run_time=at, requested_jobs=["all"]) == list(SCHEDULES)
    assert select_jobs(
        SCHEDULES, run_type="manual", run_time=at, requested_jobs=["cache_refresh", "weekly_backup"]
    ) == ["weekly_backup", "cache_refresh"]
    with pytest.raises(ValueError, match="unknown job.*'nope'.*choose from"):
        select_jobs(SCHEDULES, run_type="manual", run_time=at, requested_jobs=["nope"])


def test_select_jobs_accepts_airflow_run_type_enum(calendar_dir):
    from airflow.utils.types import DagRunType

    at = sh(2026, 2, 15, 1, 0)
    assert select_jobs(SCHEDULES, run_type=DagRunType.SCHEDULED, run_time=at, requested_jobs=None) == ["weekly_backup"]
    assert select_jobs(SCHEDULES, run_type=DagRunType.MANUAL, run_time=at, requested_jobs=None) == list(SCHEDULES)


@pytest.mark.parametrize(
    "bad",
    [{"x": "0 1 * *"}, {"x": "61 1 * * *"}, {"x": "trading_day@25:00"}, {"x": "trading_day"}, {}],
    ids=["four-fields", "minute-61", "hour-25", "no-time", "empty"],
)
def test_invalid_schedules_fail_at_parse_time(bad):
    with pytest.raises(ValueError):
        MultiScheduleTimetable(bad)


def test_invalid_arguments_fail_at_parse_time():
    with pytest.raises(ValueError, match="HH:MM"):
        TradingDayTimetable(at="4pm")
    with pytest.raises(ValueError, match="every_minutes"):
        TradingSessionsTimetable(every_minutes=0)
    with pytest.raises(ValueError, match="time zone"):
        TradingDayTimetable(timezone="Mars/Olympus")


# -- Serialization and the UI texts -------------------------------------------------------

TIMETABLES = [
    TradingDayTimetable(at="16:30"),
    TradingDayTimetable(at="09:05", timezone="UTC"),
    TradingSessionsTimetable(every_minutes=15),
    MultiScheduleTimetable(SCHEDULES),
]


@pytest.mark.parametrize("timetable", TIMETABLES, ids=repr)
def test_serialization_round_trip_through_airflow(timetable):
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    encoded = encode_timetable(timetable)
    assert encoded["__type"] == f"ta_timetables.{type(timetable).__name__}"
    decoded = decode_timetable(encoded)
    assert type(decoded).__name__ == type(timetable).__name__
    assert decoded == timetable
    assert decoded.summary == timetable.summary
    assert decoded.description == timetable.description


def test_multi_schedule_order_survives_serialization():
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    decoded = decode_timetable(encode_timetable(MultiScheduleTimetable(SCHEDULES)))
    assert list(decoded.schedules) == list(SCHEDULES)


def test_dag_with_each_timetable_serializes():
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    for i, timetable in enumerate(TIMETABLES):
        with DAG(f"ta_caltest_serialize_{i}", schedule=timetable, start_date=sh(2026, 1, 1), catchup=False) as dag:
            pass
        restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        assert restored.timetable == timetable


def test_summaries_and_descriptions_read_well():
    assert TradingDayTimetable(at="16:30").summary == "trading_day@16:30"
    assert "trading day at 16:30 Asia/Shanghai" in TradingDayTimetable(at="16:30").description
    assert TradingSessionsTimetable(every_minutes=5).summary == "trading_sessions/5min"
    assert "50 runs a day" in TradingSessionsTimetable(every_minutes=5).description
    multi = MultiScheduleTimetable({"weekly_backup": "0 1 * * 0", "daily_report": "trading_day@16:30"})
    assert multi.summary == "weekly_backup=0 1 * * 0, daily_report=trading_day@16:30"
    assert "weekly_backup: At 01:00, only on Sunday" in multi.description


def test_plugin_registers_the_timetables():
    assert {c.__name__ for c in ta_timetables.TradingTimetablesPlugin.timetables} == {
        "TradingDayTimetable", "TradingSessionsTimetable", "MultiScheduleTimetable"
    }


def test_plugin_module_imports_no_heavy_modules(tmp_path):
    code = (
        "import sys, ta_timetables;"
        "ta_timetables.MultiScheduleTimetable({'a': '0 1 * * 0', 'b': 'trading_day@16:30'});"
        "ta_timetables.TradingDayTimetable().infer_manual_data_interval("
        "run_after=__import__('pendulum').datetime(2026, 1, 5));"
        "assert 'PROVISIONAL' in ta_timetables.TradingDayTimetable().description;"
        "bad=[m for m in ('pandas','numpy','exchange_calendars','holidays','pymongo','tushare') if m in sys.modules];"
        "assert not bad, bad"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ta_timetables.__file__).rsplit("/", 1)[0]]))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
