#!/usr/bin/env bash
# Debian packages the report tests need, installed only when missing (safe to re-run):
#   fonts-noto-cjk  a CJK font so Chinese labels in report charts render (no tofu boxes)
#   chromium        a headless browser the tests open the HTML reports in
# Needs root (or passwordless sudo) the first time; exits at once when everything is present.
set -euo pipefail

PACKAGES=(fonts-noto-cjk chromium)

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
    echo "install-test-deps: need root to install ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

echo "install-test-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
