#!/usr/bin/env bash
# Re-resolve requirements.txt + requirements-dev.txt into requirements.lock in a scratch venv.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3.11 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q -r requirements.txt -r requirements-dev.txt
{
  echo "# Fully pinned versions of every package in the venv, produced by \`make lock\` (pip freeze)."
  echo "# Used as a constraints file: pip install -r requirements.txt -r requirements-dev.txt -c requirements.lock"
  "$tmp/venv/bin/pip" freeze --exclude-editable | LC_ALL=C sort -f
} >requirements.lock
echo "requirements.lock: $(grep -c '==' requirements.lock) packages"
