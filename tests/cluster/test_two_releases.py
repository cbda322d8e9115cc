"""Two floe-runtime releases, same release name, in two namespaces of one cluster (issue 12,
test 3): both install and run every rendered workload (pytest-helm-charts' waits, through
``kube_cluster``: ``tests/cluster/kube.py``), and nothing cluster-wide clashes.

Cluster-wide here means: every object of a cluster-scoped kind (the API server's discovery says
which kinds are: ``kubectl api-resources --namespaced=false``), the fixed NodePorts of Services
(one port space per cluster) and the PersistentVolumes the claims bind. The expectation is
computed from the two rendered manifests, then checked against what the API server holds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

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
from tests.cluster.test_upgrade_on_cluster import helm_cmd

if TYPE_CHECKING:  # imported by pytest_plugins below; an earlier import skips assert rewriting
    from tests.cluster.evidence_plugin import EvidenceWatch

pytest_plugins = ["tests.cluster.evidence_plugin"]
pytestmark = [pytest.mark.cluster, pytest.mark.requirement("FC-001")]

RELEASE = "floe"
NAMESPACES = ("team-a", "team-b")


@pytest.fixture(scope="module")
def workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    return prepare_workspace(tmp_path_factory.mktemp("two") / "charts", helm=helm, offline=True)


@pytest.fixture(scope="module")
def cluster_scoped_kinds(kubectl: Kubectl) -> set[tuple[str, str]]:
    """{(API group, kind)} of every cluster-scoped kind this API server serves."""
    out = kubectl("api-resources", "--namespaced=false", "--no-headers").stdout
    kinds = set()
    for line in out.splitlines():
        fields = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
        api_version, kind = fields[-3], fields[-1]
        kinds.add((api_version.split("/")[0] if "/" in api_version else "", kind))
    # the API server's own core kinds, so a parsing slip cannot make the set vacuous
    assert {("", "Namespace"), ("", "PersistentVolume"), ("", "Node")} <= kinds
    assert ("rbac.authorization.k8s.io", "ClusterRole") in kinds
    return kinds


def _cluster_wide(
    objects: list[dict[str, Any]], kinds: set[tuple[str, str]]
) -> dict[str, list[str]]:
    """What of one release is cluster-wide: cluster-scoped objects and fixed NodePorts."""
    scoped = sorted(
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objects
        if (o["apiVersion"].split("/")[0] if "/" in o["apiVersion"] else "", o["kind"]) in kinds
    )
    node_ports = sorted(
        f"nodePort/{p['nodePort']}"
        for o in objects
        if o["kind"] == "Service"
        for p in o["spec"].get("ports", [])
        if "nodePort" in p
    )
    return {"cluster-scoped objects": scoped, "node ports": node_ports}


def test_two_releases_in_two_namespaces_are_ready_and_share_nothing_cluster_wide(
    workspace: ChartWorkspace,
    cluster_scoped_kinds: set[tuple[str, str]],
    floe_cluster: ControlPlane,
    kubectl: Kubectl,
    kube_cluster: Any,
    cluster_evidence: EvidenceWatch,
) -> None:
    chart = str(workspace.chart_path("floe-runtime"))
    rendered = {
        ns: workspace.render("floe-runtime", release=RELEASE, namespace=ns) for ns in NAMESPACES
    }
    wide = {ns: _cluster_wide(rendered[ns], cluster_scoped_kinds) for ns in NAMESPACES}
    # the charts render nothing cluster-wide: no ClusterRole, no PV, no fixed NodePort
    assert wide == {ns: {"cluster-scoped objects": [], "node ports": []} for ns in NAMESPACES}
    claims = {
        ns: [o for o in rendered[ns] if o["kind"] == "PersistentVolumeClaim"]
        + [
            {"metadata": {"name": f"{t['metadata']['name']}-{o['metadata']['name']}-{i}"}}
            for o in rendered[ns]
            if o["kind"] == "StatefulSet"
            for t in o["spec"].get("volumeClaimTemplates", [])
            for i in range(o["spec"]["replicas"])
        ]
        for ns in NAMESPACES
    }
    expected_claims = sorted(c["metadata"]["name"] for c in claims[NAMESPACES[0]])
    # the default profile: Cube Store's shared remote claim, its router's and two workers' data
    assert expected_claims == [
        "data-floe-cube-cubestore-router-0",
        "data-floe-cube-cubestore-worker-0",
        "data-floe-cube-cubestore-worker-1",
        "floe-cube-cubestore-remote",
    ]
    create_volumes(kube_cluster, "floe-two-pv", 2 * len(expected_claims))

    for ns in NAMESPACES:
        cluster_evidence.watch(restricted_namespace(kube_cluster, ns))
        args = workspace.value_args("floe-runtime")
        helm_cmd(workspace, floe_cluster, ns, "install", RELEASE, chart, *args)
    for ns in NAMESPACES:
        wait_for_workloads(kube_cluster, ns, workload_keys(rendered[ns]), timeout=300)

    volumes: dict[str, str] = {}
    for ns in NAMESPACES:
        status = json.loads(helm_cmd(workspace, floe_cluster, ns, "status", RELEASE, "-o", "json"))
        assert (status["version"], status["info"]["status"]) == (1, "deployed")
        ready = {
            key: (o["status"].get("readyReplicas", 0), o["spec"]["replicas"])
            for key, o in workloads(kube_cluster, ns).items()
        }
        assert sorted(ready) == workload_keys(rendered[ns])
        assert all(have == want for have, want in ready.values()), ready
        pvcs = json.loads(kubectl("get", "pvc", "-n", ns, "-o", "json").stdout)["items"]
        assert sorted(p["metadata"]["name"] for p in pvcs) == expected_claims
        for pvc in pvcs:
            assert pvc["status"]["phase"] == "Bound", pvc["metadata"]["name"]
            volumes[f"{ns}/{pvc['metadata']['name']}"] = pvc["spec"]["volumeName"]
    # every claim of both releases has its own PersistentVolume
    assert len(set(volumes.values())) == len(volumes) == 2 * len(expected_claims), volumes

    # and the API server agrees: no cluster-scoped object belongs to either release
    listable = kubectl(
        "api-resources", "--namespaced=false", "--verbs=list", "-o", "name"
    ).stdout.split()
    everything = json.loads(kubectl("get", ",".join(listable), "-o", "json").stdout)["items"]
    owned = sorted(
        f"{o['kind']}/{o['metadata']['name']}"
        for o in everything
        if (o["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name") == RELEASE
    )
    assert owned == sorted(o for ns in NAMESPACES for o in wide[ns]["cluster-scoped objects"])
