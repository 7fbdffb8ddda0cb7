#!/usr/bin/env bash
# Airflow metadata DB on the local PostgreSQL.
#   scripts/metadata-db.sh migrate   create the database if missing and run `airflow db migrate`
#   scripts/metadata-db.sh reset     drop and recreate it first (the test suite does this); refused
#                                    unless the database's name is a test name (ends in _test)
#   scripts/metadata-db.sh clone SRC drop it and make it a copy of the migrated database SRC (a
#                                    pytest-xdist worker's own metadata DB); test names only, too
set -euo pipefail
. "$(dirname "$0")/env.sh"
if [[ "${1:-}" =~ ^(reset|clone)$ ]] && ! [[ "$TA_METADATA_DB" =~ ^[a-z0-9_]+_test$ ]]; then
  echo "[metadata-db] refusing to $1 '$TA_METADATA_DB': only a test database (name ending in _test) is ever dropped" >&2
  exit 3
fi
psql_() { "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql" -h 127.0.0.1 -p "$TA_PG_PORT" -U airflow -d postgres -qtAX -c "$1"; }
marker="$AIRFLOW_HOME/.migrated-$TA_METADATA_DB"  # scripts/airflow migrates when it is missing
case "${1:-migrate}" in
  reset)
    rm -f "$marker"
    psql_ "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname='$TA_METADATA_DB' AND pid <> pg_backend_pid()" >/dev/null
    psql_ "DROP DATABASE IF EXISTS \"$TA_METADATA_DB\"" >/dev/null
    psql_ "CREATE DATABASE \"$TA_METADATA_DB\"" >/dev/null ;;
  clone)
    src="${2:?usage: $0 clone <source database>}"
    rm -f "$marker"
    # a template must have no other session while it is copied
    psql_ "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN ('$TA_METADATA_DB', '$src') AND pid <> pg_backend_pid()" >/dev/null
    psql_ "DROP DATABASE IF EXISTS \"$TA_METADATA_DB\"" >/dev/null
    psql_ "CREATE DATABASE \"$TA_METADATA_DB\" TEMPLATE \"$src\"" >/dev/null
    touch "$marker"
    exit 0 ;;
  migrate)
    [ "$(psql_ "SELECT 1 FROM pg_database WHERE datname='$TA_METADATA_DB'")" = 1 ] || psql_ "CREATE DATABASE \"$TA_METADATA_DB\"" >/dev/null ;;
  *) echo "usage: $0 migrate|reset|clone SRC" >&2; exit 2 ;;
esac
mkdir -p "$AIRFLOW_HOME"
echo "[metadata-db] airflow db migrate ($TA_METADATA_DB)" >&2
airflow db migrate >"$TA_STATE_DIR/logs/db-migrate-$TA_ENV.log" 2>&1 \
  || { tail -n 30 "$TA_STATE_DIR/logs/db-migrate-$TA_ENV.log" >&2; exit 1; }
touch "$marker"
