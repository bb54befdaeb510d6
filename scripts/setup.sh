#!/usr/bin/env bash
# Shared set-up for ./run-sim and ./run-tests: system packages, a virtual environment, the project.
# Idempotent: a second run only checks. Works on Debian 12 and Raspberry Pi OS (Bookworm).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

# Libraries a Kivy window needs (SDL loads GL/EGL at run time) and Xvfb for a virtual screen.
APT_PACKAGES=(python3-venv xvfb libmtdev1 libgl1 libegl1 libgl1-mesa-dri)
# Callers add what only they need (./run-tests: systemd, for systemd-analyze on the units).
read -r -a extra_packages <<< "${KIOSK_EXTRA_APT_PACKAGES:-}"
APT_PACKAGES+=("${extra_packages[@]}")

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: cannot install ${missing[*]}: not root and no sudo. Install them with apt-get and run again." >&2
    exit 3
  fi
  $SUDO apt-get update -qq || { echo "setup: apt-get update failed (no network or no apt?)" >&2; exit 3; }
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
    || { echo "setup: apt-get install ${missing[*]} failed" >&2; exit 3; }
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "setup: Python 3.11 or newer is needed ($PY is $("$PY" --version 2>&1))." >&2
  exit 3
fi
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
lock_inputs=(pyproject.toml)
[ -f requirements.lock ] && lock_inputs+=(requirements.lock)
stamp=.venv/.installed-$(cat "${lock_inputs[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing the project and its pinned dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  if [ -f requirements.lock ]; then
    .venv/bin/python -m pip install -q -r requirements.lock
  fi
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
