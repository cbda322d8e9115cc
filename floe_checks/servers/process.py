"""A background server process: own session, log file, bounded readiness wait, stop by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from floe_checks.errors import ServerFailed, ServerNotInstalled, StackError
from floe_checks.polling import wait_until


@dataclass
class ManagedProcess:
    """A started server. ``stop()`` signals its whole process group and waits.

    Args:
        name: service name used in messages ("postgres", "cube", …).
        argv: the command.
        log_path: stdout and stderr go here, for diagnostics.
        stop_signal: Dagster wants SIGINT; most servers SIGTERM.
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise ServerNotInstalled(
                f"{self.name}: cannot start {self.argv[0]!r}: not found"
            ) from exc
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise StackError(f"{self.name} was not started")
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log (for failure reports)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, probe: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
        """Poll ``probe`` with bounded backoff until true, the process dies, or time runs out.

        On failure the process is stopped before the error is raised, so nothing leaks.
        """

        def ready() -> bool:
            if not self.alive():
                code = self.popen.returncode if self.popen is not None else None
                self.stop()
                raise ServerFailed(
                    f"{self.name} exited during start-up (code {code}). "
                    f"Log {self.log_path}:\n{self.log_tail()}",
                    log_path=self.log_path,
                )
            try:
                return bool(probe())
            except Exception:  # not ready yet is any failure of the probe
                return False

        if wait_until(ready, timeout=timeout, interval=interval, factor=1.5, max_interval=1.0):
            return
        self.stop()
        raise ServerFailed(
            f"{self.name} was not ready after {timeout:.0f} s. "
            f"Log {self.log_path}:\n{self.log_tail()}",
            log_path=self.log_path,
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Signal the process group, wait, then SIGKILL what is left. Safe to call twice."""
        if self.popen is None:
            return
        stop_group(self.popen.pid, self.stop_signal, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1)


def stop_group(pid: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop the process group led by ``pid`` (used also from state files across processes)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        return

    def gone() -> bool:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        # reap if it is our child, so the group can disappear
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False

    if wait_until(gone, timeout=timeout):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def http_ok(url: str) -> bool:
    """A readiness probe: ``url`` answers 200 within 2 s (stdlib only; loopback URLs we built)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=2.0) as resp:  # noqa: S310 - loopback URL we built
        return bool(resp.status == 200)


def raise_if_one_died(processes: Sequence[ManagedProcess], what: str) -> None:
    """Raise StackError with the log tail of the first of ``processes`` that has died.

    ``what`` names the group in the message, e.g. "of the control plane".
    """
    for proc in processes:
        if not proc.alive():
            raise ServerFailed(
                f"{proc.name} {what} died. Log {proc.log_path}:\n{proc.log_tail()}",
                log_path=proc.log_path,
            )


def stop_newest_first(processes: list[ManagedProcess]) -> None:
    """Stop every process of the list by PID, newest first, emptying it. Safe to call twice."""
    while processes:
        processes.pop().stop(timeout=10.0)
