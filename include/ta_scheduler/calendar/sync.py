"""Sync tushare ``trade_cal`` (SSE) into MongoDB ``trade_calendar`` and the timetables' file.

The exchanges announce next year's holidays in late December and tushare publishes them
within days; until then a year has no rows and is simply "not covered" (the timetables use
XSHG or the Mon–Fri rule, and the health check warns). Called from a task in ``daily_sync``::

    from ta_scheduler.calendar.sync import sync_trade_calendar_from_provider
    report = sync_trade_calendar_from_provider(get_provider())   # this year and next

Each year is validated before anything is written: every calendar day present exactly once
in a contiguous range, no session on a weekend (make-up weekend days are closed on the
exchange), and 235–250 sessions for a complete year. Valid years are written (idempotent,
keyed on exchange + cal_date) and written into the calendar file atomically, keeping the
previous good file as a backup; an invalid year raises :class:`CalendarSyncError` after the
valid ones are saved, so the task fails visibly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ta_scheduler.atomic_files import write_json_atomic
from ta_scheduler.calendar.files import (
    EXCHANGE,
    CalendarFileError,
    YearCalendar,
    baked_file,
    calendar_dir,
    calendar_document,
    read_calendar_file,
)
from ta_scheduler.calendar.lookup import get_store
from ta_scheduler.calendar.merged import TradingCalendar
from ta_scheduler.constants import Collections as C
from ta_scheduler.market import TZ

if TYPE_CHECKING:
    from pymongo.database import Database

log = logging.getLogger(__name__)

#: Session counts a complete SSE year has had since 2005 (238–246); outside this the data is
#: wrong (a truncated response, another exchange, is_open inverted).
COMPLETE_YEAR_SESSIONS = (235, 250)
#: A partial publication longer than this many days must have at least this share of its
#: weekdays open (the longest closure, Spring Festival, removes 5–7 weekdays).
PARTIAL_MIN_DAYS, PARTIAL_MIN_OPEN_SHARE = 60, 0.75
SOURCE_LABEL = "tushare trade_cal"

#: ``fetch(start, end)`` with ``YYYYMMDD`` dates returns trade_cal rows as dicts with at least
#: ``cal_date`` (``YYYYMMDD``) and ``is_open`` (0/1 or "0"/"1"), optionally ``exchange`` and
#: ``pretrade_date``.
Fetch = Callable[[str, str], list[dict[str, Any]]]


class CalendarSyncError(RuntimeError):
    """The calendar could not be fetched, or what was fetched is not a credible calendar."""


def _parse_day(value: Any, what: str) -> date:
    s = str(value).strip()
    try:
        if len(s) == 8 and s.isdigit():
            return date(int(s[:4]), int(s[4:6]), int(s[6:]))
        return date.fromisoformat(s[:10])
    except ValueError as exc:
        raise CalendarSyncError(f"{what}: unparseable date {value!r}") from exc


def validate_year(year: int, rows: Iterable[Mapping[str, Any]], *, exchange: str = EXCHANGE) -> YearCalendar | None:
    """Check one year's ``trade_cal`` rows and return them as a :class:`YearCalendar`.

    None when there are no rows (not published yet). Raises :class:`CalendarSyncError`
    naming the year and the first problem found.
    """
    what = f"trade_cal {exchange} {year}"
    days = _open_by_day(year, rows, exchange, what)
    if not days:
        return None
    first, last = min(days), max(days)
    missing = (last - first).days + 1 - len(days)
    if missing:
        raise CalendarSyncError(f"{what}: {missing} calendar days missing between {first} and {last}")
    weekend_open = sorted(d for d, is_open in days.items() if is_open and d.weekday() >= 5)
    if weekend_open:
        raise CalendarSyncError(
            f"{what}: sessions on weekend days {[d.isoformat() for d in weekend_open[:5]]}; "
            "the exchanges close on make-up weekend days, so the data is wrong"
        )
    entry = YearCalendar.from_sessions(year, (d for d, o in days.items() if o), first, last)
    _check_session_count(entry, days, what)
    return entry


def _open_by_day(year: int, rows: Iterable[Mapping[str, Any]], exchange: str, what: str) -> dict[date, bool]:
    """``{day: is_open}`` of the rows; raises on a row of another exchange or year, an ``is_open``
    other than 0/1, or a day given twice."""
    days: dict[date, bool] = {}
    for row in rows:
        if row.get("exchange") not in (None, "", exchange):
            raise CalendarSyncError(f"{what}: row for exchange {row.get('exchange')!r}")
        d = _parse_day(row.get("cal_date"), what)
        if d.year != year:
            raise CalendarSyncError(f"{what}: row dated {d} is outside the year")
        try:
            flag = int(row.get("is_open"))
        except (TypeError, ValueError) as exc:
            raise CalendarSyncError(f"{what}: {d} has is_open={row.get('is_open')!r}, expected 0 or 1") from exc
        if flag not in (0, 1):
            raise CalendarSyncError(f"{what}: {d} has is_open={flag}, expected 0 or 1")
        if d in days:
            raise CalendarSyncError(f"{what}: {d} appears twice")
        days[d] = flag == 1
    return days


def _check_session_count(entry: YearCalendar, days: Mapping[date, bool], what: str) -> None:
    """A complete year has :data:`COMPLETE_YEAR_SESSIONS`; a partial one longer than
    :data:`PARTIAL_MIN_DAYS` days at least :data:`PARTIAL_MIN_OPEN_SHARE` of its weekdays open."""
    lo, hi = COMPLETE_YEAR_SESSIONS
    if entry.complete and not lo <= entry.sessions <= hi:
        raise CalendarSyncError(f"{what}: {entry.sessions} sessions in a complete year, expected {lo}-{hi}")
    if not entry.complete and len(days) >= PARTIAL_MIN_DAYS:
        weekdays = sum(1 for d in days if d.weekday() < 5)
        if entry.sessions < PARTIAL_MIN_OPEN_SHARE * weekdays:
            raise CalendarSyncError(
                f"{what}: only {entry.sessions} sessions among {weekdays} weekdays of {entry.first}..{entry.last}"
            )


def _trade_calendar_docs(entry: YearCalendar, exchange: str, previous_session: date | None) -> list[dict[str, Any]]:
    """Documents for ``trade_calendar`` (units: dates as ``YYYY-MM-DD``, is_open 0/1 as tushare)."""
    docs = []
    pre = previous_session
    d = entry.first
    while d <= entry.last:
        docs.append(
            {
                "exchange": exchange,
                "cal_date": d.isoformat(),
                "is_open": 1 if entry.is_session(d) else 0,
                "pretrade_date": pre.isoformat() if pre else None,
                "source": "tushare",
            }
        )
        if entry.is_session(d):
            pre = d
        d += timedelta(days=1)
    return docs


def _read_good(path: Path) -> dict[int, YearCalendar] | None:
    try:
        return read_calendar_file(path).years if path.exists() else None
    except CalendarFileError as exc:
        log.warning("calendar sync: ignoring broken %s (%s)", path, exc)
        return None


def write_synced_years(calendar_directory: Path, years: Mapping[int, YearCalendar]) -> Path:
    """Merge ``years`` into the synced file (replacing those years) and write it atomically.

    The current file, if good, becomes the backup first, so a later bad write or a damaged
    disk still leaves the previous good calendar for the timetables.
    """
    store = get_store(calendar_directory)
    current = _read_good(store.synced_path)
    if current is not None:
        write_json_atomic(store.backup_path, calendar_document(current, source=SOURCE_LABEL, generated_at=_now_iso()))
    merged = dict(current if current is not None else (_read_good(store.backup_path) or {}))
    merged.update(years)
    write_json_atomic(store.synced_path, calendar_document(merged, source=SOURCE_LABEL, generated_at=_now_iso()))
    store.invalidate()
    return store.synced_path


def _now_iso() -> str:

    return datetime.now(TZ).isoformat(timespec="seconds")


def _xshg_differences(entry: YearCalendar) -> list[str]:
    """Dates where tushare and the baked XSHG file disagree (tushare wins; logged)."""
    path = baked_file()
    baked = _read_good(path) if path else None
    ref = (baked or {}).get(entry.year)
    if ref is None:
        return []
    out = []
    d = max(entry.first, ref.first)
    while d <= min(entry.last, ref.last):
        if entry.is_session(d) != ref.is_session(d):
            out.append(d.isoformat())
        d += timedelta(days=1)
    return out


def sync_trade_calendar(
    db: Database | None,
    fetch: Fetch,
    years: Iterable[int],
    calendar_directory: Path | None = None,
    *,
    exchange: str = EXCHANGE,
) -> dict[str, Any]:
    """Fetch, validate and store the calendar of ``years``; return a small report for XCom.

    :param db: the project database (``trade_calendar`` is updated); None skips MongoDB.
    :param fetch: ``fetch("YYYYMMDD", "YYYYMMDD") -> rows`` (see :data:`Fetch`).
    :param years: calendar years to refresh, e.g. this year and next.
    :param calendar_directory: where the timetables' file lives (default :func:`calendar_dir`).
    :returns: ``{"years": {"2027": {"status": "complete"|"partial"|"not_published"|"invalid",
        "sessions", "first", "last", "inserted", "updated", "unchanged", "differs_from_xshg", "error"}}, "file": path}``
    """
    calendar_directory = calendar_directory or calendar_dir()
    report: dict[str, Any] = {"exchange": exchange, "years": {}, "file": None}
    valid: dict[int, YearCalendar] = {}
    errors: list[str] = []
    for year in sorted(set(years)):
        start, end = f"{year}0101", f"{year}1231"
        rows = fetch(start, end)
        try:
            entry = validate_year(year, rows, exchange=exchange)
        except CalendarSyncError as exc:
            log.error("calendar sync: %s", exc)
            errors.append(str(exc))
            report["years"][str(year)] = {"status": "invalid", "error": str(exc)}
            continue
        if entry is None:
            log.warning("calendar sync: tushare has no %s calendar for %s yet (not covered)", exchange, year)
            report["years"][str(year)] = {"status": "not_published"}
            continue
        diffs = _xshg_differences(entry)
        if diffs:
            log.warning("calendar sync: %s %s differs from XSHG on %s; using tushare", exchange, year, diffs)
        valid[year] = entry
        report["years"][str(year)] = {
            "status": "complete" if entry.complete else "partial",
            "sessions": entry.sessions,
            "first": entry.first.isoformat(),
            "last": entry.last.isoformat(),
            "differs_from_xshg": diffs,
        }
        log.info("calendar sync: %s %s: %d sessions %s..%s", exchange, year, entry.sessions, entry.first, entry.last)
    if valid and db is not None:
        known = TradingCalendar([*get_store(calendar_directory).calendar().layers, ("synced", valid)])
        for year, entry in sorted(valid.items()):
            before = entry.first - timedelta(days=1)
            pre = _previous_session_in_db(db, exchange, before) or known.previous_session(entry.first)
            report["years"][str(year)].update(_store_year(db, entry, exchange, pre))
    if valid:
        report["file"] = str(write_synced_years(calendar_directory, valid))
    if errors:
        raise CalendarSyncError(
            "calendar sync rejected " + "; ".join(errors) + f" (valid years saved: {sorted(valid) or 'none'})"
        )
    return report


def _store_year(db: Database, entry: YearCalendar, exchange: str, pre: date | None) -> dict[str, int]:
    """Write one year's documents, touching only what changed (a re-sync of an unchanged year
    writes nothing)."""
    from ta_scheduler.storage.writes import write_docs

    docs = _trade_calendar_docs(entry, exchange, pre)
    return write_docs(db[C.TRADE_CALENDAR], docs, timestamp_field=None, natural_ids=False).as_dict()


def _previous_session_in_db(db: Database, exchange: str, on_or_before: date) -> date | None:
    doc = db[C.TRADE_CALENDAR].find_one(
        {"exchange": exchange, "is_open": 1, "cal_date": {"$lte": on_or_before.isoformat()}},
        sort=[("cal_date", -1)],
    )
    return date.fromisoformat(doc["cal_date"]) if doc else None


# --------------------------------------------------------------------------------------------
# tushare


def provider_trade_cal_fetch(provider: Any, *, exchange: str = EXCHANGE) -> Fetch:
    """A :data:`Fetch` asking the market-data provider's ``trade_cal`` (for tushare: its one call
    path, token and tier). A token without ``trade_cal`` raises
    :class:`~ta_scheduler.providers.PermissionDenied` (the task then skips the sync); other
    provider errors become :class:`CalendarSyncError` with the vendor's text."""
    from ta_scheduler.providers import PermissionDenied, ProviderError

    def fetch(start: str, end: str) -> list[dict[str, Any]]:
        first, last = _parse_day(start, "trade_cal start"), _parse_day(end, "trade_cal end")
        try:
            frame = provider.trade_cal(first.isoformat(), last.isoformat(), exchange)
        except PermissionDenied:
            raise
        except ProviderError as exc:
            raise CalendarSyncError(f"{provider.name} trade_cal {exchange} {start}-{end}: {exc.__cause__ or exc}") from exc
        cols = list(frame.columns)
        return [dict(zip(cols, values, strict=True)) for values in zip(*(frame[c].tolist() for c in cols), strict=True)]

    return fetch


def sync_trade_calendar_from_provider(
    provider: Any,
    years: Iterable[int] | None = None,
    *,
    today: date | None = None,
    db: Database | None = None,
    calendar_directory: Path | None = None,
) -> dict[str, Any]:
    """The task entry point: this year and next from the provider's ``trade_cal`` (tushare) into
    MongoDB and the file."""
    if years is None:
        today = today or datetime.now(TZ).date()
        years = [today.year, today.year + 1]
    if db is None:
        from ta_scheduler.storage.mongo import get_db

        db = get_db()
    return sync_trade_calendar(db, provider_trade_cal_fetch(provider), years, calendar_directory)
