"""Move every database of one MongoDB-wire store into another, through verified backups: the
embedded store's move from FerretDB's SQLite backend to its PostgreSQL backend
(``scripts/store-migrate.sh``), or from FerretDB to a MongoDB.

Each database is dumped from the source (``backup.backup_database``, unverified: the source is
not written) and restored into the target (``backup.restore_backup``, which refuses a target
database that already holds documents and compares counts, content checksums and indexes with
the dump). The source is only read: a failure at any point leaves it as it was.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ta_scheduler.maintenance.backup import backup_database, restore_backup

log = logging.getLogger(__name__)

#: Databases of the server itself, never moved.
SYSTEM_DATABASES = frozenset({"admin", "config", "local"})


def move_databases(source_uri: str, target_uri: str, backup_root: Path, now: dt.datetime) -> dict[str, Any]:
    """Copy every non-system database of ``source_uri`` into ``target_uri``; returns the documents
    moved per database and collection."""
    from pymongo import MongoClient

    src, dst = MongoClient(source_uri, tz_aware=True), MongoClient(target_uri, tz_aware=True)
    try:
        moved: dict[str, Any] = {}
        for name in sorted(set(src.list_database_names()) - SYSTEM_DATABASES):
            dump = backup_database(src[name], backup_root / name, now=now, verify=False)
            result = restore_backup(dst, dump["backup_dir"], name)
            log.info("moved %s: %d documents", name, result["documents"])
            moved[name] = result["collections"]
        return moved
    finally:
        src.close()
        dst.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="store-migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="MongoDB URI of the store to read")
    parser.add_argument("--target", required=True, help="MongoDB URI of the store to fill")
    parser.add_argument("--backup-root", required=True, type=Path, help="where the dumps go (kept)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    moved = move_databases(args.source, args.target, args.backup_root, dt.datetime.now(dt.timezone.utc))
    print(json.dumps(moved, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
