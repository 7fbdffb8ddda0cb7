#!/usr/bin/env bash
# Debian packages the project needs besides Python's, installed only when missing (safe to re-run):
#   scripts/install-deps.sh runtime   what the DAGs need at run time (`make up` runs this)
#   scripts/install-deps.sh test      the runtime packages plus what only the tests need (`make test`)
#   scripts/install-deps.sh --list runtime|test   print the package names and exit
# Needs root (or passwordless sudo) the first time; exits at once when everything is present.
set -euo pipefail

# fonts-noto-cjk  a CJK font: the reports' charts have Chinese labels (without it build_daily and
#                 build_weekly fail with CJKFontMissingError)
RUNTIME=(fonts-noto-cjk)
# chromium        a headless browser the tests open the HTML reports in (no DAG runs a browser)
TEST_ONLY=(chromium)

list=""
if [ "${1:-}" = --list ]; then list=1; shift; fi
case "${1:-}" in
  runtime) PACKAGES=("${RUNTIME[@]}") ;;
  test) PACKAGES=("${RUNTIME[@]}" "${TEST_ONLY[@]}") ;;
  *) echo "usage: $0 [--list] runtime|test" >&2; exit 2 ;;
esac
if [ -n "$list" ]; then printf '%s\n' "${PACKAGES[@]}"; exit 0; fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps: need root to install ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
