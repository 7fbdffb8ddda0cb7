"""The completeness ledger: one document per dataset and period saying how complete it is.

Kept by the writers themselves (each sync or analysis job records what it expected and what it
stored), read by the health check, the repair step of ``daily_sync``, the reports and the UI.
Collection ``data_completeness``, unique on ``(dataset, period)``:

    {"_id": "daily_bars|2026-11-27", "dataset": "daily_bars", "period": "2026-11-27",
     "state": "partial", "expected": 5400, "stored": 5391, "data_source": "tushare",
     "reason": null, "updated_at": <UTC datetime of the last change>}

``period`` is a trading day ``YYYY-MM-DD`` for the daily datasets, a report period ``YYYYMMDD``
for ``financials`` and an hour ``YYYY-MM-DDTHH`` (exchange time) for ``news``. States:

- ``complete``      everything expected is stored (``stored >= expected``)
- ``partial``       some of it is stored (``0 < stored < expected``)
- ``missing``       nothing is stored (also what a period without a ledger entry means)
- ``failed``        the job that should have written it failed; ``reason`` says why
- ``not_due``       nothing is expected yet (e.g. a session that has not closed)
- ``not_permitted`` the data source refuses it (tushare permission); ``reason`` names the endpoint

Writes go through :func:`record`, which rewrites a document only when its content changed, so a
re-run that finds the same counts leaves the ledger byte-for-byte unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymongo.database import Database

from ta_scheduler.constants import Collections
from ta_scheduler.storage.mongo import ensure_indexes_once, find_each

COLLECTION = Collections.DATA_COMPLETENESS

#: Every dataset the ledger tracks, in the order the health page shows them.
DATASETS: tuple[str, ...] = (
    "daily_bars",
    "adj_factor",
    "daily_basic",
    "limit_prices",
    "index_bars",
    "intraday_ticks",
    "financials",
    "news",
    "indicators",
    "sentiment",
    "risk",
    "reports",
)

COMPLETE, PARTIAL, MISSING, FAILED, NOT_DUE, NOT_PERMITTED = (
    "complete", "partial", "missing", "failed", "not_due", "not_permitted",
)
STATES: tuple[str, ...] = (COMPLETE, PARTIAL, MISSING, FAILED, NOT_DUE, NOT_PERMITTED)

#: States that need no repair.
SETTLED = frozenset({COMPLETE, NOT_DUE, NOT_PERMITTED})


@dataclass(frozen=True)
class Entry:
    """One ledger row, as stored."""

    dataset: str
    period: str
    state: str
    expected: int | None = None
    stored: int | None = None
    data_source: str | None = None
    reason: str | None = None

    def as_doc(self) -> dict[str, Any]:
        return {
            "_id": f"{self.dataset}|{self.period}",
            "dataset": self.dataset,
            "period": self.period,
            "state": self.state,
            "expected": self.expected,
            "stored": self.stored,
            "data_source": self.data_source,
            "reason": self.reason,
        }


def state_for_counts(expected: int, stored: int) -> str:
    """``complete`` / ``partial`` / ``missing`` from an expected and a stored count."""
    if expected <= 0 or stored >= expected:
        return COMPLETE
    return PARTIAL if stored > 0 else MISSING


def _check(dataset: str, state: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"unknown ledger dataset {dataset!r}; known: {', '.join(DATASETS)}")
    if state not in STATES:
        raise ValueError(f"unknown ledger state {state!r}; known: {', '.join(STATES)}")


def record(
    db: Database,
    dataset: str,
    period: str,
    state: str | None = None,
    *,
    expected: int | None = None,
    stored: int | None = None,
    data_source: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Entry:
    """Record the state of one dataset for one period; returns the entry.

    Without ``state`` it is derived from ``expected`` and ``stored`` (both required then).
    The document is rewritten (with a new ``updated_at``) only when its content changed.
    """
    if state is None:
        if expected is None or stored is None:
            raise ValueError("record() needs a state, or both expected and stored counts")
        state = state_for_counts(expected, stored)
    _check(dataset, state)
    entry = Entry(dataset, period, state, expected, stored, data_source, reason)
    doc = entry.as_doc()
    coll = db[COLLECTION]
    ensure_indexes_once(db, COLLECTION)
    old = coll.find_one({"_id": doc["_id"]})
    if old is not None and all(old.get(k) == v for k, v in doc.items()):
        return entry
    stamp = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    coll.replace_one({"_id": doc["_id"]}, {**doc, "updated_at": stamp}, upsert=True)
    return entry


def record_many(db: Database, entries: Iterable[Entry], now: datetime | None = None) -> int:
    """Record several entries; returns how many documents changed."""
    changed = 0
    coll = db[COLLECTION]
    wanted = {e.as_doc()["_id"]: e for e in entries}
    if not wanted:
        return 0
    for e in wanted.values():
        _check(e.dataset, e.state)
    ensure_indexes_once(db, COLLECTION)
    stored = _stored(db, sorted({e.period for e in wanted.values()}), {e.dataset for e in wanted.values()})
    stamp = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    for _id, e in wanted.items():
        doc = e.as_doc()
        old = stored.get(_id)
        if old is not None and all(old.get(k) == v for k, v in doc.items()):
            continue
        coll.replace_one({"_id": _id}, {**doc, "updated_at": stamp}, upsert=True)
        changed += 1
    return changed


def entries(
    db: Database,
    periods: Sequence[str],
    datasets: Sequence[str] = DATASETS,
) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored ledger documents for these datasets and periods, keyed ``(dataset, period)``.

    Periods without a document are absent from the result — :func:`grid` reads them as ``missing``.
    """
    return {(doc["dataset"], doc["period"]): doc for doc in _stored(db, periods, set(datasets)).values()}


def _stored(db: Database, periods: Iterable[str], datasets: set[str]) -> dict[str, dict[str, Any]]:
    """The stored documents of these periods and datasets, by ``_id`` (a ``$in`` on ``period``:
    its index serves it on every store)."""
    return {doc["_id"]: doc for doc in find_each(db[COLLECTION], "period", periods) if doc["dataset"] in datasets}


def grid(
    db: Database,
    periods: Sequence[str],
    datasets: Sequence[str] = DATASETS,
) -> dict[str, dict[str, str]]:
    """``{dataset: {period: state}}`` for every dataset and period (no entry → ``missing``)."""
    found = entries(db, periods, datasets)
    return {d: {p: found.get((d, p), {}).get("state", MISSING) for p in periods} for d in datasets}


def first_periods(db: Database, datasets: Sequence[str]) -> dict[str, str]:
    """``{dataset: its earliest period}`` for the datasets with any entry: where each dataset's
    history starts (the days before it were never synced, which is no hole). One ``_id``-range
    query per dataset (``_id`` starts with ``"<dataset>|"``)."""
    out = {}
    for dataset in datasets:
        prefix = {"$gte": f"{dataset}|", "$lt": dataset + chr(ord("|") + 1)}
        doc = db[COLLECTION].find_one({"_id": prefix}, {"period": 1}, sort=[("_id", 1)])
        if doc is not None:
            out[dataset] = doc["period"]
    return out


def unsettled(
    db: Database,
    periods: Sequence[str],
    datasets: Sequence[str],
) -> dict[str, list[str]]:
    """``{dataset: [periods not complete / not_due / not_permitted]}``, only datasets with any."""
    out: dict[str, list[str]] = {}
    for dataset, row in grid(db, periods, datasets).items():
        bad = [p for p, state in row.items() if state not in SETTLED]
        if bad:
            out[dataset] = bad
    return out


def trading_days_ending(last_day: str, n: int) -> list[str]:
    """The ``n`` trading days ending on ``last_day`` (inclusive, a session), oldest first: the
    periods of a window the ledger is asked about."""
    from datetime import date

    from ta_scheduler.calendar.lookup import get_calendar

    cal = get_calendar()
    out = [date.fromisoformat(last_day)]
    while len(out) < n:
        out.append(cal.previous_session(out[-1]))
    return [d.isoformat() for d in reversed(out)]


def not_complete(row: Mapping[str, str], periods: Sequence[str]) -> list[str]:
    """The periods of one :func:`grid` row whose state is not ``complete`` (a figure computed
    over them would rest on missing or partial data)."""
    return [p for p in periods if row.get(p, MISSING) != COMPLETE]


def summary(found: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, int]:
    """Counts per state over a result of :func:`entries` (for logs and XCom)."""
    out: dict[str, int] = {}
    for doc in found.values():
        out[doc["state"]] = out.get(doc["state"], 0) + 1
    return out
