"""What the sync writers tell the completeness ledger (``storage/ledger.py``), and the repair
that reads it back.

Expected counts (see docs/data-sync.md, "The completeness ledger"):

- daily datasets (``daily_bars``, ``adj_factor``, ``daily_basic``, ``limit_prices``): the stocks
  that were *listed and not suspended* on the day. Listed = in ``stock_basic_info`` for the data
  source (a stock listed later has no bar that day, and a bar of a code outside the list is
  quarantined, so the list as synced serves every day). Suspended = listed but without a row in the
  vendor's ``daily`` for the day: tushare publishes no daily bar for a stock that did not trade
  (its ``suspend_d`` endpoint is not fetched), and the demo market has no suspensions. So a
  vendor that omits a *trading* stock is not caught here; that is the vendor-readiness check's job.
  Stored = the day's rows in ``stock_daily_quotes`` carrying that endpoint's fields.
- ``index_bars``: the major indices; ``financials``: per report period, the reports stored
  (expected) and those carrying all four statements (stored); ``news``: per hour, the unique
  items the vendor returned and those stored; ``intraday_ticks``: per day, the session ticks
  due so far and the distinct snapshot times stored.

Entries already ``not_permitted`` are kept when the endpoint returned nothing: the permission
handling owns that state.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.storage import ledger

if TYPE_CHECKING:
    import pandas as pd
    from pymongo.database import Database

    from ta_scheduler.providers.base import MarketDataProvider

log = logging.getLogger(__name__)

#: ``sync_state`` job of the daily bars' completion marker (``_id``: ``daily_bars|<source>|<day>``)
DAILY_JOB = "daily_bars"

#: The daily datasets one whole-market day sync writes, and the vendor frame each comes from
#: (index into ``[daily, adj_factor, daily_basic, stk_limit]``).
DAILY_DATASETS: dict[str, int] = {"daily_bars": 0, "adj_factor": 1, "daily_basic": 2, "limit_prices": 3}


def record_daily_day(db: Database, data_source: str, trade_date: str, frames: Sequence[pd.DataFrame],
                     good: pd.DataFrame, listed: set[str]) -> dict[str, dict[str, Any]]:
    """Ledger entries of one whole-market day after its write; returns ``{dataset: entry}``.

    ``frames`` are the vendor's ``daily``, ``adj_factor``, ``daily_basic`` and ``stk_limit``
    frames; ``good`` the rows stored (validation passed); ``listed`` the stock list's codes
    (empty: no list stored, every published bar is expected).
    """
    traded = set(frames[0]["code"]) if "code" in frames[0] else {c[:6] for c in frames[0]["ts_code"]}
    expected = len(traded & listed) if listed else len(traded)
    stored_codes = good["ts_code"]
    old = ledger.entries(db, [trade_date], list(DAILY_DATASETS))
    out: list[ledger.Entry] = []
    for dataset, i in DAILY_DATASETS.items():
        frame = frames[i]
        if frame.empty and old.get((dataset, trade_date), {}).get("state") == ledger.NOT_PERMITTED:
            continue
        stored = len(good) if i == 0 else int(stored_codes.isin(frame["ts_code"]).sum()) if len(frame) else 0
        out.append(ledger.Entry(dataset, trade_date, ledger.state_for_counts(expected, stored), expected, stored,
                                data_source))
    ledger.record_many(db, out)
    return {e.dataset: {"state": e.state, "expected": e.expected, "stored": e.stored} for e in out}


def record_index_day(db: Database, data_source: str, trade_date: str, expected: int) -> None:
    """``index_bars`` of one day: the major indices (expected) vs their bars in the store."""
    stored = db[C.INDEX_DAILY].count_documents({"trade_date": trade_date, "data_source": data_source})
    ledger.record(db, "index_bars", trade_date, expected=expected, stored=stored, data_source=data_source)


def record_financial_periods(db: Database, data_source: str, periods: Sequence[str], statements: Sequence[str]) -> None:
    """Per report period touched: reports stored (expected) vs reports carrying every statement."""
    coll = db[C.STOCK_FINANCIAL_DATA]
    entries = []
    for period in sorted(set(periods)):
        query = {"report_period": period, "data_source": data_source}
        expected = coll.count_documents(query)
        stored = coll.count_documents({**query, **{s: {"$exists": True} for s in statements}})
        entries.append(ledger.Entry("financials", period, ledger.state_for_counts(expected, stored), expected, stored,
                                    data_source))
    ledger.record_many(db, entries)


def hour_period(moment: datetime) -> str:
    """Ledger period of a news hour: ``YYYY-MM-DDTHH`` in exchange time."""
    from ta_scheduler.market import exchange_time as local

    return local(moment).strftime("%Y-%m-%dT%H")


def whole_hours(start: datetime, end: datetime) -> list[datetime]:
    """Starts of the whole exchange-time hours inside ``[start, end)``."""
    from ta_scheduler.market import exchange_time as local

    first = local(start).replace(minute=0, second=0, microsecond=0)
    if first < local(start):
        first += timedelta(hours=1)
    out = []
    while first + timedelta(hours=1) <= local(end):
        out.append(first)
        first += timedelta(hours=1)
    return out


def record_news_hours(db: Database, data_source: str, start: datetime, end: datetime,
                      fetched_times: Sequence[datetime]) -> list[str]:
    """Ledger entries of the whole hours of ``[start, end)``: unique items fetched vs stored."""
    entries = []
    for h in whole_hours(start, end):
        h_end = h + timedelta(hours=1)
        expected = sum(1 for t in fetched_times if h <= t < h_end)
        stored = db[C.STOCK_NEWS].count_documents({"published_at": {"$gte": h, "$lt": h_end}, "data_source": data_source})
        entries.append(ledger.Entry("news", hour_period(h), ledger.state_for_counts(expected, stored), expected, stored,
                                    data_source))
    ledger.record_many(db, entries)
    return [e.period for e in entries]


def record_intraday_day(db: Database, data_source: str, tick: datetime) -> dict[str, Any]:
    """``intraday_ticks`` of the tick's day: session ticks due up to ``tick`` vs snapshot times stored."""
    from ta_scheduler.calendar.lookup import get_calendar
    from ta_scheduler.market import exchange_time as local

    day = local(tick).date()
    due = [t for t in session_ticks(day) if t <= local(tick)]
    if not get_calendar().is_session(day) or not due:
        return {}
    snapshots = db[C.INTRADAY_SNAPSHOTS]  # one index lookup per tick due, not the day's snapshots
    stored = sum(1 for t in due if snapshots.find_one({"snapshot_time": t, "data_source": data_source}, {"_id": 1}))
    e = ledger.record(db, "intraday_ticks", day.isoformat(), expected=len(due), stored=stored, data_source=data_source)
    return {"state": e.state, "expected": e.expected, "stored": e.stored}


def session_ticks(day: date, every_minutes: int = 5) -> list[datetime]:
    """The intraday snapshot ticks of a session day (the ``intraday_prices`` timetable's ticks)."""
    from ta_scheduler.calendar.schedules import session_minutes
    from ta_scheduler.market import TZ

    start = datetime.combine(day, datetime.min.time(), TZ)
    return [start + timedelta(minutes=m) for m in session_minutes(every_minutes)]


# ------------------------------------------------------------------------------ repair
#: What ``daily_sync``'s repair heals: the daily datasets (one whole-market day sync writes them
#: all) and the major indices' bars.
REPAIRED_DATASETS: tuple[str, ...] = (*DAILY_DATASETS, "index_bars")


def stored_rows_per_day(db: Database, days: Sequence[str]) -> dict[str, int]:
    """Rows per day now in ``stock_daily_quotes`` for ``days`` only: one ``count_documents`` on
    each day's ``trade_date``, which the ``trade_date`` index serves on MongoDB and which
    PostgreSQL counts alone under the embedded store (docs/store.md, "The patch"). No other day
    is read, however long the history.

    Every source's rows count (the collection is shared with TradingAgents-CN); ours are among
    them, so a day holding fewer rows than its ledger entry says has lost rows of ours."""
    coll = db[C.STOCK_DAILY_QUOTES]
    return {day: coll.count_documents({"trade_date": day}) for day in dict.fromkeys(days)}


def reconcile_daily(db: Database, days: Sequence[str], counts: dict[str, int] | None = None,
                    noticed_by: str = "the store recount") -> dict[str, dict[str, int]]:
    """Lower the ledger's stored counts where the store now holds fewer of a day's rows than
    the ledger says (rows deleted or lost after they were written), so the next repair re-syncs
    the day; returns the days changed with ``{"ledger": n, "store": m}``.

    ``counts`` are :func:`stored_rows_per_day` of ``days`` (counted here when not given)."""
    found = ledger.entries(db, days, list(DAILY_DATASETS))
    judged = [d for d in days if (found.get(("daily_bars", d)) or {}).get("stored")]
    now = counts if counts is not None else stored_rows_per_day(db, judged)
    changed: dict[str, dict[str, int]] = {}
    fixes = []
    for day in judged:
        bars = found[("daily_bars", day)]
        have = now.get(day, 0)
        if have >= bars["stored"]:
            continue
        changed[day] = {"ledger": bars["stored"], "store": have}
        for dataset in DAILY_DATASETS:
            doc = found.get((dataset, day))
            if not doc or doc["state"] == ledger.NOT_PERMITTED or doc.get("stored") is None:
                continue
            stored = min(doc["stored"], have)
            fixes.append(ledger.Entry(dataset, day, ledger.state_for_counts(doc["expected"], stored), doc["expected"],
                                      stored, doc.get("data_source"),
                                      f"{noticed_by}: the store holds {have} rows, the ledger had {doc['stored']}"))
    ledger.record_many(db, fixes)
    for day, c in changed.items():
        log.warning("ledger %s: store holds %d daily bars, the ledger had %d (%s): marked for repair", day, c["store"],
                    c["ledger"], noticed_by)
    return changed


def days_to_repair(db: Database, days: Sequence[str], datasets: Sequence[str] = tuple(DAILY_DATASETS)) -> list[str]:
    """Trading days among ``days`` whose ``datasets`` the ledger shows missing, partial or failed."""
    bad = ledger.unsettled(db, days, list(datasets))
    return sorted({d for periods in bad.values() for d in periods})


def forget_lost_rows(db: Database, data_source: str, trade_date: str) -> int:
    """Make the day's writer see the rows deleted from the store as new: drop them from the
    write manifest (which would otherwise call them unchanged, see ``storage/writes.py``) and drop
    the day's completion marker. Rows still stored stay untouched by the re-sync."""
    from ta_scheduler.storage.writes import delete_where, prune_manifest

    delete_where(db[C.SYNC_STATE], {"_id": f"{DAILY_JOB}|{data_source}|{trade_date}"})
    return prune_manifest(db[C.STOCK_DAILY_QUOTES], {"trade_date": trade_date, "data_source": data_source})


def repair_daily(provider: MarketDataProvider, db: Database, days: Sequence[str], *, day_sync: Any, index_sync: Any,
                 skip: Sequence[str] = (), run_id: str | None = None, recount_store: bool = False) -> dict[str, Any]:
    """Re-sync every day of ``days`` the ledger shows not complete (except ``skip``, the days
    this run syncs anyway): the daily datasets with ``day_sync``, ``index_bars`` with
    ``index_sync`` (:func:`~ta_scheduler.sync.bars.sync_daily_bars` and
    :func:`~ta_scheduler.sync.bars.sync_index_daily`, passed in: the ledger sits below the
    writers). Returns what was repaired.

    The ledger holds what each write reported; the repair trusts it and reads nothing else of the
    store. Rows lost outside our writes are noticed by the health check's per-day count, which
    lowers the ledger (:func:`reconcile_daily`); ``recount_store`` asks the repair to count the
    store's days itself first (``daily_sync`` param ``recount_store``)."""
    from ta_scheduler.storage.writes import prune_manifest

    sync_day, sync_index = day_sync, index_sync
    ds = provider.name
    lost = reconcile_daily(db, days) if recount_store else {}
    skipped = set(skip)
    todo = [d for d in days_to_repair(db, days) if d not in skipped]
    repaired: dict[str, Any] = {}
    for day in todo:
        before = ledger.entries(db, [day], ["daily_bars"]).get(("daily_bars", day), {})
        forget_lost_rows(db, ds, day)
        counts = sync_day(provider, db, day, run_id=run_id)
        repaired[day] = {"before": {k: before.get(k) for k in ("state", "expected", "stored")} if before else
                         {"state": ledger.MISSING, "expected": None, "stored": None},
                         "inserted": counts["inserted"], "updated": counts["updated"], "after": counts.get("ledger", {})}
        log.info("REPAIRED daily bars %s: was %s, %d rows inserted, %d updated; ledger now %s", day,
                 repaired[day]["before"], counts["inserted"], counts["updated"], counts.get("ledger", {}).get("daily_bars"))
    index_todo = [d for d in days_to_repair(db, days, ["index_bars"]) if d not in skipped]
    index_repaired: dict[str, Any] = {}
    for day in index_todo:
        prune_manifest(db[C.INDEX_DAILY], {"trade_date": day, "data_source": ds})  # lost index bars count as new
        counts = sync_index(provider, db, day)
        if counts is None:
            continue
        index_repaired[day] = {"inserted": counts.get("inserted", 0), "updated": counts.get("updated", 0)}
        log.info("REPAIRED index bars %s: %d rows inserted, %d updated", day, index_repaired[day]["inserted"],
                 index_repaired[day]["updated"])
    if not todo and not index_todo:
        log.info("repair: the ledger shows the daily datasets and index bars complete for %d trading days (%s .. %s)",
                 len(days), days[0] if days else "-", days[-1] if days else "-")
    return {"window": [days[0], days[-1]] if days else [], "lost_rows": lost,
            "repaired_dates": sorted(repaired), "repairs": repaired,
            "repaired_index_dates": sorted(index_repaired)}
