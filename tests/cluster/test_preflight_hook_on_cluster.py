"""floe-runtime's ``helm test`` hook on the built control plane (issue 17 point 4, FC-007).

floe-runtime (dev profile, offline workspace: the Dagster subchart is off, so the rendered
floe.yaml checks Cube) is installed into a namespace enforcing PodSecurity ``restricted``, then
``helm test`` runs. Proven here: the hook's ConfigMap and Pod are created by ``helm test`` (not
by ``helm install``), the Pod is admitted under ``restricted`` with the release's
ServiceAccount and no API token, it is scheduled onto a kwok node, and the floe.yaml read back
from the API server passes our own config validation with the URL of the release's Cube
Service (which the API server holds, with that port).

What ``helm test`` reports here, exactly: kwok runs no container, so the preflight pod goes
Pending → Running (Ready) and stays Running — nothing ever exits. ``helm test`` waits for a
test pod to reach Succeeded or Failed, so it times out: exit 1, ``timed out waiting for the
condition``, the ConfigMap hook ``Succeeded`` and the Pod hook ``Failed`` (helm's verdict on a
timeout, not the pod's phase, which is still Running). Patching the pod's status to
Succeeded with exit code 0 — what the kubelet writes when ``floe preflight`` exits 0 — makes
``helm test`` return 0 with both hooks ``Succeeded``; Failed with exit code 1 (a failed check)
makes it exit 1 with ``pod r-floe-preflight failed``. That shows helm's side of the contract,
not preflight's outcome, which only a real node running the image can prove
(docs/preflight.md, "Preflight from inside the cluster").
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from floe_checks.charts.helm import Helm
from floe_checks.charts.render import ChartWorkspace, prepare_workspace
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.config import CubeSection, load_environment
from tests.cluster.conftest import Kubectl
from tests.cluster.kube import restricted_namespace

pytestmark = [pytest.mark.cluster, pytest.mark.requirement("FC-007")]

NAMESPACE = "preflight-hook"
RELEASE = "r"
HOOK = f"{RELEASE}-floe-preflight"
CHART = "floe-runtime"


@pytest.fixture(scope="module")
def workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    return prepare_workspace(
        tmp_path_factory.mktemp("preflight-hook") / "charts", helm=helm, offline=True
    )


def _suites(stdout: str) -> list[tuple[str, str]]:
    """(name, phase) of each ``TEST SUITE`` block of ``helm test``'s output, in its order."""
    return re.findall(r"TEST SUITE:\s+(\S+)\n(?:.*\n)*?Phase:\s+(\w+)", stdout)


def _pod(kubectl: Kubectl) -> dict[str, Any]:
    found = kubectl("get", "pod", HOOK, "-n", NAMESPACE, "-o", "json", check=False)
    return dict(json.loads(found.stdout)) if found.returncode == 0 else {}


def _wait_running(kubectl: Kubectl, not_uid: str = "", timeout: float = 180) -> dict[str, Any]:
    """The hook pod once kwok has it Running (a new pod when ``not_uid`` names the old one)."""
    deadline = time.monotonic() + timeout
    pod: dict[str, Any] = {}
    while time.monotonic() < deadline:
        pod = _pod(kubectl)
        if (
            pod
            and pod["metadata"]["uid"] != not_uid
            and pod.get("status", {}).get("phase") == "Running"
        ):
            return pod
        time.sleep(1)
    pytest.fail(f"pod {HOOK} not Running after {timeout} s: {json.dumps(pod.get('status'))}")


def test_helm_test_creates_the_admitted_preflight_pod_and_its_valid_floe_yaml(
    workspace: ChartWorkspace,
    floe_cluster: ControlPlane,
    kubectl: Kubectl,
    kube_cluster: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    restricted_namespace(kube_cluster, NAMESPACE)
    kube = ["--namespace", NAMESPACE, "--kubeconfig", str(floe_cluster.kubeconfig_path)]
    values = [str(workspace.chart_path(CHART) / "values-dev.yaml")]
    chart = str(workspace.chart_path(CHART))
    workspace.helm.run(["install", RELEASE, chart, *kube, *workspace.value_args(CHART, values)])
    # helm install leaves the hook out: it exists only once helm test runs
    assert _pod(kubectl) == {}
    cm = kubectl("get", "configmap", HOOK, "-n", NAMESPACE, check=False)
    assert cm.returncode == 1
    assert f'configmaps "{HOOK}" not found' in cm.stderr

    # 1. kwok never ends the pod: helm test times out; the pod is Running
    timed_out = workspace.helm.run(["test", RELEASE, "--timeout", "60s", *kube], check=False)
    assert timed_out.returncode == 1
    assert (
        timed_out.stderr
        == "Error: 1 error occurred:\n\t* timed out waiting for the condition\n\n\n"
    )
    assert _suites(timed_out.stdout) == [(HOOK, "Succeeded"), (HOOK, "Failed")]
    pod = _wait_running(kubectl)

    # admitted under `restricted` as rendered, with the release's identity and no API token
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "default"  # Dagster (and its ServiceAccount) is off
    assert spec["automountServiceAccountToken"] is False
    assert [v["name"] for v in spec["volumes"]] == ["floe-yaml", "tmp"]
    node = json.loads(kubectl("get", "node", spec["nodeName"], "-o", "json").stdout)
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["env"][2] == {
        "name": "CUBEJS_API_SECRET",
        "valueFrom": {"secretKeyRef": {"name": "floe-cube-api", "key": "CUBEJS_API_SECRET"}},
    }
    namespace = json.loads(kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    # the floe.yaml the API server holds passes our own validation, naming the release's Cube
    cm_obj = json.loads(kubectl("get", "configmap", HOOK, "-n", NAMESPACE, "-o", "json").stdout)
    path = tmp_path / "floe.yaml"
    path.write_text(cm_obj["data"]["floe.yaml"], encoding="utf-8")
    monkeypatch.setenv("CUBEJS_API_SECRET", "hook-cluster-test")  # pragma: allowlist secret
    env = load_environment(path, "in-cluster")
    assert list(env.sections()) == ["cube"]
    assert isinstance(env.cube, CubeSection)
    assert env.cube.url == f"http://{RELEASE}-cube.{NAMESPACE}.svc.cluster.local:4000"
    service = json.loads(
        kubectl("get", "service", f"{RELEASE}-cube", "-n", NAMESPACE, "-o", "json").stdout
    )
    assert [p["port"] for p in service["spec"]["ports"]] == [4000]

    # 2. what the kubelet writes when `floe preflight` exits 0: helm test passes
    passed = _helm_test_ending_as(workspace, kubectl, kube, pod["metadata"]["uid"], exit_code=0)
    assert (passed.returncode, passed.stderr) == (0, "")
    assert _suites(passed.stdout) == [(HOOK, "Succeeded"), (HOOK, "Succeeded")]
    # 3. ... and when a check fails (exit 1): helm test fails, naming the pod
    failed = _helm_test_ending_as(workspace, kubectl, kube, _pod(kubectl)["metadata"]["uid"], 1)
    assert failed.returncode == 1
    assert failed.stderr == f"Error: 1 error occurred:\n\t* pod {HOOK} failed\n\n\n"
    assert _suites(failed.stdout) == [(HOOK, "Succeeded"), (HOOK, "Failed")]


def _helm_test_ending_as(
    workspace: ChartWorkspace, kubectl: Kubectl, kube: list[str], old_uid: str, exit_code: int
) -> subprocess.CompletedProcess[str]:
    """``helm test`` while the hook pod's container "exits" with ``exit_code``: once kwok has
    the new pod (before-hook-creation replaced ``old_uid``) Running, its status is patched to
    what the kubelet writes for that exit — the step kwok, running no container, never takes."""
    args = [str(workspace.helm.binary), "test", RELEASE, "--timeout", "300s", *kube]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=workspace.helm.env()
    )
    try:
        image = _wait_running(kubectl, not_uid=old_uid)["spec"]["containers"][0]["image"]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        terminated = {
            "exitCode": exit_code,
            "reason": "Completed" if exit_code == 0 else "Error",
            "startedAt": now,
            "finishedAt": now,
        }
        status = {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": "preflight",
                    "image": image,
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {"terminated": terminated},
                }
            ],
        }
        kubectl(
            "patch", "pod", HOOK, "-n", NAMESPACE, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": status}),
        )  # fmt: skip
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)
