"""Not collected by the suite (no ``test_`` prefix): run by ``test_sigterm.py`` in a pytest
subprocess, it holds the session's control plane until that process gets SIGTERM."""

from __future__ import annotations

import os
import time
from pathlib import Path

from floe_checks.cluster.controlplane import ControlPlane


def test_hold_the_plane(floe_cluster: ControlPlane) -> None:
    Path(os.environ["FLOE_SIGTERM_READY"]).write_text(str(floe_cluster.pids_path), "utf-8")
    time.sleep(300)
