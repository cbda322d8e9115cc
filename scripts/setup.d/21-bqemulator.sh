#!/usr/bin/env bash
# bqemulator: a local BigQuery (REST + gRPC, DuckDB-backed) for the preflight tests.
# Own venv. bqemulator loads DuckDB extensions at start; the DuckDB extension repository is not
# reachable, so the extensions come from PyPI wheels (they exist only for duckdb 1.5.5) and are
# imported into an extension directory inside this venv. cloud_emulators.py points HOME there.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venvs/bqemulator
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.floe-extensions-installed"
if [ -x "$VENV/bin/bqemulator" ] && [ -f "$STAMP" ]; then
  exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
  'bqemulator==1.4.0' 'duckdb==1.5.5' 'duckdb-extensions==1.5.5' \
  'duckdb-extension-spatial==1.5.5' 'duckdb-extension-avro==1.5.5' numpy
# DuckDB keeps extensions under $HOME/.duckdb/extensions: use a HOME inside the venv.
mkdir -p "$VENV/home"
# bqemulator runs `INSTALL spatial` and `INSTALL avro`; both are then found locally.
HOME="$PWD/$VENV/home" "$VENV/bin/python" -c '
from duckdb_extensions import import_extension
for name in ("spatial", "avro"):
    import_extension(name)
'
touch "$STAMP"
