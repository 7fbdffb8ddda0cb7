"""Daily market sync: stock list, whole-market daily bars (+ adj factor, valuation, limit
prices), major indices, and the resumable backfill. Called by ``daily_sync`` tasks with plain
arguments; each returns a small dict of counts for XCom.

Flow per day: provider -> merge -> validate -> store (good rows) + quarantine (bad rows) ->
completion marker in ``sync_state`` (``job="daily_bars"``, ``key="<data_source>|<date>"``), so a
re-run after a failure fetches only the days without a marker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ta_scheduler.constants import Collections as C
from ta_scheduler.market import MAJOR_INDICES
from ta_scheduler.providers import base as B
from ta_scheduler.providers.errors import PermissionDenied, QuotaExceeded
from ta_scheduler.storage import ledger
from ta_scheduler.storage.writes import WriteResult, columns_from_frame, docs_from_columns, natural_id, write_docs
from ta_scheduler.sync.adjust import DERIVED_FIELDS, adjust_day, rebase_history
from ta_scheduler.sync.completeness import DAILY_JOB
from ta_scheduler.sync.tacn_format import MARKET_CN, is_hs_flag, yyyymmdd_series
from ta_scheduler.sync.validate import DataQualityError, bar_problems, quarantine_threshold
from ta_scheduler.sync.valuation import refresh_latest_roe, restore_valuation_journal, sync_valuation

if TYPE_CHECKING:
    from pymongo.database import Database

    from ta_scheduler.providers.base import MarketDataProvider

log = logging.getLogger(__name__)

BAR_FIELDS = (
    "symbol", "code", "ts_code", "full_symbol", "market", "trade_date", "period", "open", "high", "low", "close",
    "pre_close", "unadj_open", "unadj_high", "unadj_low", "unadj_close", "unadj_pre_close", "adj_factor",
    "qfq_base_factor", "adjustflag", "price_adjust", "change", "pct_chg", "volume", "amount", "turnover_rate",
    "turnover_rate_f", "volume_ratio", "pe", "pe_ttm", "pb", "ps", "ps_ttm", "dv_ratio", "total_share", "float_share",
    "total_mv", "circ_mv", "up_limit", "down_limit",
)


def sync_stock_basic(provider: MarketDataProvider, db: Database) -> dict[str, Any]:
    """Refresh ``stock_basic_info`` (key code+source) from the provider's list of listed stocks."""
    frame = provider.stock_basic()
    if frame.empty:
        raise DataQualityError(f"{provider.name} stock_basic: no stocks returned; refusing to continue with an empty list")
    frame = frame.assign(symbol=frame["code"], full_symbol=frame["ts_code"], list_date=yyyymmdd_series(frame["list_date"]),
                         hs_type=frame["is_hs"], is_hs=is_hs_flag(frame["is_hs"]))
    cols = columns_from_frame(frame, ["code", "symbol", "ts_code", "full_symbol", "name", "area", "industry", "market",
                                      "exchange", "list_date", "list_status", "is_hs", "hs_type"])
    before = known_codes(db, provider.name)
    # mode "set": the valuation fields daily bars add (sync.valuation) stay when the list changes
    res = write_docs(db[C.STOCK_BASIC_INFO], docs_from_columns(cols, {"source": provider.name, "data_source": provider.name}),
                     partition=("source",))
    log.info("%s stock_basic: %d stocks (%s)", provider.name, len(frame), res.as_dict())
    added = set(frame["code"]) - before
    roe = refresh_latest_roe(db, provider.name, added, added) if added else {"stocks": 0}
    return {"stocks": len(frame), "data_source": provider.name, **res.as_dict(), "roe": roe}


def known_codes(db: Database, data_source: str) -> set[str]:
    """Codes in ``stock_basic_info`` for this source (empty set when the list was never synced)."""
    return set(db[C.STOCK_BASIC_INFO].distinct("code", {"source": data_source}))


def merge_daily_frames(daily: pd.DataFrame, adj: pd.DataFrame, basic: pd.DataFrame, limits: pd.DataFrame) -> pd.DataFrame:
    """One row per stock: bars left-joined with adj factor, valuation and limit prices (pure)."""
    out = daily.drop(columns=["trade_date"], errors="ignore").copy()
    for extra in (adj, basic, limits):
        extra = extra.drop(columns=["trade_date"], errors="ignore").drop_duplicates("ts_code")
        out = out.merge(extra, on="ts_code", how="left")
    out["symbol"] = out["code"]
    return out


#: The daily endpoints a low tier may be refused, with their ledger dataset and columns: the
#: bars are stored without them, and the ledger says ``not_permitted`` (see README, tiers).
OPTIONAL_DAILY = (("adj_factor", "adj_factor", B.ADJ_FACTOR_COLUMNS),
                  ("daily_basic", "daily_basic", B.DAILY_BASIC_COLUMNS),
                  ("stk_limit", "limit_prices", B.STK_LIMIT_COLUMNS))


def record_not_permitted(db: Database, dataset: str, period: str, exc: PermissionDenied, data_source: str) -> None:
    """Mark ``dataset`` for ``period`` ``not_permitted`` in the completeness ledger (once: an
    unchanged entry is not rewritten)."""
    ledger.record(db, dataset, period, ledger.NOT_PERMITTED, reason=str(exc), data_source=data_source)


def optional_daily_frames(provider: MarketDataProvider, db: Database, trade_date: str) -> list[pd.DataFrame]:
    """Adj factor, valuation and limit prices of one day; an empty frame for each the data
    source refuses (recorded ``not_permitted``), so the bars still land."""
    frames = []
    for method, dataset, columns in OPTIONAL_DAILY:
        try:
            frames.append(getattr(provider, method)(trade_date))
        except PermissionDenied as exc:
            record_not_permitted(db, dataset, trade_date, exc, provider.name)
            frames.append(pd.DataFrame(columns=list(columns)))
    return frames


def sync_daily_bars(
    provider: MarketDataProvider,
    db: Database,
    trade_date: str,
    symbols: Sequence[str] | None = None,
    *,
    run_id: str | None = None,
    max_quarantine_fraction: float | None = None,
) -> dict[str, Any]:
    """Fetch one trading day for the whole market (or ``symbols``, six-digit codes), validate, store.

    Writes ``stock_daily_quotes`` (forward-adjusted (qfq) OHLC with the exchange's prices beside
    them in ``unadj_*``, volume in shares, amount in yuan, plus ``adj_factor``, valuation and limit
    prices; see ``sync/adjust.py``) and rejected rows to ``quarantine``. Raises
    :class:`DataQualityError` when the rejected share exceeds the threshold — after storing.
    """
    ds = provider.name
    frames = [provider.daily(trade_date), *optional_daily_frames(provider, db, trade_date)]
    merged = merge_daily_frames(*frames)
    if symbols:
        merged = merged[merged["code"].isin(symbols)].reset_index(drop=True)
    if restored := restore_valuation_journal(db, ds):
        log.warning("%s: %d stock_basic_info documents restored from an interrupted valuation rewrite", ds, restored)
    codes = known_codes(db, ds)
    if not codes:
        log.warning("%s %s: stock_basic_info has no stocks for this source; unknown-code check skipped "
                    "(run sync_stock_basic first)", ds, trade_date)
    problems = bar_problems(merged, codes or None)
    bad = np.zeros(len(merged), dtype=bool)
    for mask in problems.values():
        bad |= mask
    merged["trade_date"], merged["period"] = trade_date, "daily"
    good, rebase, qfq_state = adjust_day(db, merged[~bad].assign(full_symbol=merged["ts_code"], market=MARKET_CN), ds,
                                         trade_date)
    res = write_docs(db[C.STOCK_DAILY_QUOTES], docs_from_columns(columns_from_frame(good, BAR_FIELDS), {"data_source": ds}),
                     mode="replace", partition=("trade_date", "data_source"), volatile=DERIVED_FIELDS)
    rebase_history(db, ds, rebase, qfq_state, trade_date)
    sync_valuation(db, ds, good, trade_date, codes)
    quarantined = store_quarantine(db, C.STOCK_DAILY_QUOTES, merged, problems, ds, run_id)
    counts = {"trade_date": trade_date, "data_source": ds, "rows": len(merged), "stored": len(good),
              "quarantined_rows": int(bad.sum()), "reasons": {r: int(m.sum()) for r, m in problems.items()},
              **res.as_dict()}
    if not symbols:
        from ta_scheduler.sync.completeness import record_daily_day

        counts["ledger"] = record_daily_day(db, ds, trade_date, frames, good, codes)
    limit = quarantine_threshold(max_quarantine_fraction)
    if len(merged) and bad.sum() / len(merged) > limit:
        raise DataQualityError(
            f"{ds} daily bars {trade_date}: {int(bad.sum())} of {len(merged)} rows rejected "
            f"({bad.sum() / len(merged):.1%} > {limit:.1%}): {counts['reasons']}; good rows and {quarantined} quarantine "
            f"records are stored; inspect collection '{C.QUARANTINE}' and re-run")
    if not symbols:
        mark_day_complete(db, ds, trade_date, counts)
    log.info("%s daily bars %s: %d rows, %d stored (%s), %d quarantined", ds, trade_date, len(merged), len(good),
             res.as_dict(), int(bad.sum()))
    return counts


def store_quarantine(db: Database, collection: str, frame: pd.DataFrame, problems: dict[str, np.ndarray],
                     data_source: str, run_id: str | None) -> int:
    """Upsert one quarantine record per (row, reason), keyed collection+key+reason."""
    key_fields = ("symbol", "trade_date", "data_source", "period")
    docs = []
    for reason, mask in problems.items():
        rows = frame[mask]
        for row in docs_from_columns(columns_from_frame(rows)):
            row["data_source"] = data_source
            docs.append({"collection": collection, "key": natural_id(row, key_fields), "reason": reason,
                         "doc": row, "run_id": run_id, "trade_date": row.get("trade_date"), "data_source": data_source})
    if not docs:
        return 0
    write_docs(db[C.QUARANTINE], docs, timestamp_field="quarantined_at", volatile=("run_id",), mode="replace",
               partition=("collection", "trade_date"))
    return len(docs)


def mark_day_complete(db: Database, data_source: str, trade_date: str, counts: dict[str, Any]) -> None:
    state = {"job": DAILY_JOB, "key": f"{data_source}|{trade_date}", "data_source": data_source,
             "trade_date": trade_date, "rows": counts["rows"], "stored": counts["stored"],
             "quarantined_rows": counts["quarantined_rows"]}
    write_docs(db[C.SYNC_STATE], [state])


def sync_index_daily(provider: MarketDataProvider, db: Database, trade_date: str,
                     ts_codes: Sequence[str] = tuple(MAJOR_INDICES)) -> dict[str, Any]:
    """Daily bars of the major indices (CSI 300, SSE Composite, SZSE Component, ChiNext)."""
    try:
        frame = provider.index_daily(list(ts_codes), trade_date, trade_date)
    except PermissionDenied as exc:
        record_not_permitted(db, "index_bars", trade_date, exc, provider.name)
        return {"trade_date": trade_date, "indices": 0, "data_source": provider.name, "not_permitted": exc.endpoint}
    frame = frame[frame["trade_date"] == trade_date]
    missing = sorted(set(ts_codes) - set(frame["ts_code"]))
    if missing:
        from ta_scheduler.sync.completeness import record_index_day

        record_index_day(db, provider.name, trade_date, len(set(ts_codes)))
        raise DataQualityError(f"{provider.name} index_daily {trade_date}: no bar for {', '.join(missing)}; "
                               "the data may not be published yet — retry later")
    frame = frame.assign(name=frame["ts_code"].map(MAJOR_INDICES))
    res = write_docs(db[C.INDEX_DAILY], docs_from_columns(columns_from_frame(frame), {"data_source": provider.name}),
                     mode="replace", partition=("trade_date", "data_source"))
    from ta_scheduler.sync.completeness import record_index_day

    record_index_day(db, provider.name, trade_date, len(set(ts_codes)))
    return {"trade_date": trade_date, "indices": len(frame), "data_source": provider.name, **res.as_dict()}


# ------------------------------------------------------------------------------ backfill
def missing_trade_dates(db: Database, dates: Sequence[str], data_source: str,
                        symbols: Sequence[str] | None = None) -> list[str]:
    """The dates (in order) whose daily bars are not completely stored yet.

    Whole market: dates without a completion marker in ``sync_state`` (a day cut short by a
    crash has no marker, so it is fetched again). With ``symbols`` (six-digit codes): dates where any of them
    has no stored bar.
    """
    dates = list(dates)
    if not symbols:
        keys = [f"{data_source}|{d}" for d in dates]
        done = {doc["trade_date"] for doc in db[C.SYNC_STATE].find({"_id": {"$in": [f"{DAILY_JOB}|{k}" for k in keys]}},
                                                                    {"trade_date": 1})}
        return [d for d in dates if d not in done]
    wanted = set(symbols)
    ids = [natural_id({"symbol": s, "trade_date": d, "data_source": data_source, "period": "daily"},
                      ("symbol", "trade_date", "data_source", "period")) for d in dates for s in wanted]
    present: dict[str, int] = {}
    for doc in db[C.STOCK_DAILY_QUOTES].find({"_id": {"$in": ids}}, {"trade_date": 1}):
        present[doc["trade_date"]] = present.get(doc["trade_date"], 0) + 1
    return [d for d in dates if present.get(d, 0) < len(wanted)]


class ProgressLog:
    """Logs ``done/total, rate, ETA`` every ``interval`` seconds from a background thread, so a
    long step still shows progress (Airflow has no progress bar)."""

    def __init__(self, what: str, total: int, interval: float = 10.0) -> None:
        self.what, self.total, self.interval = what, total, interval
        self.done = 0
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="progress")

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        return f"{self.what}: {self.done}/{self.total} done, {rate * 60:.1f}/min, ETA {eta:.0f} s"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            log.info("%s", self.line())

    def __enter__(self) -> ProgressLog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        log.info("%s", self.line())


#: Calls one day of daily bars makes (one per endpoint), before refusals.
DAY_CALLS = ("daily", "adj_factor", "daily_basic", "stk_limit")


def _day_calls(provider: MarketDataProvider) -> dict[str, int] | None:
    """Calls per backfilled day by endpoint, without those refused today; None without limits
    (only a provider with a ``limiter`` — tushare — has calls to count)."""
    limiter = getattr(provider, "limiter", None)
    if limiter is None:
        return None
    refused = limiter.refused()
    return {e: 1 for e in DAY_CALLS if e not in refused}


def backfill_plan(provider: MarketDataProvider, days: int) -> dict[str, Any]:
    """How many calls and minutes ``days`` days of bars take at the tier's rates, and how many of
    them today's remaining calls cover (logged, and returned for XCom)."""
    per_day = _day_calls(provider)
    if per_day is None:
        return {"days": days, "calls": None, "minutes": None, "calls_left_today": None, "days_today": days}
    limiter = provider.limiter  # type: ignore[attr-defined]
    calls = {e: n * days for e, n in per_day.items()}
    left = limiter.remaining_today(per_day)
    plan = {"days": days, "tier": limiter.tier.name, "calls": sum(calls.values()),
            "minutes": round(limiter.tier.minutes_for(calls), 1), "calls_left_today": left,
            "days_today": days if left is None else min(days, left // max(1, sum(per_day.values())))}
    log.info("%s backfill plan: %d days, %d calls (%s), about %.1f min at tier %s's rates; calls left today: %s%s",
             provider.name, days, plan["calls"], ", ".join(f"{e} {n}" for e, n in calls.items()), plan["minutes"],
             plan["tier"], "no daily limit" if left is None else left,
             "" if plan["days_today"] >= days else f" -> stops after {plan['days_today']} days; re-run tomorrow to resume")
    return plan


def stop_at_daily_cap(provider: MarketDataProvider, day: str, done: Sequence[str], todo: Sequence[str]) -> None:
    """Raise :class:`QuotaExceeded` before a day that today's remaining calls cannot finish, so
    a backfill stops between days (every stored day complete) instead of at tushare's refusal."""
    per_day = _day_calls(provider)
    if per_day is None:
        return
    left = provider.limiter.remaining_today(per_day)  # type: ignore[attr-defined]
    if left is not None and left < sum(per_day.values()):
        raise QuotaExceeded(
            f"{provider.name} backfill: stopped at today's call cap before {day} ({left} calls left, a day needs "
            f"{sum(per_day.values())}); {len(done)} of {len(todo)} days stored. Re-run the same backfill after 00:00 "
            "Asia/Shanghai: it fetches only the days still missing", endpoint="daily", params=day)


def backfill_daily(
    provider: MarketDataProvider,
    db: Database,
    dates: Sequence[str],
    symbols: Sequence[str] | None = None,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    log_interval: float = 10.0,
    max_quarantine_fraction: float | None = None,
) -> dict[str, Any]:
    """Sync the daily bars of every date in ``dates`` that is not stored yet (resumable).

    Re-running after a failure skips completed days. ``progress(done, total, trade_date)`` is
    called after each day; progress is also logged at least every ``log_interval`` seconds.
    """
    todo = missing_trade_dates(db, dates, provider.name, symbols)
    summary: dict[str, Any] = {"requested": len(dates), "skipped": len(dates) - len(todo), "fetched": [],
                               "rows": 0, "quarantined_rows": 0, "plan": backfill_plan(provider, len(todo))}
    with ProgressLog(f"{provider.name} backfill {len(todo)} days", len(todo), log_interval) as prog:
        for d in todo:
            stop_at_daily_cap(provider, d, summary["fetched"], todo)
            counts = sync_daily_bars(provider, db, d, symbols, max_quarantine_fraction=max_quarantine_fraction)
            summary["fetched"].append(d)
            summary["rows"] += counts["stored"]
            summary["quarantined_rows"] += counts["quarantined_rows"]
            prog.done += 1
            if progress:
                progress(prog.done, len(todo), d)
    return summary


__all__ = [
    "DataQualityError",
    "WriteResult",
    "backfill_daily",
    "missing_trade_dates",
    "sync_daily_bars",
    "sync_index_daily",
    "sync_stock_basic",
]
