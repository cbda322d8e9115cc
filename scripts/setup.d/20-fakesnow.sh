#!/usr/bin/env bash
# fakesnow: a local Snowflake server for the preflight tests (tests/preflight/cloud_emulators.py).
# Own venv: fakesnow pins sqlglot against dagster-dbt, and connector 5.x breaks it.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venvs/fakesnow
PYTHON=${PYTHON:-python3}
if [ -x "$VENV/bin/fakesnow" ] && "$VENV/bin/python" -c 'import fakesnow, snowflake.connector' 2>/dev/null; then
  exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  'fakesnow[server]' 'snowflake-connector-python<5'
