#!/usr/bin/env bash
# `make up` / `make up-cluster`: everything on this machine, from a fresh clone.
#   scripts/up.sh            LocalExecutor: api-server, scheduler, dag-processor, triggerer
#   scripts/up.sh cluster    CeleryExecutor: the same plus one worker per queue and Flower
# PostgreSQL holds the metadata in both modes. Re-running reuses what already runs.
set -euo pipefail
mode=${1:-local}
if [ "$mode" = cluster ]; then export TA_EXECUTOR=CeleryExecutor; else export TA_EXECUTOR=LocalExecutor; fi
. "$(dirname "$0")/env.sh"
. "$TA_PROJECT_DIR/scripts/lib/procs.sh"
cd "$TA_PROJECT_DIR"
mkdir -p "$TA_RUN_DIR" "$TA_LOG_DIR"
t0=$(date +%s)

scripts/venv.sh
scripts/services.sh start
scripts/install-deps.sh runtime   # the CJK font the reports need
scripts/metadata-db.sh migrate
python -m ta_scheduler.settings_loader airflow_settings.yaml
python -m ta_scheduler.passwords "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" >/dev/null
airflow dags reserialize >"$TA_LOG_DIR/reserialize.log" 2>&1 || { tail -n 20 "$TA_LOG_DIR/reserialize.log"; exit 1; }
echo "$TA_EXECUTOR" >"$TA_RUN_DIR/executor"

start_proc api-server airflow api-server --port "$TA_API_PORT"
start_proc scheduler airflow scheduler
start_proc dag-processor airflow dag-processor
start_proc triggerer airflow triggerer
if [ "$mode" = cluster ]; then
  for q in data analysis maintenance default; do
    start_proc "worker-$q" airflow celery worker --queues "$q" --celery-hostname "$q@%h" --skip-serve-logs
  done
  # 127.0.0.1 and basic auth from scripts/env.sh (AIRFLOW__CELERY__FLOWER_HOST, FLOWER_BASIC_AUTH)
  start_proc flower airflow celery flower --port "$TA_FLOWER_PORT"
fi
wait_http "http://127.0.0.1:$TA_API_PORT/api/v2/monitor/health" 120

# First start: fill the store with the last trading day so the health check's freshness test
# and the analysis have data at once (the asset event then starts analysis_pipeline).
if [ -z "${TA_NO_INITIAL_SYNC:-}" ] && [ ! -f "$TA_RUN_DIR/.initial-sync" ]; then
  airflow dags trigger daily_sync >"$TA_LOG_DIR/initial-sync.log" 2>&1 && touch "$TA_RUN_DIR/.initial-sync" \
    && echo "[up] triggered daily_sync for the last trading day (first start)" >&2
fi

cat <<MSG

Airflow is up ($TA_EXECUTOR) in $(( $(date +%s) - t0 )) s.
  UI:       http://localhost:$TA_API_PORT
  login:    $(python -m ta_scheduler.passwords --show "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
  logs:     $TA_LOG_DIR/
  data:     $(python -c 'from ta_scheduler.config import mongo_target; t = mongo_target(); print(t.redacted_uri, "db", t.database)' 2>/dev/null)
$( [ "$mode" = cluster ] && echo "  flower:   http://127.0.0.1:$TA_FLOWER_PORT (user flower, password TA_FLOWER_PASSWORD in $TA_SECRETS_FILE)" )
Stop everything with: make down
MSG
