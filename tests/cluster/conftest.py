"""Fixtures of the cluster tests: one real control plane per test session (per xdist worker).

Skips, naming the setup step, when the binaries are not built; there is no fake API server.

pytest-helm-charts (the e2e extra) drives the cluster too: its ``kube_config`` fixture is
overridden here to return the control plane's admin kubeconfig, so its ``kube_cluster`` (a
pykube client) and its waits (``wait_for_deployments_to_run``, ``wait_for_stateful_sets_to_run``,
``wait_for_jobs_to_complete``) work on it. Its own ``kube_config`` would read ``--kubeconfig`` or
``$KUBECONFIG``, which may name a user's real cluster: the cluster tests never touch that.
:func:`cluster_report_header` (hooked in ``tests/conftest.py``) names the cluster and kubeconfig
a run uses.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe_checks.charts.helm import Helm, find_helm
from floe_checks.cluster.binaries import (
    ETCD_VERSION,
    KUBE_VERSION,
    KWOK_VERSION,
    ClusterBinaries,
    find_binaries,
)
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.errors import PrerequisiteMissing

# The session's control plane lives at <basetemp>/floe-cluster (per xdist worker: <basetemp> is
# the worker's own), so the report header can name its kubeconfig before it starts.
CLUSTER_DIR = "floe-cluster"


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


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session", autouse=True)
def _sigterm_runs_teardown() -> None:
    """SIGTERM becomes KeyboardInterrupt in a process that runs cluster tests.

    A CI job that is cancelled gets SIGTERM, and Python's default for it ends the process at
    once: no fixture finalizer runs, and the control planes the session started (five
    processes each) keep running and listening (seen: one left by a cancelled run). As a
    KeyboardInterrupt, pytest tears the session down and every plane is stopped by its PIDs.
    Installed only where nobody else has a handler (the stack plugin installs the same one).
    """
    import contextlib
    import signal

    with contextlib.suppress(ValueError):  # not the main thread
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_interrupt)


@pytest.fixture(scope="session")
def floe_cluster(
    cluster_binaries: ClusterBinaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    workdir = tmp_path_factory.getbasetemp() / CLUSTER_DIR
    workdir.mkdir()
    plane = ControlPlane(workdir, nodes=2, binaries=cluster_binaries)
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


@pytest.fixture(scope="module")
def kube_config(floe_cluster: ControlPlane) -> str:
    """pytest-helm-charts' ``kube_config``: the control plane's admin kubeconfig.

    Overrides the plugin's fixture of the same name (which reads ``--kubeconfig`` or
    ``$KUBECONFIG``), so its ``kube_cluster`` talks to this control plane and nothing else.
    """
    return str(floe_cluster.kubeconfig_path)


def cluster_report_header(config: pytest.Config) -> list[str]:
    """The report header line naming the cluster and kubeconfig this run's cluster tests use."""
    try:
        find_binaries()
    except PrerequisiteMissing as exc:
        return [f"floe cluster: none, tests marked cluster skip ({exc})"]
    # the same basetemp the fixtures get; xdist gives each worker <basetemp>/<worker id>
    basetemp = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    distributed = config.pluginmanager.hasplugin("dsession")
    where = basetemp / "popen-gw*" if distributed else basetemp
    # --dist loadgroup keeps the cluster tests in one worker (tests/conftest.py): one plane
    share = ""
    if distributed:
        grouped = config.getoption("dist", default="no") == "loadgroup"
        share = ", in the xdist worker that runs them" if grouped else ", one per xdist worker"
    line = (
        f"floe cluster: local control plane {KUBE_VERSION} (etcd {ETCD_VERSION}, kwok "
        f"{KWOK_VERSION}{share}), kubeconfig {where / CLUSTER_DIR / 'kubeconfig'}"
    )
    ignored = [
        name
        for name, value in (
            ("--kubeconfig", config.getoption("kubeconfig", default=None)),
            ("$KUBECONFIG", os.environ.get("KUBECONFIG")),
        )
        if value
    ]
    if ignored:
        line += f" ({' and '.join(ignored)} not used by the cluster tests)"
    return [line]
