"""Trading-calendar costs on the scheduler's hot path.

- ``timetable_next_dagrun_info``: median µs per ``TradingDayTimetable.next_dagrun_info`` call
  while walking a whole year run by run (what the scheduler and ``dags next-execution`` do);
  baseline: Airflow's ``CronTriggerTimetable("30 16 * * 1-5")`` doing the same walk.
- ``timetable_sessions_next_dagrun_info`` / ``timetable_multi_next_dagrun_info``: the same for
  the 5-minute session timetable and a four-schedule category timetable (same baseline).
- ``calendar_is_session``: median µs per ``is_session(date)`` over 2024–2026; baseline:
  exchange_calendars ``XSHG.is_session``.
- ``timetable_provisional_next_dagrun_info``: the ``TradingDayTimetable`` walk over 2027,
  decided by the provisional file; baseline: the same walk over 2025 (XSHG).
- ``calendar_load_with_provisional``: ms to read the baked and provisional files and build the
  merged calendar (once per process and per file change; what a DAG parse pays once);
  baseline: the baked file alone.
- ``timetable_description``: µs per ``TradingDayTimetable.description`` (computed at each parse
  for the provisional note); baseline: ``summary``.
Target (SPEC §8): timetable decisions in microseconds, ≤ 50 µs per ``next_dagrun_info``.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR / "plugins") not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR / "plugins"))

SH = "Asia/Shanghai"


def _walk_median_us(timetable, year: int = 2025) -> tuple[float, int]:
    import pendulum
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(pendulum.datetime(year, 1, 1, tz=SH), None, True)
    end = pendulum.datetime(year, 12, 31, 23, 59, tz=SH)
    samples, last = [], None
    perf = time.perf_counter_ns
    while True:
        t0 = perf()
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        samples.append(perf() - t0)
        if info is None or info.run_after > end:
            break
        last = info.data_interval
    return statistics.median(samples) / 1000, len(samples) - 1


def _median_call_us(fn, n: int = 2000) -> float:
    perf = time.perf_counter_ns
    samples = []
    for _ in range(n):
        t0 = perf()
        fn()
        samples.append(perf() - t0)
    return statistics.median(samples) / 1000


def run() -> dict[str, dict]:
    from airflow.timetables.trigger import CronTriggerTimetable
    from ta_scheduler.calendar.lookup import get_calendar
    from ta_timetables import MultiScheduleTimetable, TradingDayTimetable, TradingSessionsTimetable

    get_calendar()  # load the files once, as a long-lived scheduler has
    cron = CronTriggerTimetable("30 16 * * 1-5", timezone=SH)
    _walk_median_us(cron)  # warm both paths
    _walk_median_us(TradingDayTimetable(at="16:30"))
    base_us, base_runs = _walk_median_us(cron)
    ours_us, ours_runs = _walk_median_us(TradingDayTimetable(at="16:30"))
    sessions_us, sessions_runs = _walk_median_us(TradingSessionsTimetable(every_minutes=5))
    multi = MultiScheduleTimetable(
        {"report": "trading_day@16:30", "cache": "trading_day@09:00", "backup": "0 1 * * 0", "cleanup": "0 2 * * *"}
    )
    multi_us, multi_runs = _walk_median_us(multi)

    import exchange_calendars as xcals

    xshg = xcals.get_calendar("XSHG")
    cal = get_calendar()
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range((date(2026, 12, 31) - date(2024, 1, 1)).days + 1)]
    perf = time.perf_counter_ns

    def median_us(fn) -> float:
        samples = []
        for d in days:
            t0 = perf()
            fn(d)
            samples.append(perf() - t0)
        return statistics.median(samples) / 1000

    median_us(cal.is_session)
    median_us(xshg.is_session)
    ours_is = median_us(cal.is_session)
    xcals_is = median_us(xshg.is_session)
    assert sum(map(cal.is_session, days)) == sum(map(xshg.is_session, days)) == 242 + 243 + 242

    prov_us, prov_runs = _walk_median_us(TradingDayTimetable(at="16:30"), 2027)

    from ta_scheduler.calendar.files import baked_file, calendar_dir, provisional_file
    from ta_scheduler.calendar.lookup import CalendarStore

    def load_ms(provisional) -> float:
        samples = []
        for _ in range(15):
            store = CalendarStore(calendar_dir(), baked_file(), provisional)
            t0 = perf()
            store.calendar()
            samples.append(perf() - t0)
        return statistics.median(samples) / 1e6

    load_with, load_without = load_ms(provisional_file()), load_ms(None)
    day_tt = TradingDayTimetable(at="16:30")
    desc_us = _median_call_us(lambda: day_tt.description)
    summary_us = _median_call_us(lambda: day_tt.summary)

    return {
        "timetable_provisional_next_dagrun_info": {
            "value": prov_us, "unit": "us", "baseline": ours_us,
            "note": f"TradingDayTimetable 16:30 over 2027 (provisional file), {prov_runs} runs; "
                    "baseline the same walk over 2025 (XSHG)",
        },
        "calendar_load_with_provisional": {
            "value": round(load_with, 3), "unit": "ms", "baseline": round(load_without, 3),
            "note": "read baked + provisional files and build the merged calendar 2005-2036; "
                    "baseline baked file alone (2005-2026); once per process and file change",
        },
        "timetable_description": {
            "value": desc_us, "unit": "us", "baseline": summary_us,
            "note": "TradingDayTimetable.description with its provisional-calendar note (per parse); "
                    "baseline .summary",
        },
        "timetable_next_dagrun_info": {
            "value": ours_us, "unit": "us", "baseline": base_us,
            "note": f"TradingDayTimetable 16:30, {ours_runs} runs in 2025; baseline CronTriggerTimetable "
                    f"'30 16 * * 1-5' ({base_runs} runs); target <= 50 us",
        },
        "timetable_sessions_next_dagrun_info": {
            "value": sessions_us, "unit": "us", "baseline": base_us,
            "note": f"TradingSessionsTimetable 5 min, {sessions_runs} runs in 2025; baseline as above",
        },
        "timetable_multi_next_dagrun_info": {
            "value": multi_us, "unit": "us", "baseline": base_us,
            "note": f"MultiScheduleTimetable, 2 trading-day + 2 cron schedules, {multi_runs} runs in 2025",
        },
        "calendar_is_session": {
            "value": ours_is, "unit": "us", "baseline": xcals_is,
            "note": "ta_scheduler.calendar is_session(date) over 2024-2026; "
                    "baseline exchange_calendars XSHG.is_session",
        },
    }
