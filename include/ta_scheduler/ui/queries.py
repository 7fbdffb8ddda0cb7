"""What the "Market data" pages show, read from the store, the completeness ledger, the trading
calendar and Airflow's metadata DB. Plain functions returning plain values: the FastAPI app
(``ui.app``) renders them, tests call them.

Every time is shown in exchange time (Asia/Shanghai).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.market import TZ, exchange_time
from ta_scheduler.reports.store import KINDS
from ta_scheduler.storage import ledger

if TYPE_CHECKING:
    from pymongo.database import Database

#: Ledger datasets kept per trading day (financials are per report period and news per hour,
#: so they have no column in a grid of trading days).
DAILY_DATASETS: tuple[str, ...] = tuple(d for d in ledger.DATASETS if d not in ("financials", "news"))
GRID_DAYS = 60
CALENDAR_DAYS_AHEAD = 60
REPORTS_PAGE_SIZE = 200

#: A grid cell before its dataset's history starts (no ledger state: those days were never synced).
NOT_STARTED = "not_started"
#: Colour classes of the known states; anything else (a status added later) is drawn neutral.
LEDGER_STATE_CLASSES = {
    ledger.COMPLETE: "ok", ledger.PARTIAL: "warn", ledger.MISSING: "bad", ledger.FAILED: "bad",
    ledger.NOT_DUE: "idle", ledger.NOT_PERMITTED: "idle", NOT_STARTED: "neutral",
}
CALENDAR_STATUS_CLASSES = {"verified": "ok", "provisional": "warn", "assumed": "bad"}


def css_class(mapping: dict[str, str], value: str) -> str:
    return mapping.get(value, "neutral")


def display_time(value: datetime | None) -> str:
    """``2026-11-27 20:05:13`` in exchange time (naive datetimes are UTC, as pymongo returns them)."""
    if value is None:
        return ""
    return exchange_time(value if value.tzinfo else value.replace(tzinfo=timezone.utc)).strftime("%Y-%m-%d %H:%M:%S")


# -- reports ----------------------------------------------------------------------------------


class BadFilter(ValueError):
    """A filter value the page cannot use; the message says which and why."""


def _check_date(name: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadFilter(f"{name} must be a date YYYY-MM-DD, got {value!r}") from None


def list_reports(db: Database, kind: str | None = None, date_from: str | None = None,
                 date_to: str | None = None, limit: int = REPORTS_PAGE_SIZE) -> list[dict[str, Any]]:
    """Stored reports, newest report date first (daily before weekly on the same date).

    Each row: kind, report_date, title, digest, created / updated (exchange time), and the
    delivery status per channel.
    """
    if kind and kind not in KINDS:
        raise BadFilter(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    query: dict[str, Any] = {}
    if kind:
        query["kind"] = kind
    bounds = {op: v for op, v in (("$gte", _check_date("from", date_from)), ("$lte", _check_date("to", date_to))) if v}
    if bounds:
        query["report_date"] = bounds
    projection = {"_id": 0, "kind": 1, "report_date": 1, "title": 1, "digest": 1, "created_at": 1, "updated_at": 1, "delivery": 1}
    docs = db[C.REPORTS].find(query, projection).sort([("report_date", -1), ("kind", 1)]).limit(limit)
    return [
        {
            "kind": d["kind"],
            "report_date": d["report_date"],
            "title": d.get("title") or f"{d['kind']} {d['report_date']}",
            "digest": list(d.get("digest") or []),
            "created": display_time(d.get("created_at")),
            "updated": display_time(d.get("updated_at")),
            "delivery": {ch: (st or {}).get("status", "") for ch, st in sorted((d.get("delivery") or {}).items())},
        }
        for d in docs
    ]


# -- data health --------------------------------------------------------------------------------


def recent_sessions(today: date, count: int = GRID_DAYS) -> list[str]:
    """The last ``count`` trading days up to ``today`` (inclusive when it is one), oldest first."""
    from ta_scheduler.calendar.lookup import get_calendar

    cal = get_calendar()
    days = []
    d = cal.previous_session(today, inclusive=True)
    while len(days) < count:
        days.append(d.isoformat())
        d = cal.previous_session(d)
    return days[::-1]


def health_grid(db: Database, now: datetime, count: int = GRID_DAYS) -> dict[str, Any]:
    """``{"periods": [...], "rows": [{"dataset", "cells": [{"period", "state"}]}]}`` from the ledger.

    A cell without a ledger entry is ``not_due`` when the day's data is not due yet at ``now``
    (its session has not closed, or its bars may still be on their way:
    :func:`ta_scheduler.maintenance.health.expected_bars_date`), ``not_started`` before the dataset's history
    starts (its first ledger entry: those days were never synced), else ``missing`` — the rules
    the health check judges by."""
    from ta_scheduler.maintenance.health import expected_bars_date

    periods = recent_sessions(now.astimezone(TZ).date(), count)
    found = ledger.entries(db, periods, DAILY_DATASETS)
    due_through = expected_bars_date(now)
    starts = ledger.first_periods(db, DAILY_DATASETS)

    def state(dataset: str, period: str) -> str:
        if (dataset, period) in found:
            return found[(dataset, period)]["state"]
        if period > due_through:
            return ledger.NOT_DUE
        if dataset in starts and period < starts[dataset]:
            return NOT_STARTED
        return ledger.MISSING

    return {
        "periods": periods,
        "rows": [{"dataset": d, "cells": [{"period": p, "state": state(d, p)} for p in periods]} for d in DAILY_DATASETS],
    }


def last_successful_runs() -> list[dict[str, str]]:
    """The latest successful run of every DAG in Airflow's metadata DB, by DAG id."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import and_, func, select

    latest = (select(DagRun.dag_id, func.max(DagRun.end_date).label("end_date"))
              .where(DagRun.state == "success").group_by(DagRun.dag_id).subquery())
    stmt = (select(DagRun.dag_id, DagRun.run_id, DagRun.run_type, DagRun.logical_date, DagRun.end_date)
            .join(latest, and_(DagRun.dag_id == latest.c.dag_id, DagRun.end_date == latest.c.end_date))
            .where(DagRun.state == "success").order_by(DagRun.dag_id, DagRun.run_id))
    with create_session() as session:
        rows = session.execute(stmt).all()
    out: dict[str, dict[str, str]] = {}
    for dag_id, run_id, run_type, logical_date, end_date in rows:
        out.setdefault(dag_id, {"dag_id": dag_id, "run_id": run_id, "run_type": str(getattr(run_type, "value", run_type)),
                                "logical_date": display_time(logical_date), "end_date": display_time(end_date)})
    return list(out.values())


def calendar_coverage(today: date) -> dict[str, Any]:
    """The calendar's coverage report (``calendar.lookup``) plus the status of every year it knows."""
    from ta_scheduler.calendar.lookup import calendar_coverage_report, date_status

    report = calendar_coverage_report(today)
    years = []
    for year, sources in report["year_sources"].items():
        first, last = date(int(year), 1, 1), date(int(year), 12, 31)
        statuses = sorted({date_status(first), date_status(last), date_status(max(first, min(today, last)))})
        years.append({"year": year, "sources": sources, "statuses": statuses})
    return {**report, "years": years}


# -- calendar -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarDay:
    day: str
    weekday: str
    kind: str  # "trading", "holiday" (a closed weekday), "weekend", "weekend session"
    status: str  # verified / provisional / assumed / whatever calendar.lookup says
    sessions: str  # "09:30–11:30, 13:00–15:00" on trading days

    @property
    def status_class(self) -> str:
        return css_class(CALENDAR_STATUS_CLASSES, self.status)


WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


def calendar_days(today: date, days_ahead: int = CALENDAR_DAYS_AHEAD) -> list[CalendarDay]:
    """Every date from ``today`` to ``today + days_ahead``, with its kind and status."""
    from ta_scheduler.calendar.lookup import date_status, is_session
    from ta_scheduler.market import BREAK_END, BREAK_START, SESSION_CLOSE, SESSION_OPEN

    hours = f"{SESSION_OPEN:%H:%M}–{BREAK_START:%H:%M}, {BREAK_END:%H:%M}–{SESSION_CLOSE:%H:%M}"
    out = []
    for i in range(days_ahead + 1):
        d = today + timedelta(days=i)
        weekend = d.weekday() >= 5
        trading = is_session(d)
        kind = ("weekend session" if weekend else "trading") if trading else ("weekend" if weekend else "holiday")
        out.append(CalendarDay(d.isoformat(), WEEKDAYS_ZH[d.weekday()], kind, date_status(d), hours if trading else ""))
    return out


def holiday_periods(days: list[CalendarDay]) -> list[dict[str, Any]]:
    """Closed stretches that contain a weekday holiday (with the weekends around it), in order."""
    periods: list[dict[str, Any]] = []
    run: list[CalendarDay] = []
    for day in [*days, None]:
        if day is not None and day.kind in ("holiday", "weekend"):
            run.append(day)
            continue
        if any(d.kind == "holiday" for d in run):
            periods.append({"first": run[0].day, "last": run[-1].day, "days": len(run),
                            "holidays": [d.day for d in run if d.kind == "holiday"],
                            "statuses": sorted({d.status for d in run})})
        run = []
    return periods
