#!/usr/bin/env bash
# The test command (`make test` calls this; CI calls `make test`). From a fresh clone it builds
# the venv from the lock, starts the local services, prepares a fresh test metadata DB, loads
# airflow_settings.yaml, runs ruff and then pytest. Extra arguments go to pytest:
#   scripts/test.sh tests/calendar -q
set -euo pipefail
export TA_ENV=test
. "$(dirname "$0")/env.sh"
"$TA_PROJECT_DIR/scripts/venv.sh"
"$TA_PROJECT_DIR/scripts/services.sh" start
"$TA_PROJECT_DIR/scripts/install-deps.sh" test   # the CJK font the reports need + Chromium for the browser tests
mkdir -p "$AIRFLOW_HOME" "$TA_RUN_DIR" "$TA_LOG_DIR"
if [ -z "${TA_TEST_REUSE_DB:-}" ] || [ ! -f "$AIRFLOW_HOME/.migrated-$TA_METADATA_DB" ]; then
  "$TA_PROJECT_DIR/scripts/metadata-db.sh" reset
fi
python -m ta_scheduler.settings_loader "$TA_PROJECT_DIR/airflow_settings.yaml"
cd "$TA_PROJECT_DIR"
python -m ruff check .   # the lint rules in pyproject.toml (pyflakes, pycodestyle, Airflow 3's AIR3); seconds
exec python -m pytest "$@"
