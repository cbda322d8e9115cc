"""Fixtures of tests/node: one real Kubernetes node (containerd + runc + CNI + kubelet) joined to
its own local control plane, per test session (docs/images.md, "Stage 2").

Skips, naming the setup step, when a piece is not installed or built or the host cannot run a
node (not root). Everything lives in one folder under /tmp (unix socket paths are limited to
108 bytes, pytest's basetemp is too deep) that is deleted at the end: containerd's store holds
the imported images (~2 GB). Every process is stopped by its PID, also after a failure or an
interrupt (SIGTERM becomes KeyboardInterrupt, as in tests/cluster).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from floe_checks import images
from floe_checks.cluster.binaries import ClusterBinaries, find_binaries
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.cluster.node import (
    Node,
    NodeBinaries,
    apiserver_args,
    find_node_binaries,
    host_problems,
)
from floe_checks.errors import PrerequisiteMissing

REPO_ROOT = Path(__file__).resolve().parents[2]


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session", autouse=True)
def _sigterm_runs_teardown() -> None:
    """A cancelled run (SIGTERM) still stops the node and the plane by their PIDs."""
    with contextlib.suppress(ValueError):  # not the main thread
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_interrupt)


@pytest.fixture(scope="session")
def node_binaries() -> tuple[ClusterBinaries, NodeBinaries]:
    problems = host_problems()
    if problems:
        pytest.skip("this host cannot run a Kubernetes node: " + "; ".join(problems))
    try:
        return find_binaries(), find_node_binaries()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")


@pytest.fixture(scope="session")
def node_podman() -> images.Podman:
    try:
        return images.Podman.find()
    except images.ImageError as exc:
        pytest.skip(f"cannot build images here: {exc}")


def start_node(binaries: tuple[ClusterBinaries, NodeBinaries], workdir: Path) -> Node:
    """A control plane (no kwok nodes) and one real node on it, both started."""
    plane = ControlPlane(
        workdir / "plane",
        nodes=0,
        binaries=binaries[0],
        extra_args={"kube-apiserver": apiserver_args(workdir / "plane")},
    )
    plane.start()
    try:
        return Node(plane, workdir / "node", binaries=binaries[1]).start()
    except BaseException:
        plane.stop()
        raise


@pytest.fixture(scope="session")
def floe_node(node_binaries: tuple[ClusterBinaries, NodeBinaries]) -> Iterator[Node]:
    """The session's node (Ready) and, as ``.plane``, its control plane."""
    workdir = Path(tempfile.mkdtemp(prefix="floe-node-", dir="/tmp"))
    node: Node | None = None
    try:
        node = start_node(node_binaries, workdir)
        yield node
        # shown with -s: where a session's time went (start phases, image imports)
        print(f"\nfloe node timings (s): plane {node.plane.timings}, node {node.timings}")
        node.check_alive()
        node.plane.check_alive()
    finally:
        if node is not None:
            node.stop()
            node.plane.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def node_base_image(floe_node: Node, node_podman: images.Podman) -> str:
    """The debootstrap Python base (tests/images' base), imported into the node."""
    from filelock import FileLock

    with FileLock(str(node_podman.cache / "build.lock")):
        ref = node_podman.ensure_base()
    floe_node.timings["import base"] = floe_node.import_from_podman(node_podman, ref)
    return ref


@pytest.fixture(scope="session")
def node_dagster_image(
    floe_node: Node, node_podman: images.Podman, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """docker/Dockerfile.dagster built as tests/images builds it (same key: the same image,
    reused from the store when it is there), then imported into the node."""
    from filelock import FileLock

    from tests.images.test_dagster_image import PLANTED

    context = images.stage_context(REPO_ROOT, tmp_path_factory.mktemp("context"), PLANTED)
    with FileLock(str(node_podman.cache / "build.lock")):
        wheelhouse = images.ensure_wheelhouse(REPO_ROOT, node_podman.cache)
        ref, _built = images.build_dagster_image(node_podman, context, wheelhouse)
    floe_node.timings["import dagster"] = floe_node.import_from_podman(node_podman, ref)
    return ref


@dataclass(frozen=True)
class PodResult:
    """How a pod that ran to its end ended."""

    phase: str
    exit_code: int
    reason: str
    logs: str
    pod: dict[str, Any]


def run_pod(node: Node, pod: dict[str, Any], timeout: float = 300.0) -> PodResult:
    """Create ``pod`` (restartPolicy Never) in ``default``, wait for Succeeded or Failed, read its
    logs through the API server (which asks the kubelet), delete it, and wait until it is gone."""
    plane = node.plane
    name = pod["metadata"]["name"]
    path = f"/api/v1/namespaces/default/pods/{name}"
    status, body = plane.api("POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201, body
    deadline = time.monotonic() + timeout
    try:
        while True:
            status, body = plane.api("GET", path)
            assert status == 200, body
            if body["status"].get("phase") in ("Succeeded", "Failed"):
                break
            if time.monotonic() > deadline:
                node.check_alive()
                pytest.fail(
                    f"pod {name} did not end in {timeout:.0f} s: {body['status']}\n"
                    + "\n".join(pod_events(node, name))
                )
            time.sleep(1)
        logs = pod_logs(node, name)
        terminated = body["status"]["containerStatuses"][0]["state"]["terminated"]
        return PodResult(
            body["status"]["phase"], terminated["exitCode"], terminated["reason"], logs, body
        )
    finally:
        plane.api("DELETE", path, {"gracePeriodSeconds": 0})
        gone = time.monotonic() + 60
        while plane.api("GET", path)[0] != 404 and time.monotonic() < gone:
            time.sleep(0.5)


def pod_logs(node: Node, name: str) -> str:
    """The pod's log as text, through the API server (which asks the kubelet, which reads
    containerd's log file). Not ``ControlPlane.api``: it decodes a log that parses as JSON."""
    import http.client
    import ssl

    plane = node.plane
    assert plane.pki is not None
    ctx = ssl.create_default_context(cafile=str(plane.pki.ca_cert))
    ctx.load_cert_chain(plane.pki.client_cert("admin"), plane.pki.client_key("admin"))
    conn = http.client.HTTPSConnection(
        "127.0.0.1", plane.ports["kube-apiserver"], context=ctx, timeout=30
    )
    try:
        conn.request("GET", f"/api/v1/namespaces/default/pods/{name}/log")
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", errors="replace")
    finally:
        conn.close()
    assert resp.status == 200, text
    return text


def pod_events(node: Node, name: str) -> list[str]:
    """``reason: message`` of every event about pod ``name`` (for failures: the
    kubelet's ``FailedCreatePodSandBox`` says why a pod stays Pending)."""
    status, body = node.plane.api(
        "GET", f"/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D{name}"
    )
    if status != 200:
        return [f"events unavailable: {status} {body}"]
    return [f"{e.get('reason')}: {e.get('message')}" for e in body.get("items", [])]
