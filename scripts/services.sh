#!/usr/bin/env bash
# Local services on 127.0.0.1, data under $TA_STATE_DIR: PostgreSQL (Airflow metadata),
# Redis (Celery broker, cache) and FerretDB (the MongoDB-wire store).
#
#   scripts/services.sh start [postgres|redis|ferretdb ...]   start (reuse what already runs)
#   scripts/services.sh stop  [...]                           stop what this project started
#   scripts/services.sh status
#
# Idempotent: a running service is reused; a stale PID file is ignored. Missing Debian
# packages are installed with apt-get (root), FerretDB is built once with Go and cached.
set -euo pipefail
. "$(dirname "$0")/env.sh"

ALL=(postgres redis ferretdb)
SVC_RUN="$TA_STATE_DIR/run/services"
SVC_LOG="$TA_STATE_DIR/logs/services"
mkdir -p "$SVC_RUN" "$SVC_LOG"

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # port name seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do port_open "$1" && return 0; sleep 0.1; done
  die "$2 did not open 127.0.0.1:$1 within $3 s (log: $SVC_LOG/$2.log)"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

APT_UPDATED=""
ensure_packages() {  # command-to-check package...
  local check=$1; shift
  if ! compgen -G "$check" >/dev/null && ! command -v "$check" >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "missing $*; install them (apt-get install $*) or run as root"
    if [ -z "$APT_UPDATED" ]; then log "apt-get update"; apt-get update -qq; APT_UPDATED=1; fi
    log "installing $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

# ---- PostgreSQL --------------------------------------------------------------------------------
PGDATA="$TA_STATE_DIR/postgres"
PGSECRETS=""
PGLOG="$SVC_LOG/postgres.log"
pg_locate() {  # as root, PostgreSQL runs as the postgres account, which must reach its data dir
  [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 || return 0
  local home; home=$(getent passwd postgres | cut -d: -f6)
  local key; key=$(printf %s "$TA_STATE_DIR" | sha256sum | cut -c1-12)
  if ! runuser -u postgres -- test -x "$SVC_LOG" 2>/dev/null; then  # a private logs dir (umask 077)
    install -d -o postgres -g postgres -m 700 "$home/ta-scheduler"
    PGLOG="$home/ta-scheduler/$key.log"
  fi
  runuser -u postgres -- test -x "$TA_STATE_DIR" 2>/dev/null && return 0
  # the project sits under a private directory (mode 700: /root, mktemp -d): keep this state
  # dir's cluster in the postgres account's home instead
  PGDATA="$home/ta-scheduler/$key"
  PGLOG="$PGDATA.log"
  PGSECRETS="$PGDATA.secrets.env"  # a copy of secrets.env, which scripts/env.sh takes over
}
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() {  # initdb/postgres refuse to run as root: use the package's postgres account
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi  # cd: the cwd may be private
}
pg_sql() { "$(pg_bin)/psql" -h 127.0.0.1 -p "$TA_PG_PORT" -U airflow -d postgres -qtAX -c "$1"; }
pg_ensure_db() {
  [ "$(pg_sql "SELECT 1 FROM pg_database WHERE datname='$1'")" = 1 ] || pg_sql "CREATE DATABASE \"$1\"" >/dev/null
}

start_postgres() {
  ensure_packages '/usr/lib/postgresql/*/bin/pg_ctl' postgresql
  local bin; bin=$(pg_bin)
  pg_locate
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA" && chmod 700 "$PGDATA"
    as_pg test -w "$PGDATA" || die "the postgres account cannot write $PGDATA (is a parent directory private?)"
    log "initdb $PGDATA (log: $PGLOG)"
    # trust only until pg_secure below has set the password (the server is not started yet)
    as_pg "$bin/initdb" -D "$PGDATA" -U airflow --auth=trust -E UTF8 --locale=C.UTF-8 >"$SVC_LOG/postgres-initdb.log"
  fi
  if as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    log "postgres already running on 127.0.0.1:$TA_PG_PORT (reused)"
  else
    [ "$(id -u)" = 0 ] && touch "$PGLOG" && chown postgres: "$PGLOG"
    as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start \
      -o "-p $TA_PG_PORT -c listen_addresses=127.0.0.1 -k $PGDATA -c max_connections=200" >/dev/null
    log "postgres started on 127.0.0.1:$TA_PG_PORT"
  fi
  wait_port "$TA_PG_PORT" postgres 30
  if [ -n "${PGSECRETS:-}" ]; then install -m 600 "$TA_SECRETS_FILE" "$PGSECRETS"; fi
  pg_secure "$bin"
  pg_ensure_db airflow; pg_ensure_db airflow_test; pg_ensure_db ferretdb
}

# Password authentication (scram-sha-256) for every TCP connection: the role's password is
# TA_PG_PASSWORD from $TA_STATE_DIR/secrets.env. The cluster's owner account (postgres as root,
# else the current user) alone may log in as airflow over the cluster's private socket (peer
# authentication); through it every start sets the password from secrets.env, so a cluster that
# outlived its secrets file (a state dir made again at the same path, whose cluster sits in the
# postgres account's home) is taken over instead of refusing every login. A cluster made by an
# older version (trust) is converted the first time it is started by this one.
pg_owner_sql() { as_pg "$(pg_bin)/psql" -h "$PGDATA" -p "$TA_PG_PORT" -U airflow -d postgres -qtAX -c "$1"; }
pg_secure() {
  local bin=$1 hba="$PGDATA/pg_hba.conf" ident="$PGDATA/pg_ident.conf" os_user
  os_user=$([ "$(id -u)" = 0 ] && echo postgres || id -un)
  if ! as_pg grep -q '^local all airflow peer map=ta_owner$' "$hba"; then
    log "postgres: scram-sha-256 over TCP, peer login for the cluster's owner on its socket"
    as_pg sed -i -E 's/^([^#]*[[:space:]])trust[[:space:]]*$/\1scram-sha-256/' "$hba"
    as_pg sed -i '1i local all airflow peer map=ta_owner' "$hba"
    as_pg sh -c "echo 'ta_owner $os_user airflow' >>'$ident'"
    as_pg "$bin/pg_ctl" -D "$PGDATA" reload >/dev/null
    sleep 0.5
  fi
  pg_owner_sql "SET password_encryption = 'scram-sha-256'; ALTER ROLE airflow PASSWORD '$TA_PG_PASSWORD'" >/dev/null \
    || die "postgres: the cluster's owner could not log in on its socket (log: $PGLOG)"
  pg_sql "SELECT 1" >/dev/null || die "postgres: password login failed (log: $PGLOG)"
}

stop_postgres() {
  local bin; bin=$(pg_bin)
  pg_locate
  [ -n "$bin" ] && [ -s "$PGDATA/PG_VERSION" ] || return 0
  if as_pg "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null && log "postgres stopped"
  fi
}

# ---- Redis -------------------------------------------------------------------------------------
start_redis() {
  ensure_packages redis-server redis-server
  local pidf="$SVC_RUN/redis.pid"
  if pid_alive "$pidf"; then log "redis already running on 127.0.0.1:$TA_REDIS_PORT (reused)"; return; fi
  port_open "$TA_REDIS_PORT" && die "127.0.0.1:$TA_REDIS_PORT is taken by another program (set TA_REDIS_PORT)"
  mkdir -p "$TA_STATE_DIR/redis"
  redis-server --bind 127.0.0.1 --port "$TA_REDIS_PORT" --dir "$TA_STATE_DIR/redis" \
    --daemonize yes --pidfile "$pidf" --logfile "$SVC_LOG/redis.log" --appendonly yes >/dev/null
  wait_port "$TA_REDIS_PORT" redis 20
  log "redis started on 127.0.0.1:$TA_REDIS_PORT"
}

stop_pidfile() {  # name pidfile
  local pid
  pid_alive "$2" || { rm -f "$2"; return 0; }
  pid=$(cat "$2")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f "$2"; log "$1 stopped"
}

stop_redis() { stop_pidfile redis "$SVC_RUN/redis.pid"; }

# ---- FerretDB ----------------------------------------------------------------------------------
FERRET_SRC="$TA_PROJECT_DIR/scripts/ferretdb"
ferret_patches() {  # TA_FERRETDB_UNPATCHED=1: FerretDB as released (the store benchmark compares both)
  [ "${TA_FERRETDB_UNPATCHED:-0}" = 1 ] || ls "$FERRET_SRC"/patches/*.patch
}
ferret_bin() {  # cached by the hash of the wrapper's sources and patches, so a bump rebuilds it
  local h; h=$(cat "$FERRET_SRC/go.mod" "$FERRET_SRC/go.sum" "$FERRET_SRC/main.go" $(ferret_patches) | sha256sum | cut -c1-12)
  echo "$TA_STATE_DIR/bin/ferretdb-$h"
}

# FerretDB from the Go module proxy, with scripts/ferretdb/patches/*.patch applied to a copy of
# the module (a `replace` in a temporary go.mod; the module cache and our go.mod stay as they
# are; docs/store.md says what the patches change).
build_ferretdb() {
  local bin; bin=$(ferret_bin)
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || die "Go is needed to build FerretDB (https://go.dev/dl) — or set MONGO_URI to a real MongoDB"
  log "building FerretDB (first run only, about a minute)"
  mkdir -p "$(dirname "$bin")"
  local work; work=$(mktemp -d)
  ( set -e; cd "$FERRET_SRC"
    go mod download github.com/FerretDB/FerretDB
    cp -r "$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)" "$work/ferretdb"; chmod -R u+w "$work/ferretdb"
    for f in $(ferret_patches); do git -C "$work/ferretdb" apply "$f"; done
    cp go.mod go.sum "$work/"
    go mod edit -modfile "$work/go.mod" -replace "github.com/FerretDB/FerretDB=$work/ferretdb"
    CGO_ENABLED=0 go build -trimpath -modfile "$work/go.mod" -o "$bin.tmp" .
  ) >"$SVC_LOG/ferretdb-build.log" 2>&1 || { rm -rf "$work"; die "FerretDB build failed, see $SVC_LOG/ferretdb-build.log"; }
  rm -rf "$work"
  mv "$bin.tmp" "$bin"
}

start_ferretdb() {
  if [ -n "${MONGO_URI:-}" ]; then log "MONGO_URI is set: using that MongoDB, not starting FerretDB"; return; fi
  local pidf="$SVC_RUN/ferretdb.pid" args
  if pid_alive "$pidf"; then log "ferretdb already running on 127.0.0.1:$TA_MONGO_PORT (reused)"; return; fi
  port_open "$TA_MONGO_PORT" && die "127.0.0.1:$TA_MONGO_PORT is taken by another program (set TA_MONGO_PORT)"
  build_ferretdb
  case "$TA_FERRETDB_BACKEND" in
    sqlite) mkdir -p "$TA_STATE_DIR/ferretdb"; args=(-handler sqlite -sqlite-url "file:$TA_STATE_DIR/ferretdb/")
      log "ferretdb: this store is on FerretDB's SQLite backend, where every query but an _id lookup scans;" \
        "scripts/store-migrate.sh moves it to the PostgreSQL backend" ;;
    postgresql) start_postgres
      PGOPTIONS="-c client_min_messages=warning" "$(pg_bin)/psql" -h 127.0.0.1 -p "$TA_PG_PORT" -U airflow -d ferretdb -qtAX -v ON_ERROR_STOP=1 \
        -f "$FERRET_SRC/postgresql-indexes.sql" >/dev/null || die "postgres: installing the store's indexes failed"
      args=(-handler postgresql -postgresql-url "postgres://airflow:$TA_PG_PASSWORD@127.0.0.1:$TA_PG_PORT/ferretdb") ;;
    *) die "TA_FERRETDB_BACKEND must be sqlite or postgresql, not '$TA_FERRETDB_BACKEND'" ;;
  esac
  setsid nohup "$(ferret_bin)" -listen "127.0.0.1:$TA_MONGO_PORT" "${args[@]}" \
    >>"$SVC_LOG/ferretdb.log" 2>&1 </dev/null &
  echo $! >"$pidf"
  wait_port "$TA_MONGO_PORT" ferretdb 30
  log "ferretdb ($TA_FERRETDB_BACKEND backend) started on 127.0.0.1:$TA_MONGO_PORT"
}

stop_ferretdb() { stop_pidfile ferretdb "$SVC_RUN/ferretdb.pid"; }

status() {
  port_open "$TA_PG_PORT" && echo "postgres  up   127.0.0.1:$TA_PG_PORT" || echo "postgres  down"
  port_open "$TA_REDIS_PORT" && echo "redis     up   127.0.0.1:$TA_REDIS_PORT" || echo "redis     down"
  if [ -n "${MONGO_URI:-}" ]; then echo "mongo     external ($MONGO_URI)"
  else port_open "$TA_MONGO_PORT" && echo "ferretdb  up   127.0.0.1:$TA_MONGO_PORT" || echo "ferretdb  down"; fi
}

cmd=${1:-status}; shift || true
names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
case "$cmd" in
  start) for s in "${names[@]}"; do "start_$s"; done ;;
  stop) for ((i = ${#names[@]} - 1; i >= 0; i--)); do "stop_${names[$i]}"; done ;;
  status) status ;;
  build-ferretdb) build_ferretdb; ferret_bin ;;
  *) die "usage: $0 start|stop|status|build-ferretdb [postgres|redis|ferretdb ...]" ;;
esac
