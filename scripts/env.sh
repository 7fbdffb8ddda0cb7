# shellcheck shell=bash
# The project's environment, sourced by every script (scripts/airflow, services, up/down, tests).
#
# Everything lives under $TA_STATE_DIR (default: .local/ in the project, git-ignored):
#   postgres/ redis/ ferretdb/   service data        run/   PID files
#   logs/                        component logs      bin/   the built FerretDB binary
#   airflow/ (or test/airflow/)  AIRFLOW_HOME        secrets.env  generated keys and passwords
#                                                                 (never committed, mode 600)
#
# TA_ENV=local (default) or test: test uses its own metadata DB, Mongo database, Redis DB and
# API port so `make test` never disturbs a running `make up`. In test mode these are forced,
# whatever .env or the shell says (see "Test isolation" below): tests cannot reach a real
# metadata DB or store.
#
# Everything the project writes is private to its user (umask 077): backups, log archives,
# reports, the store's and Redis' files, generated secrets.
# TA_EXECUTOR=LocalExecutor (make up) or CeleryExecutor (make up-cluster).
# Override any port with TA_PG_PORT, TA_REDIS_PORT, TA_MONGO_PORT, TA_API_PORT, TA_FLOWER_PORT.

umask 077
TA_PROJECT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TA_PROJECT_DIR
export TA_STATE_DIR="${TA_STATE_DIR:-$TA_PROJECT_DIR/.local}"
export TA_ENV="${TA_ENV:-local}"
export TA_VENV="${TA_VENV:-$TA_PROJECT_DIR/.venv}"

# The seed deployment's .env names keep working (SPEC §7); a project .env is read if present.
# It fills in what the environment does not already say: an exported variable (the mode, a test's
# private store or API port, ...) is never overridden by .env.
if [ -f "$TA_PROJECT_DIR/.env" ] && [ -z "${TA_SKIP_DOTENV:-}" ]; then
  _ta_shell_env=$(export -p)
  set -a; . "$TA_PROJECT_DIR/.env"; set +a
  eval "$_ta_shell_env" 2>/dev/null || true
  unset _ta_shell_env
fi

export TA_PG_PORT="${TA_PG_PORT:-54329}"
export TA_REDIS_PORT="${TA_REDIS_PORT:-63799}"
export TA_MONGO_PORT="${TA_MONGO_PORT:-27037}"
export TA_FLOWER_PORT="${TA_FLOWER_PORT:-5555}"
# The embedded store's backend: postgresql (default; FerretDB's tables in the local PostgreSQL,
# indexes that serve its queries, see scripts/ferretdb/postgresql-indexes.sql) or sqlite (every
# query but an _id lookup scans). A state dir whose store was made on SQLite by an older version
# stays on SQLite until it is moved (scripts/store-migrate.sh).
if [ -z "${TA_FERRETDB_BACKEND:-}" ]; then
  if compgen -G "$TA_STATE_DIR/ferretdb/*.sqlite" >/dev/null; then TA_FERRETDB_BACKEND=sqlite; else TA_FERRETDB_BACKEND=postgresql; fi
fi
export TA_FERRETDB_BACKEND

if [ "$TA_ENV" = "test" ]; then
  # Forced, not defaults (see "Test isolation" below). A pytest-xdist worker after the first
  # (PYTEST_XDIST_WORKER gw1, gw2, ...) has a metadata DB and a default store of its own,
  # airflow_gw1_test and tradingagents_gw1_test (tests/conftest.py copies the metadata DB), so two
  # workers' `airflow dags test` runs never meet; its subprocesses inherit the variable.
  _ta_worker=""
  if [[ "${PYTEST_XDIST_WORKER:-}" =~ ^gw[1-9][0-9]*$ ]]; then _ta_worker="_$PYTEST_XDIST_WORKER"; fi
  export AIRFLOW_HOME="$TA_STATE_DIR/test/airflow"
  export TA_METADATA_DB="airflow${_ta_worker}_test"
  export TA_MONGO_DB="tradingagents${_ta_worker}_test"
  export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$AIRFLOW_HOME/logs${_ta_worker}"
  unset _ta_worker
  export TA_REDIS_DB=1
  export TA_API_PORT="${TA_API_PORT:-18080}"
else
  export AIRFLOW_HOME="${AIRFLOW_HOME:-$TA_STATE_DIR/airflow}"
  export TA_METADATA_DB="${TA_METADATA_DB:-airflow}"
  export TA_MONGO_DB="${TA_MONGO_DB:-tradingagents}"
  export TA_REDIS_DB="${TA_REDIS_DB:-0}"
  export TA_API_PORT="${TA_API_PORT:-8080}"
fi
export TA_RUN_DIR="$TA_STATE_DIR/run/$TA_ENV"

# Slots of the Airflow pool tushare_api from the tushare tier (providers/tiers.py pool_slots).
if [ -z "${TA_TUSHARE_POOL_SLOTS:-}" ]; then
  case "${TA_TUSHARE_TIER:-2000}" in
    120) TA_TUSHARE_POOL_SLOTS=1 ;;
    5000) TA_TUSHARE_POOL_SLOTS=8 ;;
    *) TA_TUSHARE_POOL_SLOTS=4 ;;
  esac
fi
export TA_TUSHARE_POOL_SLOTS
export TA_LOG_DIR="$TA_STATE_DIR/logs/$TA_ENV"

# Generated once per checkout: identical on every local component (JWT/fernet/log signing).
TA_SECRETS_FILE="$TA_STATE_DIR/secrets.env"
# A state dir made again at a path whose PostgreSQL cluster was kept in the postgres account's
# home (scripts/services.sh pg_locate) takes over the secrets kept beside that cluster: the
# metadata DB's connections and variables are encrypted with that Fernet key.
_ta_kept="$(getent passwd postgres 2>/dev/null | cut -d: -f6)/ta-scheduler/$(printf %s "$TA_STATE_DIR" | sha256sum | cut -c1-12).secrets.env"
if [ ! -f "$TA_SECRETS_FILE" ] && [ -r "$_ta_kept" ]; then
  mkdir -p "$TA_STATE_DIR"
  (umask 077; cp "$_ta_kept" "$TA_SECRETS_FILE")
  echo "[env] $TA_SECRETS_FILE: taken over from $_ta_kept, kept beside this state dir's PostgreSQL cluster" >&2
fi
unset _ta_kept
if [ ! -f "$TA_SECRETS_FILE" ]; then
  mkdir -p "$TA_STATE_DIR"
  (umask 077; python3 - >"$TA_SECRETS_FILE" <<'PY'
import base64, secrets
print("AIRFLOW__CORE__FERNET_KEY=" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
print("AIRFLOW__API_AUTH__JWT_SECRET=" + secrets.token_urlsafe(32))
print("AIRFLOW__API__SECRET_KEY=" + secrets.token_urlsafe(32))
PY
  )
fi
# Added to an older secrets file when missing: the local PostgreSQL password (scram-sha-256;
# scripts/services.sh sets it) and Flower's basic-auth password (make up-cluster).
for _ta_key in TA_PG_PASSWORD TA_FLOWER_PASSWORD; do
  grep -q "^$_ta_key=" "$TA_SECRETS_FILE" \
    || (umask 077; echo "$_ta_key=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')" >>"$TA_SECRETS_FILE")
done
unset _ta_key
set -a; . "$TA_SECRETS_FILE"; set +a
export PGPASSWORD="$TA_PG_PASSWORD"   # psql in the scripts
_ta_pg_auth="airflow:$TA_PG_PASSWORD@127.0.0.1:$TA_PG_PORT"

# --- Airflow ---------------------------------------------------------------------------------
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$TA_PROJECT_DIR/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="$TA_PROJECT_DIR/plugins"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DEFAULT_TIMEZONE=Asia/Shanghai
export AIRFLOW__CORE__EXECUTOR="${TA_EXECUTOR:-${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-False}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-postgresql+psycopg2://$_ta_pg_auth/$TA_METADATA_DB}"
export AIRFLOW__CELERY__BROKER_URL="${AIRFLOW__CELERY__BROKER_URL:-${CELERY_BROKER_URL:-redis://127.0.0.1:$TA_REDIS_PORT/$TA_REDIS_DB}}"
export AIRFLOW__CELERY__RESULT_BACKEND="${AIRFLOW__CELERY__RESULT_BACKEND:-db+postgresql://$_ta_pg_auth/$TA_METADATA_DB}"
export AIRFLOW__CELERY__WORKER_CONCURRENCY="${AIRFLOW__CELERY__WORKER_CONCURRENCY:-4}"
# Flower (make up-cluster): on 127.0.0.1 only, behind basic auth (user "flower", generated password;
# given to Flower through its environment, not its command line, so `ps` does not show it).
export AIRFLOW__CELERY__FLOWER_HOST=127.0.0.1
export FLOWER_BASIC_AUTH="flower:$TA_FLOWER_PASSWORD"
export AIRFLOW__API__PORT="$TA_API_PORT"
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$TA_API_PORT}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$TA_API_PORT/execution/"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin,viewer:viewer}"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/passwords.json"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT:-$((TA_API_PORT + 713))}"
export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT="${AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT:-$((TA_API_PORT + 714))}"

# --- The seed's names, mapped once onto Airflow connections ----------------------------------------
# MONGO_URI (or the seed's MONGODB_URL) points every component at a real MongoDB: it becomes the
# `mongo_default` connection (AIRFLOW_CONN_MONGO_DEFAULT, JSON form: replica-set host lists and
# options survive), which every component reads through MongoHook (include/ta_scheduler/config.py).
# REDIS_URL becomes `redis_default` the same way. Otherwise airflow_settings.yaml defines both (local
# FerretDB and Redis).
_ta_mongo_conn() {
  PYTHONPATH="$TA_PROJECT_DIR/include" python3 -c \
    'import sys; from ta_scheduler.config import mongo_connection_json; print(mongo_connection_json(sys.argv[1]))' "$1"
}
if [ -z "${MONGO_URI:-}" ] && [ -n "${MONGODB_URL:-}" ]; then export MONGO_URI="$MONGODB_URL"; fi
if [ -n "${MONGO_URI:-}" ]; then AIRFLOW_CONN_MONGO_DEFAULT="$(_ta_mongo_conn "$MONGO_URI")" && export AIRFLOW_CONN_MONGO_DEFAULT; fi
if [ -n "${REDIS_URL:-}" ] && [ -z "${AIRFLOW_CONN_REDIS_DEFAULT:-}" ]; then
  _ta_redis_db="${REDIS_URL##*/}"; case "$_ta_redis_db" in ''|*[!0-9]*) _ta_redis_db=0 ;; esac
  export AIRFLOW_CONN_REDIS_DEFAULT="${REDIS_URL%/*}?db=$_ta_redis_db"
  unset _ta_redis_db
fi

# --- Test isolation ------------------------------------------------------------------------------
# In test mode every database and URI is the local test one, whatever .env or the shell said: the
# metadata DB is airflow_test on the local PostgreSQL (airflow_gw1_test, ... on later pytest-xdist
# workers), Redis DB 1 on the local server, and the store is the local test store — or, for a test
# that starts a private store, a MONGO_URI on 127.0.0.1 whose database is a test name (ta_test_*,
# ta_e2e_*, *_test). MONGODB_URL, REDIS_URL and connections given as AIRFLOW_CONN_* for the store,
# Redis and the metadata DB are dropped.
# tests/conftest.py refuses to run if any of this does not hold.
if [ "$TA_ENV" = "test" ]; then
  _ta_pg="postgresql+psycopg2://$_ta_pg_auth/$TA_METADATA_DB"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="$_ta_pg"
  export AIRFLOW__CELERY__BROKER_URL="redis://127.0.0.1:$TA_REDIS_PORT/1"
  export AIRFLOW__CELERY__RESULT_BACKEND="db+postgresql://$_ta_pg_auth/$TA_METADATA_DB"
  unset _ta_pg MONGODB_URL REDIS_URL CELERY_BROKER_URL AIRFLOW_CONN_REDIS_DEFAULT AIRFLOW_CONN_AIRFLOW_METADATA_DB \
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET
  if [ -n "${MONGO_URI:-}" ] && ! [[ "$MONGO_URI" =~ ^mongodb://(127\.0\.0\.1|localhost)(:[0-9]+)?/((ta_test|ta_e2e)[A-Za-z0-9_]*|[A-Za-z0-9_]*_test)?(\?.*)?$ ]]; then
    echo "[env] test mode: ignoring MONGO_URI $(printf %s "$MONGO_URI" | sed -E 's#//[^@/]*@#//#') (not a local test database)" >&2
    unset MONGO_URI
  fi
  if [ -n "${MONGO_URI:-}" ]; then AIRFLOW_CONN_MONGO_DEFAULT="$(_ta_mongo_conn "$MONGO_URI")" && export AIRFLOW_CONN_MONGO_DEFAULT
  else unset AIRFLOW_CONN_MONGO_DEFAULT; fi
fi

unset _ta_pg_auth
export PATH="$TA_VENV/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
