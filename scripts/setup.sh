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
# The Go-built servers the tests run — the control plane (docs/cluster.md), Flux's controllers
# with sops (docs/gitops.md) and Jaeger (docs/e2e.md) — are CPU-bound builds when cold (about
# 31 CPU-minutes together, measured: docs/cluster.md); they start here, one after the other in
# one background job (they share Go's build cache), so that the network-bound steps below (npm,
# Maven, PyPI downloads) overlap them. A failed build stops setup with its own message
# (component, command, fix); an interrupted setup stops the builds too.
cp_log=$(mktemp)
(bash scripts/build-control-plane.sh && bash scripts/build-flux.sh && bash scripts/build-jaeger.sh) \
  >"$cp_log" 2>&1 &
cp_pid=$!
trap 'kill "$cp_pid" 2>/dev/null || true; rm -f "$cp_log"' EXIT
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "setup: $step"
  bash "$step"
done
echo "setup: scripts/build-control-plane.sh, build-flux.sh, build-jaeger.sh (started in the background)"
if ! wait "$cp_pid"; then
  cat "$cp_log" >&2
  echo "setup: a Go build failed (above); the cluster, GitOps and tracing tests need it" >&2
  exit 1
fi
grep -v '^go: downloading' "$cp_log" || true
