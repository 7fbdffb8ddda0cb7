"""The store's client lifecycle, natural keys and indexes; every write is in
:mod:`ta_scheduler.storage.writes`.

Works on MongoDB and FerretDB 1.24 alike: unordered ``insert_many`` and small ``bulk_write``
batches, plain (compound) unique indexes, ``find``/``aggregate`` with ``$match``/``$group``/
``$sort``; no transactions, change streams or ``$merge``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ta_scheduler.config import MongoTarget, mongo_target
from ta_scheduler.constants import Collections as C

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.database import Database

log = logging.getLogger(__name__)

#: Unique natural keys, one per collection: every write is keyed on it (``writes.write_docs``).
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
    C.DAILY_BAR_COLUMNS: ("trade_date",),
    C.MARKET_SENTIMENT: ("trade_date",),
    C.HOT_STOCKS: ("trade_date", "rank"),
    C.RISK_ASSESSMENTS: ("subject_type", "subject_id", "as_of"),
    C.REPORTS: ("kind", "report_date"),
    C.PORTFOLIOS: ("portfolio_id",),
    C.QUARANTINE: ("collection", "key", "reason"),
    C.SYNC_STATE: ("job", "key"),
    C.ANALYSIS_REPORTS: ("analysis_id",),
    C.LLM_USAGE: ("usage_id",),
    C.HEALTH_CHECKS: ("topic", "day"),
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
    C.DATA_COMPLETENESS: [("period",)],
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

    names = list(collections) if collections is not None else sorted({*UNIQUE_KEYS, *SECONDARY_INDEXES})
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


def find_each(coll, field: str, values: Iterable[Any], query: dict[str, Any] | None = None,
              projection: Any = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """The documents of ``query`` with ``field`` equal to one of ``values``: one ``$in`` query per
    :data:`IN_CHUNK` values (in no particular order).

    The values must be strings: the embedded store (FerretDB 1.24 with the project's patch,
    docs/store.md) hands a ``$in`` of strings on a field to that field's index, as MongoDB does;
    a ``$in`` of other types would decode every document of the collection there.
    """
    values = list(dict.fromkeys(values))
    if not all(isinstance(v, str) for v in values):
        raise TypeError(f"find_each takes string values (an index serves only those on the embedded store): {field}")
    for i in range(0, len(values), IN_CHUNK):
        yield from coll.find({**(query or {}), field: {"$in": values[i:i + IN_CHUNK]}}, projection, **kwargs)


IN_CHUNK = 1000


def dates_between(first: str, last: str) -> list[str]:
    """Every calendar date from ``first`` to ``last`` (``YYYY-MM-DD``, both included): the
    ``trade_date`` values a range covers, for :func:`find_each` (a date without bars costs one
    index lookup that finds nothing, so no calendar is needed to skip holidays)."""
    from datetime import date, timedelta

    d, end = date.fromisoformat(first), date.fromisoformat(last)
    out = []
    while d <= end:
        out.append(d.isoformat())
        d += timedelta(days=1)
    return out


_ensured: set[tuple[int, str, str]] = set()


def ensure_indexes_once(db: Database, collection: str | None = None) -> None:
    """:func:`ensure_indexes` for one collection (``None``: all of them), once per process and
    database: the writer calls it before its first write to a collection."""
    names = [collection] if collection is not None else sorted({*UNIQUE_KEYS, *SECONDARY_INDEXES})
    todo = [n for n in names if (id(db.client), db.name, n) not in _ensured]
    if todo:
        with _lock:
            ensure_indexes(db, todo)
            _ensured.update((id(db.client), db.name, n) for n in todo)
