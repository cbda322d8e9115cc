"""A cancelled run (SIGTERM) stops the control plane its session started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from floe_checks.cluster.binaries import ClusterBinaries

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.requirement("FC-001"),
    pytest.mark.evidence("api-server"),
]

HERE = Path(__file__).resolve().parent


def _alive(pids: dict[str, int], wait: float) -> dict[str, int]:
    """The processes of ``pids`` still running after at most ``wait`` seconds (checked once)."""
    alive = dict(pids)
    deadline = time.monotonic() + wait
    while True:
        for name, pid in list(alive.items()):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                del alive[name]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def test_sigterm_to_pytest_stops_every_plane_process(
    cluster_binaries: ClusterBinaries, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    env = dict(os.environ, FLOE_SIGTERM_READY=str(ready))
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q"]
    argv += ["--basetemp", str(tmp_path / "run"), str(HERE / "sigterm_target.py")]
    proc = subprocess.Popen(
        argv,
        cwd=HERE.parents[1],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids: dict[str, int] = {}
    stopped = False
    try:
        deadline = time.monotonic() + 120
        while not ready.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if not ready.is_file():
            proc.kill()
            pytest.fail(f"the plane never got ready: {proc.communicate(timeout=30)[0]}")
        pids = json.loads(Path(ready.read_text("utf-8")).read_text("utf-8"))
        assert sorted(pids) == [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        ]
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=90)[0]
        assert proc.returncode == 2, output  # pytest's "interrupted", after its teardown
        assert _alive(pids, wait=10) == {}, output
        stopped = True
    finally:
        if proc.poll() is None:
            proc.kill()
        # never leave a failed run's plane behind (only then: a stopped plane's PIDs may be reused)
        for pid in ({} if stopped else _alive(pids, wait=0)).values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
