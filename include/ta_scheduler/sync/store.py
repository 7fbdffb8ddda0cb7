"""Idempotent, fast writes for sync jobs: natural-key ``_id``s, insert what is new, rewrite only
what changed.

Every document gets ``_id = "|".join(natural key values)`` (e.g. ``600000|2026-11-27|demo|daily``),
so the unique key is enforced twice (``_id`` and the natural-key index). Per chunk we find which
documents exist, ``insert_many`` the new ones and update only those whose fields differ.

Finding what exists: with ``partition`` (e.g. ``("trade_date", "data_source")``) a *manifest* in
``sync_state`` (``job="manifest:<collection>[:<writer>]"``, ``key=<partition>``) keeps a content
hash per document id, so a re-run compares hashes instead of reading thousands of documents back
(FerretDB 1.x scans the whole collection for an ``$in`` query: ~4 s for 5,400 ids). The manifest
is a cache of what this writer stored: if it is stale (a crash between the write and the manifest
update) the unique index rejects the re-insert and the document is rewritten; deleting manifests
forces a full rewrite. Without ``partition``, stored documents are read back by ``_id``.
Consequences:

- re-running a day leaves the collection byte-for-byte unchanged (``updated_at`` included);
- a first write costs about one ``insert_many`` (FerretDB 1.x executes each upsert as its own
  statement, ~100x slower than a batch insert);
- a crash mid-way leaves whole chunks written; the re-run inserts the rest (the unique index
  rejects any duplicate, which falls back to an upsert on the natural key).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ta_scheduler.storage.mongo import UNIQUE_KEYS, bulk_write_batched

if TYPE_CHECKING:
    import pandas as pd
    from pymongo.collection import Collection

log = logging.getLogger(__name__)


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


def natural_id(doc: Mapping[str, Any], key: Sequence[str]) -> str:
    """The string ``_id`` of a document: its natural-key values joined by ``|``."""
    parts = []
    for k in key:
        v = doc[k]
        parts.append(v.isoformat() if isinstance(v, datetime) else str(v))
    return "|".join(parts)


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


def content_hash(doc: Mapping[str, Any], ignore: frozenset[str]) -> str:
    """A short, stable hash of a document's fields (for the manifest)."""
    text = repr([(k, v) for k, v in doc.items() if k not in ignore])
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, datetime) and isinstance(b, datetime):
        if a.tzinfo is None:
            a = a.replace(tzinfo=timezone.utc)
        if b.tzinfo is None:
            b = b.replace(tzinfo=timezone.utc)
        return a == b
    return a == b


def _changed(stored: Mapping[str, Any], doc: Mapping[str, Any], ignore: frozenset[str]) -> bool:
    for k, v in doc.items():
        if k in ignore:
            continue
        if k not in stored or not _same(stored[k], v):
            return True
    return False


def write_docs(
    coll: Collection,
    docs: Iterable[dict[str, Any]],
    key: Sequence[str] | None = None,
    *,
    chunk_size: int = 2000,
    mode: str = "set",
    timestamp_field: str = "updated_at",
    now: datetime | None = None,
    volatile: Sequence[str] = (),
    partition: Sequence[str] | None = None,
    writer: str = "",
) -> WriteResult:
    """Write ``docs`` keyed on their natural key (default ``UNIQUE_KEYS[coll.name]``).

    ``mode="set"`` updates changed documents with ``$set`` (fields written by other jobs stay,
    e.g. the four financial statements merge into one document); ``mode="replace"`` deletes and
    re-inserts changed documents in two batch calls (for documents this job owns whole, such
    as the latest quote per code, where thousands change every run); ``mode="insert"`` only
    inserts (append-only snapshots: a document already stored under the key is kept, so a retry
    of the same tick completes it without rewriting). ``timestamp_field`` is
    set to ``now`` on inserted and changed documents only; ``volatile`` fields (e.g. a run id)
    are ignored when deciding whether a document changed. ``partition`` enables the manifest
    (see the module doc); ``writer`` separates manifests of jobs that ``$set`` different fields
    of the same documents. Only one chunk is held in memory (plus the partition's hashes).
    """
    from pymongo import UpdateOne
    from pymongo.errors import BulkWriteError

    key = tuple(key or UNIQUE_KEYS[coll.name])
    stamp = now or datetime.now(timezone.utc)
    stamp = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
    ignore = frozenset({"_id", timestamp_field, *volatile})
    total = WriteResult()
    chunk: list[dict[str, Any]] = []
    manifest_job = f"manifest:{coll.name}" + (f":{writer}" if writer else "")
    manifests: dict[str, dict[str, str]] = {}
    dirty: set[str] = set()

    def flush() -> None:
        if not chunk:
            return
        by_id: dict[str, dict[str, Any]] = {}
        for doc in chunk:
            doc["_id"] = natural_id(doc, key)
            by_id[doc["_id"]] = doc  # the last of duplicates in one batch wins
        if mode == "insert":
            for doc in by_id.values():
                doc[timestamp_field] = stamp
        if mode == "insert":
            try:
                coll.insert_many(list(by_id.values()), ordered=False)
                total.add(WriteResult(inserted=len(by_id)))
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != 11000 for e in errors):
                    raise
                total.add(WriteResult(inserted=len(by_id) - len(errors), unchanged=len(errors)))
            chunk.clear()
            return
        if partition:
            hashes = {i: content_hash(d, ignore) for i, d in by_id.items()}
            known: dict[str, str] = {}
            for i, d in by_id.items():
                part = natural_id(d, partition)
                if part not in manifests:
                    manifests[part] = _load_manifest(coll, manifest_job, part)
                known[i] = manifests[part].get(i, "")
            new = [d for i, d in by_id.items() if not known[i]]
            changed = [d for i, d in by_id.items() if known[i] and known[i] != hashes[i]]
        else:
            stored = {d["_id"]: d for d in coll.find({"_id": {"$in": list(by_id)}})}
            new = [d for i, d in by_id.items() if i not in stored]
            changed = [d for i, d in by_id.items() if i in stored and _changed(stored[i], d, ignore)]
        result = WriteResult(inserted=len(new), updated=len(changed), unchanged=len(by_id) - len(new) - len(changed))
        for d in new + changed:
            d[timestamp_field] = stamp
        to_insert, to_update = new, changed
        if mode == "replace" and changed:
            coll.delete_many({"_id": {"$in": [d["_id"] for d in changed]}})
            to_insert, to_update = new + changed, []
        if to_insert:
            try:
                coll.insert_many(to_insert, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != 11000 for e in errors):
                    raise
                # already stored (stale manifest) or stored under another _id by another tool:
                # update on the natural key instead
                clashes = [to_insert[e["index"]] for e in errors]
                _rewrite(coll, clashes, key, mode)
                moved = min(len(clashes), result.inserted)
                result.inserted -= moved
                result.updated += moved
        if to_update:
            bulk_write_batched(coll, [UpdateOne({"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"}})
                                      for d in to_update])
        if partition:
            for i, d in by_id.items():
                manifests[natural_id(d, partition)][i] = hashes[i]
            dirty.update(natural_id(d, partition) for d in new + changed)
        total.add(result)
        chunk.clear()

    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= chunk_size:
            flush()
    flush()
    for part in sorted(dirty):
        _save_manifest(coll, manifest_job, part, manifests[part])
    return total


def _rewrite(coll: Collection, docs: list[dict[str, Any]], key: Sequence[str], mode: str) -> None:
    """Overwrite documents that already exist. ``replace``: delete + insert in two batch calls
    (FerretDB 1.x runs each update as its own slow statement); ``set``: ``$set`` by ``_id``.
    A clash with a document stored under another ``_id`` falls back to an upsert on the key."""
    from pymongo import UpdateOne
    from pymongo.errors import BulkWriteError

    def upsert_on_key(batch: list[dict[str, Any]]) -> None:
        bulk_write_batched(coll, [UpdateOne({k: d[k] for k in key}, {"$set": {k: v for k, v in d.items() if k != "_id"}},
                                            upsert=True) for d in batch])

    if mode == "replace":
        coll.delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
        try:
            coll.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            upsert_on_key([docs[e["index"]] for e in exc.details.get("writeErrors", []) if e.get("code") == 11000])
        return
    res = bulk_write_batched(coll, [UpdateOne({"_id": d["_id"]}, {"$set": {k: v for k, v in d.items() if k != "_id"}})
                                    for d in docs])
    if res.matched < len(docs):
        upsert_on_key(docs)


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


def _manifest_id(job: str, part: str) -> str:
    return f"{job}|{part}"


def _load_manifest(coll: Collection, job: str, part: str) -> dict[str, str]:
    from ta_scheduler.constants import Collections

    doc = coll.database[Collections.SYNC_STATE].find_one({"_id": _manifest_id(job, part)}, {"hashes": 1})
    if not doc:
        return {}
    return dict(zip(doc["hashes"]["ids"], doc["hashes"]["h"]))


def _save_manifest(coll: Collection, job: str, part: str, hashes: Mapping[str, str]) -> None:
    from ta_scheduler.constants import Collections

    ids = sorted(hashes)
    coll.database[Collections.SYNC_STATE].replace_one(
        {"_id": _manifest_id(job, part)},
        {"job": job, "key": part, "hashes": {"ids": ids, "h": [hashes[i] for i in ids]},
         "updated_at": datetime.now(timezone.utc).replace(microsecond=0)},
        upsert=True,
    )
