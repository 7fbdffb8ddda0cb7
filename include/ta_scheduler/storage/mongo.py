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
    C.INDICATOR_STATE: ("symbol", "data_source"),
    C.MARKET_SENTIMENT: ("trade_date",),
    C.HOT_STOCKS: ("trade_date", "rank"),
    C.RISK_ASSESSMENTS: ("subject_type", "subject_id", "as_of"),
    C.REPORTS: ("kind", "report_date"),
    C.PORTFOLIOS: ("portfolio_id",),
    C.QUARANTINE: ("collection", "key", "reason"),
    C.SYNC_STATE: ("job", "key"),
    C.ANALYSIS_REPORTS: ("analysis_id",),
    C.LLM_USAGE: ("usage_id",),
}

#: Secondary (non-unique) indexes for the queries the DAGs run.
SECONDARY_INDEXES: dict[str, list[tuple[str, ...]]] = {
    C.STOCK_DAILY_QUOTES: [("trade_date",)],
    C.INTRADAY_SNAPSHOTS: [("snapshot_time",)],
    C.STOCK_NEWS: [("publish_time",), ("published_at",), ("symbols",)],
    C.STOCK_FINANCIAL_DATA: [("ann_date",)],
    C.TECHNICAL_INDICATORS: [("trade_date",)],
    C.QUARANTINE: [("quarantined_at",)],
    C.ANALYSIS_REPORTS: [("stock_symbol", "analysis_date")],
    C.LLM_USAGE: [("day",), ("run_id",)],
}

#: Unique indexes TradingAgents-CN creates on the collections it shares with us, under its own
#: index names (its services' ``_ensure_indexes``). We create them too, so a write of ours that
#: would break its constraint fails here first; where it already created one with the same key
#: (under any name) ours is not sent again.
TACN_UNIQUE_INDEXES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    C.STOCK_FINANCIAL_DATA: [("symbol_period_source_unique", ("symbol", "report_period", "data_source"))],
    C.STOCK_NEWS: [("url_title_time_unique", ("url", "title", "publish_time"))],
}

_clients: dict[str, MongoClient] = {}
_lock = threading.Lock()


def get_client(target: MongoTarget | None = None) -> MongoClient:
    """A process-wide ``MongoClient`` for the target (pymongo clients are thread-safe pools).

    The target comes from connection ``mongo_default`` through ``MongoHook`` (``config.mongo_target``);
    the client adds our timeouts, ``retryWrites=False`` and timezone-aware datetimes.
    """
    from pymongo import MongoClient

    target = target or mongo_target()
    with _lock:
        key = target.uri + repr(sorted(target.options.items()))
        client = _clients.get(key)
        if client is None:
            options = {
                "serverSelectionTimeoutMS": 10_000,
                "connectTimeoutMS": 5_000,
                "retryWrites": False,  # FerretDB 1.x has no retryable writes; our upserts are idempotent
                **target.options,  # the connection's extras, as MongoHook passes them
                "tz_aware": True,
            }
            client = MongoClient(target.uri, **options)
            _clients[key] = client
    return client


def get_db(target: MongoTarget | None = None) -> Database:
    """The project's database on the configured store."""
    target = target or mongo_target()
    return get_client(target)[target.database]


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
        for index_name, fields in TACN_UNIQUE_INDEXES.get(name, []):
            wanted.append(IndexModel([(f, ASCENDING) for f in fields], unique=True, name=index_name))
        if not wanted:
            continue
        info = db[name].index_information() if name in db.list_collection_names() else {}
        existing = set(info)
        keys = {tuple((f, int(d)) for f, d in spec["key"]) for spec in info.values()}
        missing = [m for m in wanted if m.document["name"] not in existing
                   and tuple((f, int(d)) for f, d in m.document["key"].items()) not in keys]
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


#: Most statements we send in one ``update`` command. FerretDB 1.24 stalls indefinitely on
#: update commands of 100 statements or more (inserts are unaffected); MongoDB does not care.
UPDATE_BATCH = 50


def bulk_upsert(
    coll: Collection,
    docs: Iterable[Mapping[str, Any]],
    key: Sequence[str] | None = None,
    *,
    chunk_size: int = 2000,
    partition: str | None = None,
    set_on_insert: Mapping[str, Any] | None = None,
) -> UpsertResult:
    """Write ``docs`` so the collection holds exactly one document per natural ``key``.

    Idempotent: re-running with the same documents changes nothing, and a retry after a crash
    mid-way completes the rest without duplicates (the unique index on ``key`` guarantees it).
    Only one chunk of documents is held in memory.

    Each chunk is diffed against what is stored: new documents go in with ``insert_many``,
    changed ones are updated by ``_id`` and unchanged ones are skipped. That is close to raw
    ``insert_many`` speed for a fresh day and nearly free for a re-run, on MongoDB and on
    FerretDB (where an upsert by a compound filter scans the collection: milliseconds per
    document). The stored documents are looked up with one query per chunk — by ``partition``
    equality (a key field many documents share, e.g. ``trade_date``; pass it when there is
    one) or else by ``$in`` on the first key field. ``set_on_insert`` fields are written only
    when a document is created.
    """
    key = tuple(key or UNIQUE_KEYS[coll.name])
    if partition is not None and partition not in key:
        raise ValueError(f"partition {partition!r} must be one of the key fields {key}")
    total = UpsertResult()
    chunk: list[Mapping[str, Any]] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= chunk_size:
            total.add(_diff_write(coll, chunk, key, partition, set_on_insert))
            chunk = []
    if chunk:
        total.add(_diff_write(coll, chunk, key, partition, set_on_insert))
    return total


def _batches(items: list, size: int = UPDATE_BATCH) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def bulk_write_batched(coll: Collection, ops: list) -> UpsertResult:
    """``bulk_write`` in batches of at most :data:`UPDATE_BATCH` operations (see there why)."""
    total = UpsertResult()
    for batch in _batches(ops):
        res = coll.bulk_write(batch, ordered=False)
        total.add(UpsertResult(res.matched_count, res.modified_count, res.upserted_count))
    return total


def _upsert_by_key(coll, docs, key) -> UpsertResult:
    """Plain keyed upserts (used for the rare rows a concurrent writer inserted first)."""
    from pymongo import UpdateOne

    return bulk_write_batched(coll, [UpdateOne({k: d[k] for k in key}, {"$set": dict(d)}, upsert=True) for d in docs])


def _same(stored: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    return all(k in stored and _equal(stored[k], v) for k, v in doc.items())


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:  # NaN == NaN here
        return True
    if hasattr(a, "tzinfo") and hasattr(b, "tzinfo") and hasattr(a, "replace") and (a.tzinfo is None) != (b.tzinfo is None):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return a == b


def _stored_for(coll, chunk, key, partition) -> dict[tuple, Mapping[str, Any]]:
    if partition is not None:
        values = sorted({d[partition] for d in chunk}, key=repr)
        cursor = (row for v in values for row in coll.find({partition: v}))
    else:
        cursor = coll.find({key[0]: {"$in": sorted({d[key[0]] for d in chunk}, key=repr)}})
    return {tuple(row.get(k) for k in key): row for row in cursor}


def _diff_write(coll, chunk, key, partition, set_on_insert) -> UpsertResult:
    from pymongo import UpdateOne
    from pymongo.errors import BulkWriteError

    result = UpsertResult()
    latest: dict[tuple, Mapping[str, Any]] = {}
    for doc in chunk:  # the same key twice in one batch: the last one wins, as with upserts
        latest[tuple(doc[f] for f in key)] = doc
    stored = _stored_for(coll, chunk, key, partition)
    fresh, updates = [], []
    for k, doc in latest.items():
        old = stored.get(k)
        if old is None:
            fresh.append({**(set_on_insert or {}), **doc})
        elif _same(old, doc):
            result.matched += 1
        else:
            updates.append(UpdateOne({"_id": old["_id"]}, {"$set": dict(doc)}))
    if fresh:
        try:
            coll.insert_many(fresh, ordered=False)
            result.upserted += len(fresh)
        except BulkWriteError as err:  # a concurrent writer inserted some first: upsert those
            errors = err.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            dup = sorted({e["index"] for e in errors})
            result.upserted += err.details.get("nInserted", len(fresh) - len(dup))
            again = [{k: v for k, v in fresh[i].items() if k != "_id"} for i in dup]
            result.add(_upsert_by_key(coll, again, key))
    done = bulk_write_batched(coll, updates)
    result.matched += done.matched
    result.modified += done.modified
    return result
