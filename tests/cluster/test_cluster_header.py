"""The report header names the cluster and the kubeconfig the cluster tests use (issue 22)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from floe_checks.cluster.binaries import ETCD_VERSION, KUBE_VERSION, KWOK_VERSION, cache_root
from floe_checks.cluster.controlplane import ControlPlane

# the header text of a pytest run; the last test reads the session's plane (api-server)
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.requirement("FC-001"),
    pytest.mark.evidence("static"),
]

REPO = Path(__file__).resolve().parents[2]
PLANE = f"local control plane {KUBE_VERSION} (etcd {ETCD_VERSION}, kwok {KWOK_VERSION}"


def _header(tmp_path: Path, *args: str, run: str = "--co", **env: str) -> list[str]:
    """The header lines of ``pytest tests/cluster/test_pki.py`` (collected only by default:
    ``run=""`` runs it, which xdist needs; it does not distribute a collect-only run)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KUBECONFIG"))}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", *([run] if run else []), "-p", "no:cacheprovider"),
            *(f"--basetemp={tmp_path / 'bt'}", "tests/cluster/test_pki.py", *args),
        ],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [ln for ln in done.stdout.splitlines() if ln.startswith("floe cluster:")]


def test_header_names_the_control_plane_and_its_kubeconfig(
    tmp_path: Path, cluster_binaries: object
) -> None:
    assert _header(tmp_path) == [
        f"floe cluster: {PLANE}), kubeconfig {tmp_path / 'bt' / 'floe-cluster' / 'kubeconfig'}"
    ]


@pytest.mark.parametrize(
    ("dist", "share"),
    [("load", "one per xdist worker"), ("loadgroup", "in the xdist worker that runs them")],
)
def test_header_under_xdist_names_the_workers_kubeconfig(
    tmp_path: Path, cluster_binaries: object, dist: str, share: str
) -> None:
    assert _header(tmp_path, "-n", "2", "--dist", dist, run="") == [
        f"floe cluster: {PLANE}, {share}), kubeconfig "
        f"{tmp_path / 'bt' / 'popen-gw*' / 'floe-cluster' / 'kubeconfig'}"
    ]


def test_header_says_a_users_kubeconfig_is_not_used(
    tmp_path: Path, cluster_binaries: object
) -> None:
    (line,) = _header(tmp_path, "--kubeconfig", "/elsewhere", KUBECONFIG="/home/u/.kube/config")
    assert line.endswith(
        "kubeconfig "
        f"{tmp_path / 'bt' / 'floe-cluster' / 'kubeconfig'} (--kubeconfig and $KUBECONFIG not "
        "used by the cluster tests)"
    )


def test_header_without_binaries_says_the_cluster_tests_skip(tmp_path: Path) -> None:
    empty = tmp_path / "cache"
    (line,) = _header(tmp_path, XDG_CACHE_HOME=str(empty))
    assert line.startswith(
        "floe cluster: none, tests marked cluster skip (control-plane binaries not built: etcd "
        f"({empty / 'floe-checks' / 'etcd' / ETCD_VERSION / 'bin' / 'etcd'})"
    )
    assert cache_root() != empty / "floe-checks"  # this process kept its own cache


def test_the_session_plane_uses_the_kubeconfig_the_header_names(
    floe_cluster: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert floe_cluster.kubeconfig_path == (
        tmp_path_factory.getbasetemp() / "floe-cluster" / "kubeconfig"
    )
    assert floe_cluster.kubeconfig_path.is_file()
