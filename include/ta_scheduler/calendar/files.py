"""The trading-calendar files: their format, how one is read and checked, and where each lives.

The calendar (:mod:`.lookup`) is merged from these files, each a ``ta-trade-calendar/1`` JSON
document:

1. the **synced file** ``$TA_CALENDAR_DIR/trade_calendar_sse.json``, written by
   :func:`ta_scheduler.calendar.sync.sync_trade_calendar` from tushare ``trade_cal``, with its
   backup ``trade_calendar_sse.prev.json`` (the previous good file);
2. the **baked file** ``plugins/ta_calendar_xshg.json``: XSHG sessions 2005–2026, generated
   by ``python -m ta_scheduler.calendar.xshg`` and committed;
3. the **provisional file** ``plugins/ta_calendar_provisional.json``: the years after XSHG
   (2027–2036) built from the statutory holiday rules by
   ``python -m ta_scheduler.calendar.provisional`` and committed.

File format (``ta-trade-calendar/1``)::

    {"format": "ta-trade-calendar/1", "exchange": "SSE", "source": "tushare trade_cal",
     "generated_at": "2026-12-23T17:05:00+08:00",
     "years": {"2027": {"first": "2027-01-01", "last": "2027-12-31", "sessions": 243,
                        "closed_weekdays": ["2027-01-01", ...], "open_weekend_days": []}}}

``first``/``last`` bound the dates the year's entry covers (a partial publication covers less
than the whole year); ``sessions`` is a checksum that must equal the weekdays in that range
minus ``closed_weekdays`` plus ``open_weekend_days``, so a truncated or hand-mangled file is
rejected rather than trusted. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ta_scheduler.config import plugin_folders, setting, state_path

FILE_FORMAT = "ta-trade-calendar/1"
EXCHANGE = "SSE"
SYNCED_FILE_NAME = "trade_calendar_sse.json"
BACKUP_FILE_NAME = "trade_calendar_sse.prev.json"
BAKED_FILE_NAME = "ta_calendar_xshg.json"
PROVISIONAL_FILE_NAME = "ta_calendar_provisional.json"
#: A calendar file whose ``source`` starts with this decides "provisional" dates.
PROVISIONAL_SOURCE_PREFIX = "provisional"


class CalendarFileError(ValueError):
    """A calendar file is unreadable or fails its consistency checks."""


@dataclass(frozen=True)
class YearCalendar:
    """The sessions of one year as one source knows them, for dates ``first``..``last``."""

    year: int
    first: date
    last: date
    closed_weekdays: frozenset[date]
    open_weekend_days: frozenset[date] = frozenset()

    @property
    def sessions(self) -> int:
        """Number of sessions between ``first`` and ``last`` inclusive."""
        return _weekdays_between(self.first, self.last) - len(self.closed_weekdays) + len(self.open_weekend_days)

    @property
    def complete(self) -> bool:
        """True when the entry covers 1 January through 31 December."""
        return self.first == date(self.year, 1, 1) and self.last == date(self.year, 12, 31)

    def is_session(self, d: date) -> bool:
        """Whether ``d`` (inside ``first``..``last``) is a session in this source."""
        if d.weekday() < 5:
            return d not in self.closed_weekdays
        return d in self.open_weekend_days

    @classmethod
    def from_sessions(cls, year: int, sessions: Iterable[date], first: date, last: date) -> YearCalendar:
        """Build from the full list of session dates of ``first``..``last``."""
        open_days = set(sessions)
        closed: set[date] = set()
        open_weekend: set[date] = set()
        d = first
        while d <= last:
            if d.weekday() < 5 and d not in open_days:
                closed.add(d)
            elif d.weekday() >= 5 and d in open_days:
                open_weekend.add(d)
            d += timedelta(days=1)
        return cls(year, first, last, frozenset(closed), frozenset(open_weekend))

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "sessions": self.sessions,
            "closed_weekdays": sorted(d.isoformat() for d in self.closed_weekdays),
            "open_weekend_days": sorted(d.isoformat() for d in self.open_weekend_days),
        }

    @classmethod
    def from_json(cls, year: int, raw: Mapping[str, Any]) -> YearCalendar:
        """Parse and check one year entry; raises :class:`CalendarFileError` when inconsistent."""
        try:
            first = date.fromisoformat(raw["first"])
            last = date.fromisoformat(raw["last"])
            closed = frozenset(date.fromisoformat(s) for s in raw["closed_weekdays"])
            open_weekend = frozenset(date.fromisoformat(s) for s in raw.get("open_weekend_days", ()))
            expected = int(raw["sessions"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CalendarFileError(f"year {year}: malformed entry ({exc!r})") from exc
        if not (first.year == last.year == year and first <= last):
            raise CalendarFileError(f"year {year}: range {first}..{last} is not inside the year")
        for d in closed:
            if not (first <= d <= last) or d.weekday() >= 5:
                raise CalendarFileError(f"year {year}: closed_weekdays has {d}, not a weekday in {first}..{last}")
        for d in open_weekend:
            if not (first <= d <= last) or d.weekday() < 5:
                raise CalendarFileError(f"year {year}: open_weekend_days has {d}, not a weekend day in {first}..{last}")
        entry = cls(year, first, last, closed, open_weekend)
        if entry.sessions != expected:
            raise CalendarFileError(
                f"year {year}: checksum mismatch, entry lists {expected} sessions but its dates give {entry.sessions}"
            )
        return entry


def _weekdays_between(first: date, last: date) -> int:
    days = (last - first).days + 1
    if days <= 0:
        return 0
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    wd = first.weekday()
    for i in range(rest):
        if (wd + i) % 7 < 5:
            count += 1
    return count


@dataclass(frozen=True)
class CalendarFile:
    """A parsed calendar file: its years plus where they came from."""

    path: Path
    source: str
    generated_at: str
    years: dict[int, YearCalendar]


def parse_calendar_document(doc: Any, path: Path) -> CalendarFile:
    """Check a decoded calendar document; raises :class:`CalendarFileError` when it is not one."""
    if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
        raise CalendarFileError(f"{path}: not a {FILE_FORMAT} document")
    if doc.get("exchange", EXCHANGE) != EXCHANGE:
        raise CalendarFileError(f"{path}: exchange {doc.get('exchange')!r}, expected {EXCHANGE}")
    raw_years = doc.get("years")
    if not isinstance(raw_years, dict):
        raise CalendarFileError(f"{path}: 'years' must be an object")
    years: dict[int, YearCalendar] = {}
    for key, raw in raw_years.items():
        try:
            year = int(key)
        except ValueError as exc:
            raise CalendarFileError(f"{path}: year key {key!r} is not a year") from exc
        if not isinstance(raw, dict):
            raise CalendarFileError(f"{path}: year {year} must be an object")
        try:
            years[year] = YearCalendar.from_json(year, raw)
        except CalendarFileError as exc:
            raise CalendarFileError(f"{path}: {exc}") from exc
    return CalendarFile(path, str(doc.get("source", "")), str(doc.get("generated_at", "")), years)


def read_calendar_file(path: Path) -> CalendarFile:
    """Read and check a calendar file; raises :class:`CalendarFileError` (also for I/O errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CalendarFileError(f"{path}: invalid JSON ({exc})") from exc
    return parse_calendar_document(doc, path)


def calendar_document(years: Mapping[int, YearCalendar], *, source: str, generated_at: str) -> dict[str, Any]:
    """The JSON document for ``years`` (see the module docstring for the format)."""
    return {
        "format": FILE_FORMAT,
        "exchange": EXCHANGE,
        "source": source,
        "generated_at": generated_at,
        "years": {str(y): years[y].to_json() for y in sorted(years)},
    }


def calendar_dir() -> Path:
    """Where the synced calendar lives: ``TA_CALENDAR_DIR``, else ``$TA_STATE_DIR/calendar``.

    In a multi-container deployment point ``TA_CALENDAR_DIR`` at a volume shared by the
    worker that syncs and the scheduler/dag-processor/api-server that read.
    """
    return state_path("TA_CALENDAR_DIR", "calendar")


def baked_file() -> Path | None:
    """The committed XSHG file: ``TA_CALENDAR_BAKED_FILE``, else the plugins folder's copy."""
    return _plugin_file(BAKED_FILE_NAME, "TA_CALENDAR_BAKED_FILE")


def provisional_file() -> Path | None:
    """The committed provisional file: ``TA_CALENDAR_PROVISIONAL_FILE``, else the plugins folder's."""
    return _plugin_file(PROVISIONAL_FILE_NAME, "TA_CALENDAR_PROVISIONAL_FILE")


def _plugin_file(name: str, env_var: str) -> Path | None:
    explicit = setting(env_var)
    if explicit:
        return Path(explicit)
    for folder in plugin_folders():
        path = folder / name
        if path.is_file():
            return path
    return None
