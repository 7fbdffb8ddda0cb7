"""What the data DAGs' tasks call (``daily_sync``, ``intraday_prices``, ``weekly_financials``,
``news_sync``): run context → plain arguments → the sync functions of this package.

Provider errors that no retry can fix (bad token, missing permission, daily quota) fail the
task at once (``AirflowFailException``); rate limits and outages raise normally so Airflow's
retries with backoff apply. A missing permission for an optional dataset (calendar, stock list,
adj factor, valuation, limit prices, indices) does not fail the run: it is skipped and, for the
ledger's datasets, recorded ``not_permitted``; financial statements (whole market: 5,000
points), news and realtime quotes (separate permissions) are skipped the same way, so a low
tier does not fail a run every hour. The health check names what was refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ta_scheduler.constants import TIMEZONE

log = logging.getLogger(__name__)
T = TypeVar("T")
TZ = ZoneInfo(TIMEZONE)


def fail_fast(fn: Callable[[], T]) -> T:
    """Run ``fn``; turn a non-retryable provider error into an immediate task failure."""
    from airflow.sdk.exceptions import AirflowFailException

    from ta_scheduler.providers import ProviderError

    try:
        return fn()
    except ProviderError as exc:
        if not getattr(exc, "retryable", False):
            raise AirflowFailException(str(exc)) from exc
        raise


def unless_not_permitted(what: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn``; when the data source refuses the endpoint (a tier without it), log what is
    kept as it was and return ``{"not_permitted": endpoint}`` instead of failing the run."""
    from ta_scheduler.providers import PermissionDenied

    try:
        return fn()
    except PermissionDenied as exc:
        log.warning("%s skipped: %s. %s stays as it was.", what, exc, what)
        return {"not_permitted": exc.endpoint, "reason": str(exc)}


def _db():
    from ta_scheduler.storage.mongo import ensure_indexes, get_db

    db = get_db()
    ensure_indexes(db)
    return db


def local(moment: datetime) -> datetime:
    """A plain ``datetime`` in exchange time (Airflow passes pendulum objects)."""
    return datetime.fromtimestamp(moment.timestamp(), TZ)


def run_day(context: Mapping[str, Any]) -> date:
    """The trading day a scheduled run stands for: local date of its data interval end."""
    end = context.get("data_interval_end") or context["logical_date"]
    return local(end).date()


def warn_if_assumed(days: list[str]) -> None:
    from ta_scheduler.calendar.core import date_status

    assumed = [d for d in days if date_status(d) != "verified"]
    if assumed:
        log.warning(
            "CALENDAR NOT VERIFIED for %s (%s): no exchange calendar covers these dates; they are trading "
            "days by the statutory holiday rules (provisional) or, beyond those, because they are "
            "Monday-Friday (assumed). The calendar sync replaces them once tushare trade_cal publishes the year.",
            ", ".join(assumed),
            ", ".join(sorted({date_status(d) for d in assumed})),
        )


def plan_daily_sync(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Dates and symbols of this run: ``date``, ``start_date``..``end_date`` (backfill) or the run's day."""
    from ta_scheduler.calendar.core import get_calendar
    from ta_scheduler.params import check_run_conf, to_ts_code

    check_run_conf(context)
    cal = get_calendar()
    if params.get("date"):
        dates, mode = [params["date"]], "date"
    elif params.get("start_date"):
        first, last = date.fromisoformat(params["start_date"]), date.fromisoformat(params["end_date"])
        dates, mode = [d.isoformat() for d in cal.sessions_between(first, last)], "backfill"
    else:
        day = run_day(context)
        if not cal.is_session(day):  # a manual trigger on a closed day syncs the last session
            day = cal.previous_session(day)
        dates, mode = [day.isoformat()], "run"
    symbols = [to_ts_code(s) for s in params.get("symbols") or []] or None
    warn_if_assumed(dates)
    plan = {"dates": dates, "symbols": symbols, "mode": mode}
    log.info("daily_sync plan: %s dates (%s .. %s), symbols: %s", len(dates), dates[0], dates[-1],
             "all" if symbols is None else len(symbols))
    return plan


def run_calendar_sync() -> dict[str, Any]:
    """Refresh this year's and next year's calendar from tushare ``trade_cal`` (tushare only)."""
    from ta_scheduler.calendar.sync import sync_trade_calendar_from_tushare
    from ta_scheduler.providers import get_provider

    provider = get_provider()
    if provider.name != "tushare":
        log.info("calendar sync needs tushare; provider is %s: the calendar stays on its files", provider.name)
        return {"skipped": f"provider {provider.name} has no trade_cal"}
    return fail_fast(lambda: unless_not_permitted("the exchange calendar",
                                                  lambda: sync_trade_calendar_from_tushare(db=_db())))


def run_stock_basic() -> dict[str, Any]:
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_stock_basic

    provider = get_provider()
    return fail_fast(lambda: unless_not_permitted("the stock list", lambda: sync_stock_basic(provider, _db())))


def run_daily_bars(plan: Mapping[str, Any], run_id: str | None = None) -> dict[str, Any]:
    """One date: fetch and store it (a re-run refreshes it). A backfill: only dates still missing."""
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import backfill_daily, sync_daily_bars

    provider, db = get_provider(), _db()
    dates, symbols = list(plan["dates"]), plan.get("symbols")
    if plan["mode"] == "backfill":
        return fail_fast(lambda: backfill_daily(provider, db, dates, symbols))
    return fail_fast(lambda: sync_daily_bars(provider, db, dates[0], symbols, run_id=run_id))


def run_index_daily(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_index_daily

    provider, db = get_provider(), _db()
    return fail_fast(lambda: {d: sync_index_daily(provider, db, d) for d in plan["dates"]})


def run_intraday_snapshot(context: Mapping[str, Any]) -> dict[str, Any]:
    """One whole-market snapshot at the run's tick (the end of its data interval).

    Scheduled ticks are session ticks, and so is a manual run's (its interval ends at the last
    tick before it). A run whose tick is outside the sessions anyway (an interval set by hand
    through the REST API) refreshes the latest quotes but stores no intraday snapshot.
    """
    from ta_scheduler.calendar.core import get_calendar
    from ta_scheduler.config import redis_url
    from ta_scheduler.params import check_run_conf
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_realtime_quotes

    check_run_conf(context)
    tick: datetime = context.get("data_interval_end") or context["logical_date"]
    tick = local(tick)
    warn_if_assumed([tick.date().isoformat()])
    in_session = get_calendar().is_trading_time(tick)
    if not in_session:
        log.warning("%s is outside the trading sessions: latest quotes only, no intraday snapshot", tick.isoformat())
    provider = get_provider()
    return fail_fast(lambda: unless_not_permitted(
        "the realtime quotes", lambda: sync_realtime_quotes(provider, _db(), redis_url(), tick, store_snapshot=in_session)))


def run_financials(context: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.params import check_run_conf
    from ta_scheduler.providers import get_provider

    check_run_conf(context)
    from ta_scheduler.sync import sync_financials

    provider = get_provider()
    as_of = run_day(context).isoformat()
    return fail_fast(lambda: unless_not_permitted("the financial statements",
                                                  lambda: sync_financials(provider, _db(), as_of)))


def run_news(context: Mapping[str, Any], overlap: timedelta = timedelta(minutes=30)) -> dict[str, Any]:
    """News of the run's hour plus an overlap (duplicates are merged by news id)."""
    from ta_scheduler.params import check_run_conf

    check_run_conf(context)
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_news

    end = local(context.get("data_interval_end") or context["logical_date"])
    start = local(context.get("data_interval_start") or end - timedelta(hours=1))
    if end - start < timedelta(hours=1):
        start = end - timedelta(hours=1)
    provider = get_provider()
    return fail_fast(lambda: unless_not_permitted("the news", lambda: sync_news(provider, _db(), start - overlap, end)))
