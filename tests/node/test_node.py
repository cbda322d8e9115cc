"""Pods of our own images run on a real Kubernetes node (issue 19, stage 2).

One kubelet v1.37.2 (built from the same ``k8s.io/kubernetes`` module as the control plane),
Debian's containerd 1.6.20 with runc, CNI's bridge and host-local, joined to the local control
plane over loopback (floe_checks/cluster/node.py, docs/images.md "Stage 2"). The images come
from podman's store — the base of tests/images and the Dagster image built from
docker/Dockerfile.dagster — imported into containerd, never pulled.

Evidence level ``cluster`` (derived from the ``floe_node`` fixture, pytest.ini): a kubelet
started these containers from a pod the API server admitted and the scheduler placed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from floe_checks.cluster.binaries import KUBE_VERSION
from floe_checks.cluster.node import NODE_NAME, POD_SUBNET, Node
from tests.images.test_dagster_image import ANSI, LOG_LINE
from tests.node.conftest import run_pod

pytestmark = pytest.mark.evidence("cluster")


def _os_release_pretty_name() -> str:
    for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    raise AssertionError("/etc/os-release has no PRETTY_NAME")


def _containerd_version(node: Node) -> str:
    """containerd's own version (``containerd --version``: Debian's ``1.6.20~ds1``) as the
    kubelet reports it: the numeric ``x.y.z`` part."""
    assert node.binaries is not None
    out = subprocess.run(
        [str(node.binaries.containerd), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()
    match = re.match(r"\d+\.\d+\.\d+", out[2])
    assert match is not None, out
    return match.group(0)


def test_the_node_registers_and_is_ready(floe_node: Node) -> None:
    status, body = floe_node.plane.api("GET", f"/api/v1/nodes/{NODE_NAME}")
    assert status == 200, body
    info = body["status"]["nodeInfo"]
    conditions = {c["type"]: c["status"] for c in body["status"]["conditions"]}
    assert (
        info["kubeletVersion"],
        info["containerRuntimeVersion"],
        info["kernelVersion"],
        info["osImage"],
        info["operatingSystem"],
        conditions,
        {"type": "Hostname", "address": NODE_NAME} in body["status"]["addresses"],
        body["spec"].get("taints"),
    ) == (
        KUBE_VERSION,
        f"containerd://{_containerd_version(floe_node)}",
        os.uname().release,
        _os_release_pretty_name(),
        "linux",
        {
            "MemoryPressure": "False",
            "DiskPressure": "False",
            "PIDPressure": "False",
            "Ready": "True",
        },
        True,
        None,
    )


def _python_pod(name: str, image: str, exit_code: int) -> dict[str, Any]:
    script = (
        "import os, socket, sys\n"
        "print('sum', sum(range(10)))\n"
        "print('ids', os.getuid(), os.getgid())\n"
        "print('host', socket.gethostname())\n"
        "print('ip', socket.gethostbyname(socket.gethostname()))\n"
        "print('env', os.environ['FLOE_GREETING'])\n"
        f"sys.exit({exit_code})\n"
    )
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "dnsPolicy": "Default",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsUser": 4242, "runAsGroup": 4343},
            "containers": [
                {
                    "name": "python",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python3", "-c", script],
                    "env": [{"name": "FLOE_GREETING", "value": "hello from the node"}],
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("exit_code", "phase", "reason"), [(0, "Succeeded", "Completed"), (3, "Failed", "Error")]
)
def test_a_pod_of_the_base_image_runs_to_completion(
    floe_node: Node, node_base_image: str, exit_code: int, phase: str, reason: str
) -> None:
    """The kubelet ran our container as the pod's user, on the pod network, and reports how it
    ended; its output comes back through the API server."""
    name = f"python-exit-{exit_code}"
    result = run_pod(floe_node, _python_pod(name, node_base_image, exit_code))
    pod_ip = result.pod["status"]["podIP"]
    assert ipaddress.ip_address(pod_ip) in ipaddress.ip_network(POD_SUBNET)
    assert (result.phase, result.exit_code, result.reason, result.logs) == (
        phase,
        exit_code,
        reason,
        f"sum 45\nids 4242 4343\nhost {name}\nip {pod_ip}\nenv hello from the node\n",
    )


def _dagster_pod(name: str, image: str, command: list[str], **extra: Any) -> dict[str, Any]:
    """A pod of the Dagster image with the chart's pod and container security context and its
    two writable emptyDir mounts (charts/floe-dagster/values.yaml: podSecurityContext,
    securityContext, volumes); ``extra`` goes into the container (``envFrom``, …)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "dnsPolicy": "Default",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "fsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "dagster",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "tmp", "mountPath": "/tmp"},
                        {"name": "dagster-home", "mountPath": "/opt/dagster/dagster_home"},
                    ],
                    **extra,
                }
            ],
            "volumes": [
                {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},
                {"name": "dagster-home", "emptyDir": {"sizeLimit": "256Mi"}},
            ],
        },
    }


def _validate_info(logs: str) -> list[str]:
    """The INFO messages of ``dagster definitions validate`` (colour codes removed)."""
    return [
        m["message"]
        for m in (LOG_LINE.match(ANSI.sub("", line)) for line in logs.splitlines())
        if m and m["level"] == "INFO"
    ]


VALIDATED = [
    "Validation successful for code location floe_demo.definitions.",
    "All code locations passed validation.",
]


@pytest.mark.requirement("007-FR-001", "007-FR-003")
def test_the_dagster_image_loads_the_demo_definitions_on_the_node(
    floe_node: Node, node_dagster_image: str
) -> None:
    """docker/Dockerfile.dagster's image, as the chart runs it (non-root, read-only root
    filesystem, no capabilities), runs ``dagster definitions validate`` to success."""
    pod = _dagster_pod(
        "dagster-validate",
        node_dagster_image,
        ["dagster", "definitions", "validate", "-m", "floe_demo.definitions"],
    )
    result = run_pod(floe_node, pod)
    assert (result.phase, result.exit_code, result.reason, _validate_info(result.logs)) == (
        "Succeeded",
        0,
        "Completed",
        VALIDATED,
    ), result.logs


# A throwaway credential: only this test's Secret holds it.
WAREHOUSE_PASSWORD = "node-canary/Pw+7=x"  # pragma: allowlist secret
# What the container prints: the password's sha256 as its environment holds it, whether the
# image's root filesystem refused a write, and every file of the two writable mounts that
# holds the password after Dagster has loaded the definitions (with the Secret's variables).
CHECK = """
import errno, hashlib, os, sys
secret = os.environ["FLOE_WAREHOUSE_PASSWORD"]
print("sha256", hashlib.sha256(secret.encode()).hexdigest())
try:
    open("/opt/floe/written-by-the-pod", "w")
    print("root filesystem writable")
except OSError as exc:
    print("root filesystem", errno.errorcode[exc.errno])
hits = []
for top in ("/tmp", "/opt/dagster/dagster_home"):
    for folder, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                if secret.encode() in fh.read():
                    hits.append(path)
print("files holding it", sorted(hits))
"""


@pytest.mark.requirement("007-FR-004")
def test_credentials_reach_the_container_only_as_environment_variables(
    floe_node: Node, node_dagster_image: str
) -> None:
    """The warehouse Secret reaches the Dagster container through ``envFrom`` (as the chart
    wires ``floe-warehouse``): the process sees the value, the pod object does not hold it,
    the image's filesystem cannot store it, and after a definitions load no file of the
    writable mounts holds it."""
    import hashlib

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "floe-warehouse"},
        "stringData": {
            "FLOE_WAREHOUSE_USER": "floe",
            "FLOE_WAREHOUSE_PASSWORD": WAREHOUSE_PASSWORD,
        },
    }
    status, body = floe_node.plane.api("POST", "/api/v1/namespaces/default/secrets", secret)
    assert status == 201, body
    script = (
        "dagster definitions validate -m floe_demo.definitions 2>&1; "
        f"echo validate-exit $?; python -c '{CHECK}'"
    )
    pod = _dagster_pod(
        "dagster-credentials",
        node_dagster_image,
        ["sh", "-c", script],
        envFrom=[{"secretRef": {"name": "floe-warehouse"}}],
    )
    try:
        result = run_pod(floe_node, pod)
    finally:
        floe_node.plane.api("DELETE", "/api/v1/namespaces/default/secrets/floe-warehouse")
    lines = result.logs.splitlines()
    assert (
        result.phase,
        result.exit_code,
        _validate_info(result.logs),
        lines[-4:],
        WAREHOUSE_PASSWORD in str(result.pod),
    ) == (
        "Succeeded",
        0,
        VALIDATED,
        [
            "validate-exit 0",
            f"sha256 {hashlib.sha256(WAREHOUSE_PASSWORD.encode()).hexdigest()}",
            "root filesystem EROFS",
            "files holding it []",
        ],
        False,
    ), result.logs
