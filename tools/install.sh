#!/usr/bin/env bash
# Install fusion into ./.venv from this repository's own files, then compile its kernels.
# Needs Python >= 3.11 and pip (no system packages). One line per step; pip's output goes to
# .venv/install.log (named in any error). Usage: bash tools/install.sh [--fresh] [--verbose] [--extras]
#   --fresh    recreate .venv        --verbose  show pip's output as well
#   --extras   also the heavy optional parts: rerun-sdk for `fusion export rerun` (≈ 0.7 GB; CI installs it)
#              and kiss-icp for `ego.source: lidar` (LiDAR odometry, 0.5 MB)
set -euo pipefail
cd "$(dirname "$0")/.."

FRESH=0; VERBOSE=0; EXTRAS="test,ouster"
for arg in "$@"; do
  case "$arg" in
    --fresh) FRESH=1 ;;
    --verbose) VERBOSE=1 ;;
    --extras) EXTRAS="test,ouster,rerun,lidar-odometry" ;;
    *) echo "error: unknown option $arg (use --fresh, --verbose, --extras)" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY="$cand"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "error: Python >= 3.11 not found (set PYTHON=/path/to/python3.11)" >&2; exit 2; }

LOG=.venv/install.log
# run CMD..., its output appended to $LOG (and shown with --verbose); on failure name the log and show its end
step() {
  local what="$1"; shift
  echo "$what" >&2
  echo "== $what: $*" >>"$LOG"
  local rc=0
  if [ "$VERBOSE" = 1 ]; then "$@" 2>&1 | tee -a "$LOG" >&2 || rc=$?; else "$@" >>"$LOG" 2>&1 || rc=$?; fi
  if [ "$rc" != 0 ]; then
    echo "error: '$what' failed (exit $rc); the full output is in $LOG, its end:" >&2
    tail -n 15 "$LOG" | sed 's/^/  | /' >&2
    exit 1
  fi
}

if [ "$FRESH" = 1 ]; then rm -rf .venv; fi
start=$(date +%s)
if [ ! -x .venv/bin/python ]; then
  mkdir -p .venv; : >"$LOG"
  if ! "$PY" -m venv .venv >>"$LOG" 2>&1; then
    # Debian/Ubuntu system Pythons ship venv separately (python3.X-venv); fall back to virtualenv.
    rm -rf .venv; mkdir -p .venv; : >"$LOG"
    step "creating .venv with virtualenv ($PY has no venv module)" "$PY" -m pip install --user virtualenv
    "$PY" -m virtualenv -q .venv >>"$LOG" 2>&1
  fi
  echo "created .venv ($($PY --version))" >&2
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
step "upgrading pip" .venv/bin/python -m pip install --upgrade pip
step "installing fusion and its dependencies (a few minutes the first time; log: $LOG)" \
  .venv/bin/python -m pip install -e ".[$EXTRAS]"
# ouster-sdk pins rosbags==0.9.23 (fusion needs >= 0.10): installed without its dependencies (pyproject.toml)
step "installing ouster-sdk (Ouster packet decoding)" \
  .venv/bin/python -m pip install --no-deps "ouster-sdk>=1.0,<2"
step "compiling the conversion kernels (fusion warmup)" .venv/bin/fusion warmup
size=$(du -sm .venv | cut -f1)
echo "fusion installed in .venv ($(.venv/bin/python --version), ${size} MB, $(( $(date +%s) - start )) s)" >&2
