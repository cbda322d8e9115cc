"""floe-runtime promoted dev → staging → prod with ``helm upgrade``, then ``helm rollback``; and
upgrades the API server refuses because they change an immutable field (issue 12, test 2).

The expected workloads of each step are computed from the values files alone (the chart
defaults of floe-cube, floe-runtime's ``floe-cube`` section and the environment file, merged the
way helm coalesces values) and compared with what the API server holds once they run:
replicas, image and resources of each Deployment, which StatefulSets exist. After each helm step
pytest-helm-charts' waits (``tests/cluster/kube.py``) wait until exactly the expected workloads
run (``observedGeneration`` caught up, every replica updated and available). The prod step uses
a copy of ``examples/environments/prod/values.yaml`` whose two ``# promoted`` tags are bumped,
as the promotion pull request the file describes would do.

The Dagster subchart is off (offline workspace), so only floe-cube's workloads carry a step's
values. kwok runs no container: the images are never pulled (docs/cluster.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from floe_checks.charts.helm import Helm
from floe_checks.charts.registry import merge_values
from floe_checks.charts.render import ChartWorkspace, prepare_workspace
from floe_checks.cluster.controlplane import ControlPlane
from tests.cluster.kube import create_volumes, restricted_namespace, wait_for_workloads, workloads

if TYPE_CHECKING:  # imported by pytest_plugins below; an earlier import skips assert rewriting
    from tests.cluster.evidence_plugin import EvidenceWatch

pytest_plugins = ["tests.cluster.evidence_plugin"]
pytestmark = [pytest.mark.cluster, pytest.mark.requirement("FC-001")]

REPO = Path(__file__).resolve().parents[2]
ENVIRONMENTS = REPO / "examples" / "environments"
RELEASE = "r"
PROMOTED_TAG = "0.2.0"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data


def expected_workloads(env_file: Path) -> dict[str, dict[str, Any]]:
    """{"deployment/<name>": {replicas, image, resources}, "statefulset/<name>": {replicas}}
    of floe-runtime with ``env_file``, computed from the values files only."""
    cube = merge_values(
        merge_values(
            _load(REPO / "charts" / "floe-cube" / "values.yaml"),
            _load(REPO / "charts" / "floe-runtime" / "values.yaml").get("floe-cube", {}),
        ),
        _load(env_file).get("floe-cube", {}),
    )
    prefix = f"{RELEASE}-cube"
    image = f"{cube['image']['repository']}:{cube['image']['tag']}"
    out: dict[str, dict[str, Any]] = {
        f"deployment/{prefix}-api": {
            "replicas": cube["api"]["replicaCount"],
            "image": image,
            "resources": cube["api"]["resources"],
        }
    }
    if cube["cubestore"]["enabled"]:
        if cube["refreshWorker"]["enabled"]:
            out[f"deployment/{prefix}-refresh-worker"] = {
                "replicas": 1,
                "image": image,
                "resources": cube["refreshWorker"]["resources"],
            }
        out[f"statefulset/{prefix}-cubestore-router"] = {"replicas": 1}
        out[f"statefulset/{prefix}-cubestore-worker"] = {
            "replicas": cube["cubestore"]["workers"]["replicaCount"]
        }
    return out


def observed_workloads(kube_cluster: Any, namespace: str) -> dict[str, dict[str, Any]]:
    """The same shape, read back from the API server; every workload must be fully ready."""
    out: dict[str, dict[str, Any]] = {}
    for key, obj in workloads(kube_cluster, namespace).items():
        replicas = obj["spec"]["replicas"]
        assert obj["status"].get("readyReplicas", 0) == replicas, f"{key} not ready"
        if obj["kind"] == "Deployment":
            (container,) = obj["spec"]["template"]["spec"]["containers"]
            out[key] = {
                "replicas": replicas,
                "image": container["image"],
                "resources": container["resources"],
            }
        else:
            out[key] = {"replicas": replicas}
    return out


@pytest.fixture(scope="module")
def workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    return prepare_workspace(tmp_path_factory.mktemp("upgrade") / "charts", helm=helm, offline=True)


@pytest.fixture(scope="module")
def volumes(kube_cluster: Any) -> None:
    # promotion: staging claims 3 (router + 2 workers), prod 1 more; resize test: 3
    create_volumes(kube_cluster, "floe-upgrade-pv", 9)


@pytest.fixture(scope="module")
def promoted_prod(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/environments/prod/values.yaml after a promotion PR: both tags bumped."""
    text = (ENVIRONMENTS / "prod" / "values.yaml").read_text(encoding="utf-8")
    marker = '"0.1.0" # promoted'
    assert text.count(marker) == 2, "prod values.yaml no longer has its two promoted tags"
    path = tmp_path_factory.mktemp("promoted") / "values.yaml"
    path.write_text(text.replace(marker, f'"{PROMOTED_TAG}" # promoted'), encoding="utf-8")
    return path


def helm_cmd(
    workspace: ChartWorkspace, plane: ControlPlane, namespace: str, *args: str, check: bool = True
) -> str:
    """helm ARGS in ``namespace`` of ``plane``: stdout; with ``check=False`` stderr (no raise)."""
    proc = workspace.helm.run(
        [*args, "-n", namespace, "--kubeconfig", str(plane.kubeconfig_path)], check=False
    )
    if check and proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args[:2])} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stderr if not check else proc.stdout


def _status(workspace: ChartWorkspace, plane: ControlPlane, namespace: str) -> tuple[int, str]:
    status = json.loads(helm_cmd(workspace, plane, namespace, "status", RELEASE, "-o", "json"))
    return status["version"], status["info"]["status"]


def _history(workspace: ChartWorkspace, plane: ControlPlane, ns: str) -> list[tuple[Any, ...]]:
    rows = json.loads(helm_cmd(workspace, plane, ns, "history", RELEASE, "-o", "json"))
    return [(r["revision"], r["status"], r["description"]) for r in rows]


def test_promotion_dev_staging_prod_then_rollback_to_the_first_revision(
    workspace: ChartWorkspace,
    volumes: None,
    promoted_prod: Path,
    floe_cluster: ControlPlane,
    kube_cluster: Any,
    cluster_evidence: EvidenceWatch,
) -> None:
    ns = cluster_evidence.watch(restricted_namespace(kube_cluster, "promote"))
    chart = str(workspace.chart_path("floe-runtime"))
    steps = [
        ("install", ENVIRONMENTS / "dev" / "values.yaml"),
        ("upgrade", ENVIRONMENTS / "staging" / "values.yaml"),
        ("upgrade", promoted_prod),
    ]
    expected_by_revision: dict[int, dict[str, dict[str, Any]]] = {}
    for revision, (verb, values) in enumerate(steps, start=1):
        args = workspace.value_args("floe-runtime", [values])
        helm_cmd(workspace, floe_cluster, ns, verb, RELEASE, chart, *args)
        assert _status(workspace, floe_cluster, ns) == (revision, "deployed")
        expected_by_revision[revision] = expected_workloads(values)
        wait_for_workloads(kube_cluster, ns, sorted(expected_by_revision[revision]), timeout=300)
        assert observed_workloads(kube_cluster, ns) == expected_by_revision[revision], verb

    # the steps really differ (else the comparisons above prove little)
    assert expected_by_revision[1] == {
        "deployment/r-cube-api": {
            "replicas": 1,
            "image": "floe/floe-cube:0.1.0",
            "resources": {
                "requests": {"cpu": "100m", "memory": "384Mi"},
                "limits": {"cpu": "500m", "memory": "768Mi"},
            },
        }
    }
    assert expected_by_revision[3]["deployment/r-cube-api"]["image"] == "floe/floe-cube:0.2.0"
    assert [len(expected_by_revision[r]) for r in (1, 2, 3)] == [1, 4, 4]
    assert expected_by_revision[2] != expected_by_revision[3]

    helm_cmd(workspace, floe_cluster, ns, "rollback", RELEASE, "1")
    assert _status(workspace, floe_cluster, ns) == (4, "deployed")
    wait_for_workloads(kube_cluster, ns, sorted(expected_by_revision[1]), timeout=300)
    # back to dev: one API replica with dev's resources; Cube Store and the worker are gone
    assert observed_workloads(kube_cluster, ns) == expected_by_revision[1]
    assert _history(workspace, floe_cluster, ns) == [
        (1, "superseded", "Install complete"),
        (2, "superseded", "Upgrade complete"),
        (3, "superseded", "Upgrade complete"),
        (4, "deployed", "Rollback to 1"),
    ]


# An upgrade that renames the app label (nameOverride) while the object names stay pinned
# (fullnameOverride) changes the Deployment's spec.selector, which apps/v1 makes immutable.
SELECTOR_CHANGE = ("floe-cube.fullnameOverride=r-cube", "floe-cube.nameOverride=cube-analytics")


def test_upgrade_that_changes_a_deployment_selector_is_refused_naming_the_field(
    workspace: ChartWorkspace,
    floe_cluster: ControlPlane,
    kube_cluster: Any,
    cluster_evidence: EvidenceWatch,
) -> None:
    ns = cluster_evidence.watch(restricted_namespace(kube_cluster, "immutable"))
    chart = str(workspace.chart_path("floe-runtime"))
    dev = ENVIRONMENTS / "dev" / "values.yaml"
    first = workspace.value_args("floe-runtime", [dev], [SELECTOR_CHANGE[0]])
    helm_cmd(workspace, floe_cluster, ns, "install", RELEASE, chart, *first)
    wait_for_workloads(kube_cluster, ns, ["deployment/r-cube-api"], timeout=300)
    second = workspace.value_args("floe-runtime", [dev], list(SELECTOR_CHANGE))
    stderr = helm_cmd(workspace, floe_cluster, ns, "upgrade", RELEASE, chart, *second, check=False)
    # the API server's message, through helm: the object, the field path and "field is immutable"
    assert stderr.strip().splitlines()[-1] == (
        'Error: UPGRADE FAILED: cannot patch "r-cube-api" with kind Deployment: '
        'Deployment.apps "r-cube-api" is invalid: spec.selector: Invalid value: '
        '{"matchLabels":{"app.kubernetes.io/component":"api","app.kubernetes.io/instance":"r",'
        '"app.kubernetes.io/name":"cube-analytics"}}: field is immutable'
    )
    assert _history(workspace, floe_cluster, ns)[-1][:2] == (2, "failed")
    selector = workloads(kube_cluster, ns)["deployment/r-cube-api"]["spec"]["selector"]
    assert selector == {
        "matchLabels": {
            "app.kubernetes.io/name": "cube",
            "app.kubernetes.io/instance": "r",
            "app.kubernetes.io/component": "api",
        }
    }


def test_upgrade_that_resizes_cube_store_volumes_is_refused_naming_the_field(
    workspace: ChartWorkspace,
    volumes: None,
    floe_cluster: ControlPlane,
    kube_cluster: Any,
    cluster_evidence: EvidenceWatch,
) -> None:
    """A bigger Cube Store disk (``cubestore.workers.dataSize``) changes the StatefulSet's
    volumeClaimTemplates, which Kubernetes 1.37 still refuses to update."""
    ns = cluster_evidence.watch(restricted_namespace(kube_cluster, "immutable-sts"))
    chart = str(workspace.chart_path("floe-runtime"))
    staging = ENVIRONMENTS / "staging" / "values.yaml"
    first = workspace.value_args("floe-runtime", [staging])
    helm_cmd(workspace, floe_cluster, ns, "install", RELEASE, chart, *first)
    wait_for_workloads(kube_cluster, ns, sorted(expected_workloads(staging)), timeout=300)
    resize = ["floe-cube.cubestore.workers.dataSize=20Gi"]
    second = workspace.value_args("floe-runtime", [staging], resize)
    stderr = helm_cmd(workspace, floe_cluster, ns, "upgrade", RELEASE, chart, *second, check=False)
    refusal = (
        'cannot patch "r-cube-cubestore-worker" with kind StatefulSet: StatefulSet.apps '
        '"r-cube-cubestore-worker" is invalid: spec.volumeClaimTemplates: Invalid value: '
        '[{"name":"data","Spec":{"AccessModes":["ReadWriteOnce"],"Selector":null,'
        '"Resources":{"Limits":null,"Requests":{"storage":"20Gi"}},"VolumeName":"",'
        '"StorageClassName":null,"VolumeMode":"Filesystem","DataSource":null,'
        '"DataSourceRef":null,"VolumeAttributesClassName":null},"Status":{"Phase":"Pending",'
        '"AccessModes":null,"Capacity":null,"Conditions":null,"AllocatedResources":null,'
        '"AllocatedResourceStatuses":null,"CurrentVolumeAttributesClassName":null,'
        '"ModifyVolumeStatus":null,"HealthStatus":null}}]: field is immutable'
    )
    assert stderr.strip().splitlines()[-1] == f"Error: UPGRADE FAILED: {refusal}"
    assert _history(workspace, floe_cluster, ns) == [
        (1, "deployed", "Install complete"),
        (2, "failed", f'Upgrade "{RELEASE}" failed: {refusal}'),
    ]
    worker = workloads(kube_cluster, ns)["statefulset/r-cube-cubestore-worker"]
    templates = [t["spec"]["resources"]["requests"] for t in worker["spec"]["volumeClaimTemplates"]]
    assert templates == [{"storage": "10Gi"}]
