"""Stopping a node leaves nothing behind: no process, mount, cgroup, bridge or changed setting.

Its own control plane and node (not the session's), stopped while a pod's container still runs:
the path of a failed or interrupted test, where nobody deleted the pods first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe_checks.cluster.binaries import ClusterBinaries
from floe_checks.cluster.node import (
    CGROUP_ROOT,
    CNI_CACHE,
    KUBELET_SYSCTLS,
    LEGACY_LOG_DIR,
    PAUSE_IMAGE,
    Node,
    NodeBinaries,
    _mounts_under,
    _pids_mentioning,
)
from tests.node.conftest import pod_events, start_node

pytestmark = pytest.mark.evidence("cluster")


def _sysctls() -> dict[str, str]:
    return {n: (Path("/proc/sys") / n).read_text(encoding="utf-8").strip() for n in KUBELET_SYSCTLS}


def _host_entries(workdir: Path) -> list[str]:
    """Entries of the host's shared folders that belong to the node in ``workdir``: kubelet
    log symlinks pointing into it, libcni cache files naming it. Other nodes' entries (the
    session's node may run beside this one) are not counted."""
    ours = f"{workdir}/"
    entries = []
    if LEGACY_LOG_DIR.is_dir():
        entries += [
            str(link)
            for link in LEGACY_LOG_DIR.iterdir()
            if link.is_symlink() and os.readlink(link).startswith(ours)
        ]
    if (CNI_CACHE / "results").is_dir():
        entries += [str(f) for f in (CNI_CACHE / "results").iterdir() if ours in f.read_text()]
    return sorted(entries)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for every purpose but the process table
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _bridge_exists(name: str) -> bool:
    return subprocess.run(["ip", "link", "show", name], capture_output=True).returncode == 0


@pytest.fixture
def disposable_node(
    node_binaries: tuple[ClusterBinaries, NodeBinaries],
) -> Iterator[tuple[Node, dict[str, str]]]:
    """A started plane and node of this test alone, with the host's settings from before it
    started; stopped again (a no-op when the test did) and its folder deleted."""
    workdir = Path(tempfile.mkdtemp(prefix="floe-node-", dir="/tmp"))
    sysctls = _sysctls()
    try:
        node = start_node(node_binaries, workdir)
        try:
            yield node, sysctls
        finally:
            node.stop()
            node.plane.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_stop_with_a_running_pod_leaves_nothing_behind(
    disposable_node: tuple[Node, dict[str, str]],
) -> None:
    node, sysctls = disposable_node
    workdir = node.workdir.parent
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "runs-until-stopped"},
        "spec": {
            "automountServiceAccountToken": False,
            # the pause image is in the node's store already; /pause runs until it is killed
            "containers": [{"name": "pause", "image": PAUSE_IMAGE, "imagePullPolicy": "Never"}],
        },
    }
    status, body = node.plane.api("POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 201, body
    path = "/api/v1/namespaces/default/pods/runs-until-stopped"
    deadline = time.monotonic() + 120
    while (phase := node.plane.api("GET", path)[1]["status"].get("phase")) != "Running":
        assert time.monotonic() < deadline, (phase, pod_events(node, "runs-until-stopped"))
        time.sleep(0.5)
    shims = _pids_mentioning(f"{workdir}/")
    started = [p.pid for p in node.processes] + shims
    cgroups = sorted(CGROUP_ROOT.glob(f"*/{node.cgroup_name}"))
    # what is there to clean up: containerd, the kubelet, the pod's shim (sandbox and
    # container share one); the cgroup root in every hierarchy; the bridge; the mounts
    assert (len(node.processes), len(shims) >= 1, cgroups != [], _bridge_exists(node.bridge)) == (
        2,
        True,
        True,
        True,
    )
    assert _mounts_under(workdir) != []
    # libcni caches the pod's network results on the host, naming its namespace in our folder
    assert any(str(CNI_CACHE / "results") in entry for entry in _host_entries(workdir))

    node.stop()
    node.plane.stop()

    assert (
        [pid for pid in started if _alive(pid)],
        _pids_mentioning(f"{workdir}/"),
        _mounts_under(workdir),
        [p for p in cgroups if p.exists()],
        _bridge_exists(node.bridge),
        _sysctls(),
        _host_entries(workdir),
    ) == ([], [], [], [], False, sysctls, [])
