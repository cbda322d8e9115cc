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
# The control plane the cluster tests run on (docs/cluster.md) is a long, CPU-bound Go build when
# cold (see the table in docs/cluster.md); it starts here, in the background, so that the
# network-bound steps below (npm, Maven, PyPI downloads) overlap it. A failed build stops setup
# with its own message (component, command, fix); an interrupted setup stops the build too.
cp_log=$(mktemp)
bash scripts/build-control-plane.sh >"$cp_log" 2>&1 &
cp_pid=$!
trap 'kill "$cp_pid" 2>/dev/null || true; rm -f "$cp_log"' EXIT
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "setup: $step"
  bash "$step"
done
echo "setup: scripts/build-control-plane.sh (started in the background)"
if ! wait "$cp_pid"; then
  cat "$cp_log" >&2
  echo "setup: the control plane build failed (above); the cluster tests need it" >&2
  exit 1
fi
grep -v '^go: downloading' "$cp_log" || true
