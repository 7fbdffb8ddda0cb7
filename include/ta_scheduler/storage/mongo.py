"""The one adapter for the store: client lifecycle, indexes, idempotent bulk writes.

Works on MongoDB and FerretDB 1.24 alike: only unordered ``bulk_write`` of ``UpdateOne``
upserts, plain (compound) unique indexes, ``find``/``aggregate`` with ``$match``/``$group``/
``$sort``; no transactions, change streams or ``$merge``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ta_scheduler.config import MongoTarget, mongo_target
from ta_scheduler.constants import Collections as C

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.collection import Collection
    from pymongo.database import Database

log = logging.getLogger(__name__)

#: Unique natural keys, one per collection: every write is an upsert on this key.
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    C.STOCK_BASIC_INFO: ("code", "source"),
    C.STOCK_DAILY_QUOTES: ("symbol", "trade_date", "data_source", "period"),
    C.MARKET_QUOTES: ("code",),
    C.INTRADAY_SNAPSHOTS: ("code", "snapshot_time"),
    C.STOCK_FINANCIAL_DATA: ("symbol", "report_period", "report_type", "data_source"),
    C.STOCK_NEWS: ("news_id",),
    C.TRADE_CALENDAR: ("exchange", "cal_date"),
    C.INDEX_DAILY: ("ts_code", "trade_date", "data_source"),
    C.TECHNICAL_INDICATORS: ("symbol", "trade_date"),
    C.MARKET_SENTIMENT: ("trade_date",),
    C.HOT_STOCKS: ("trade_date", "rank"),
    C.RISK_ASSESSMENTS: ("subject_type", "subject_id", "as_of"),
    C.REPORTS: ("kind", "report_date"),
    C.PORTFOLIOS: ("portfolio_id",),
    C.QUARANTINE: ("collection", "key", "reason"),
    C.SYNC_STATE: ("job", "key"),
    C.ANALYSIS_REPORTS: ("analysis_id",),
}

#: Secondary (non-unique) indexes for the queries the DAGs run.
SECONDARY_INDEXES: dict[str, list[tuple[str, ...]]] = {
    C.STOCK_DAILY_QUOTES: [("trade_date",)],
    C.INTRADAY_SNAPSHOTS: [("snapshot_time",)],
    C.STOCK_NEWS: [("publish_time",), ("symbols",)],
    C.STOCK_FINANCIAL_DATA: [("ann_date",)],
    C.TECHNICAL_INDICATORS: [("trade_date",)],
    C.QUARANTINE: [("quarantined_at",)],
    C.ANALYSIS_REPORTS: [("stock_symbol", "analysis_date")],
}

_clients: dict[str, MongoClient] = {}
_lock = threading.Lock()


def get_client(target: MongoTarget | None = None) -> MongoClient:
    """A process-wide ``MongoClient`` for the target (pymongo clients are thread-safe pools)."""
    from pymongo import MongoClient

    target = target or mongo_target()
    with _lock:
        client = _clients.get(target.uri)
        if client is None:
            client = MongoClient(
                target.uri,
                serverSelectionTimeoutMS=10_000,
                connectTimeoutMS=5_000,
                retryWrites=False,  # FerretDB 1.x has no retryable writes; our upserts are idempotent
                tz_aware=True,
            )
            _clients[target.uri] = client
    return client


def get_db(target: MongoTarget | None = None) -> Database:
    """The project's database on the configured store."""
    target = target or mongo_target()
    return get_client(target)[target.database]


def close_clients() -> None:
    """Close every cached client (tests restart the store; workers exit cleanly)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def ensure_indexes(db: Database, collections: Iterable[str] | None = None) -> None:
    """Create the unique and secondary indexes that are missing (the project owns its indexes).

    Only missing indexes are sent: FerretDB 1.24 drops the connection when ``createIndexes``
    names an index that already exists, and skipping them is cheaper on MongoDB too.
    """
    from pymongo import ASCENDING, IndexModel

    names = list(collections) if collections is not None else sorted(UNIQUE_KEYS)
    for name in names:
        wanted = []
        key = UNIQUE_KEYS.get(name)
        if key:
            wanted.append(IndexModel([(f, ASCENDING) for f in key], unique=True, name="uniq_" + "_".join(key)))
        for fields in SECONDARY_INDEXES.get(name, []):
            wanted.append(IndexModel([(f, ASCENDING) for f in fields], name="idx_" + "_".join(fields)))
        if not wanted:
            continue
        existing = set(db[name].index_information()) if name in db.list_collection_names() else set()
        missing = [m for m in wanted if m.document["name"] not in existing]
        if missing:
            db[name].create_indexes(missing)


@dataclass
class UpsertResult:
    """Counts from a chunked bulk upsert."""

    matched: int = 0
    modified: int = 0
    upserted: int = 0

    @property
    def written(self) -> int:
        return self.modified + self.upserted

    def add(self, other: UpsertResult) -> None:
        self.matched += other.matched
        self.modified += other.modified
        self.upserted += other.upserted

    def as_dict(self) -> dict[str, int]:
        return {"matched": self.matched, "modified": self.modified, "upserted": self.upserted}


def docs_from_columns(columns: Mapping[str, Sequence[Any]], constants: Mapping[str, Any] | None = None) -> Iterator[dict]:
    """Documents from column arrays (e.g. ``{c: frame[c].tolist()}``): about twice as cheap as
    ``DataFrame.to_dict('records')``. ``constants`` are added to every document.
    """
    names = list(columns)
    extra = dict(constants or {})
    for values in zip(*(columns[n] for n in names), strict=True):
        doc = dict(zip(names, values))
        doc.update(extra)
        yield doc


def bulk_upsert(
    coll: Collection,
    docs: Iterable[Mapping[str, Any]],
    key: Sequence[str] | None = None,
    *,
    chunk_size: int = 2000,
    set_on_insert: Mapping[str, Any] | None = None,
) -> UpsertResult:
    """Upsert ``docs`` on their natural key, ``chunk_size`` operations at a time.

    Re-running with the same documents leaves the collection unchanged (idempotent), and a
    retry after a crash mid-way completes the rest without duplicates because every write is
    keyed on the unique index. Only one chunk of operations is held in memory.
    """
    from pymongo import UpdateOne

    key = tuple(key or UNIQUE_KEYS[coll.name])
    total = UpsertResult()
    ops: list[UpdateOne] = []

    def flush() -> None:
        if not ops:
            return
        res = coll.bulk_write(ops, ordered=False)
        total.add(UpsertResult(res.matched_count, res.modified_count, res.upserted_count))
        ops.clear()

    for doc in docs:
        update: dict[str, Any] = {"$set": doc}
        if set_on_insert:
            update["$setOnInsert"] = dict(set_on_insert)
        ops.append(UpdateOne({k: doc[k] for k in key}, update, upsert=True))
        if len(ops) >= chunk_size:
            flush()
    flush()
    return total
