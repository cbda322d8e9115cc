"""Our charts installed for real: ``helm install`` on the built control plane.

Each chart profile and each ``examples/environments/*`` file goes into its own namespace that
enforces the Pod Security Standard ``restricted``, so the API server's own PodSecurity admission,
its schema validation and the controllers (Deployments → ReplicaSets → Pods, StatefulSets and
their claims, the scheduler on the kwok nodes) judge the release. pytest-helm-charts'
``kube_cluster`` and its waits (``tests/cluster/kube.py``) then wait for exactly the Deployments
and StatefulSets ``helm template`` rendered for the release, until every replica is available.

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
from typing import Any

import pytest

from floe_checks.charts.helm import Helm
from floe_checks.charts.render import ChartWorkspace, prepare_workspace
from floe_checks.cluster.controlplane import ControlPlane
from tests.cluster.conftest import Kubectl
from tests.cluster.kube import (
    create_volumes,
    restricted_namespace,
    wait_for_workloads,
    workload_keys,
    workloads,
)

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
def volumes(kube_cluster: Any) -> int:
    """Static PersistentVolumes for the claims our StatefulSets make (no provisioner here)."""
    count = 60
    create_volumes(kube_cluster, "floe-test-pv", count)
    return count


@pytest.mark.parametrize(("chart", "values"), RELEASES, ids=[_namespace(c, v) for c, v in RELEASES])
def test_helm_install_into_a_restricted_namespace_runs_every_rendered_workload(
    chart: str,
    values: tuple[str, ...],
    workspace: ChartWorkspace,
    volumes: int,
    floe_cluster: ControlPlane,
    kubectl: Kubectl,
    kube_cluster: Any,
) -> None:
    namespace = restricted_namespace(kube_cluster, _namespace(chart, values))
    files = [
        str(REPO / "examples" / "environments" / v.removeprefix("env:") / "values.yaml")
        if v.startswith("env:")
        else str(workspace.chart_path(chart) / v)
        for v in values
    ]
    kube = ["--namespace", namespace, "--kubeconfig", str(floe_cluster.kubeconfig_path)]
    args = ["install", "r", str(workspace.chart_path(chart)), *kube]
    proc = workspace.helm.run(args + workspace.value_args(chart, files), check=False)
    assert proc.returncode == 0, f"helm install {chart} {values} failed:\n{proc.stderr}"
    status = json.loads(workspace.helm.run(["status", "r", "-o", "json", *kube]).stdout)
    assert status["info"]["status"] == "deployed"

    # every workload the release rendered runs: its pods passed admission and scheduling
    expected = workload_keys(workspace.render(chart, files, release="r", namespace=namespace))
    running = wait_for_workloads(kube_cluster, namespace, expected, timeout=300)
    assert sorted(running) == expected
    # and the release made nothing else of those kinds
    held = workloads(kube_cluster, namespace)
    assert sorted(held) == expected
    for key, obj in held.items():
        assert obj["status"].get("readyReplicas", 0) == obj["spec"]["replicas"], key
