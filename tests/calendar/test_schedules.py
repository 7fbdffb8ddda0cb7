"""Cron specs of the multi-schedule timetables: croniter's rules, on exchange-local naive times."""

from __future__ import annotations

from datetime import datetime

import pytest
from ta_scheduler.calendar.lookup import get_calendar
from ta_scheduler.calendar.schedules import parse_schedule


def test_cron_ticks_step_forward_and_back(calendar_dir):
    cal = get_calendar()
    sunday = parse_schedule("0 1 * * sun")
    assert sunday.next_tick(datetime(2026, 2, 15, 1, 0), cal) == datetime(2026, 2, 22, 1, 0)
    assert sunday.next_tick(datetime(2026, 2, 15, 1, 0), cal, inclusive=True) == datetime(2026, 2, 15, 1, 0)
    assert sunday.prev_tick(datetime(2026, 2, 15, 1, 0, 30), cal) == datetime(2026, 2, 15, 1, 0)
    assert sunday.prev_tick(datetime(2026, 2, 15, 1, 0), cal, inclusive=False) == datetime(2026, 2, 8, 1, 0)
    assert sunday.fires_at(datetime(2026, 2, 15, 1, 0), cal) and not sunday.fires_at(datetime(2026, 2, 15, 1, 0, 1), cal)


def test_cron_day_of_month_or_day_of_week_as_in_cron(calendar_dir):
    ticks = parse_schedule("0 9 13 * fri")  # the 13th, and every Friday
    cal = get_calendar()
    got, t = [], datetime(2026, 3, 1)
    for _ in range(5):
        t = ticks.next_tick(t, cal)
        got.append(t.strftime("%m-%d %a"))
    assert got == ["03-06 Fri", "03-13 Fri", "03-20 Fri", "03-27 Fri", "04-03 Fri"]
    assert ticks.next_tick(datetime(2026, 4, 4), cal) == datetime(2026, 4, 10, 9, 0)
    assert ticks.next_tick(datetime(2026, 5, 9), cal) == datetime(2026, 5, 13, 9, 0)  # a Wednesday


def test_a_cron_that_never_fires_has_no_next_tick(calendar_dir):
    assert parse_schedule("0 0 30 2 *").next_tick(datetime(2026, 1, 1), get_calendar()) is None


@pytest.mark.parametrize(("spec", "message"), [
    ("0 1 * *", "must have 5 fields"),
    ("0 1 * * 0 2026", "must have 5 fields"),
    ("61 * * * *", "out of range"),
    ("x * * * *", "not acceptable"),
    ("trading_day 16:30", "expected trading_day@HH:MM"),
])
def test_bad_specs_are_refused_naming_the_spec(spec, message):
    with pytest.raises(ValueError, match=message) as err:
        parse_schedule(spec)
    assert repr(spec) in str(err.value)
