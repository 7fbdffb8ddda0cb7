"""A provisional SSE/SZSE calendar for years no exchange notice covers yet.

The exchanges publish next year's closures in late December (tushare ``trade_cal`` follows
within days) and exchange_calendars' XSHG stops at 2026-12-31, so without this module a new
year would fall back to Monday-Friday: New Year's Day, the Spring Festival and National Day
would all be "open". The closures are predictable from the statutory holidays (国务院
《全国年节及纪念日放假办法》, 2025 revision) and the way the State Council has arranged them
into blocks since 2024; the exchanges close on every weekday of a block and never trade on a
weekend, make-up workdays (调休) included. The rules, per holiday (``d`` = the holiday):

=================  ===============================================================
New Year's Day     a one-day holiday (below); a Tuesday 1 January also closes the
                   Monday 31 December of the year before
Spring Festival    every weekday from the eve (除夕) through the 7th day (初七):
                   8 calendar days
Qingming           one-day holiday (below), on the solar term
Labour Day         every weekday of 1-5 May
Dragon Boat        one-day holiday (below)
Mid-Autumn         one-day holiday (below), unless it joins National Day
National Day       every weekday of 1-7 October; through 8 October when Mid-Autumn
                   falls on 1-8 October; from Mid-Autumn when it falls on 28-30
                   September
one-day holiday    joined to a weekend into a 3-day break: Monday, Wednesday and
                   Friday close that day only; Tuesday closes Monday and Tuesday;
                   Thursday closes Thursday and Friday; Saturday and Sunday close the
                   following Monday
=================  ===============================================================

These rules reproduce the exchanges' published 2024, 2025 and 2026 calendars exactly
(``tests/calendar/test_provisional_calendar.py``); earlier years followed older statutes and
differ (docs/calendar.md lists the days). The lunar and solar-term dates (Spring Festival,
Qingming, Dragon Boat, Mid-Autumn) come from the ``holidays`` package, not from arithmetic
here. It takes ~80 ms to import, so the timetables never load it: an operator command
precomputes the years into ``plugins/ta_calendar_provisional.json`` (the light calendar file
format of :mod:`ta_scheduler.calendar.files`), which is committed::

    .venv/bin/python -m ta_scheduler.calendar.provisional            # 2027..2036

Dates it decides have the status ``"provisional"``; tushare ``trade_cal`` (the synced file)
overrides them, day by day, as soon as the calendar sync sees the year published.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from ta_scheduler.atomic_files import write_json_atomic
from ta_scheduler.calendar.files import (
    PROVISIONAL_FILE_NAME,
    PROVISIONAL_SOURCE_PREFIX,
    YearCalendar,
    calendar_document,
)
from ta_scheduler.config import PROJECT_DIR

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
#: Years the committed file covers by default: from the first year XSHG does not know.
DEFAULT_FIRST_YEAR, DEFAULT_YEARS = 2027, 10


@dataclass(frozen=True)
class Festivals:
    """The dates the rules need that are not fixed in the Gregorian calendar."""

    spring_festival: date  # 正月初一, the first day of the lunar year
    qingming: date
    dragon_boat: date
    mid_autumn: date


def festival_dates(year: int) -> Festivals:
    """Lunar and solar-term holidays of ``year`` from the ``holidays`` package (China)."""
    import holidays

    named = holidays.China(years=year, observed=False, language="en_US")

    def first(word: str, *, not_word: str | None = None) -> date:
        days = [d for d, name in named.items() if word in name and (not_word is None or not_word not in name)]
        if not days:
            raise ValueError(f"holidays {holidays.__version__} has no {word!r} for China {year}")
        return min(days)

    return Festivals(
        spring_festival=first("Spring Festival", not_word="Eve"),
        qingming=first("Tomb-Sweeping"),
        dragon_boat=first("Dragon Boat"),
        mid_autumn=first("Mid-Autumn"),
    )


def one_day_holiday(d: date) -> list[date]:
    """Weekdays the exchanges close for a one-day holiday on ``d`` (see the module table)."""
    return {
        0: [d],
        1: [d - DAY, d],
        2: [d],
        3: [d, d + DAY],
        4: [d],
        5: [d + 2 * DAY],
        6: [d + DAY],
    }[d.weekday()]


def _weekdays(first: date, last: date) -> list[date]:
    out, d = [], first
    while d <= last:
        if d.weekday() < 5:
            out.append(d)
        d += DAY
    return out


def closed_weekdays(year: int, festivals: Festivals, next_new_year: date | None = None) -> set[date]:
    """The weekdays of ``year`` the rules close (weekends are closed anyway)."""
    f = festivals
    closed: set[date] = set(one_day_holiday(date(year, 1, 1)))
    closed.update(one_day_holiday(next_new_year or date(year + 1, 1, 1)))
    eve = f.spring_festival - DAY
    closed.update(_weekdays(eve, eve + 7 * DAY))
    closed.update(one_day_holiday(f.qingming))
    closed.update(_weekdays(date(year, 5, 1), date(year, 5, 5)))
    closed.update(one_day_holiday(f.dragon_boat))
    oct1 = date(year, 10, 1)
    if oct1 <= f.mid_autumn <= date(year, 10, 8):
        closed.update(_weekdays(oct1, date(year, 10, 8)))
    elif date(year, 9, 28) <= f.mid_autumn < oct1:
        closed.update(_weekdays(f.mid_autumn, date(year, 10, 7)))
    else:
        closed.update(one_day_holiday(f.mid_autumn))
        closed.update(_weekdays(oct1, date(year, 10, 7)))
    return {d for d in closed if d.year == year}


def provisional_year(year: int) -> YearCalendar:
    """The whole of ``year`` by the statutory rules."""
    closed = closed_weekdays(year, festival_dates(year))
    return YearCalendar(year, date(year, 1, 1), date(year, 12, 31), frozenset(closed))


def provisional_years(years: Iterable[int]) -> tuple[dict[int, YearCalendar], str]:
    """The years by the rules, plus the source label the calendar file carries."""
    import holidays

    label = f"{PROVISIONAL_SOURCE_PREFIX}: statutory holiday rules (holidays {holidays.__version__})"
    return {y: provisional_year(y) for y in sorted(set(years))}, label


def write_provisional_file(path: Path, years: Iterable[int]) -> Path:
    """Generate the provisional calendar file at ``path`` (atomically) and return it."""
    entries, source = provisional_years(years)
    generated_at = datetime.now().astimezone().isoformat(timespec="seconds")
    write_json_atomic(path, calendar_document(entries, source=source, generated_at=generated_at))
    log.info("wrote %s: %s, years %d-%d", path, source, min(entries), max(entries))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, default=DEFAULT_FIRST_YEAR, help="first year (default 2027)")
    parser.add_argument("--last", type=int, default=None, help="last year (default first + 9)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "plugins" / PROVISIONAL_FILE_NAME)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    last = args.last if args.last is not None else args.first + DEFAULT_YEARS - 1
    write_provisional_file(args.out, range(args.first, last + 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
