"""Not collected by the suite (no ``test_`` prefix): run by ``test_sigterm.py`` in a pytest
subprocess, it holds the session's control plane until that process gets SIGTERM."""

from __future__ import annotations

import os
import time
from pathlib import Path

from floe_checks.cluster.controlplane import ControlPlane


def test_hold_the_plane(floe_cluster: ControlPlane) -> None:
    # written whole, then renamed: the test polls for the file and must never read it empty
    ready = Path(os.environ["FLOE_SIGTERM_READY"])
    partial = ready.with_suffix(".partial")
    partial.write_text(str(floe_cluster.pids_path), "utf-8")
    partial.replace(ready)
    time.sleep(300)
