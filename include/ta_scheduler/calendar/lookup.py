"""The SSE/SZSE trading calendar as the scheduler sees it: light, file-backed, never failing.

Why this exists: exchange_calendars ``XSHG`` is exact for the years it knows but stops at
2026-12-31 and raises beyond it, and it needs pandas (0.3 s per DAG parse). The timetables run
inside the scheduler loop and the dag-processor, so they read the calendar from small JSON files
instead (:mod:`.files`), with the standard library only. Precedence, highest first:

1. the **synced file** (tushare ``trade_cal``) overrides, per year and within the dates it
   covers, everything below. If it is missing or broken, its backup is used;
2. the **baked file** (XSHG, 2005–2026);
3. the **provisional file** (statutory holiday rules, 2027–2036): its dates are "provisional",
   not "verified" (:func:`date_status`);
4. the **weekday rule**: a date no file covers is a session when it is Monday–Friday. Such a
   date is "assumed". :func:`calendar_coverage_report` lets the health check alert well
   before verified dates run out.

Dates are exchange-local (Asia/Shanghai) calendar dates. Nothing here raises because of a
file: problems are logged once per change and the next source is used. Each process keeps one
:class:`CalendarStore` per calendar directory, which re-stats the files at most every
``TA_CALENDAR_RECHECK_SECONDS`` and rebuilds the merged calendar (:mod:`.merged`) when one changed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ta_scheduler.calendar.files import (
    BACKUP_FILE_NAME,
    BAKED_FILE_NAME,
    PROVISIONAL_SOURCE_PREFIX,
    SYNCED_FILE_NAME,
    CalendarFileError,
    YearCalendar,
    baked_file,
    calendar_dir,
    provisional_file,
    read_calendar_file,
)
from ta_scheduler.calendar.merged import TradingCalendar
from ta_scheduler.config import calendar_key, setting_float

log = logging.getLogger(__name__)

#: Days of warning the health check wants before verified coverage ends.
DEFAULT_WARN_DAYS = 30

#: How often (seconds) a process re-stats the calendar files; a stat costs about 1 µs, so
#: between checks a lookup is pure in-memory work.
RECHECK_SECONDS = setting_float("TA_CALENDAR_RECHECK_SECONDS")


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
        for read in (self._provisional_layer, self._baked_layer, self._synced_layer):
            layer = read(problems)
            if layer is not None:
                layers.append(layer)
        if problems != self.problems:
            for p in problems:
                log.warning("trading calendar: %s; falling back to the next source", p)
            self.problems = problems
        cal = TradingCalendar(layers)
        log.debug("trading calendar loaded: years %s", cal.year_sources())
        return cal

    def _provisional_layer(self, problems: list[str]) -> tuple[str, Mapping[int, YearCalendar]] | None:
        if self.provisional is None:  # optional: without it, later years are assumed Mon-Fri
            return None
        try:
            prov = read_calendar_file(self.provisional)
            if not prov.source.startswith(PROVISIONAL_SOURCE_PREFIX):
                raise CalendarFileError(
                    f"{self.provisional}: source {prov.source!r} does not start with {PROVISIONAL_SOURCE_PREFIX!r}"
                )
        except CalendarFileError as exc:
            problems.append(str(exc))
            return None
        return (prov.source, prov.years)

    def _baked_layer(self, problems: list[str]) -> tuple[str, Mapping[int, YearCalendar]] | None:
        if self.baked is None:
            problems.append(f"baked calendar file {BAKED_FILE_NAME} not found")
            return None
        try:
            baked = read_calendar_file(self.baked)
        except CalendarFileError as exc:
            problems.append(str(exc))
            return None
        return (baked.source or "baked", baked.years)

    def _synced_layer(self, problems: list[str]) -> tuple[str, Mapping[int, YearCalendar]] | None:
        """The synced file, else its backup; sets :attr:`synced_source` to the one used."""
        self.synced_source = None
        for label, path in (("current", self.synced_path), ("backup", self.backup_path)):
            if not path.exists():
                continue
            try:
                synced = read_calendar_file(path)
            except CalendarFileError as exc:
                problems.append(str(exc))
                continue
            self.synced_source = label
            return (synced.source or "synced", synced.years)
        return None


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
