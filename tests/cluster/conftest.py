"""Fixtures of the cluster tests: one real control plane per test session (per xdist worker).

Skips, naming the setup step, when the binaries are not built; there is no fake API server.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe_checks.charts.helm import Helm, find_helm
from floe_checks.cluster.binaries import ClusterBinaries, find_binaries
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.errors import PrerequisiteMissing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cluster: needs the local control plane (scripts/build-control-plane.sh)"
    )


@pytest.fixture(scope="session")
def cluster_binaries() -> ClusterBinaries:
    try:
        return find_binaries()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")


@pytest.fixture(scope="session")
def floe_cluster(
    cluster_binaries: ClusterBinaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("cluster"), nodes=2, binaries=cluster_binaries)
    with plane:
        yield plane
        plane.check_alive()


class Kubectl:
    """kubectl against one control plane, with its admin kubeconfig and nothing else."""

    def __init__(self, binary: Path, plane: ControlPlane) -> None:
        self.binary = binary
        self.plane = plane

    def __call__(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KUBECONFIG=str(self.plane.kubeconfig_path))
        result = subprocess.run(
            [str(self.binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            self.plane.check_alive()
            pytest.fail(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result


@pytest.fixture(scope="session")
def kubectl(cluster_binaries: ClusterBinaries, floe_cluster: ControlPlane) -> Kubectl:
    try:
        binary = cluster_binaries.require_kubectl()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")
    return Kubectl(binary, floe_cluster)


@pytest.fixture(scope="module")
def helm(floe_cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """The pinned helm with a private home; talks to the control plane through KUBECONFIG."""
    try:
        binary = find_helm()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")
    return Helm(binary, home=tmp_path_factory.mktemp("helm-home"))
