#!/usr/bin/env bash
# The main job: set up, bring up the embedded local stack (PostgreSQL, Dagster, Cube 0.33),
# run the demo pipeline and assert exact answers from the Cube API. Extra arguments go to pytest
# (e.g. --floe-keep-stack to leave the stack running and print its URLs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# --floe-require-stack: a stack that cannot start is an error here, never a run of skips.
exec .venv/bin/python -m pytest e2e -n auto -p no:pytest-kind --floe-require-stack "$@"
