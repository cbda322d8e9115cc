"""The control plane built from source, exercised through kubectl: admission, scheduling, stop.

Needs the binaries of scripts/build-control-plane.sh; skips naming it otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from floe_checks.cluster.binaries import KUBE_VERSION, ClusterBinaries
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.errors import StackError

from .conftest import Kubectl

pytestmark = pytest.mark.cluster

RESTRICTED_NS = """
apiVersion: v1
kind: Namespace
metadata:
  name: restricted-demo
  labels:
    pod-security.kubernetes.io/enforce: restricted
"""

# privileged: true cannot be combined with allowPrivilegeEscalation: false (API validation),
# so exactly these two checks fail; everything else is compliant. PodSecurity lists the
# baseline check (privileged) before the restricted-only one (allowPrivilegeEscalation).
PRIVILEGED_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: privileged
  namespace: restricted-demo
spec:
  securityContext:
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: app
      image: registry.invalid/app:1
      securityContext:
        privileged: true
        capabilities: {drop: [ALL]}
"""

COMPLIANT_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: restricted-demo
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: app
          image: registry.invalid/app:1
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
"""


def _listening(pid: int) -> list[str]:
    """host:port of every TCP socket in LISTEN state that process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and inode in inodes:
                addr_hex, port_hex = local.split(":")
                if len(addr_hex) == 8:
                    addr = ".".join(str(int(addr_hex[i : i + 2], 16)) for i in (6, 4, 2, 0))
                else:
                    addr = addr_hex  # any IPv6 listener is a failure below; keep it visible
                found.append(f"{addr}:{int(port_hex, 16)}")
    return sorted(found)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_server_reports_the_version_we_built(kubectl: Kubectl) -> None:
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == KUBE_VERSION
    assert version["serverVersion"]["minor"] == KUBE_VERSION.split(".")[1]


def test_every_component_listens_on_loopback_only(floe_cluster: ControlPlane) -> None:
    ports = floe_cluster.ports
    listening = {p.name: _listening(p.pid) for p in floe_cluster.processes}
    assert listening == {
        "etcd": sorted([f"127.0.0.1:{ports['etcd']}", f"127.0.0.1:{ports['etcd-peer']}"]),
        "kube-apiserver": [f"127.0.0.1:{ports['kube-apiserver']}"],
        "kube-controller-manager": [f"127.0.0.1:{ports['kube-controller-manager']}"],
        "kube-scheduler": [f"127.0.0.1:{ports['kube-scheduler']}"],
        "kwok": [f"127.0.0.1:{ports['kwok']}"],
    }


def test_pod_security_admission_rejects_a_privileged_pod(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", stdin=RESTRICTED_NS)
    result = kubectl("create", "-f", "-", stdin=PRIVILEGED_POD, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": pods "privileged" is '
        'forbidden: violates PodSecurity "restricted:latest": '
        'privileged (container "app" must not set securityContext.privileged=true), '
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false)"
    )
    pods = kubectl("get", "pods", "-n", "restricted-demo", "-o", "name").stdout
    assert pods == ""


def test_compliant_deployment_becomes_ready_on_kwok_nodes(
    kubectl: Kubectl, floe_cluster: ControlPlane, kube_cluster: Any
) -> None:
    from pytest_helm_charts.k8s.deployment import wait_for_deployments_to_run

    kubectl("apply", "-f", "-", stdin=RESTRICTED_NS)
    kubectl("apply", "-f", "-", stdin=COMPLIANT_DEPLOYMENT)
    # pytest-helm-charts' wait, through its kube_cluster (pointed at this control plane)
    wait_for_deployments_to_run(kube_cluster.kube_client, ["web"], "restricted-demo", 60)
    deployment = json.loads(
        kubectl("get", "deployment", "web", "-n", "restricted-demo", "-o", "json").stdout
    )
    assert deployment["status"]["readyReplicas"] == 2
    pods = json.loads(kubectl("get", "pods", "-n", "restricted-demo", "-o", "json").stdout)
    assert len(pods["items"]) == 2
    for pod in pods["items"]:
        assert pod["spec"]["nodeName"] in floe_cluster.node_names()
        assert pod["status"]["phase"] == "Running"
        ready = [c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready"]
        assert ready == ["True"]


def test_start_failure_stops_what_was_started_and_shows_the_log(
    cluster_binaries: ClusterBinaries, tmp_path: Path
) -> None:
    plane = ControlPlane(
        tmp_path,
        nodes=1,
        binaries=cluster_binaries,
        extra_args={"kube-apiserver": ["--no-such-flag"]},
    )
    with pytest.raises(StackError) as info:
        plane.start(timeout=60)
    message = str(info.value)
    assert message.startswith("kube-apiserver exited during start-up (code 1). Log ")
    assert "unknown flag: --no-such-flag" in message
    pids = json.loads(plane.pids_path.read_text())
    assert sorted(pids) == ["etcd", "kube-apiserver"]
    assert {name: _running(pid) for name, pid in pids.items()} == {
        "etcd": False,
        "kube-apiserver": False,
    }
    assert plane.processes == []


def test_ctrl_c_on_the_cli_stops_every_component(
    cluster_binaries: ClusterBinaries, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "floe_checks.cluster", str(tmp_path), "--nodes", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines[1] == f"export KUBECONFIG={tmp_path / 'kubeconfig'}\n", lines
        pids = json.loads((tmp_path / "pids.json").read_text())
        assert sorted(pids) == [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        ]
        for pid in pids.values():
            os.kill(pid, 0)  # all running before Ctrl-C
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 5
    alive = dict(pids)
    while alive and time.monotonic() < deadline:
        for name, pid in list(alive.items()):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                del alive[name]
        time.sleep(0.1)
    assert alive == {}


def test_ctrl_c_during_start_stops_what_was_started(
    cluster_binaries: ClusterBinaries, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "floe_checks.cluster", str(tmp_path), "--nodes", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pids: dict[str, int] = {}
    try:
        # interrupt as soon as the API server has been started (it is not ready yet)
        deadline = time.monotonic() + 30
        while "kube-apiserver" not in pids and time.monotonic() < deadline:
            # not written yet, or caught half-written
            with contextlib.suppress(OSError, ValueError):
                pids = json.loads((tmp_path / "pids.json").read_text())
            time.sleep(0.05)
        assert sorted(pids) == ["etcd", "kube-apiserver"]
        assert not (tmp_path / "kubeconfig").exists()  # start-up had not got that far
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stdout is not None
    assert proc.stdout.read() == ""
    assert {name: _running(pid) for name, pid in pids.items()} == {
        "etcd": False,
        "kube-apiserver": False,
    }


def test_a_component_that_dies_is_named_with_its_log_tail(
    cluster_binaries: ClusterBinaries, tmp_path: Path
) -> None:
    with ControlPlane(tmp_path, nodes=1, binaries=cluster_binaries) as plane:
        plane.check_alive()  # all five alive: no error
        scheduler = next(p for p in plane.processes if p.name == "kube-scheduler")
        os.kill(scheduler.pid, signal.SIGKILL)
        assert scheduler.popen is not None
        scheduler.popen.wait(timeout=10)
        with pytest.raises(StackError) as info:
            plane.check_alive()
    log = tmp_path / "logs" / "kube-scheduler.log"
    tail = "\n".join(log.read_text().splitlines()[-40:])
    assert str(info.value) == f"kube-scheduler of the control plane died. Log {log}:\n{tail}"
    assert info.value.remediation == f"read {log}"
