"""The SSE/SZSE trading calendar as the scheduler sees it: light, file-backed, never failing.

Why this module exists: exchange_calendars ``XSHG`` is exact for the years it knows but stops
at 2026-12-31 and raises beyond it, and it needs pandas (0.3 s per DAG parse). The timetables
run inside the scheduler loop and the dag-processor, so they read the calendar from small JSON
files instead, with the standard library only:

1. the **synced file** ``$TA_CALENDAR_DIR/trade_calendar_sse.json``, written by
   :func:`ta_scheduler.calendar.sync.sync_trade_calendar` from tushare ``trade_cal``;
   it overrides, per year and within the dates it covers, everything below. If it is missing or
   broken, its backup ``trade_calendar_sse.prev.json`` (the previous good file) is used;
2. the **baked file** ``plugins/ta_calendar_xshg.json``: XSHG sessions 2005–2026, generated
   by ``python -m ta_scheduler.calendar.xshg`` and committed;
3. the **provisional file** ``plugins/ta_calendar_provisional.json``: the years after XSHG
   (2027–2036) built from the statutory holiday rules by
   ``python -m ta_scheduler.calendar.provisional`` and committed. Its dates are
   "provisional", not "verified" (:func:`date_status`);
4. the **weekday rule**: a date no file covers is a session when it is Monday–Friday. Such a
   date is "assumed". :func:`calendar_coverage_report` lets the health check alert well
   before verified dates run out.

Dates are exchange-local (Asia/Shanghai) calendar dates. Nothing here raises because of a
file: problems are logged once per change and the next source is used.

File format (``ta-trade-calendar/1``)::

    {"format": "ta-trade-calendar/1", "exchange": "SSE", "source": "tushare trade_cal",
     "generated_at": "2026-12-23T17:05:00+08:00",
     "years": {"2027": {"first": "2027-01-01", "last": "2027-12-31", "sessions": 243,
                        "closed_weekdays": ["2027-01-01", ...], "open_weekend_days": []}}}

``first``/``last`` bound the dates the year's entry covers (a partial publication covers less
than the whole year); ``sessions`` is a checksum that must equal the weekdays in that range
minus ``closed_weekdays`` plus ``open_weekend_days``, so a truncated or hand-mangled file is
rejected rather than trusted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ta_scheduler.config import PROJECT_DIR, calendar_key, plugin_folders, setting, setting_float, state_path
from ta_scheduler.market import BREAK_END, BREAK_START, SESSION_CLOSE, SESSION_OPEN, TZ

log = logging.getLogger(__name__)

FILE_FORMAT = "ta-trade-calendar/1"
EXCHANGE = "SSE"
SYNCED_FILE_NAME = "trade_calendar_sse.json"
BACKUP_FILE_NAME = "trade_calendar_sse.prev.json"
BAKED_FILE_NAME = "ta_calendar_xshg.json"
PROVISIONAL_FILE_NAME = "ta_calendar_provisional.json"
#: A calendar file whose ``source`` starts with this decides "provisional" dates.
PROVISIONAL_SOURCE_PREFIX = "provisional"


#: Days of warning the health check wants before verified coverage ends.
DEFAULT_WARN_DAYS = 30

#: How often (seconds) a process re-stats the calendar files; a stat costs about 1 µs, so
#: between checks a lookup is pure in-memory work.
RECHECK_SECONDS = setting_float("TA_CALENDAR_RECHECK_SECONDS")

VERIFIED = "verified"
PROVISIONAL = "provisional"
ASSUMED = "assumed"

_PROJECT_DIR = PROJECT_DIR


class CalendarFileError(ValueError):
    """A calendar file is unreadable or fails its consistency checks."""


# --------------------------------------------------------------------------------------------
# One year of one source


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


# --------------------------------------------------------------------------------------------
# Files


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


def write_json_atomic(path: Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` so that readers see the old file or the new one, never half of one.

    tmp file in the same directory → fsync → rename over the target → fsync the directory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = (json.dumps(doc, indent=1, sort_keys=False) + "\n").encode("utf-8")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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


# --------------------------------------------------------------------------------------------
# The merged calendar

_NOT_COVERED, _CLOSED, _OPEN = 0, 1, 2
#: Two weeks of flags from a Monday: slicing at a weekday gives the Mon–Fri pattern from it.
_WEEKS = bytes([_OPEN] * 5 + [_CLOSED] * 2) * 2


class TradingCalendar:
    """An immutable merged view of calendar layers (later layers override earlier ones).

    Lookups are a subtraction and a bytearray index: well under a microsecond. Building it
    fills whole years by slice assignment, then sets the listed exceptions.
    """

    def __init__(self, layers: Iterable[tuple[str, Mapping[int, YearCalendar]]] = ()) -> None:
        self.layers = [(name, dict(years)) for name, years in layers]
        self.sources: list[str] = [name for name, _ in self.layers]
        #: 1-based indexes (as in ``_source``) of the layers whose dates are provisional.
        self._provisional = frozenset(
            i for i, name in enumerate(self.sources, start=1) if name.startswith(PROVISIONAL_SOURCE_PREFIX)
        )
        all_years = sorted({y for _, years in self.layers for y in years})
        if not all_years:
            self._base, self._flags, self._source = 0, bytearray(), bytearray()
            self._verified = bytearray()
            return
        first = date(all_years[0], 1, 1)
        self._base = base = first.toordinal()
        size = date(all_years[-1], 12, 31).toordinal() - base + 1
        self._flags = bytearray(size)
        self._source = bytearray(size)
        for index, (_, years) in enumerate(self.layers, start=1):
            for entry in years.values():
                lo = entry.first.toordinal() - base
                n = (entry.last - entry.first).days + 1
                week = _WEEKS[entry.first.weekday() : entry.first.weekday() + 7]
                self._flags[lo : lo + n] = (week * (n // 7 + 1))[:n]
                for d in entry.closed_weekdays:
                    self._flags[d.toordinal() - base] = _CLOSED
                for d in entry.open_weekend_days:
                    self._flags[d.toordinal() - base] = _OPEN
                self._source[lo : lo + n] = bytes([index]) * n
        # 1 where a non-provisional source decides the date: first_unverified_on_or_after is a find().
        table = bytes(1 if i and i <= len(self.layers) and i not in self._provisional else 0 for i in range(256))
        self._verified = self._source.translate(table)

    def is_session(self, d: date) -> bool:
        """Whether the exchanges trade on ``d`` (weekday rule where no source covers it)."""
        i = d.toordinal() - self._base
        if 0 <= i < len(self._flags):
            flag = self._flags[i]
            if flag:
                return flag == _OPEN
        return d.weekday() < 5

    def is_trading_time(self, moment: datetime) -> bool:
        """Whether the continuous auction runs at ``moment`` (naive = exchange-local time): a
        session day, 09:30–11:30 or 13:00–15:00, both ends included (the ticks the
        ``intraday_prices`` timetable fires at)."""
        if moment.tzinfo is not None:
            moment = moment.astimezone(TZ).replace(tzinfo=None)
        t = moment.time()
        in_hours = SESSION_OPEN <= t <= BREAK_START or BREAK_END <= t <= SESSION_CLOSE
        return in_hours and self.is_session(moment.date())

    def status(self, d: date) -> str:
        """``"verified"`` when an exchange source covers ``d``, ``"provisional"`` when only the
        statutory holiday rules do, else ``"assumed"`` (weekday rule)."""
        i = d.toordinal() - self._base
        if 0 <= i < len(self._flags) and self._flags[i]:
            return PROVISIONAL if self._source[i] in self._provisional else VERIFIED
        return ASSUMED

    def source(self, d: date) -> str | None:
        """Name of the source deciding ``d``, or None for the weekday rule."""
        i = d.toordinal() - self._base
        if 0 <= i < len(self._source) and self._source[i]:
            return self.sources[self._source[i] - 1]
        return None

    def next_session(self, d: date, *, inclusive: bool = False) -> date:
        """First session after ``d`` (or on it, when ``inclusive``)."""
        if not inclusive:
            d += timedelta(days=1)
        for _ in range(3700):
            if self.is_session(d):
                return d
            d += timedelta(days=1)
        raise CalendarFileError(f"no session within ten years after {d}")  # pragma: no cover - needs a corrupt layer

    def previous_session(self, d: date, *, inclusive: bool = False) -> date:
        """Last session before ``d`` (or on it, when ``inclusive``)."""
        if not inclusive:
            d -= timedelta(days=1)
        for _ in range(3700):
            if self.is_session(d):
                return d
            d -= timedelta(days=1)
        raise CalendarFileError(f"no session within ten years before {d}")  # pragma: no cover

    def sessions_between(self, first: date, last: date) -> list[date]:
        """Every session from ``first`` to ``last`` inclusive."""
        out = []
        d = first
        while d <= last:
            if self.is_session(d):
                out.append(d)
            d += timedelta(days=1)
        return out

    def first_assumed_on_or_after(self, d: date) -> date:
        """The first date from ``d`` on that no source covers."""
        i = d.toordinal() - self._base
        if i < 0 or i >= len(self._flags):
            return d
        j = self._flags.find(_NOT_COVERED, i)
        return date.fromordinal(self._base + (len(self._flags) if j < 0 else j))

    def first_unverified_on_or_after(self, d: date) -> date:
        """The first date from ``d`` on that is provisional or assumed."""
        i = d.toordinal() - self._base
        if i < 0 or i >= len(self._verified):
            return d
        j = self._verified.find(0, i)
        return date.fromordinal(self._base + (len(self._verified) if j < 0 else j))

    def provisional_years(self) -> list[int]:
        """Years in which at least one date is decided by the provisional rules."""
        out: set[int] = set()
        for index in self._provisional:
            for y in self.layers[index - 1][1]:
                lo = date(y, 1, 1).toordinal() - self._base
                hi = date(y, 12, 31).toordinal() - self._base + 1
                if self._source.find(index, lo, hi) >= 0:
                    out.add(y)
        return sorted(out)

    def year_sources(self) -> dict[int, list[str]]:
        """For each covered year, the sources (highest precedence first) that cover part of it."""
        out: dict[int, list[str]] = {}
        for name, years in reversed(self.layers):
            for y in years:
                out.setdefault(y, []).append(name)
        return dict(sorted(out.items()))


# --------------------------------------------------------------------------------------------
# The per-process store: files → merged calendar, with mtime checks and fallbacks


def _stat_key(path: Path | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass
class CalendarStore:
    """Loads the baked and synced files for one calendar directory and keeps them fresh.

    ``calendar()`` re-stats the files at most every ``recheck_seconds``; when one changed it
    rebuilds the merged calendar. A broken synced file falls back to its backup, then to
    the baked file alone; a broken baked file falls back to the weekday rule. Problems are
    logged when they appear (not on every call) and listed in :attr:`problems`.
    """

    directory: Path
    baked: Path | None
    provisional: Path | None = None
    recheck_seconds: float = RECHECK_SECONDS
    problems: list[str] = field(default_factory=list)
    synced_source: str | None = None  # which synced file is in use: "current", "backup" or None
    _calendar: TradingCalendar | None = None
    _stamp: tuple | None = None
    _checked_at: float = -1e18
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def synced_path(self) -> Path:
        return self.directory / SYNCED_FILE_NAME

    @property
    def backup_path(self) -> Path:
        return self.directory / BACKUP_FILE_NAME

    def invalidate(self) -> None:
        """Force a re-stat on the next lookup (the sync calls this after writing)."""
        self._checked_at = -1e18

    def calendar(self) -> TradingCalendar:
        """The current merged calendar (never raises)."""
        now = time.monotonic()
        cal = self._calendar
        if cal is not None and now - self._checked_at < self.recheck_seconds:
            return cal
        with self._lock:
            stamp = (
                _stat_key(self.provisional),
                _stat_key(self.baked),
                _stat_key(self.synced_path),
                _stat_key(self.backup_path),
            )
            if self._calendar is None or stamp != self._stamp:
                try:
                    self._calendar = self._load()
                except Exception:  # the scheduler must keep scheduling whatever the files hold
                    log.exception(
                        "trading calendar: unexpected error loading %s; keeping the previous calendar", self.directory
                    )
                    self._calendar = self._calendar or TradingCalendar()
                self._stamp = stamp
            self._checked_at = now
            return self._calendar

    def _load(self) -> TradingCalendar:
        problems: list[str] = []
        layers: list[tuple[str, Mapping[int, YearCalendar]]] = []
        if self.provisional is not None:  # optional: without it, later years are assumed Mon-Fri
            try:
                prov = read_calendar_file(self.provisional)
                if not prov.source.startswith(PROVISIONAL_SOURCE_PREFIX):
                    raise CalendarFileError(
                        f"{self.provisional}: source {prov.source!r} does not start with {PROVISIONAL_SOURCE_PREFIX!r}"
                    )
                layers.append((prov.source, prov.years))
            except CalendarFileError as exc:
                problems.append(str(exc))
        if self.baked is None:
            problems.append(f"baked calendar file {BAKED_FILE_NAME} not found")
        else:
            try:
                baked = read_calendar_file(self.baked)
                layers.append((baked.source or "baked", baked.years))
            except CalendarFileError as exc:
                problems.append(str(exc))
        self.synced_source = None
        if self.synced_path.exists() or self.backup_path.exists():
            for label, path in (("current", self.synced_path), ("backup", self.backup_path)):
                if not path.exists():
                    continue
                try:
                    synced = read_calendar_file(path)
                except CalendarFileError as exc:
                    problems.append(str(exc))
                    continue
                layers.append((synced.source or "synced", synced.years))
                self.synced_source = label
                break
        if problems != self.problems:
            for p in problems:
                log.warning("trading calendar: %s; falling back to the next source", p)
            self.problems = problems
        cal = TradingCalendar(layers)
        log.debug("trading calendar loaded: years %s", cal.year_sources())
        return cal


_stores: dict[tuple[str, str], CalendarStore] = {}
_stores_lock = threading.Lock()


def get_store(directory: Path | None = None) -> CalendarStore:
    """The process-wide store for ``directory`` (default :func:`calendar_dir`)."""
    directory = directory if directory is not None else calendar_dir()
    baked, prov = baked_file(), provisional_file()
    key = (str(directory), str(baked), str(prov))
    store = _stores.get(key)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(key, CalendarStore(directory, baked, prov))
    return store


_env_key: tuple[str | None, ...] | None = None
_env_store: CalendarStore | None = None


def get_calendar() -> TradingCalendar:
    """The calendar for the configured directory: what every timetable and task should use."""
    global _env_key, _env_store
    key = calendar_key()
    store = _env_store
    if store is None or key != _env_key:
        store = get_store()
        _env_store, _env_key = store, key
    return store.calendar()


# --------------------------------------------------------------------------------------------
# Convenience functions for tasks and the health check


def _as_date(d: date | datetime | str) -> date:
    if isinstance(d, datetime):
        return d.date()
    if isinstance(d, date):
        return d
    s = str(d)
    return date(int(s[0:4]), int(s[4:6]), int(s[6:8])) if len(s) == 8 else date.fromisoformat(s[:10])


def is_session(d: date | datetime | str) -> bool:
    """Whether ``d`` (a date, an exchange-local datetime, ``YYYY-MM-DD`` or ``YYYYMMDD``) is a session."""
    return get_calendar().is_session(_as_date(d))


def date_status(d: date | datetime | str) -> str:
    """``"verified"`` (tushare trade_cal or XSHG covers ``d``), ``"provisional"`` (only the
    statutory holiday rules do) or ``"assumed"`` (Mon–Fri rule, the last resort).

    Tasks log a warning for unverified dates so a missing calendar sync is visible.
    """
    return get_calendar().status(_as_date(d))


def coverage_end(today: date | None = None) -> date | None:
    """Last date of the verified stretch starting at ``today``; None when ``today`` is not verified."""
    today = today or date.today()
    first_gap = get_calendar().first_unverified_on_or_after(today)
    return None if first_gap == today else first_gap - timedelta(days=1)


def calendar_coverage_report(today: date | None = None, *, warn_days: int = DEFAULT_WARN_DAYS) -> dict[str, Any]:
    """What the health check needs to alert before the verified calendar runs out.

    ``ok`` is False when fewer than ``warn_days`` days from ``today`` on are verified (tushare
    trade_cal or XSHG), or when a calendar file is broken. ``days_left`` counts verified days
    starting with ``today``. Past them come provisional dates (statutory holiday rules,
    ``provisional_from``..``provisional_through``), then assumed ones (``assumed_from``).
    """
    today = today or date.today()
    store = get_store()
    cal = store.calendar()
    unverified = cal.first_unverified_on_or_after(today)
    uncovered = cal.first_assumed_on_or_after(unverified)
    days_left = (unverified - today).days
    ok = days_left > warn_days and not store.problems
    verified_through = unverified - timedelta(days=1)
    provisional = uncovered > unverified
    if days_left > warn_days:
        message = f"trading calendar verified through {verified_through} ({days_left} days ahead)"
    elif provisional:
        message = (
            f"trading calendar verified only through {verified_through}: sessions from {unverified} to "
            f"{uncovered - timedelta(days=1)} are PROVISIONAL (statutory holiday rules, not the exchange's "
            f"notice) and from {uncovered} ASSUMED Monday-Friday; the calendar sync replaces them once tushare "
            "trade_cal publishes the year"
        )
    else:
        message = (
            f"trading calendar verified only through {verified_through}: from {unverified} "
            "sessions are ASSUMED to be Monday-Friday; run the calendar sync (tushare trade_cal) "
            "or add the exchange's holiday notice"
        )
    if store.problems:
        message += "; calendar file problems: " + "; ".join(store.problems)
    return {
        "today": today.isoformat(),
        "verified_through": verified_through.isoformat() if days_left else None,
        "provisional_from": unverified.isoformat() if provisional else None,
        "provisional_through": (uncovered - timedelta(days=1)).isoformat() if provisional else None,
        "assumed_from": uncovered.isoformat(),
        "provisional_years": cal.provisional_years(),
        "days_left": days_left,
        "warn_days": warn_days,
        "ok": ok,
        "synced_file": str(store.synced_path),
        "synced_file_in_use": store.synced_source,
        "problems": list(store.problems),
        "year_sources": {str(y): s for y, s in cal.year_sources().items()},
        "message": message,
    }
