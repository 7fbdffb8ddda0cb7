"""What the data DAGs' tasks call (``daily_sync``, ``intraday_prices``, ``weekly_financials``,
``news_sync``): the run (``calendar.runs.Run``) → plain arguments → the sync functions of this package.

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
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from ta_scheduler.market import SESSION_CLOSE, exchange_time
from ta_scheduler.storage.mongo import get_db

if TYPE_CHECKING:
    from ta_scheduler.calendar.runs import Run

log = logging.getLogger(__name__)
T = TypeVar("T")


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




def last_closed_session(moment: datetime) -> date:
    """The last trading day whose session had closed at ``moment``."""
    from ta_scheduler.calendar.lookup import get_calendar

    cal, moment = get_calendar(), exchange_time(moment)
    day = moment.date()
    if cal.is_session(day) and moment.time() >= SESSION_CLOSE:
        return day
    return cal.previous_session(day)


def warn_if_assumed(days: list[str]) -> None:
    from ta_scheduler.calendar.lookup import date_status

    assumed = [d for d in days if date_status(d) != "verified"]
    if assumed:
        log.warning(
            "CALENDAR NOT VERIFIED for %s (%s): no exchange calendar covers these dates; they are trading "
            "days by the statutory holiday rules (provisional) or, beyond those, because they are "
            "Monday-Friday (assumed). The calendar sync replaces them once tushare trade_cal publishes the year.",
            ", ".join(assumed),
            ", ".join(sorted({date_status(d) for d in assumed})),
        )


def plan_daily_sync(params: Mapping[str, Any], run: Run) -> dict[str, Any]:
    """Dates and symbols of this run: ``date``, ``start_date``..``end_date`` (backfill) or the last
    session closed at the run's tick."""
    from ta_scheduler.calendar.lookup import get_calendar
    from ta_scheduler.market import to_code

    run.check_conf()
    cal = get_calendar()
    if params.get("date"):
        dates, mode = [params["date"]], "date"
    elif params.get("start_date"):
        first, last = date.fromisoformat(params["start_date"]), date.fromisoformat(params["end_date"])
        dates, mode = [d.isoformat() for d in cal.sessions_between(first, last)], "backfill"
    else:
        # never a session still trading: a manual run queued on a trading day before its close has
        # that day's tick ahead of it (the timetable's manual interval ends at the day's tick)
        day = last_closed_session(min(run.tick, datetime.now(timezone.utc)))
        dates, mode = [day.isoformat()], "run"
    symbols = list(dict.fromkeys(to_code(s) for s in params.get("symbols") or [])) or None  # the store's six-digit codes
    warn_if_assumed(dates)
    plan = {"dates": dates, "symbols": symbols, "mode": mode}
    log.info("daily_sync plan: %s dates (%s .. %s), symbols: %s", len(dates), dates[0], dates[-1],
             "all" if symbols is None else len(symbols))
    return plan


def run_calendar_sync() -> dict[str, Any]:
    """Refresh this year's and next year's calendar from tushare ``trade_cal`` (tushare only)."""
    from ta_scheduler.calendar.sync import sync_trade_calendar_from_provider
    from ta_scheduler.providers import get_provider

    provider = get_provider()
    if provider.name != "tushare":
        log.info("calendar sync needs tushare; provider is %s: the calendar stays on its files", provider.name)
        return {"skipped": f"provider {provider.name} has no trade_cal"}
    return fail_fast(lambda: unless_not_permitted("the exchange calendar",
                                                  lambda: sync_trade_calendar_from_provider(provider, db=get_db())))


def run_stock_basic() -> dict[str, Any]:
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_stock_basic

    provider = get_provider()
    return fail_fast(lambda: unless_not_permitted("the stock list", lambda: sync_stock_basic(provider, get_db())))


def run_daily_bars(plan: Mapping[str, Any], run_id: str | None = None) -> dict[str, Any]:
    """One date: fetch and store it (a re-run refreshes it). A backfill: only dates still missing."""
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import backfill_daily, sync_daily_bars

    provider, db = get_provider(), get_db()
    dates, symbols = list(plan["dates"]), plan.get("symbols")
    if plan["mode"] == "backfill":
        return fail_fast(lambda: backfill_daily(provider, db, dates, symbols))
    return fail_fast(lambda: sync_daily_bars(provider, db, dates[0], symbols, run_id=run_id))


def run_index_daily(plan: Mapping[str, Any]) -> dict[str, Any]:
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_index_daily

    provider, db = get_provider(), get_db()
    return fail_fast(lambda: {d: sync_index_daily(provider, db, d) for d in plan["dates"]})


def run_intraday_snapshot(run: Run) -> dict[str, Any]:
    """One whole-market snapshot at the run's tick (the end of its data interval).

    Scheduled ticks are session ticks, and so is a manual run's (its interval ends at the last
    tick before it). A run whose tick is outside the sessions anyway (an interval set by hand
    through the REST API) refreshes the latest quotes but stores no intraday snapshot.
    """
    from ta_scheduler.calendar.lookup import get_calendar
    from ta_scheduler.providers import get_provider
    from ta_scheduler.storage.cache import connect
    from ta_scheduler.sync import sync_realtime_quotes

    run.check_conf()
    tick = run.tick
    warn_if_assumed([tick.date().isoformat()])
    in_session = get_calendar().is_trading_time(tick)
    if not in_session:
        log.warning("%s is outside the trading sessions: latest quotes only, no intraday snapshot", tick.isoformat())
    provider = get_provider()
    return fail_fast(lambda: unless_not_permitted(
        "the realtime quotes", lambda: sync_realtime_quotes(provider, get_db(), connect(), tick, store_snapshot=in_session)))


def run_financials(run: Run) -> dict[str, Any]:
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_financials

    run.check_conf()
    provider = get_provider()
    as_of = run.day.isoformat()
    return fail_fast(lambda: unless_not_permitted("the financial statements",
                                                  lambda: sync_financials(provider, get_db(), as_of)))


def run_news(run: Run, overlap: timedelta = timedelta(minutes=30)) -> dict[str, Any]:
    """News of the run's hour plus an overlap (duplicates are merged by news id)."""
    from ta_scheduler.providers import get_provider
    from ta_scheduler.sync import sync_news

    run.check_conf()
    end = run.tick
    start = run.interval_start or end - timedelta(hours=1)
    if end - start < timedelta(hours=1):
        start = end - timedelta(hours=1)
    provider, db = get_provider(), get_db()
    result = fail_fast(lambda: unless_not_permitted("the news", lambda: sync_news(provider, db, start - overlap, end)))
    if "not_permitted" not in result:
        result["repair"] = fail_fast(lambda: repair_news_hours(provider, db, start))
    return result


# ------------------------------------------------------------------------------ self-healing
DEFAULT_REPAIR_DAYS = 20
DEFAULT_REPAIR_HOURS = 24


def repair_window(last_day: str, days: int) -> list[str]:
    """The ``days`` trading days ending on ``last_day`` (inclusive), oldest first."""
    from ta_scheduler.storage.ledger import trading_days_ending

    return trading_days_ending(last_day, days)


def run_repair_daily(plan: Mapping[str, Any], repair_days: int | None, run_id: str | None = None,
                     recount_store: bool = False) -> dict[str, Any]:
    """Repair what the ledger shows missing or partial in the last ``repair_days`` trading days:
    the daily datasets and the index bars (whole-market runs for the run's day only; a ``date``,
    backfill or per-symbol run repairs nothing). ``recount_store`` first counts each day's rows in
    the store (otherwise the ledger, written from each write's own counts, is trusted). A day the
    vendor refuses is recorded ``failed`` in the ledger (the health check names it) and does not
    stop the day's own sync; rate limits and outages raise for a retry."""
    from ta_scheduler.providers import ProviderError, get_provider
    from ta_scheduler.storage import ledger
    from ta_scheduler.sync.completeness import repair_daily
    from ta_scheduler.sync.validate import DataQualityError

    days = DEFAULT_REPAIR_DAYS if repair_days is None else int(repair_days)
    if plan["mode"] != "run" or plan.get("symbols") or days <= 0:
        log.info("repair: not in this run (mode %s, symbols %s, repair_days %s)", plan["mode"], plan.get("symbols"), days)
        return {"repaired_dates": [], "skipped": f"mode {plan['mode']}" if plan["mode"] != "run" else "not requested"}
    provider, db = get_provider(), get_db()
    window = repair_window(plan["dates"][-1], days)
    failures: dict[str, str] = {}

    def guarded(dataset: str, day_sync, on_failure):
        def run(p, d, day, **kw):
            try:
                return day_sync(p, d, day, **kw)
            except (DataQualityError, ProviderError) as exc:
                if isinstance(exc, ProviderError) and getattr(exc, "retryable", False):
                    raise
                failures[f"{dataset} {day}"] = str(exc)[:300]
                ledger.record(d, dataset, day, ledger.FAILED, data_source=p.name, reason=str(exc)[:300])
                log.error("REPAIR FAILED %s %s: %s", dataset, day, exc)
                return on_failure
        return run

    from ta_scheduler.sync import bars

    result = repair_daily(provider, db, window, skip=plan["dates"], run_id=run_id, recount_store=recount_store,
                          day_sync=guarded("daily_bars", bars.sync_daily_bars, {"inserted": 0, "updated": 0, "ledger": {}}),
                          index_sync=guarded("index_bars", bars.sync_index_daily, None))
    result["failed"] = failures
    result["repaired_dates"] = [d for d in result["repaired_dates"] if f"daily_bars {d}" not in failures]
    log.info("repair over %s .. %s: repaired %s, index bars %s%s", window[0], window[-1],
             result["repaired_dates"] or "nothing", result["repaired_index_dates"] or "nothing",
             f"; FAILED {sorted(failures)}" if failures else "")
    return result


def repair_news_hours(provider, db, end: datetime, hours: int = DEFAULT_REPAIR_HOURS) -> dict[str, Any]:
    """Re-fetch the news hours of the last ``hours`` before ``end`` that the ledger shows not
    complete (contiguous hours in one call); returns the hours repaired."""
    from ta_scheduler.constants import Collections as C
    from ta_scheduler.storage import ledger
    from ta_scheduler.storage.writes import prune_manifest
    from ta_scheduler.sync import sync_news
    from ta_scheduler.sync.completeness import hour_period

    starts = [end.replace(minute=0, second=0, microsecond=0) - timedelta(hours=h) for h in range(hours, 0, -1)]
    periods = {hour_period(h): h for h in starts}
    bad = ledger.unsettled(db, list(periods), ["news"]).get("news", [])
    ranges: list[list[datetime]] = []
    for p in bad:
        h = periods[p]
        if ranges and ranges[-1][1] == h:
            ranges[-1][1] = h + timedelta(hours=1)
        else:
            ranges.append([h, h + timedelta(hours=1)])
    for day in sorted({exchange_time(h).date().isoformat() for a, b in ranges for h in (a, b - timedelta(seconds=1))}):
        prune_manifest(db[C.STOCK_NEWS], {"publish_date": day, "data_source": provider.name})  # lost items count as new
    for a, b in ranges:
        sync_news(provider, db, a, b)
        log.info("REPAIRED news %s .. %s", a.isoformat(), b.isoformat())
    return {"repaired_hours": bad}
