"""Bake exchange_calendars ``XSHG`` into the light file the timetables read.

XSHG matches the SSE/SZSE notices (checked for 2024–2026) but needs pandas and stops at
2026-12-31, so it is read once, here, by an operator command, and committed as
``plugins/ta_calendar_xshg.json``. Regenerate after upgrading exchange_calendars::

    .venv/bin/python -m ta_scheduler.calendar.xshg --first 2005 --last 2026

The last year defaults to the last year XSHG records (its ``bound_max``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date, datetime
from pathlib import Path

from ta_scheduler.atomic_files import write_json_atomic
from ta_scheduler.calendar.files import BAKED_FILE_NAME, YearCalendar, calendar_document
from ta_scheduler.config import PROJECT_DIR

log = logging.getLogger(__name__)


def xshg_years(first_year: int = 2005, last_year: int | None = None) -> tuple[dict[int, YearCalendar], str]:
    """XSHG sessions per year as :class:`YearCalendar` entries, plus a source label."""
    import exchange_calendars as xcals

    probe = xcals.get_calendar("XSHG")
    bound_last = probe.last_session.year
    last_year = last_year or bound_last
    if last_year > bound_last:
        raise ValueError(f"XSHG records holidays only through {bound_last}; asked for {last_year}")
    cal = xcals.get_calendar("XSHG", start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    sessions_by_year: dict[int, list[date]] = {}
    for ts in cal.sessions:
        d = ts.date()
        sessions_by_year.setdefault(d.year, []).append(d)
    years = {
        y: YearCalendar.from_sessions(y, sessions_by_year.get(y, []), date(y, 1, 1), date(y, 12, 31))
        for y in range(first_year, last_year + 1)
    }
    return years, f"exchange_calendars XSHG {xcals.__version__}"


def write_baked_file(path: Path, first_year: int = 2005, last_year: int | None = None) -> Path:
    """Generate the baked file at ``path`` (atomically) and return it."""
    years, source = xshg_years(first_year, last_year)
    generated_at = datetime.now().astimezone().isoformat(timespec="seconds")
    doc = calendar_document(years, source=source, generated_at=generated_at)
    write_json_atomic(path, doc)
    log.info("wrote %s: %s years %d-%d", path, source, min(years), max(years))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, default=2005, help="first year to bake (default 2005)")
    parser.add_argument("--last", type=int, default=None, help="last year (default: XSHG's last recorded year)")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "plugins" / BAKED_FILE_NAME)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_baked_file(args.out, args.first, args.last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
