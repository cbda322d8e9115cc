#!/usr/bin/env bash
# Sets up everything the test suite and the local demo stack need, from nothing:
# the project venv, then each step in scripts/setup.d/ (emulator venvs, Cube's npm packages,
# the pinned helm binary, ...). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# pip's notes about local index mirrors that this machine does not have are noise: drop them.
quiet() { "$@" 2>&1 | { grep -v -e "^WARNING: Location 'file:" || true; }; return "${PIPESTATUS[0]}"; }
quiet .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
# constraints.txt pins what CI last tested (scripts/lock.sh regenerates it).
quiet .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[all,dev]'
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "setup: $step"
  bash "$step"
done
