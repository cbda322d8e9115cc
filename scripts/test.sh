#!/usr/bin/env bash
# The test command: set up, then run the whole suite (plugin tests, preflight against real
# local servers, charts, examples and the local end-to-end run) on all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p reports
# --floe-require-stack: the local end-to-end run must really run; a stack that cannot start fails
# the run instead of turning every e2e test into a skip. --dist loadgroup: the cluster tests
# share one control plane in one worker (tests/conftest.py says why).
exec .venv/bin/python -m pytest -n auto --dist loadgroup -p no:pytest-kind --floe-require-stack --junitxml=reports/junit.xml \
  --floe-trace=reports/trace.json "$@"
