"""helm against the built control plane: install --wait, kubeVersion, PodSecurity on a release."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from floe_checks.charts.helm import Helm
from floe_checks.cluster.binaries import KUBE_VERSION
from floe_checks.cluster.controlplane import ControlPlane

from .conftest import Kubectl
from .kube import restricted_namespace, workloads

pytestmark = pytest.mark.cluster

MINOR = KUBE_VERSION.split(".")[1]

CHART_YAML = f"""apiVersion: v2
name: tiny
version: 0.1.0
# only installable on the minor we built: helm compares it with the server's gitVersion
kubeVersion: ">=1.{MINOR}.0-0 <1.{int(MINOR) + 1}.0-0"
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: app
          image: registry.invalid/tiny:1
          securityContext:
            privileged: {{ .Values.privileged }}
            {{- if not .Values.privileged }}
            allowPrivilegeEscalation: false
            {{- end }}
            capabilities: {drop: [ALL]}
"""


@pytest.fixture(scope="module")
def tiny_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chart = tmp_path_factory.mktemp("tiny")
    (chart / "Chart.yaml").write_text(CHART_YAML, encoding="utf-8")
    (chart / "values.yaml").write_text("privileged: false\n", encoding="utf-8")
    (chart / "templates").mkdir()
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT, encoding="utf-8")
    return chart


def test_helm_install_wait_returns_deployed_on_the_kwok_nodes(
    helm: Helm, tiny_chart: Path, floe_cluster: ControlPlane, kube_cluster: Any
) -> None:
    restricted_namespace(kube_cluster, "helm-ok")
    kube = ["--kubeconfig", str(floe_cluster.kubeconfig_path), "-n", "helm-ok"]
    helm.run(["install", "ok", str(tiny_chart), "--wait", "--timeout", "60s", *kube])
    status = json.loads(helm.run(["status", "ok", "-o", "json", *kube]).stdout)
    assert status["info"]["status"] == "deployed"
    deployment = workloads(kube_cluster, "helm-ok")["deployment/ok"]
    assert deployment["status"]["readyReplicas"] == 1


def test_privileged_release_never_gets_a_pod_and_the_event_says_why(
    helm: Helm, tiny_chart: Path, floe_cluster: ControlPlane, kubectl: Kubectl, kube_cluster: Any
) -> None:
    # PodSecurity only warns on the Deployment; the ReplicaSet's pod creation is refused
    restricted_namespace(kube_cluster, "helm-priv")
    kube = ["--kubeconfig", str(floe_cluster.kubeconfig_path), "-n", "helm-priv"]
    result = helm.run(
        [
            "install",
            "priv",
            str(tiny_chart),
            "--set",
            "privileged=true",
            "--wait",
            "--timeout",
            "10s",
            *kube,
        ],
        check=False,
    )
    assert result.returncode == 1
    violations = (
        'privileged (container "app" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false)"
    )
    # the API server's warning on the Deployment (klog prefix with a timestamp), then helm's error
    warning, error = result.stderr.strip().splitlines()
    assert (
        warning.split("] ", 1)[1] == f'would violate PodSecurity "restricted:latest": {violations}'
    )
    assert error == "Error: INSTALLATION FAILED: context deadline exceeded"
    events = json.loads(
        kubectl(
            "get",
            "events",
            "-n",
            "helm-priv",
            "--field-selector",
            "reason=FailedCreate",
            "-o",
            "json",
        ).stdout
    )
    # one event per refused attempt; pod names are random: normalise them (and the event
    # recorder's aggregation prefix) before comparing
    messages = {
        re.sub(
            r'pods "priv-[a-z0-9]+-[a-z0-9]{5}"',
            'pods "POD"',
            e["message"].removeprefix("(combined from similar events): "),
        )
        for e in events["items"]
    }
    assert messages == {
        f'Error creating: pods "POD" is forbidden: violates PodSecurity "restricted:latest": '
        f"{violations}"
    }
    pods = kubectl("get", "pods", "-n", "helm-priv", "-o", "name").stdout
    assert pods == ""
