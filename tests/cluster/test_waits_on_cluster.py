"""``wait_for_rollout`` (pytest-helm-charts' waits) on the control plane, through ``kube_cluster``.

Workloads of each kind the waits cover are created with pytest-helm-charts' pykube client; kwok
moves their pods to Running/Ready. Job pods stay Running here (kwok's pod-complete stage does not
fire on this control plane), so the tests finish them the way that stage would: the pod's status
is set to Succeeded, or Failed, and the real Job controller takes it from there.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from floe_checks.errors import StackError
from floe_checks.stack.kind import wait_for_rollout

pytestmark = [pytest.mark.cluster, pytest.mark.requirement("FC-001", "FC-002")]

POD_SPEC = {
    "containers": [{"name": "app", "image": "registry.invalid/app:1.0"}],
}


def _workload(kind: str, name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    template: dict[str, Any] = {"metadata": {"labels": labels}, "spec": dict(POD_SPEC)}
    body: dict[str, Any] = {"template": template, **spec}
    if kind != "Job":
        body["selector"] = {"matchLabels": labels}
    else:
        template["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def _create(kube_cluster: Any, manifests: list[dict[str, Any]]) -> None:
    import pykube

    client = kube_cluster.kube_client
    for doc in manifests:
        cls = pykube.object_factory(client, doc["apiVersion"], doc["kind"])
        cls(client, doc).create()


def _namespace(kube_cluster: Any, name: str) -> None:
    import pykube

    pykube.Namespace(kube_cluster.kube_client, {"metadata": {"name": name}}).create()


def _finish_job_pod(kubectl: Any, ns: str, job: str, phase: str) -> None:
    """Sets the Job's pod to ``phase`` (Succeeded/Failed) as kwok's pod-complete stage would."""
    deadline = time.monotonic() + 60
    pods: list[dict[str, Any]] = []
    while not pods and time.monotonic() < deadline:
        listed = kubectl("get", "pods", "-n", ns, "-l", f"job-name={job}", "-o", "json")
        pods = [
            p for p in json.loads(listed.stdout)["items"] if p["status"].get("phase") == "Running"
        ]
        time.sleep(0.5)
    (pod,) = pods
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    code = 0 if phase == "Succeeded" else 1
    status = {
        "phase": phase,
        "containerStatuses": [
            {
                "name": "app",
                "image": "registry.invalid/app:1.0",
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {
                    "terminated": {
                        "exitCode": code,
                        "reason": "Completed" if code == 0 else "Error",
                        "startedAt": now,
                        "finishedAt": now,
                    }
                },
            }
        ],
    }
    kubectl(
        "patch", "pod", pod["metadata"]["name"], "-n", ns, "--subresource=status",
        "--type=merge", "-p", json.dumps({"status": status}),
    )  # fmt: skip


def _job_conditions(kubectl: Any, ns: str, job: str) -> list[str]:
    deadline = time.monotonic() + 60
    types: list[str] = []
    while time.monotonic() < deadline:
        got = json.loads(kubectl("get", "job", job, "-n", ns, "-o", "json").stdout)
        types = [c["type"] for c in got["status"].get("conditions", [])]
        if types:
            return types
        time.sleep(0.5)
    return types


def test_waits_for_every_deployment_stateful_set_and_job(kube_cluster: Any, kubectl: Any) -> None:
    ns = "waits-all"
    _namespace(kube_cluster, ns)
    _create(
        kube_cluster,
        [
            _workload("Deployment", "web", ns, replicas=2),
            _workload("Deployment", "api", ns, replicas=1),
            _workload("StatefulSet", "db", ns, replicas=1, serviceName="db"),
            _workload("Job", "migrate", ns, completions=1, backoffLimit=0),
        ],
    )
    _finish_job_pod(kubectl, ns, "migrate", "Succeeded")
    waited = wait_for_rollout(kube_cluster.kube_config_path, ns, timeout=120)
    assert waited == ["Deployment/api", "Deployment/web", "StatefulSet/db", "Job/migrate"]


def test_pytest_helm_charts_job_wait_misses_a_finished_job(kube_cluster: Any, kubectl: Any) -> None:
    """Why wait_for_jobs is ours: Kubernetes >= 1.31 lists SuccessCriteriaMet before Complete."""
    from pytest_helm_charts.k8s.job import wait_for_jobs_to_complete

    ns = "waits-job-order"
    _namespace(kube_cluster, ns)
    _create(kube_cluster, [_workload("Job", "done", ns, completions=1, backoffLimit=0)])
    _finish_job_pod(kubectl, ns, "done", "Succeeded")
    assert _job_conditions(kubectl, ns, "done") == ["SuccessCriteriaMet", "Complete"]
    with pytest.raises(TimeoutError):
        wait_for_jobs_to_complete(kube_cluster.kube_client, ["done"], ns, 3)
    assert wait_for_rollout(kube_cluster.kube_config_path, ns, timeout=30) == ["Job/done"]


def test_a_failed_job_fails_the_wait_at_once(kube_cluster: Any, kubectl: Any) -> None:
    ns = "waits-job-failed"
    _namespace(kube_cluster, ns)
    _create(kube_cluster, [_workload("Job", "broken", ns, completions=1, backoffLimit=0)])
    _finish_job_pod(kubectl, ns, "broken", "Failed")
    assert "Failed" in _job_conditions(kubectl, ns, "broken")
    started = time.monotonic()
    with pytest.raises(StackError) as caught:
        wait_for_rollout(kube_cluster.kube_config_path, ns, timeout=60)
    assert str(caught.value).splitlines()[0] == (
        f"a Job failed: Object's '{ns}/broken' status shows failure when waiting for the "
        "object's condition to pass."
    )
    assert time.monotonic() - started < 10


def test_an_empty_namespace_has_nothing_to_wait_for(kube_cluster: Any) -> None:
    _namespace(kube_cluster, "waits-empty")
    assert wait_for_rollout(kube_cluster.kube_config_path, "waits-empty", timeout=5) == []


def test_a_deployment_that_never_gets_ready_is_named(kube_cluster: Any, kubectl: Any) -> None:
    ns = "waits-stuck"
    _namespace(kube_cluster, ns)
    stuck = _workload("Deployment", "stuck", ns, replicas=1)
    # no node has this label: the pod stays Pending
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"floe.test/nowhere": "true"}
    _create(kube_cluster, [stuck, _workload("Deployment", "fine", ns, replicas=1)])
    started = time.monotonic()
    with pytest.raises(StackError) as caught:
        wait_for_rollout(kube_cluster.kube_config_path, ns, timeout=4)
    elapsed = time.monotonic() - started
    assert str(caught.value).splitlines()[0] == (
        f"Deployments in {ns} not ready after 4 s: fine, stuck"
    )
    assert caught.value.remediation == "see the events and describe output of the namespace"
    # pytest-helm-charts counts tries (one a second), not seconds: about the timeout
    assert 3 <= elapsed < 30
    pods = json.loads(kubectl("get", "pods", "-n", ns, "-l", "app=stuck", "-o", "json").stdout)
    assert [p["status"]["phase"] for p in pods["items"]] == ["Pending"]
