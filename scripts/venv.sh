#!/usr/bin/env bash
# Create or update .venv from the lock: identical versions on every machine.
# Re-runs only when requirements*.txt, requirements.lock or pyproject.toml changed.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$TA_PROJECT_DIR"
stamp="$TA_VENV/.installed"
UV_VERSION=0.13.9
want=$( (cat requirements.txt requirements-dev.txt requirements.lock pyproject.toml; echo "uv $UV_VERSION") | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
[ -x "$TA_VENV/bin/python" ] || "$PY" -m venv "$TA_VENV"
# uv installs the lock's ~200 packages in seconds where pip takes a minute or more (the same
# versions: the lock pins every one; certificates from the system store, as pip uses them); pip
# does it when uv cannot be had or fails. Bytecode is compiled at install, as pip does: env.sh sets
# PYTHONDONTWRITEBYTECODE, so without it every Airflow process would compile Airflow again.
uv_install() {
  "$TA_VENV/bin/pip" install -q "uv==$UV_VERSION" || return 1
  export UV_SYSTEM_CERTS=1
  "$TA_VENV/bin/uv" pip install --python "$TA_VENV/bin/python" -q --compile-bytecode -r requirements.txt -r requirements-dev.txt -c requirements.lock \
    && "$TA_VENV/bin/uv" pip install --python "$TA_VENV/bin/python" -q --no-deps -e .
}
if ! uv_install; then
  echo "[venv] uv unavailable; installing with pip" >&2
  "$TA_VENV/bin/pip" install -q -r requirements.txt -r requirements-dev.txt -c requirements.lock
  "$TA_VENV/bin/pip" install -q --no-deps -e .
fi
echo "$want" >"$stamp"
echo "[venv] $TA_VENV ready ($("$TA_VENV/bin/airflow" version 2>/dev/null || echo '?'))" >&2
