#!/usr/bin/env bash
# Install fusion into ./.venv from this repository's own files.
# Needs Python >= 3.11 and pip; on Debian/Ubuntu it also installs libusb-1.0 (open3d needs it at import).
# Usage: bash tools/install.sh [--fresh]      (--fresh recreates .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    echo "installing libusb-1.0-0 (needed by open3d) with apt-get" >&2
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "warning: libusb-1.0 not found; install it with your package manager for open3d" >&2
  fi
fi

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY="$cand"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "error: Python >= 3.11 not found (set PYTHON=/path/to/python3.11)" >&2; exit 2; }

if [ "${1:-}" = "--fresh" ]; then rm -rf .venv; fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian/Ubuntu system Pythons ship venv separately (python3.X-venv); fall back to virtualenv.
    rm -rf .venv
    "$PY" -m pip install -q --disable-pip-version-check --user virtualenv
    "$PY" -m virtualenv -q .venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"
echo "fusion installed in .venv ($(.venv/bin/python --version))" >&2
