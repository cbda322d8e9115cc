#!/usr/bin/env bash
# The demo pipeline's extra Python packages (until pyproject's demo extra lists them):
# numpy for the vectorised generators, pyiceberg-core for day-partitioned Iceberg writes.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! .venv/bin/python -c "import numpy, pyiceberg_core" 2>/dev/null; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "numpy>=1.26" "pyiceberg-core>=0.5"
fi
