"""The kind provider's plan on a real API server: every step that needs no Docker (issue 12, 5).

``KindProvider.install_on_cluster`` takes a control plane's kubeconfig in place of
``kind create cluster`` and runs the rest of :meth:`KindProvider.plan` unchanged: the charts'
dependency build through ``$FLOE_HELM_MIRROR`` (here a mirror of the stand-in Dagster chart,
tests/charts/dagster_standin, a test double of the official chart: see its README), the
namespace and demo Secrets, ``helm install floe-runtime -f values-demo.yaml --wait``, the rollout
waits (pytest-helm-charts') and the diagnostics. The Docker steps (``kind create``,
``docker build``, ``kind load``, the NodePort HTTP wait) are what it skips; kwok simulates the
pods, so no image is pulled and no container runs (docs/cluster.md).

The demo profile pins NodePorts 30080 and 30400, which the session's shared control plane may
already hold (test_charts_on_cluster.py installs that profile too): like a kind cluster, this
module gets a throwaway control plane of its own. pytest-helm-charts' ``kube_cluster`` reads it
(``kube_config`` is overridden below).
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts.helm import Helm, find_helm
from floe_checks.cluster.binaries import ClusterBinaries
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.errors import PrerequisiteMissing, StackError
from floe_checks.stack.kind import KindProvider, Step, wait_for_rollout
from tests.charts.conftest import STANDIN, write_k8s_definitions

pytestmark = [pytest.mark.cluster, pytest.mark.requirement("FC-001", "FC-002")]

REPO = Path(__file__).resolve().parents[2]
RUNTIME_VERSION = yaml.safe_load((REPO / "charts" / "floe-runtime" / "Chart.yaml").read_text())[
    "version"
]
# What values-demo.yaml deploys: floe's own workloads plus the Dagster chart's (from the mirror).
DEPLOYMENTS = [
    "floe-cube-api",
    "floe-dagster-daemon",
    "floe-dagster-webserver",
    "floe-dagster-user-deployments-floe-demo",
]
STATEFUL_SETS = ["floe-postgresql"]


@pytest.fixture(scope="module")
def kind_plane(
    cluster_binaries: ClusterBinaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControlPlane]:
    """The control plane standing in for ``kind create cluster``: one node, like kind's."""
    plane = ControlPlane(tmp_path_factory.mktemp("kind-plane"), nodes=1, binaries=cluster_binaries)
    with plane:
        yield plane
        plane.check_alive()


@pytest.fixture(scope="module")
def kube_config(kind_plane: ControlPlane) -> str:
    """pytest-helm-charts' ``kube_cluster`` reads this module's control plane."""
    return str(kind_plane.kubeconfig_path)


def _kubectl(plane: ControlPlane, kubectl: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [str(kubectl), f"--kubeconfig={plane.kubeconfig_path}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def standin_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FLOE_HELM_MIRROR directory: the stand-in Dagster chart, index.yaml, schema copies."""
    try:
        helm = Helm(find_helm(), home=tmp_path_factory.mktemp("mirror-helm"))
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")
    mirror = tmp_path_factory.mktemp("mirror")
    helm.run(["package", str(STANDIN), "-d", str(mirror)])
    helm.run(["repo", "index", str(mirror)])
    write_k8s_definitions(mirror)
    return mirror


class Installed:
    """The provider after ``install_on_cluster``, what it ran and what its waits waited for."""

    def __init__(self, provider: KindProvider, ran: list[Step], waited: list[list[str]]) -> None:
        self.provider = provider
        self.ran = ran
        self.waited = waited


@pytest.fixture(scope="module")
def installed(
    kind_plane: ControlPlane,
    cluster_binaries: ClusterBinaries,
    standin_mirror: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Installed:
    kubectl = cluster_binaries.require_kubectl()
    # demoPostgres claims a volume; this cluster has no provisioner: a static one (as kind's
    # local-path provisioner would make)
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "kind-plan-pv"},
        "spec": {
            "capacity": {"storage": "1Ti"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": "/nonexistent/kind-plan-pv"},
        },
    }
    _kubectl(kind_plane, kubectl, "apply", "-f", "-", stdin=json.dumps(pv))
    waited: list[list[str]] = []

    def waiter(kubeconfig: Path, namespace: str, timeout: float) -> None:
        waited.append(wait_for_rollout(kubeconfig, namespace, timeout=timeout))

    mp = pytest.MonkeyPatch()
    mp.setenv("FLOE_HELM_MIRROR", str(standin_mirror))
    mp.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing may come from the internet
    mp.setenv("NO_PROXY", "127.0.0.1,localhost")
    try:
        provider = KindProvider(helm_timeout="180s", rollout_waiter=waiter)
        ran = provider.install_on_cluster(
            tmp_path_factory.mktemp("kind-work"), kind_plane.kubeconfig_path
        )
    finally:
        mp.undo()
    return Installed(provider, ran, waited)


def test_only_the_steps_without_docker_ran(installed: Installed) -> None:
    assert [(s.title, s.action) for s in installed.ran] == [
        ("create namespace and demo Secrets", "secrets"),
        ("helm install floe-runtime", "helm"),
        ("wait for the workloads in floe", "rollout"),
    ]
    workdir = Path(installed.provider.state()["workdir"])
    plan = installed.provider.plan(workdir, workdir / "charts")
    assert [s.title for s in plan if s.docker] == [
        "create kind cluster",
        "build Dagster image",
        "build Cube image",
        "load Dagster image",
        "load Cube image",
        "wait for Dagster and Cube on their NodePorts",
    ]


def _secret(kube_cluster: Any, name: str) -> dict[str, str]:
    import pykube

    obj = pykube.Secret.objects(kube_cluster.kube_client, namespace="floe").get_by_name(name)
    return {k: base64.b64decode(v).decode() for k, v in obj.obj["data"].items()}


def test_the_demo_secrets_exist_with_their_keys(installed: Installed, kube_cluster: Any) -> None:
    api_secret, password = installed.provider.state()["secrets"]
    assert _secret(kube_cluster, "floe-postgresql") == {"postgresql-password": password}
    assert _secret(kube_cluster, "floe-warehouse") == {
        "FLOE_WAREHOUSE_HOST": "floe-postgresql",
        "FLOE_WAREHOUSE_PORT": "5432",
        "FLOE_WAREHOUSE_USER": "postgres",
        "FLOE_WAREHOUSE_PASSWORD": password,
        "FLOE_WAREHOUSE_DB": "floe",
    }
    assert _secret(kube_cluster, "floe-cube-api") == {"CUBEJS_API_SECRET": api_secret}
    # applied from a 0600 file that is gone again
    workdir = Path(installed.provider.state()["workdir"])
    assert not (workdir / "demo-secrets.yaml").exists()


def test_the_release_is_deployed_with_the_mirrored_dagster_chart(
    installed: Installed, kind_plane: ControlPlane
) -> None:
    workdir = Path(installed.provider.state()["workdir"])
    helm = Helm(find_helm(), home=workdir / "helm-home")
    listed = json.loads(
        helm.run(
            ["list", "-n", "floe", "-o", "json", "--kubeconfig", str(kind_plane.kubeconfig_path)]
        ).stdout
    )
    assert [(r["name"], r["status"], r["chart"]) for r in listed] == [
        ("floe", "deployed", f"floe-runtime-{RUNTIME_VERSION}")
    ]
    # the dependency build went through the mirror: the Dagster chart is inside floe-dagster
    assert sorted(p.name for p in (workdir / "charts" / "floe-dagster" / "charts").iterdir()) == [
        "dagster-1.13.27.tgz"
    ]


def test_every_workload_of_the_release_is_ready(
    installed: Installed, kube_cluster: Any, kind_plane: ControlPlane
) -> None:
    import pykube

    client = kube_cluster.kube_client
    ready = {
        d.name: (d.obj["status"].get("readyReplicas"), d.replicas)
        for d in pykube.Deployment.objects(client, namespace="floe")
    }
    assert ready == {name: (1, 1) for name in DEPLOYMENTS}
    sts = {
        s.name: (s.obj["status"].get("readyReplicas"), s.replicas)
        for s in pykube.StatefulSet.objects(client, namespace="floe")
    }
    assert sts == {name: (1, 1) for name in STATEFUL_SETS}
    # what the plan's waits waited for: exactly these (pytest-helm-charts' waits)
    assert installed.waited == [
        [f"Deployment/{n}" for n in sorted(DEPLOYMENTS)]
        + [f"StatefulSet/{n}" for n in STATEFUL_SETS]
    ]
    # and it is what the release applied (helm's own manifest)
    workdir = Path(installed.provider.state()["workdir"])
    helm = Helm(find_helm(), home=workdir / "helm-home")
    manifest = helm.run(
        ["get", "manifest", "floe", "-n", "floe", "--kubeconfig", str(kind_plane.kubeconfig_path)]
    ).stdout
    docs = [d for d in yaml.safe_load_all(manifest) if d]
    assert sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Deployment") == sorted(
        DEPLOYMENTS
    )


def test_diagnostics_read_the_cluster(installed: Installed, kind_plane: ControlPlane) -> None:
    kubectl = installed.provider._tool("kubectl")
    assert kubectl is not None
    pods = json.loads(
        _kubectl(kind_plane, Path(kubectl), "get", "pods", "-n", "floe", "-o", "json")
    )
    kubeconfig = Path(installed.provider.state()["workdir"]) / "kubeconfig"
    logs: dict[str, str] = {}
    for pod in pods["items"]:
        for kind, key in (("init container", "initContainers"), ("container", "containers")):
            for c in pod["spec"].get(key, []):
                pod_name, name = pod["metadata"]["name"], c["name"]
                # the API server asks the node's kubelet port for logs; kwok serves none there
                logs[f"logs {pod_name}/{name} ({kind})"] = (
                    f"unavailable: `{kubectl} --kubeconfig={kubeconfig} logs …` failed (1): "
                    'Error from server: Get "https://127.0.0.1:10250/containerLogs/floe/'
                    f'{pod_name}/{name}?tailLines=200": dial tcp 127.0.0.1:10250: connect: '
                    "connection refused"
                )
    sections = installed.provider.diagnostics()
    assert set(sections) == {"events", "describe pods", *logs}
    assert {k: v for k, v in sections.items() if k.startswith("logs ")} == logs
    names = sorted(p["metadata"]["name"] for p in pods["items"])
    described = [
        line.split(":", 1)[1].strip()
        for line in sections["describe pods"].splitlines()
        if line.startswith("Name:")
    ]
    assert sorted(described) == names
    scheduled = {
        line.split()[-1]
        for line in sections["events"].splitlines()
        if "Scheduled" in line and "Successfully assigned" in line
    }
    assert scheduled == {"kwok-node-0"}
    # generated secrets never appear in them
    for secret in installed.provider.state()["secrets"]:
        assert all(secret not in text for text in sections.values())


def test_stop_leaves_an_attached_cluster_alone(
    installed: Installed, kind_plane: ControlPlane
) -> None:
    installed.provider.stop()
    kind_plane.check_alive()
    assert installed.provider.diagnostics() != {}


def test_a_failing_step_raises_with_diagnostics_and_leaves_the_cluster(
    installed: Installed,
    kind_plane: ControlPlane,
    standin_mirror: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second install of the same release fails at ``helm install`` (the name is taken)."""
    monkeypatch.setenv("FLOE_HELM_MIRROR", str(standin_mirror))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    again = KindProvider(helm_timeout="60s")
    with pytest.raises(StackError) as caught:
        again.install_on_cluster(tmp_path / "again", kind_plane.kubeconfig_path)
    message = str(caught.value)
    assert message.splitlines()[0] == (
        f"kind stack failed: `{find_helm()} install floe …` failed (1): Error: INSTALLATION "
        "FAILED: cannot re-use a name that is still in use"
    )
    assert [ln for ln in message.splitlines() if ln.startswith("== ")][:2] == [
        "== events",
        "== describe pods",
    ]
    assert caught.value.remediation == (
        "see the events, describe and logs above; the cluster was left as it is (it is not ours)"
    )
    kind_plane.check_alive()
