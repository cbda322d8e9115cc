"""ManagedProcess's waits, which poll through ``wait_until``, on real child processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from floe_checks.errors import ServerFailed
from floe_checks.servers.process import ManagedProcess, stop_group


def test_ready_when_the_probe_holds_and_stopped_by_its_group(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    proc = ManagedProcess(
        "sleeper",
        [
            sys.executable,
            "-c",
            f"import pathlib, time; pathlib.Path({str(flag)!r}).touch(); time.sleep(60)",
        ],
        log_path=tmp_path / "sleeper.log",
    ).start()
    try:
        proc.wait_ready(flag.is_file, timeout=20)
        assert proc.alive()
    finally:
        stop_group(proc.pid, timeout=10)
    # stop_group reaped it (waitpid), so the whole group is gone
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)


def test_a_server_that_exits_is_reported_with_its_code_and_log(tmp_path: Path) -> None:
    log = tmp_path / "quitter.log"
    proc = ManagedProcess(
        "quitter",
        [sys.executable, "-c", "print('bad config'); raise SystemExit(3)"],
        log_path=log,
    ).start()
    with pytest.raises(ServerFailed) as caught:
        proc.wait_ready(lambda: False, timeout=20)
    assert caught.value.message == (
        f"quitter exited during start-up (code 3). Log {log}:\nbad config"
    )
    assert caught.value.remediation == f"read {log}"


def test_a_server_never_ready_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    log = tmp_path / "stuck.log"
    proc = ManagedProcess(
        "stuck", [sys.executable, "-c", "import time; time.sleep(60)"], log_path=log
    ).start()
    with pytest.raises(ServerFailed) as caught:
        proc.wait_ready(lambda: False, timeout=1)
    assert caught.value.message == f"stuck was not ready after 1 s. Log {log}:\n"
    assert not proc.alive()
