"""Verified backups of the store: dump every collection, prove the dump restores, keep the last N.

Layout of ``backup_root``::

    20261129T170000Z/                 one backup (UTC time of ``now``; ``-2``… if taken twice)
        manifest.json                 database, created_at, per collection: file, count, file_sha256,
                                      content_checksum, indexes
        stock_daily_quotes.bson.gz    the collection's documents as raw BSON, gzip-compressed
        ...
        verification.json             written only once a restore into a scratch DB matched
    20261129T170000Z.partial/         a backup being written (renamed when its manifest is complete)
    LATEST_GOOD                       name of the newest verified backup

Documents are copied as the server's raw BSON bytes, so every type (ObjectId, datetimes, Int64,
binary) survives exactly. ``content_checksum`` is order-independent: the sum modulo 2**256 of the
sha256 of each document re-encoded with its keys sorted, so a restored collection, read back in any
order, must give the same value. Collections are read one after another, not as one snapshot (the
store has no multi-collection transactions); each manifest entry describes exactly the file next to
it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ta_scheduler.atomic_files import write_atomic, write_json_atomic
from ta_scheduler.maintenance import sha256_file

if TYPE_CHECKING:
    from pymongo import MongoClient
    from pymongo.database import Database

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
VERIFICATION = "verification.json"
LATEST_GOOD = "LATEST_GOOD"
_STAMP_RE = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
_BATCH = 1000


def backup_root() -> Path:
    """Where the daily backups are kept: ``TA_BACKUP_DIR``, default ``$TA_STATE_DIR/backups``."""
    from ta_scheduler.config import state_path

    return state_path("TA_BACKUP_DIR", "backups")


class BackupVerificationError(RuntimeError):
    """A backup is corrupted, incomplete, or does not restore to what its manifest records."""


class RestoreRefused(RuntimeError):
    """A restore would overwrite existing data without ``drop``."""


def _canonical(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


class _Checksum:
    """Order-independent checksum of a set of documents: (count, sum of sha256 mod 2**256)."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def add_raw(self, raw: bytes) -> None:
        import bson

        doc = bson.decode(raw)
        digest = hashlib.sha256(bson.encode(_canonical(doc))).digest()
        self.total = (self.total + int.from_bytes(digest, "big")) % (1 << 256)
        self.count += 1

    @property
    def hexdigest(self) -> str:
        return f"{self.total:064x}"


def _raw_coll(db: Database, name: str):
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument

    return db.get_collection(name, codec_options=CodecOptions(document_class=RawBSONDocument))


def _index_specs(db: Database, name: str) -> list[dict[str, Any]]:
    """Index definitions as plain JSON (``key`` as [[field, direction]]), sorted by name."""
    specs = []
    for spec in db[name].list_indexes():
        d = {k: v for k, v in dict(spec).items() if k not in ("v", "ns")}
        d["key"] = [[f, v] for f, v in dict(spec["key"]).items()]
        specs.append(json.loads(json.dumps(d, default=str)))
    return sorted(specs, key=lambda s: s["name"])


def _collection_names(db: Database) -> list[str]:
    return sorted(n for n in db.list_collection_names() if not n.startswith("system."))


def _content_checksum(db: Database, name: str) -> _Checksum:
    ck = _Checksum()
    for raw in _raw_coll(db, name).find({}, batch_size=_BATCH):
        ck.add_raw(raw.raw)
    return ck


def _iter_file(path: Path) -> Iterator[bytes]:
    """Raw BSON documents of a ``.bson.gz`` file; a truncated or corrupted file raises."""
    import bson
    from bson.codec_options import CodecOptions
    from bson.raw_bson import RawBSONDocument

    opts = CodecOptions(document_class=RawBSONDocument)
    with gzip.open(path, "rb") as f:
        for doc in bson.decode_file_iter(f, opts):
            yield doc.raw


def _dump_collection(db: Database, name: str, path: Path) -> dict[str, Any]:
    ck = _Checksum()
    with gzip.open(path, "wb", compresslevel=6) as out:
        for raw in _raw_coll(db, name).find({}, batch_size=_BATCH):
            out.write(raw.raw)
            ck.add_raw(raw.raw)
    return {
        "file": path.name,
        "count": ck.count,
        "file_sha256": sha256_file(path),
        "file_size": path.stat().st_size,
        "content_checksum": ck.hexdigest,
        "indexes": _index_specs(db, name),
    }


def _load_manifest(backup_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((backup_dir / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupVerificationError(f"backup {backup_dir}: manifest unreadable ({exc})") from exc


def _check_files(backup_dir: Path, manifest: dict[str, Any]) -> None:
    """Every collection file present with the recorded sha256 (no decoding)."""
    for name, entry in manifest["collections"].items():
        path = backup_dir / entry["file"]
        if not path.is_file():
            raise BackupVerificationError(f"backup {backup_dir}: file {entry['file']} of {name} is missing")
        if sha256_file(path) != entry["file_sha256"]:
            raise BackupVerificationError(
                f"backup {backup_dir}: {entry['file']} of {name} differs from its manifest sha256 "
                "(corrupted or truncated)"
            )


def _stamp(now: dt.datetime) -> str:
    if now.tzinfo is None:
        raise ValueError(f"backup needs an aware 'now' (got naive {now!r})")
    return now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _restore_collection(db: Database, name: str, backup_dir: Path, entry: Mapping[str, Any], into: str | None = None) -> int:
    """Restore one collection of the backup into ``db[into or name]`` (created empty), then compare
    its count, content checksum and indexes with the manifest entry. Returns the document count."""
    from bson.errors import BSONError
    from bson.raw_bson import RawBSONDocument

    from ta_scheduler.storage.writes import create_index_specs, insert_raw

    coll_name = into or name
    try:
        insert_raw(db, coll_name, (RawBSONDocument(raw) for raw in _iter_file(backup_dir / entry["file"])), _BATCH)
    except (OSError, EOFError, BSONError) as exc:
        raise BackupVerificationError(
            f"backup {backup_dir}: {entry['file']} unreadable ({type(exc).__name__}: {exc})"
        ) from exc
    create_index_specs(db, coll_name, entry["indexes"])

    ck = _content_checksum(db, coll_name)
    if ck.count != entry["count"] or ck.hexdigest != entry["content_checksum"]:
        raise BackupVerificationError(
            f"restore of {name} into {db.name}: {ck.count} documents / checksum {ck.hexdigest[:12]}…, "
            f"manifest says {entry['count']} / {entry['content_checksum'][:12]}…"
        )
    indexes = _index_specs(db, coll_name)
    if indexes != entry["indexes"]:
        raise BackupVerificationError(
            f"restore of {name} into {db.name}: indexes {indexes} differ from the manifest {entry['indexes']}"
        )
    log.info("restored %s: %d documents, %d indexes into %s.%s", name, ck.count, len(indexes), db.name, coll_name)
    return ck.count


def restore_backup(client: MongoClient, backup_dir: str | Path, target_db: str) -> dict[str, Any]:
    """Restore every collection of ``backup_dir`` into database ``target_db`` and check it.

    For a new or scratch database: a collection of the backup that already holds documents in
    ``target_db`` is refused (``RestoreRefused``; replacing live data is :func:`replace_from_backup`).
    Files are checked against the manifest before anything is written; documents and indexes are
    restored, then counts, content checksums and index definitions are compared with the manifest
    (a mismatch raises ``BackupVerificationError``). Returns counts per collection.
    """
    backup_dir = Path(backup_dir)
    manifest = _load_manifest(backup_dir)
    _check_files(backup_dir, manifest)
    db = client[target_db]
    existing = set(db.list_collection_names())
    busy = [n for n in manifest["collections"] if n in existing and db[n].estimated_document_count() > 0]
    if busy:
        raise RestoreRefused(
            f"restore into {target_db}: collections {busy} already hold documents; choose another "
            "--target-db, or replace them with --replace --confirm " + target_db
        )
    counts = {name: _restore_collection(db, name, backup_dir, entry)
              for name, entry in sorted(manifest["collections"].items())}
    return {"backup": str(backup_dir), "target_db": target_db, "collections": counts,
            "documents": sum(counts.values())}


#: Collection-name prefixes of a replace in progress: the staged copies and the live ones set aside.
STAGED_PREFIX = "_restore_"
ASIDE_PREFIX = "_prerestore_"


def replace_from_backup(
    client: MongoClient,
    backup_dir: str | Path,
    target_db: str,
    *,
    pre_restore_root: str | Path,
    now: dt.datetime,
    force_unverified: bool = False,
) -> dict[str, Any]:
    """Replace the backup's collections in the live database ``target_db``; on any failure the live
    data is left exactly as it was.

    1. The backup must be verified (``verification.json`` for its manifest) unless
       ``force_unverified``; every file must match its manifest sha256.
    2. A verified **pre-restore backup** of ``target_db`` is written under ``pre_restore_root``.
    3. Every collection is restored into a **staging** collection (``_restore_<stamp>_<name>`` in
       ``target_db``) and checked there: count, content checksum, indexes.
    4. **Swap**, collection by collection: the live one is renamed aside
       (``_prerestore_<stamp>_<name>``), the staged one renamed into its place. A failure during the
       swap renames everything back. Only when every collection is swapped are the set-aside
       copies dropped.

    Collections of ``target_db`` that the backup does not contain are left alone. Staging lives
    in the target database because a rename is atomic only within one database (and FerretDB
    renames only there). A failure in steps 1–3 raises before the live data is touched and drops
    the staging collections. If the process dies during step 4, the live collections not yet
    swapped are untouched, the others are under ``_prerestore_<stamp>_*``, and the pre-restore
    backup holds them all; a new replace refuses to start until those are dealt with.
    """
    backup_dir = Path(backup_dir)
    manifest = _load_manifest(backup_dir)
    if not force_unverified and not is_verified(backup_dir):
        raise RestoreRefused(
            f"backup {backup_dir} was never verified (no {VERIFICATION} for its manifest); "
            "restore it into a new database with --target-db to inspect it, or pass --force-unverified"
        )
    _check_files(backup_dir, manifest)
    db = client[target_db]
    leftovers = [n for n in db.list_collection_names() if n.startswith((STAGED_PREFIX, ASIDE_PREFIX))]
    if leftovers:
        raise RestoreRefused(
            f"{target_db} holds collections of an interrupted restore: {sorted(leftovers)}; rename the "
            f"{ASIDE_PREFIX}* ones back (or restore the pre-restore backup) and drop the {STAGED_PREFIX}* ones first"
        )
    token = _stamp(now).lower()
    pre = backup_database(db, pre_restore_root, now=now, verify=True)
    log.info("pre-restore backup of %s: %s (%d documents)", target_db, pre["backup_dir"], pre["documents"])

    names = sorted(manifest["collections"])
    staged = {name: f"{STAGED_PREFIX}{token}_{name}" for name in names}
    aside = {name: f"{ASIDE_PREFIX}{token}_{name}" for name in names}
    counts = _stage(db, backup_dir, manifest, staged)
    _swap(db, names, staged, aside)
    return {"backup": str(backup_dir), "target_db": target_db, "collections": counts,
            "documents": sum(counts.values()), "pre_restore_backup": pre["backup_dir"]}


def _stage(db: Database, backup_dir: Path, manifest: Mapping[str, Any], staged: Mapping[str, str]) -> dict[str, int]:
    """Restore and check every collection of the backup under its ``staged`` name; on any failure
    drop the staged collections and re-raise. Returns the document counts."""
    from ta_scheduler.storage.writes import drop_collection

    counts: dict[str, int] = {}
    try:
        for name in staged:
            counts[name] = _restore_collection(db, name, backup_dir, manifest["collections"][name], into=staged[name])
    except BaseException:
        for name in staged:
            drop_collection(db, staged[name])
        raise
    return counts


def _swap(db: Database, names: list[str], staged: Mapping[str, str], aside: Mapping[str, str]) -> None:
    """Put each staged collection in place of the live one (renamed ``aside``), then drop the set-aside
    ones; a failure during the swap renames everything back, drops the staged copies and re-raises."""
    from ta_scheduler.storage.writes import drop_collection, rename_collection

    live = set(db.list_collection_names())
    set_aside: list[str] = []  # live collections renamed aside
    swapped: list[str] = []  # staged collections renamed into place
    try:
        for name in names:
            if name in live:
                rename_collection(db, name, aside[name])
                set_aside.append(name)
            rename_collection(db, staged[name], name)
            swapped.append(name)
    except BaseException:
        log.error("restore of %s failed during the swap; putting the live collections back", db.name)
        for name in reversed(swapped):
            rename_collection(db, name, staged[name])
        for name in reversed(set_aside):
            rename_collection(db, aside[name], name)
        for name in names:
            drop_collection(db, staged[name])
        raise
    for name in set_aside:
        drop_collection(db, aside[name])


def verify_backup(client: MongoClient, backup_dir: str | Path, scratch_db_name: str) -> dict[str, Any]:
    """Prove ``backup_dir`` restores: check files, restore into ``scratch_db_name``, compare counts,
    checksums and indexes with the manifest, drop the scratch database, record ``verification.json``.

    The scratch database must not exist (or be empty): it is dropped afterwards, so naming a real
    database is refused. Raises ``BackupVerificationError`` on any mismatch; nothing is recorded
    then.
    """
    backup_dir = Path(backup_dir)
    manifest = _load_manifest(backup_dir)
    if scratch_db_name == manifest.get("database"):
        raise ValueError(f"scratch database {scratch_db_name!r} is the backed-up database itself")
    if client[scratch_db_name].list_collection_names():
        raise ValueError(
            f"scratch database {scratch_db_name!r} already holds collections; choose an unused name"
        )
    from ta_scheduler.storage.writes import drop_database

    (backup_dir / VERIFICATION).unlink(missing_ok=True)
    try:
        restored = restore_backup(client, backup_dir, scratch_db_name)
    finally:
        drop_database(client, scratch_db_name)
    record = {
        "verified_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "scratch_db": scratch_db_name,
        "manifest_sha256": sha256_file(backup_dir / MANIFEST),
        "collections": restored["collections"],
    }
    write_json_atomic(backup_dir / VERIFICATION, record)
    log.info("backup %s verified: %d collections, %d documents", backup_dir.name, len(restored["collections"]),
             restored["documents"])
    return {"backup": str(backup_dir), "verified": True, **record}


def is_verified(backup_dir: str | Path) -> bool:
    """Whether ``backup_dir`` carries a verification record for its current manifest."""
    backup_dir = Path(backup_dir)
    try:
        record = json.loads((backup_dir / VERIFICATION).read_text())
        return record["manifest_sha256"] == sha256_file(backup_dir / MANIFEST)
    except (OSError, ValueError, KeyError):
        return False


def mark_latest_good(backup_root: str | Path, backup_dir: str | Path) -> None:
    """Point ``LATEST_GOOD`` at ``backup_dir``; refused unless it was verified."""
    backup_root, backup_dir = Path(backup_root), Path(backup_dir)
    if not is_verified(backup_dir):
        raise BackupVerificationError(f"backup {backup_dir} is not verified; not marking it latest good")
    write_atomic(backup_root / LATEST_GOOD, backup_dir.name + "\n")


def latest_good(backup_root: str | Path) -> Path | None:
    """The backup ``LATEST_GOOD`` names, or None."""
    try:
        name = (Path(backup_root) / LATEST_GOOD).read_text().strip()
    except FileNotFoundError:
        return None
    return Path(backup_root) / name if name else None


def _backups(backup_root: Path) -> list[Path]:
    return sorted((p for p in backup_root.iterdir() if p.is_dir() and _STAMP_RE.match(p.name)),
                  key=lambda p: (p.name.split("-")[0], int(p.name.split("-")[1]) if "-" in p.name else 1))


def rotate_backups(backup_root: str | Path, keep: int) -> list[str]:
    """Delete old backups: kept are the newest ``keep`` verified backups and the newest ``keep``
    backups of any state (recent failures stay for inspection); ``LATEST_GOOD``'s target is always
    kept, as are leftovers of interrupted runs newer than it. Returns the names removed.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    backup_root = Path(backup_root)
    backups = _backups(backup_root)
    good = [p for p in backups if is_verified(p)]
    keep_set = set(good[-keep:]) | set(backups[-keep:])
    latest = latest_good(backup_root)
    if latest is not None:
        keep_set.add(latest)
    removed = []
    for p in backups:
        if p not in keep_set:
            shutil.rmtree(p)
            removed.append(p.name)
    for p in backup_root.glob("*.partial"):
        if latest is None or p.name.removesuffix(".partial") < latest.name:
            shutil.rmtree(p)
            removed.append(p.name)
    if removed:
        log.info("removed old backups: %s", removed)
    return removed


def backup_database(
    db: Database,
    backup_root: str | Path,
    *,
    keep: int = 7,
    now: dt.datetime,
    verify: bool = True,
    scratch_db_name: str | None = None,
) -> dict[str, Any]:
    """Dump every collection of ``db`` into a new timestamped backup under ``backup_root``.

    With ``verify`` (the default) the backup is restored into a scratch database
    (``<db>_verify_<stamp>`` unless named) and compared; only then is it marked ``LATEST_GOOD``
    and older backups rotated down to ``keep``. A failed verification raises
    ``BackupVerificationError`` and leaves ``LATEST_GOOD`` and the older backups untouched.
    Returns the backup directory, counts per collection, total documents and bytes written.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    backup_root = Path(backup_root)
    backup_root.mkdir(parents=True, exist_ok=True)
    stamp = _stamp(now)
    name, n = stamp, 1
    while (backup_root / name).exists() or (backup_root / f"{name}.partial").exists():
        n += 1
        name = f"{stamp}-{n}"
    partial = backup_root / f"{name}.partial"
    partial.mkdir()
    collections: dict[str, Any] = {}
    for coll in _collection_names(db):
        if "/" in coll or coll.startswith("."):
            raise ValueError(f"collection name {coll!r} cannot be a backup file name")
        collections[coll] = _dump_collection(db, coll, partial / f"{coll}.bson.gz")
        log.info("dumped %s: %d documents", coll, collections[coll]["count"])
    manifest = {
        "format": 1,
        "database": db.name,
        "created_at": now.isoformat(),
        "collections": collections,
    }
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    backup_dir = backup_root / name
    os.replace(partial, backup_dir)
    result: dict[str, Any] = {
        "backup_dir": str(backup_dir),
        "collections": {c: e["count"] for c, e in collections.items()},
        "documents": sum(e["count"] for e in collections.values()),
        "bytes": sum(e["file_size"] for e in collections.values()),
        "verified": False,
        "removed": [],
    }
    if not verify:
        return result
    scratch = scratch_db_name or f"{db.name}_verify_{name.lower().replace('-', '_')}"
    verify_backup(db.client, backup_dir, scratch)
    mark_latest_good(backup_root, backup_dir)
    result["verified"] = True
    result["removed"] = rotate_backups(backup_root, keep)
    return result


def _resolve_backup_dir(path: Path) -> Path:
    if (path / MANIFEST).is_file():
        return path
    latest = latest_good(path)
    if latest is not None:
        return latest
    raise SystemExit(f"{path}: neither a backup (no {MANIFEST}) nor a backup root with {LATEST_GOOD}")


def main(argv: Iterable[str] | None = None) -> int:
    """``scripts/restore-backup``: restore a backup into a new database, or replace the live one."""
    parser = argparse.ArgumentParser(
        prog="restore-backup",
        description="Restore a verified backup into the store (connection mongo_default, else MONGO_URI). "
        "BACKUP is a backup directory, or a backup root whose LATEST_GOOD is used. Name a new database "
        "with --target-db, or replace the backed-up (live) database with --replace --confirm DBNAME.",
    )
    parser.add_argument("backup", type=Path)
    parser.add_argument("--target-db", help="restore into this database (new or empty)")
    parser.add_argument("--replace", action="store_true",
                        help="replace the backup's collections in the live database: pre-restore backup, "
                        "staging, verification, then swap; the live data is untouched on any failure")
    parser.add_argument("--confirm", metavar="DBNAME", help="with --replace: the live database's name, typed out")
    parser.add_argument("--pre-restore-dir", type=Path,
                        help="with --replace: where the pre-restore backup goes (default: <backup root>/pre-restore)")
    parser.add_argument("--force-unverified", action="store_true", help="restore a backup that was never verified")
    args = parser.parse_args(list(argv) if argv is not None else None)
    import airflow  # noqa: F401 - importing it installs a stdout log handler (the store client comes from its hook)

    # logs go to stderr: stdout carries only the JSON result
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr, force=True)

    from ta_scheduler.config import mongo_target
    from ta_scheduler.storage.mongo import get_client

    backup_dir = _resolve_backup_dir(args.backup)
    live_db = _load_manifest(backup_dir)["database"]
    if args.replace == bool(args.target_db):
        parser.error("name a new database with --target-db NAME, or replace the live database with "
                     f"--replace --confirm {live_db}")
    if args.replace and args.confirm != live_db:
        parser.error(f"--replace needs --confirm {live_db} (the live database's name) to go ahead")
    target = mongo_target()
    client = get_client(target)
    try:
        if args.replace:
            result = replace_from_backup(
                client, backup_dir, live_db, now=dt.datetime.now(dt.timezone.utc),
                pre_restore_root=args.pre_restore_dir or backup_dir.parent / "pre-restore",
                force_unverified=args.force_unverified,
            )
        else:
            if not args.force_unverified and not is_verified(backup_dir):
                raise RestoreRefused(f"backup {backup_dir} was never verified; pass --force-unverified to restore it")
            result = restore_backup(client, backup_dir, args.target_db)
    except (RestoreRefused, BackupVerificationError) as exc:
        print(f"restore-backup: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({**result, "store": target.redacted_uri}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
