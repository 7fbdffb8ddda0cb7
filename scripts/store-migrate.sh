#!/usr/bin/env bash
# Move the embedded store from FerretDB's SQLite backend (the default before) to its PostgreSQL
# backend (the default now, whose queries use indexes: docs/store.md). Every database is dumped
# from the SQLite store and restored, verified, into the PostgreSQL one
# (ta_scheduler.maintenance.store_move); the SQLite files are then renamed aside, not deleted.
# Stop the DAGs' runs first (`make down`); run `make up` afterwards.
#   scripts/store-migrate.sh
set -euo pipefail
. "$(dirname "$0")/env.sh"
SQLITE_DIR="$TA_STATE_DIR/ferretdb"
compgen -G "$SQLITE_DIR/*.sqlite" >/dev/null || { echo "[store-migrate] no SQLite store in $SQLITE_DIR: nothing to move" >&2; exit 0; }
[ -z "${MONGO_URI:-}" ] || { echo "[store-migrate] MONGO_URI is set: the store is not the embedded one" >&2; exit 2; }

"$TA_PROJECT_DIR/scripts/services.sh" stop ferretdb
bin=$("$TA_PROJECT_DIR/scripts/services.sh" build-ferretdb | tail -n 1)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" -listen "127.0.0.1:$port" -handler sqlite -sqlite-url "file:$SQLITE_DIR/" >>"$TA_STATE_DIR/logs/services/ferretdb-migrate.log" 2>&1 &
old_pid=$!
trap 'kill "$old_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
TA_FERRETDB_BACKEND=postgresql "$TA_PROJECT_DIR/scripts/services.sh" start
stamp=$(date -u +%Y%m%dT%H%M%SZ)
"$TA_VENV/bin/python" -m ta_scheduler.maintenance.store_move --source "mongodb://127.0.0.1:$port/" \
  --target "mongodb://127.0.0.1:$TA_MONGO_PORT/" --backup-root "$TA_STATE_DIR/store-migration/$stamp"
kill "$old_pid"; wait "$old_pid" 2>/dev/null || true
mv "$SQLITE_DIR" "$SQLITE_DIR.sqlite-moved-$stamp"
echo "[store-migrate] done: the store is on PostgreSQL; the SQLite files are in $SQLITE_DIR.sqlite-moved-$stamp" >&2
