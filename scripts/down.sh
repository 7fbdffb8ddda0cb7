#!/usr/bin/env bash
# `make down`: stop every Airflow component and service this project started (by PID file).
set -euo pipefail
. "$(dirname "$0")/env.sh"
. "$TA_PROJECT_DIR/scripts/lib/procs.sh"
for env in local test; do
  dir="$TA_STATE_DIR/run/$env"
  [ -d "$dir" ] || continue
  for pidf in "$dir"/*.pid; do [ -e "$pidf" ] && stop_proc "$pidf"; done
done
"$TA_PROJECT_DIR/scripts/services.sh" stop
