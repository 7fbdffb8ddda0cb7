"""Every MongoDB write of the project: one idempotent writer, its frame → documents helpers and
the few small writes that are not a keyed document write (deletes, field updates, raw restores).

:func:`write_docs` keys every document on its natural key (default ``UNIQUE_KEYS[coll.name]``).
With ``natural_ids`` (the default) the ``_id`` is the key's values joined by ``|`` (e.g.
``600000|2026-11-27|demo|daily``), so the key is enforced twice (``_id`` and the unique index);
collections whose documents carry ObjectIds (``natural_ids=False``) are matched on the key
fields and keep their ``_id``. Per chunk the writer finds which documents exist,
``insert_many``-s the new ones and rewrites only those whose fields differ under one equality
rule (:func:`same`).

Finding what exists: with ``partition`` (e.g. ``("trade_date", "data_source")``) a *manifest* in
``sync_state`` (``job="manifest:<collection>[:<writer>]"``, ``key=<partition>``) keeps a content
hash per document id, so a re-run compares hashes instead of reading thousands of documents back
(the embedded store decodes every document it returns: seconds for a day of bars). The manifest
is a cache of what this writer stored: if it is stale (a crash between the write and the manifest
update) the unique index rejects the re-insert and the document is rewritten; deleting manifests
forces a full rewrite. Without ``partition``, stored documents are read back.
Consequences:

- ``updated_at`` is stamped by the writer, only on inserted and changed documents (callers never
  put it in a document), so re-running a day leaves the collection byte-for-byte unchanged;
- a first write costs about one ``insert_many`` (FerretDB 1.x executes each upsert as its own
  statement, ~100x slower than a batch insert);
- a crash mid-way leaves whole chunks written; the re-run inserts the rest (the unique index
  rejects any duplicate, which falls back to an upsert on the natural key).

Works on MongoDB and FerretDB 1.24 alike: no update command carries :data:`UPDATE_BATCH`
statements or more, and nothing needs a transaction.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ta_scheduler.constants import Collections as C
from ta_scheduler.storage.mongo import UNIQUE_KEYS, ensure_indexes_once

if TYPE_CHECKING:
    import pandas as pd
    from pymongo import MongoClient
    from pymongo.collection import Collection
    from pymongo.database import Database

log = logging.getLogger(__name__)

#: Documents per write batch (one ``insert_many`` / one read-back query each).
CHUNK_SIZE = 2000

#: Most statements we send in one ``update`` command. FerretDB 1.24 stalls indefinitely on
#: update commands of 100 statements or more (inserts are unaffected); MongoDB does not care.
UPDATE_BATCH = 50


@dataclass
class WriteResult:
    """Counts from :func:`write_docs`."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def add(self, other: WriteResult) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged}


# --- frames → documents ------------------------------------------------------------------------


def columns_from_frame(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, list]:
    """Column lists for ``docs_from_columns``: numpy ``tolist`` per column, NaN/NaT as None."""
    out: dict[str, list] = {}
    for c in columns or list(frame.columns):
        s = frame[c]
        if s.dtype.kind == "f":
            values = s.to_numpy().tolist()
            if s.isna().any():
                values = [None if v != v else v for v in values]
        elif s.dtype.kind == "M":
            values = [None if v is None or v != v else v.to_pydatetime() for v in s.tolist()]
        else:
            values = s.astype(object).where(s.notna(), None).tolist()
        out[c] = values
    return out


def docs_from_columns(columns: Mapping[str, Sequence[Any]], constants: Mapping[str, Any] | None = None) -> Iterator[dict]:
    """Documents from column arrays (e.g. :func:`columns_from_frame`): about twice as cheap as
    ``DataFrame.to_dict('records')``. ``constants`` are added to every document.
    """
    names = list(columns)
    extra = dict(constants or {})
    for values in zip(*(columns[n] for n in names), strict=True):
        doc = dict(zip(names, values, strict=True))
        doc.update(extra)
        yield doc


# --- equality ----------------------------------------------------------------------------------


def natural_id(doc: Mapping[str, Any], key: Sequence[str]) -> str:
    """The string ``_id`` of a document: its natural-key values joined by ``|``."""
    parts = []
    for k in key:
        v = doc[k]
        parts.append(v.isoformat() if isinstance(v, datetime) else str(v))
    return "|".join(parts)


def content_hash(doc: Mapping[str, Any], ignore: frozenset[str]) -> str:
    """A short, stable hash of a document's fields (for the manifest)."""
    text = repr([(k, v) for k, v in doc.items() if k not in ignore])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


def _as_stored(t: datetime) -> datetime:
    """A datetime as BSON keeps it: UTC (naive ones are UTC to pymongo), milliseconds."""
    t = t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def same(a: Any, b: Any) -> bool:
    """The one equality rule between a stored value and a value about to be written: NaN equals
    NaN, a naive datetime is UTC and datetimes compare at BSON's millisecond precision, lists and
    tuples compare item by item, sub-documents field by field."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _as_stored(a) == _as_stored(b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _changed(stored: Mapping[str, Any], doc: Mapping[str, Any], ignore: frozenset[str]) -> bool:
    return any(k not in ignore and (k not in stored or not same(stored[k], v)) for k, v in doc.items())


# --- the writer --------------------------------------------------------------------------------


def write_docs(
    coll: Collection,
    docs: Iterable[Mapping[str, Any]],
    key: Sequence[str] | None = None,
    *,
    chunk_size: int | None = None,
    mode: str = "set",
    timestamp_field: str | None = "updated_at",
    created_field: str | None = None,
    now: datetime | None = None,
    volatile: Sequence[str] = (),
    partition: Sequence[str] | None = None,
    writer: str = "",
    natural_ids: bool = True,
) -> WriteResult:
    """Write ``docs`` keyed on their natural key (default ``UNIQUE_KEYS[coll.name]``).

    ``mode="set"`` updates changed documents with ``$set`` (fields written by other jobs stay,
    e.g. the four financial statements merge into one document); ``mode="replace"`` deletes and
    re-inserts changed documents in two batch calls (for documents this job owns whole, such
    as the latest quote per code, where thousands change every run); ``mode="insert"`` only
    inserts (append-only snapshots: a document already stored under the key is kept, so a retry
    of the same tick completes it without rewriting). ``timestamp_field`` (``None``: none) is
    set to ``now`` on inserted and changed documents only, ``created_field`` on inserted ones
    only; callers never put either in a document. ``volatile`` fields (e.g. a run id) are
    ignored when deciding whether a document changed. ``partition`` enables the manifest (see
    the module doc); ``writer`` separates manifests of jobs that ``$set`` different fields of
    the same documents. ``natural_ids=False`` leaves ``_id`` to MongoDB (ObjectIds) and matches
    stored documents on the key fields. Only one chunk is held in memory (plus the partition's
    hashes); the caller's documents are not modified.
    """
    if mode not in ("set", "replace", "insert"):
        raise ValueError(f"mode must be set, replace or insert, not {mode!r}")
    if partition and not natural_ids:
        raise ValueError("a manifest (partition) needs natural ids")
    if created_field and mode == "replace":
        raise ValueError("replace mode re-inserts changed documents: it cannot keep a created_field")
    key = tuple(key or UNIQUE_KEYS[coll.name])
    ensure_indexes_once(coll.database, coll.name)
    stamped = tuple(f for f in (timestamp_field, created_field) if f)
    chunk_writer = _ChunkWriter(
        coll=coll, key=key, mode=mode, timestamp_field=timestamp_field, created_field=created_field,
        stamped=stamped, stamp=_as_stored(now or datetime.now(timezone.utc)), ignore=frozenset({"_id", *stamped, *volatile}),
        partition=partition, natural_ids=natural_ids, manifest_job=f"manifest:{coll.name}" + (f":{writer}" if writer else ""),
    )
    for chunk in _chunks(docs, chunk_size or CHUNK_SIZE):
        chunk_writer.write(chunk)
    chunk_writer.save_manifests()
    return chunk_writer.total


def _chunks(docs: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    """``docs`` in lists of ``size`` (the last may be shorter); the next list is read from
    ``docs`` only once the previous one is written."""
    chunk: list[Mapping[str, Any]] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class _ChunkWriter:
    """One :func:`write_docs` call: its options, the counts so far and the manifests of the
    partitions it has touched (read once, saved once at the end)."""

    coll: Collection
    key: tuple[str, ...]
    mode: str
    timestamp_field: str | None
    created_field: str | None
    stamped: tuple[str, ...]
    stamp: datetime
    ignore: frozenset[str]
    partition: Sequence[str] | None
    natural_ids: bool
    manifest_job: str
    total: WriteResult = field(default_factory=WriteResult)
    manifests: dict[str, dict[str, str]] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)

    def write(self, chunk: list[Mapping[str, Any]]) -> None:
        """Write one chunk: insert the new documents, rewrite the changed ones, count the rest."""
        by_id = self._by_id(chunk)
        if self.mode == "insert":
            self.total.add(_insert_new(self.coll, list(by_id.values()), self.stamped, self.stamp))
            return
        hashes: dict[str, str] = {}
        if self.partition:
            hashes = {i: content_hash(d, self.ignore) for i, d in by_id.items()}
            new, changed = self._split_by_manifest(by_id, hashes)
        else:
            new, changed = self._split_by_stored(by_id)
        result = WriteResult(inserted=len(new), updated=len(changed), unchanged=len(by_id) - len(new) - len(changed))
        for d in new:
            d.update(dict.fromkeys(self.stamped, self.stamp))
        if self.timestamp_field:
            for d in changed:
                d[self.timestamp_field] = self.stamp
        self._store(new, changed, result)
        if self.partition:
            self._remember(by_id, hashes, new + changed)
        self.total.add(result)

    def save_manifests(self) -> None:
        """Save the manifest of every partition this call wrote to."""
        for part in sorted(self.dirty):
            _save_manifest(self.coll, self.manifest_job, part, self.manifests[part])

    def _by_id(self, chunk: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
        """The chunk's documents by natural id, as they will be written (copies): with the natural
        ``_id``, or without any ``_id``. The last of duplicates in one chunk wins."""
        by_id: dict[str, dict[str, Any]] = {}
        for doc in chunk:
            if any(f in doc for f in self.stamped):
                raise ValueError(f"{self.coll.name}: the writer stamps {', '.join(self.stamped)}; leave it out of documents")
            ident = natural_id(doc, self.key)
            by_id[ident] = {**doc, "_id": ident} if self.natural_ids else {k: v for k, v in doc.items() if k != "_id"}
        return by_id

    def _split_by_manifest(self, by_id: Mapping[str, dict[str, Any]],
                           hashes: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(new, changed) documents by the partitions' manifests: unknown ids are new, known ids
        with another content hash changed."""
        known: dict[str, str] = {}
        for i, d in by_id.items():
            part = natural_id(d, self.partition)
            if part not in self.manifests:
                self.manifests[part] = _load_manifest(self.coll, self.manifest_job, part)
            known[i] = self.manifests[part].get(i, "")
        new = [d for i, d in by_id.items() if not known[i]]
        changed = [d for i, d in by_id.items() if known[i] and known[i] != hashes[i]]
        return new, changed

    def _split_by_stored(self, by_id: Mapping[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(new, changed) documents by reading the stored ones back; changed documents without
        natural ids take the stored ``_id``."""
        stored = _stored(self.coll, by_id, self.key, self.natural_ids)
        new = [d for i, d in by_id.items() if i not in stored]
        changed = [d for i, d in by_id.items() if i in stored and _changed(stored[i], d, self.ignore)]
        if not self.natural_ids:
            for d in changed:
                d["_id"] = stored[natural_id(d, self.key)]["_id"]
        return new, changed

    def _store(self, new: list[dict[str, Any]], changed: list[dict[str, Any]], result: WriteResult) -> None:
        """Insert ``new`` and update ``changed`` (``replace``: delete them, insert them with the new
        ones); a document the unique index refuses is rewritten and counted as updated."""
        to_insert, to_update = new, changed
        if self.mode == "replace" and changed:
            _delete_ids(self.coll, changed, self.partition)
            to_insert, to_update = new + changed, []
        if to_insert:
            clashes = _insert_many(self.coll, to_insert)
            if clashes:  # already stored (stale manifest, a concurrent writer) or under another _id
                _rewrite(self.coll, clashes, self.key, self.mode, self.created_field, self.partition)
                moved = min(len(clashes), result.inserted)
                result.inserted -= moved
                result.updated += moved
        if to_update:
            _update_by_id(self.coll, to_update)

    def _remember(self, by_id: Mapping[str, dict[str, Any]], hashes: Mapping[str, str],
                  written: list[dict[str, Any]]) -> None:
        """Record the chunk's hashes in the manifests; partitions with ``written`` documents are
        saved at the end."""
        for i, d in by_id.items():
            self.manifests[natural_id(d, self.partition)][i] = hashes[i]
        self.dirty.update(natural_id(d, self.partition) for d in written)


def _stored(coll: Collection, by_id: Mapping[str, Mapping[str, Any]], key: Sequence[str],
            natural_ids: bool) -> dict[str, Mapping[str, Any]]:
    """The stored documents of a chunk, by natural id: by ``_id``, or by the key fields (one
    ``$in`` per field: a superset, narrowed by the natural id)."""
    if natural_ids:
        return {d["_id"]: d for d in coll.find({"_id": {"$in": list(by_id)}})}
    query = {f: {"$in": sorted({d[f] for d in by_id.values()}, key=repr)} for f in key}
    return {i: d for d in coll.find(query) if (i := natural_id(d, key)) in by_id}


def _insert_many(coll: Collection, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``insert_many`` unordered; returns the documents the unique indexes refused."""
    from pymongo.errors import BulkWriteError

    try:
        coll.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != 11000 for e in errors):
            raise
        return [docs[e["index"]] for e in errors]
    return []


def _insert_new(coll: Collection, docs: list[dict[str, Any]], stamped: Sequence[str], stamp: datetime) -> WriteResult:
    for d in docs:
        d.update(dict.fromkeys(stamped, stamp))
    refused = len(_insert_many(coll, docs))
    return WriteResult(inserted=len(docs) - refused, unchanged=refused)


def _batched(coll: Collection, ops: list) -> int:
    """``bulk_write`` in batches of at most :data:`UPDATE_BATCH` operations; returns how many
    documents matched."""
    matched = 0
    for i in range(0, len(ops), UPDATE_BATCH):
        matched += coll.bulk_write(ops[i : i + UPDATE_BATCH], ordered=False).matched_count
    return matched


# Batched updates are UpdateMany, also where the filter is a unique key (``_id``, the natural key):
# FerretDB 1.24 keeps the cursor of every statement of an update command open until the command
# ends, and an UpdateOne that matched stops reading its cursor early. On the PostgreSQL backend
# each such cursor holds one of the pool's connections, so a batch of UpdateOnes as large as the
# pool deadlocks the server; an UpdateMany reads its cursor to the end, which releases it.


def _update_by_id(coll: Collection, docs: list[dict[str, Any]]) -> int:
    from pymongo import UpdateMany

    return _batched(coll, [UpdateMany({"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"}})
                           for d in docs])


def _delete_ids(coll: Collection, docs: list[dict[str, Any]], partition: Sequence[str] | None) -> None:
    """Delete these documents by ``_id``, one call per partition with the partition's fields in
    the filter (an index on ``trade_date`` serves a day's bars; the ``_id`` ``$in`` narrows it)."""
    groups: dict[tuple, list[Any]] = {}
    for d in docs:
        groups.setdefault(tuple(d.get(f) for f in partition or ()), []).append(d["_id"])
    for values, ids in groups.items():
        coll.delete_many({**dict(zip(partition or (), values, strict=True)), "_id": {"$in": ids}})


def _rewrite(coll: Collection, docs: list[dict[str, Any]], key: Sequence[str], mode: str,
             created_field: str | None, partition: Sequence[str] | None = None) -> None:
    """Overwrite documents that already exist. ``replace``: delete + insert in two batch calls
    (FerretDB 1.x runs each update as its own slow statement); ``set``: ``$set`` by ``_id``.
    A clash with a document stored under another ``_id`` falls back to an upsert on the key
    (which keeps the stored ``created_field``)."""
    from pymongo import UpdateMany

    def upsert_on_key(batch: list[dict[str, Any]]) -> None:
        ops = []
        for d in batch:
            fields = {k: v for k, v in d.items() if k not in ("_id", created_field)}
            update: dict[str, Any] = {"$set": fields}
            if created_field in d:
                update["$setOnInsert"] = {created_field: d[created_field]}
            ops.append(UpdateMany({k: d[k] for k in key}, update, upsert=True))  # the key is unique
        _batched(coll, ops)

    if mode == "replace":
        _delete_ids(coll, docs, partition)
        upsert_on_key(_insert_many(coll, docs))
        return
    if _update_by_id(coll, docs) < len(docs):
        upsert_on_key(docs)


# --- manifests ---------------------------------------------------------------------------------


def prune_manifest(coll: Collection, partition_values: Mapping[str, Any], writer: str = "") -> int:
    """Drop from one partition's manifest the ids no longer stored (documents deleted behind the
    writer's back), so the next write inserts them again and leaves the others untouched.
    ``partition_values`` are the partition's fields, e.g. ``{"trade_date": …, "data_source": …}``;
    returns how many ids were dropped."""
    job = f"manifest:{coll.name}" + (f":{writer}" if writer else "")
    part = natural_id(partition_values, tuple(partition_values))
    hashes = _load_manifest(coll, job, part)
    if not hashes:
        return 0
    present = {d["_id"] for d in coll.find(dict(partition_values), {"_id": 1})}
    kept = {i: h for i, h in hashes.items() if i in present}
    if len(kept) < len(hashes):
        _save_manifest(coll, job, part, kept)
    return len(hashes) - len(kept)


def drop_manifests(coll: Collection, writer: str = "") -> int:
    """Forget every manifest of ``coll``'s ``writer`` (its next write rewrites every document)."""
    job = f"manifest:{coll.name}" + (f":{writer}" if writer else "")
    return coll.database[C.SYNC_STATE].delete_many({"job": job}).deleted_count


def _manifest_id(job: str, part: str) -> str:
    return f"{job}|{part}"


def _load_manifest(coll: Collection, job: str, part: str) -> dict[str, str]:
    doc = coll.database[C.SYNC_STATE].find_one({"_id": _manifest_id(job, part)}, {"hashes": 1})
    if not doc:
        return {}
    return dict(zip(doc["hashes"]["ids"], doc["hashes"]["h"], strict=True))


def _save_manifest(coll: Collection, job: str, part: str, hashes: Mapping[str, str]) -> None:
    ids = sorted(hashes)
    coll.database[C.SYNC_STATE].replace_one(
        {"_id": _manifest_id(job, part)},
        {"job": job, "key": part, "hashes": {"ids": ids, "h": [hashes[i] for i in ids]},
         "updated_at": datetime.now(timezone.utc).replace(microsecond=0)},
        upsert=True,
    )


# --- the other writes --------------------------------------------------------------------------


def delete_where(coll: Collection, query: Mapping[str, Any]) -> int:
    """Delete the documents matching ``query``; returns how many."""
    return coll.delete_many(dict(query)).deleted_count


def set_fields(coll: Collection, updates: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]], *,
               timestamp_field: str | None = "updated_at", now: datetime | None = None) -> int:
    """``$set`` ``fields`` on the documents matching each ``(filter, fields)`` (no upsert), in
    batches FerretDB accepts; ``timestamp_field`` is stamped with them. Returns how many matched."""
    from pymongo import UpdateMany

    stamp = {timestamp_field: _as_stored(now or datetime.now(timezone.utc))} if timestamp_field else {}
    return _batched(coll, [UpdateMany(dict(f), {"$set": {**fields, **stamp}}) for f, fields in updates])


# --- journals ----------------------------------------------------------------------------------


def save_journal(db: Database, job: str, key: str, docs: list[Mapping[str, Any]]) -> None:
    """Keep copies of ``docs`` (whole, ``_id`` included) in ``sync_state`` under ``job|key``
    before a delete-and-reinsert, so :func:`restore_journal` can put back what a killed process
    deleted."""
    write_docs(db[C.SYNC_STATE], [{"job": job, "key": key, "docs": list(docs)}], mode="replace")


def drop_journal(db: Database, job: str, key: str) -> None:
    """Forget the journal once the write it guarded is complete."""
    db[C.SYNC_STATE].delete_one({"_id": natural_id({"job": job, "key": key}, ("job", "key"))})


def restore_journal(db: Database, job: str, key: str, coll: Collection) -> int:
    """Insert into ``coll`` the journaled documents it no longer holds (exactly as they were),
    then drop the journal; returns how many were put back."""
    entry = db[C.SYNC_STATE].find_one({"_id": natural_id({"job": job, "key": key}, ("job", "key"))})
    if not entry:
        return 0
    present = {d["_id"] for d in coll.find({"_id": {"$in": [d["_id"] for d in entry["docs"]]}}, {"_id": 1})}
    lost = [d for d in entry["docs"] if d["_id"] not in present]
    if lost:
        _insert_many(coll, lost)
    drop_journal(db, job, key)
    return len(lost)


# --- whole collections (backup restore) --------------------------------------------------------


def insert_raw(db: Database, name: str, docs: Iterable[Any], batch: int = 1000) -> int:
    """Insert documents exactly as given (``RawBSONDocument``s of a backup) into ``db[name]``,
    created empty if missing, in unordered batches; returns how many."""
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument

    if name not in db.list_collection_names():
        db.create_collection(name)
    coll = db.get_collection(name, codec_options=CodecOptions(document_class=RawBSONDocument))
    n, chunk = 0, []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= batch:
            coll.insert_many(chunk, ordered=False)
            n, chunk = n + len(chunk), []
    if chunk:
        coll.insert_many(chunk, ordered=False)
        n += len(chunk)
    return n


def create_index_specs(db: Database, name: str, specs: Iterable[Mapping[str, Any]]) -> None:
    """Create indexes from ``index_information``-style specs (``key`` as ``[(field, dir)]`` plus
    options); the ``_id_`` index is skipped."""
    from pymongo import IndexModel

    models = [IndexModel([(f, d) for f, d in s["key"]], **{k: v for k, v in s.items() if k != "key"})
              for s in specs if s["name"] != "_id_"]
    if models:
        db[name].create_indexes(models)


def rename_collection(db: Database, old: str, new: str) -> None:
    """Rename a collection inside ``db`` (atomic per collection; MongoDB and FerretDB)."""
    db.client.admin.command("renameCollection", f"{db.name}.{old}", to=f"{db.name}.{new}")


def drop_collection(db: Database, name: str) -> None:
    """Drop ``db[name]`` (nothing happens when it does not exist)."""
    db.drop_collection(name)


def drop_database(client: MongoClient, name: str) -> None:
    """Drop the database ``name`` (a scratch database of a backup check)."""
    client.drop_database(name)
