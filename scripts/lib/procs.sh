# shellcheck shell=bash
# Start/stop long-running components by PID file. Each runs in its own session (setsid), so
# stopping kills its whole process group (Airflow forks workers) and nothing else.

start_proc() {  # name command...
  local name=$1; shift
  local pidf="$TA_RUN_DIR/$name.pid"
  mkdir -p "$TA_RUN_DIR" "$TA_LOG_DIR"
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    echo "[up] $name already running (pid $(cat "$pidf"))" >&2; return 0
  fi
  setsid nohup "$@" >>"$TA_LOG_DIR/$name.log" 2>&1 </dev/null &
  echo $! >"$pidf"
  echo "[up] $name started (pid $!, log $TA_LOG_DIR/$name.log)" >&2
}

stop_proc() {  # pidfile
  local pidf=$1 name pid
  name=$(basename "$pidf" .pid)
  pid=$(cat "$pidf" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
    # the group may outlive its leader (forked task runners): finish it off
    kill -KILL -- "-$pid" 2>/dev/null || true
    echo "[down] $name stopped (pid $pid)" >&2
  fi
  rm -f "$pidf"
}

wait_http() {  # url seconds
  local i
  for ((i = 0; i < $2; i++)); do
    if python - "$1" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
PY
    sleep 1
  done
  echo "[up] $1 did not answer within $2 s; see $TA_LOG_DIR/" >&2
  return 1
}
