"""Evidence on failure (issue 12, test 6): a release that never becomes Ready leaves events,
``describe`` output and the control plane's log tails in the pytest report.

The failing run is a real one: pytester starts pytest in a subprocess on a test module that
registers ``tests.cluster.evidence_plugin`` and runs ``helm install --wait --timeout 20s`` of
floe-runtime (dev values) whose Cube API pod selects a node label no kwok node has, so the
scheduler never places it (``FailedScheduling``) and helm gives up. That inner run talks to
this session's control plane: its ``floe_cluster`` fixture is a :class:`ControlPlane` of the
same work directory, of which only the paths (kubeconfig, logs) are used.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from floe_checks.charts.helm import Helm
from floe_checks.charts.render import ChartWorkspace, prepare_workspace
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.cluster.evidence import (
    COMPONENTS,
    EvidenceCollector,
    format_events,
    format_sections,
)
from tests.cluster.conftest import Kubectl
from tests.cluster.kube import restricted_namespace

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "evidence-pending"

INNER_CONFTEST = """
import json
import os
from pathlib import Path

import pytest

from floe_checks.cluster.binaries import ClusterBinaries
from floe_checks.cluster.controlplane import ControlPlane


@pytest.fixture(scope="session")
def floe_cluster():
    # the outer session's running control plane; only its kubeconfig and log paths are used
    return ControlPlane(Path(os.environ["FLOE_TEST_PLANE_DIR"]))


@pytest.fixture(scope="session")
def cluster_binaries():
    # the outer session's (pytester moves HOME, so the cache is not searched again)
    paths = json.loads(os.environ["FLOE_TEST_BINARIES"])
    return ClusterBinaries(**{k: Path(v) if v else None for k, v in paths.items()})
"""

INNER_TEST = """
import json
import subprocess
from pathlib import Path

pytest_plugins = ["tests.cluster.evidence_plugin"]

RELEASE = json.loads(Path(__file__).with_name("release.json").read_text())


def test_release_becomes_ready(cluster_evidence):
    cluster_evidence.watch(RELEASE["namespace"])
    proc = subprocess.run(
        RELEASE["argv"], env=RELEASE["env"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


def test_passing_test_gets_no_evidence(cluster_evidence):
    cluster_evidence.watch(RELEASE["namespace"])
"""

SCHEDULING = (
    "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
    "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
)


# -- without a cluster ------------------------------------------------------------------------
def test_events_are_sorted_by_their_latest_time_whichever_field_carries_it() -> None:
    def event(name: str, version: str, reason: str, obj: str, **times: Any) -> dict[str, Any]:
        kind, obj_name = obj.split("/")
        return {
            "metadata": {"name": name, "resourceVersion": version},
            "type": "Warning" if reason.startswith("Failed") else "Normal",
            "reason": reason,
            "involvedObject": {"kind": kind, "name": obj_name},
            "message": f"{reason} happened ",
            **times,
        }

    events = [
        # events.k8s.io/v1 (the scheduler): eventTime and series, no lastTimestamp; half a
        # second after the two below although "…05.5Z" < "…05Z" as text
        event(
            "a",
            "30",
            "FailedScheduling",
            "Pod/p",
            eventTime="2026-12-02T04:00:05.500000Z",
            series={"count": 3, "lastObservedTime": "2026-12-02T04:00:05.500000Z"},
        ),
        # the same second: written second (higher resourceVersion), although named first
        event("b", "21", "SuccessfulCreate", "ReplicaSet/rs", lastTimestamp="2026-12-02T04:00:05Z"),
        event("c", "20", "ScalingReplicaSet", "Deployment/d", lastTimestamp="2026-12-02T04:00:05Z"),
    ]
    assert format_events(events).splitlines() == [
        "2026-12-02T04:00:05Z  Normal  ScalingReplicaSet  deployment/d  x1  "
        "ScalingReplicaSet happened",
        "2026-12-02T04:00:05Z  Normal  SuccessfulCreate  replicaset/rs  x1  "
        "SuccessfulCreate happened",
        "2026-12-02T04:00:05.500000Z  Warning  FailedScheduling  pod/p  x3  "
        "FailedScheduling happened",
    ]
    assert format_events([]) == "no events"


def test_a_part_that_cannot_be_read_becomes_its_own_section(tmp_path: Path) -> None:
    (tmp_path / "kube-scheduler.log").write_text(
        "".join(f"line {i}\n" for i in range(50)), encoding="utf-8"
    )
    collector = EvidenceCollector(
        tmp_path / "no-kubectl", tmp_path / "kubeconfig", log_dir=tmp_path, log_lines=2
    )
    sections = collector.collect("ns")
    missing = f"[Errno 2] No such file or directory: '{tmp_path / 'no-kubectl'}'"
    logs = [f"log {c} (last 2 lines)" for c in COMPONENTS]
    assert list(sections) == ["events ns", "pods ns", "workloads ns", *logs]
    assert sections["events ns"] == f"unavailable: kubectl get events -n ns -o json: {missing}"
    assert sections["workloads ns"] == (
        f"unavailable: kubectl get deployments,statefulsets -n ns -o json: {missing}"
    )
    assert sections["log kube-scheduler (last 2 lines)"] == "line 48\nline 49"
    assert sections["log etcd (last 2 lines)"] == (
        f"unavailable: [Errno 2] No such file or directory: '{tmp_path / 'etcd.log'}'"
    )
    assert format_sections({"a": "x\n", "b": "y"}) == "== a\nx\n\n== b\ny\n"


# -- on the control plane ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    return prepare_workspace(tmp_path_factory.mktemp("evid") / "charts", helm=helm, offline=True)


@pytest.mark.cluster
@pytest.mark.requirement("FC-001")
def test_release_that_never_becomes_ready_has_events_describe_and_logs_in_the_report(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    workspace: ChartWorkspace,
    floe_cluster: ControlPlane,
    kubectl: Kubectl,
    kube_cluster: Any,
) -> None:
    restricted_namespace(kube_cluster, NAMESPACE)
    values = workspace.value_args(
        "floe-runtime",
        [REPO / "examples" / "environments" / "dev" / "values.yaml"],
        ["floe-cube.api.nodeSelector.floe-pool=none"],
    )
    argv = [str(workspace.helm.binary), "install", "r", str(workspace.chart_path("floe-runtime"))]
    argv += ["-n", NAMESPACE, "--kubeconfig", str(floe_cluster.kubeconfig_path)]
    argv += ["--wait", "--timeout", "20s", *values]
    pytester.makeconftest(INNER_CONFTEST)
    pytester.makepyfile(test_pending_release=INNER_TEST)
    (pytester.path / "release.json").write_text(
        json.dumps({"namespace": NAMESPACE, "argv": argv, "env": workspace.helm.env()}),
        encoding="utf-8",
    )
    monkeypatch.setenv("FLOE_TEST_PLANE_DIR", str(floe_cluster.workdir))
    assert floe_cluster.binaries is not None
    binaries = {
        f.name: str(getattr(floe_cluster.binaries, f.name) or "")
        for f in dataclasses.fields(floe_cluster.binaries)
    }
    monkeypatch.setenv("FLOE_TEST_BINARIES", json.dumps(binaries))
    monkeypatch.setenv("PYTHONPATH", str(REPO))

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # one evidence section: the failing test's, none for the passing one
    # one evidence section: the failing test's, none for the passing one
    assert re.findall(r"^-+ (cluster evidence: .*) -+$", out, re.M) == [
        f"cluster evidence: {NAMESPACE}"
    ]
    section = out.split(f" cluster evidence: {NAMESPACE} ", 1)[1]
    assert "E       AssertionError: Error: INSTALLATION FAILED: context deadline exceeded" in out

    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
    (pod,) = (p["metadata"]["name"] for p in pods)
    assert pods[0]["status"]["phase"] == "Pending"
    replica_set = pod.rsplit("-", 1)[0]
    # the namespace's events, oldest first: the ReplicaSet scaled, the pod was created, the
    # scheduler found no node (its retries may add more FailedScheduling lines)
    events = re.findall(r"^\S+  (\w+  \w+  \S+  x\d+  .*)$", section, re.M)
    assert events[:3] == [
        f"Normal  ScalingReplicaSet  deployment/r-cube-api  x1  "
        f"Scaled up replica set {replica_set} from 0 to 1",
        f"Normal  SuccessfulCreate  replicaset/{replica_set}  x1  Created pod: {pod}",
        f"Warning  FailedScheduling  pod/{pod}  x1  {SCHEDULING}",
    ]
    assert section.split("\n", 2)[1] == f"== events {NAMESPACE}"
    # describe of the pod that is not Ready, and of its Deployment
    assert f"== describe pod/{pod}\nName:             {pod}\nNamespace:        {NAMESPACE}\n" in (
        section
    )
    assert "\nStatus:           Pending\n" in section
    assert "\nNode-Selectors:  floe-pool=none\n" in section
    describe_event = r"^  Warning  FailedScheduling  \S+ +default-scheduler  (.*)$"
    assert set(re.findall(describe_event, section, re.M)) == {SCHEDULING}
    assert "== describe deployment/r-cube-api\nName:                   r-cube-api\n" in section
    assert (
        "\nReplicas:               1 desired | 1 updated | 1 total | 0 available | 1 unavailable\n"
    ) in section
    # the tail of every component's log, read from the control plane's log files
    for component in COMPONENTS:
        assert f"\n== log {component} (last 40 lines)\n" in section, component
    tail = section.split("== log kube-scheduler (last 40 lines)\n", 1)[1].splitlines()[0]
    log = (floe_cluster.log_dir / "kube-scheduler.log").read_text(encoding="utf-8").splitlines()
    assert tail in log
