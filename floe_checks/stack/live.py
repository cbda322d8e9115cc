"""``floe demo up / trigger / status / down``: the local stack as a live demo (007-FR-025/026).

The same :class:`~floe_checks.stack.local.LocalProvider` the end-to-end suite starts (one
provider, not a copy), with the demo's real schedule instead of the tests' never-firing one,
plus the live page (:mod:`floe_checks.servers.demo_page`). One demo per state folder
(``$FLOE_DEMO_STATE_DIR``, else ``$XDG_STATE_HOME/floe-checks/demo``, else
``~/.local/state/floe-checks/demo``)::

    demo.json   0600: the ``up`` process's PID, phase (starting/running), URLs, the
                provider's state (PIDs, and the run's secrets so ``down`` can redact) and the
                Cube API secret that ``trigger``/``status`` sign with
    up.log      the output of a ``--detach``ed ``up``
    stack/      the stack's workdir (logs, Dagster home, the Iceberg catalog and files)

``up`` stays in the foreground until Ctrl-C or SIGTERM, then stops every process it started
by PID (the provider's stop, and the page's). ``down`` sends the ``up`` process SIGTERM and
waits for it; when that process is gone (killed with -9, machine rebooted) it stops what the
state names itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from floe_checks.errors import IntervalNotSchedulable, OrdersTooFew
from floe_checks.polling import wait_until

JOB = "demo_pipeline"
SCHEDULE = "demo_schedule"
STATE_FILE = "demo.json"
LOG_FILE = "up.log"
RUN_TIMEOUT = 600.0
# a detached up that is not running after this long is stopped (a cold start takes 1-3 min)
START_TIMEOUT = 1200.0
TOTALS = {"measures": ["Orders.count", "Orders.total_revenue"]}


def state_dir() -> Path:
    """Where the one demo of this user keeps its state (see the module docstring)."""
    explicit = os.environ.get("FLOE_DEMO_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "floe-checks" / "demo"


def interval_to_cron(text: str) -> str:
    """``5m`` → ``*/5 * * * *``; ``1h`` → ``0 */1 * * *``; ``1d`` → ``0 0 * * *``.

    Cron fires on clock boundaries, so an interval must divide the hour (minutes) or the day
    (hours): ``7m`` would fire at :00, :07 … :56 and again at :00, four minutes later.

    Raises:
        IntervalNotSchedulable: anything else, naming ``--interval``.
    """
    match = re.fullmatch(r"(\d+)([mhd])", text.strip())
    value = int(match.group(1)) if match else 0
    unit = match.group(2) if match else ""
    if unit == "m" and value > 0 and 60 % value == 0:
        return f"*/{value} * * * *" if value < 60 else "0 * * * *"
    if unit == "h" and value > 0 and 24 % value == 0:
        return f"0 */{value} * * *" if value < 24 else "0 0 * * *"
    if unit == "d" and value == 1:
        return "0 0 * * *"
    raise IntervalNotSchedulable(f"--interval {text!r} is not a schedule cron can keep")


@dataclass(frozen=True)
class DemoOptions:
    """What ``floe demo up`` was asked for."""

    rate: str = "burst"
    interval: str = "5m"
    orders: int = 300

    def demo_settings(self) -> dict[str, str]:
        """The ``FLOE_DEMO_*`` values the local stack runs the demo with."""
        if self.orders < 1:
            raise OrdersTooFew("--orders must be at least 1")
        return {
            "FLOE_DEMO_SCHEDULE": interval_to_cron(self.interval),
            "FLOE_DEMO_BATCH_ORDERS": str(self.orders),
            "FLOE_DEMO_RATE": self.rate,
        }


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class LiveDemo:
    """The demo of one state folder."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or state_dir()
        self.state_path = self.directory / STATE_FILE

    # -- state -----------------------------------------------------------------------------

    def read_state(self) -> dict[str, Any] | None:
        """The state file's content, or ``None`` when there is none (or it is unreadable)."""
        try:
            data: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def _write_state(self, state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=1)
        tmp.replace(self.state_path)  # atomic: a reader never sees half a file

    def running(self) -> dict[str, Any] | None:
        """The state of a demo whose ``up`` process is alive, else ``None``."""
        state = self.read_state()
        if state and _alive(int(state.get("pid", 0))):
            return state
        return None

    # -- up --------------------------------------------------------------------------------

    def up(self, options: DemoOptions, out: TextIO, first_batch: bool = True) -> int:
        """Start the stack and the page, print the URLs, stay until Ctrl-C/SIGTERM; exit code."""
        from floe_checks.ports import free_port
        from floe_checks.servers.demo_page import SECRET_VAR
        from floe_checks.servers.process import ManagedProcess
        from floe_checks.stack.local import LocalProvider

        settings = options.demo_settings()
        other = self.running()
        if other is not None:
            print(self._already(other), file=sys.stderr)
            return 1
        self._clean_leftovers()
        provider = LocalProvider(settings)
        state: dict[str, Any] = {
            "pid": os.getpid(),
            "phase": "starting",
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "options": {
                "rate": options.rate,
                "interval": options.interval,
                "orders": options.orders,
            },
        }
        self._write_state(state)
        page: ManagedProcess | None = None
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            workdir = self.directory / "stack"
            print(f"floe demo: starting the local stack in {workdir} …", file=out, flush=True)
            endpoints = provider.start(workdir)
            secret = endpoints.cube_api_secret
            page_port = free_port()
            page = ManagedProcess(
                "demo-page",
                [
                    sys.executable,
                    "-m",
                    "floe_checks.servers.demo_page",
                    "--port",
                    str(page_port),
                    "--cube-url",
                    endpoints.cube_url,
                    "--dagster-url",
                    endpoints.dagster_url,
                ],
                log_path=workdir / "logs" / "demo-page.log",
                env={**os.environ, SECRET_VAR: secret.get_secret_value() if secret else ""},
            ).start()
            page_url = f"http://127.0.0.1:{page_port}/"
            page.wait_ready(lambda: _http_ok(f"{page_url}healthz"), 30)
            state.update(
                phase="running",
                urls={
                    "page": page_url,
                    "dagster": endpoints.dagster_url,
                    "cube": endpoints.cube_url,
                },
                cube_secret=secret.get_secret_value() if secret else None,
                page={"pid": page.pid, "signal": int(page.stop_signal)},
                provider=provider.state(),
                schedule=settings["FLOE_DEMO_SCHEDULE"],
            )
            self._write_state(state)
            run_id = self._dagster(state).launch_run(JOB) if first_batch else None
            print(self._banner(state, run_id), file=out, flush=True)

            def dead() -> list[str]:
                return [
                    r["name"] for r in provider.state()["processes"] if not _alive(int(r["pid"]))
                ]

            # until Ctrl-C / SIGTERM (KeyboardInterrupt), or until a service dies on its own
            stopped = wait_until(dead, timeout=math.inf, interval=1.0)
            if stopped:
                print(
                    f"floe demo: {', '.join(stopped)} stopped on its own; stopping the demo "
                    f"(logs in {workdir / 'logs'})",
                    file=sys.stderr,
                )
            return 1
        except KeyboardInterrupt:
            print("floe demo: stopping …", file=out, flush=True)
            return 0
        finally:
            if page is not None:
                page.stop()
            provider.stop()
            with contextlib.suppress(FileNotFoundError):
                self.state_path.unlink()
            signal.signal(signal.SIGTERM, previous)
            print("floe demo: stopped", file=out, flush=True)

    def up_detached(self, options: DemoOptions, argv: list[str], out: TextIO) -> int:
        """Run ``up`` (``argv`` without ``--detach``) in its own session; wait until it runs."""
        import subprocess

        options.demo_settings()  # bad options fail here, not in the background
        other = self.running()
        if other is not None:
            print(self._already(other), file=sys.stderr)
            return 1
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / LOG_FILE
        with open(log, "wb") as handle:
            child = subprocess.Popen(
                [sys.executable, "-m", "floe_checks.cli", *argv],
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "FLOE_DEMO_STATE_DIR": str(self.directory)},
            )

        def running_or_exited() -> dict[str, Any] | None:
            state = self.read_state()
            if state and state.get("pid") == child.pid and state.get("phase") == "running":
                return state
            return {} if child.poll() is not None else None

        state = wait_until(running_or_exited, timeout=START_TIMEOUT, interval=0.5)
        if state:
            print(self._banner(state, None), file=out)
            print(
                f"floe demo: running in the background (pid {child.pid}, log {log}); "
                "stop it with: floe demo down",
                file=out,
            )
            return 0
        if state is None:  # still starting after START_TIMEOUT: stop it (its finally cleans up)
            os.kill(child.pid, signal.SIGTERM)
            child.wait(timeout=180)
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
        print("floe demo: up failed:\n" + "\n".join(tail), file=sys.stderr)
        return 1

    # -- down ------------------------------------------------------------------------------

    def down(self, out: TextIO, timeout: float = 90.0) -> int:
        """Stop the demo of this state folder; exit code 0 also when none runs."""
        state = self.read_state()
        if state is None:
            print(f"floe demo: no demo is running (state folder {self.directory})", file=out)
            return 0
        pid = int(state.get("pid", 0))
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            if wait_until(lambda: not _alive(pid), timeout=timeout, interval=0.2):
                print(f"floe demo: stopped (pid {pid})", file=out)
                return 0
            print(
                f"floe demo: pid {pid} did not stop in {timeout:.0f} s; stopping its "
                "processes by PID",
                file=sys.stderr,
            )
            os.kill(pid, signal.SIGKILL)
        self._clean_leftovers()
        print("floe demo: stopped what the state named", file=out)
        return 0

    def _clean_leftovers(self) -> None:
        """Stop what a dead ``up`` left (its page and its stack), by the PIDs in the state."""
        from floe_checks.stack.local import LocalProvider, stop_live_group

        state = self.read_state()
        if state is None or _alive(int(state.get("pid", 0))):
            return
        if state.get("page"):
            stop_live_group(int(state["page"]["pid"]), int(state["page"]["signal"]), timeout=10)
        if state.get("provider"):
            LocalProvider.restore(state["provider"]).stop()
        with contextlib.suppress(FileNotFoundError):
            self.state_path.unlink()

    # -- status and trigger ----------------------------------------------------------------

    def status(self, out: TextIO) -> int:
        """Print what runs, the last batches, the next tick and Cube's totals; 0 when running."""
        state = self.running()
        if state is None or state.get("phase") != "running":
            what = "is starting" if state else "is running"
            print(
                f"floe demo: no demo {what} (state folder {self.directory}); start one with: "
                "floe demo up",
                file=out,
            )
            return 3 if state is None else 0
        dagster = self._dagster(state)
        print(f"floe demo: running since {state['started']} (pid {state['pid']})", file=out)
        for name, url in state["urls"].items():
            print(f"  {name:<8} {url}", file=out)
        processes = state["provider"]["processes"]
        alive = [p["name"] for p in processes if _alive(int(p["pid"]))]
        print(f"  processes {len(alive)}/{len(processes)} alive: {', '.join(alive)}", file=out)
        print(
            f"  schedule  {state['schedule']} (UTC), next tick {next_tick(state['schedule'])}",
            file=out,
        )
        print("  last batches:", file=out)
        runs = dagster.runs(JOB, limit=5)
        if not runs:
            print("    none yet", file=out)
        for run in runs:
            print(f"    {_run_line(run)}", file=out)
        totals = self._totals(state)
        if totals is None:
            print("  Cube: no batch has reached the marts yet", file=out)
        else:
            print(f"  Cube: {totals[0]} orders, revenue {totals[1]}", file=out)
        return 0

    def trigger(self, out: TextIO, orders: int | None = None) -> int:
        """One more batch now, through Dagster's API; print how Cube's totals moved."""
        state = self.running()
        if state is None or state.get("phase") != "running":
            print(
                f"floe demo: no demo is running (state folder {self.directory}); start one "
                "with: floe demo up",
                file=sys.stderr,
            )
            return 1
        if orders is not None and orders < 1:
            raise OrdersTooFew("--orders must be at least 1")
        dagster = self._dagster(state)
        before = self._totals(state) or ("0", "0")
        config = {"ops": {"ecommerce_raw": {"config": {"orders": orders}}}} if orders else None
        run_id = dagster.launch_run(JOB, config)
        print(f"floe demo: launched run {run_id} of {JOB}", file=out, flush=True)
        status = dagster.wait_for_run(run_id, RUN_TIMEOUT)
        if status != "SUCCESS":
            errors = "\n".join(dagster.run_failure_messages(run_id)[-5:])
            print(f"floe demo: run {run_id} ended {status}:\n{errors}", file=sys.stderr)
            return 1
        self._cube(state).run_pre_aggregation_jobs(timeout=180)
        after = self._totals(state) or ("0", "0")
        print(
            f"floe demo: run {run_id} SUCCESS; Cube orders {before[0]} → {after[0]}, "
            f"revenue {before[1]} → {after[1]}",
            file=out,
        )
        return 0

    # -- helpers ---------------------------------------------------------------------------

    def _dagster(self, state: dict[str, Any]) -> Any:
        from floe_checks.clients.dagster import DagsterClient

        return DagsterClient(state["urls"]["dagster"])

    def _cube(self, state: dict[str, Any]) -> Any:
        from pydantic import SecretStr

        from floe_checks.clients.cube import CubeClient

        return CubeClient(state["urls"]["cube"], SecretStr(state["cube_secret"] or ""))

    def _totals(self, state: dict[str, Any]) -> tuple[str, str] | None:
        """Cube's order count and revenue; ``None`` before the first successful batch (the
        marts Cube reads do not exist yet)."""
        from floe_checks.servers.demo_page import latest_success

        if latest_success(self._dagster(state)) is None:
            return None
        (row,) = self._cube(state).load(TOTALS, renew=True)["data"]
        return str(row["Orders.count"]), str(row["Orders.total_revenue"])

    def _already(self, state: dict[str, Any]) -> str:
        where = ", ".join(f"{k} {v}" for k, v in (state.get("urls") or {}).items())
        return (
            f"floe demo: a demo already runs (pid {state['pid']}, {state.get('phase')}, since "
            f"{state.get('started')}{'; ' + where if where else ''}). Stop it with: floe demo "
            f"down (state folder {self.directory})"
        )

    def _banner(self, state: dict[str, Any], run_id: str | None) -> str:
        urls = state["urls"]
        lines = [
            "floe demo: running",
            f"  live page  {urls['page']}",
            f"  Dagster UI {urls['dagster']}",
            f"  Cube API   {urls['cube']}/cubejs-api/v1",
            f"  schedule   {state['schedule']} (UTC), next tick {next_tick(state['schedule'])}",
            f"  logs       {self.directory / 'stack' / 'logs'}",
        ]
        if run_id:
            lines.append(f"  first batch: run {run_id}")
        lines.append("Ctrl-C stops everything (or, from another shell: floe demo down)")
        return "\n".join(lines)


def next_tick(cron: str, now: datetime | None = None) -> str:
    """The next time (UTC, ISO) a ``*/N``-minute or ``0 */N``-hour cron from
    :func:`interval_to_cron` fires."""
    now = now or datetime.now(UTC)
    minute, hour = cron.split()[:2]
    base = now.replace(second=0, microsecond=0)
    step_minutes = 60 * 24
    if minute.startswith("*/"):
        step_minutes = int(minute[2:])
    elif hour.startswith("*/"):
        step_minutes = 60 * int(hour[2:])
    elif hour == "*":
        step_minutes = 60
    midnight = base.replace(hour=0, minute=0)
    elapsed = int((base - midnight).total_seconds() // 60)
    following = (elapsed // step_minutes + 1) * step_minutes
    from datetime import timedelta

    return (midnight + timedelta(minutes=following)).isoformat(timespec="minutes")


def _run_line(run: dict[str, Any]) -> str:
    start, end = run.get("startTime"), run.get("endTime")
    when = datetime.fromtimestamp(float(start), UTC).isoformat(timespec="seconds") if start else "-"
    took = f"{float(end) - float(start):.0f} s" if start and end else "running"
    return f"{when}  {run['status']:<8} {took:>8}  {run['runId']}"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _http_ok(url: str) -> bool:
    import requests

    return requests.get(url, timeout=2).status_code == 200
