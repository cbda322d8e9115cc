"""Our charts installed for real: ``helm install --wait`` on the built control plane.

Each chart profile and each ``examples/environments/*`` file goes into its own namespace that
enforces the Pod Security Standard ``restricted``, so the API server's own PodSecurity admission,
its schema validation and the controllers (Deployments → ReplicaSets → Pods, StatefulSets and
their claims, the scheduler on the kwok nodes) judge the release. ``--wait`` returns only when
every Deployment and StatefulSet is ready.

What kwok cannot prove: containers never run and images are never pulled, so a missing Secret
or a wrong command is not seen here (the offline wiring checks cover references). The Dagster
subchart is off (the offline workspace): the official chart is in no registry reachable here.
The demo profile pins Cube's NodePort (30400, mapped to the host by the kind stack), so one
cluster holds one demo release: floe-runtime's demo profile (which includes floe-cube's) is
installed, floe-cube's own demo profile is not (helm refuses it: "provided port is already
allocated"). Static PersistentVolumes stand in for a storage provisioner, which this cluster
has not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floe_checks.charts.helm import Helm
from floe_checks.charts.render import ChartWorkspace, prepare_workspace
from floe_checks.cluster.controlplane import ControlPlane
from tests.cluster.conftest import Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.requirement("007-FR-006", "007-FR-010")]

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = sorted(p.name for p in (REPO / "examples" / "environments").iterdir() if p.is_dir())

# (chart, values files relative to the chart, or an examples/environments name)
RELEASES = [
    ("floe-cube", ()),
    ("floe-cube", ("values-prod.yaml",)),
    ("floe-dagster", ()),
    ("floe-dagster", ("values-prod.yaml",)),
    ("floe-runtime", ()),
    ("floe-runtime", ("values-demo.yaml",)),
    *[("floe-runtime", (f"env:{env}",)) for env in ENVIRONMENTS],
]


def _namespace(chart: str, values: tuple[str, ...]) -> str:
    label = (
        values[0].removeprefix("values-").removesuffix(".yaml").replace(":", "-")
        if values
        else "default"
    )
    return f"{chart}-{label}"


@pytest.fixture(scope="module")
def workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    return prepare_workspace(
        tmp_path_factory.mktemp("on-cluster") / "charts", helm=helm, offline=True
    )


@pytest.fixture(scope="module")
def volumes(kubectl: Kubectl) -> int:
    """Static PersistentVolumes for the claims our StatefulSets make (no provisioner here)."""
    count = 60
    pvs = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"floe-test-pv-{i}"},
            "spec": {
                "capacity": {"storage": "1Ti"},
                "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "hostPath": {"path": f"/nonexistent/floe-test-pv-{i}"},
            },
        }
        for i in range(count)
    ]
    kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pvs})
    )
    return count


@pytest.mark.parametrize(("chart", "values"), RELEASES, ids=[_namespace(c, v) for c, v in RELEASES])
def test_helm_install_wait_into_a_restricted_namespace(
    chart: str,
    values: tuple[str, ...],
    workspace: ChartWorkspace,
    volumes: int,
    floe_cluster: ControlPlane,
    kubectl: Kubectl,
) -> None:
    namespace = _namespace(chart, values)
    kubectl("create", "namespace", namespace)
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    files = [
        str(REPO / "examples" / "environments" / v.removeprefix("env:") / "values.yaml")
        if v.startswith("env:")
        else str(workspace.chart_path(chart) / v)
        for v in values
    ]
    args = ["install", "r", str(workspace.chart_path(chart)), "--namespace", namespace]
    args += ["--kubeconfig", str(floe_cluster.kubeconfig_path), "--wait", "--timeout", "150s"]
    args += workspace.value_args(chart, files)
    proc = workspace.helm.run(args, check=False)
    if proc.returncode != 0:
        events = kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False)
        pods = kubectl("get", "pods,pvc", "-n", namespace, "-o", "wide", check=False)
        pytest.fail(
            f"helm install {chart} {values} failed:\n{proc.stderr}\n\npods:\n{pods.stdout}"
            f"\n\nevents:\n{events.stdout}{events.stderr}"
        )
    status = json.loads(
        workspace.helm.run(
            [
                "status",
                "r",
                "-n",
                namespace,
                "--kubeconfig",
                str(floe_cluster.kubeconfig_path),
                "-o",
                "json",
            ]
        ).stdout
    )
    assert status["info"]["status"] == "deployed"
    # every workload the release rendered is ready: its pods passed admission and scheduling
    rendered = workspace.render(chart, files, release="r", namespace=namespace)
    expected = sorted(
        f"{o['kind'].lower()}.apps/{o['metadata']['name']}"
        for o in rendered
        if o.get("kind") in ("Deployment", "StatefulSet")
    )
    names = kubectl("get", "deployments,statefulsets", "-n", namespace, "-o", "name").stdout.split()
    assert sorted(names) == expected
    for name in expected:
        obj = json.loads(kubectl("get", name, "-n", namespace, "-o", "json").stdout)
        assert obj["status"].get("readyReplicas", 0) == obj["spec"]["replicas"], name
