"""The ``local`` stack: every service as a process on this machine, on free loopback ports.

* a throwaway PostgreSQL cluster with two databases: ``dagster`` (Dagster's storage) and
  ``floe`` (the warehouse: the raw copy, dbt's staging/intermediate/marts and Cube's rollups);
* Dagster webserver and daemon on ``floe_demo.definitions``;
* Cube 0.33.65 from ``demo/cube`` (API with the refresh worker on, see
  :mod:`floe_checks.servers.cube`);
* Jaeger (:mod:`floe_checks.servers.jaeger`, in-memory storage) for the demo's OTLP spans: one
  trace per pipeline run, its ID the run's. Where Jaeger is not built (scripts/build-jaeger.sh),
  the stack runs without it and exports no spans; the e2e tracing tests then skip saying so;
* a receiver for the demo's OpenLineage events (:mod:`floe_checks.servers.telemetry_receiver`;
  Marquez cannot be assembled here, see docs/emulators.md).

The demo reads its settings from environment variables (the contract in docs/demo.md); the
data path is generator → Iceberg (SQL catalog in the workdir) → Postgres ``raw`` → dbt-postgres
→ marts that Cube reads. docs/local-stack.md explains why the marts live in Postgres.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from floe_checks.checkout import checkout_root, require
from floe_checks.errors import PrerequisiteMissing
from floe_checks.polling import wait_until
from floe_checks.ports import free_port
from floe_checks.servers.process import ManagedProcess
from floe_checks.stack.base import StackEndpoints, WarehouseEndpoint

if TYPE_CHECKING:
    from floe_checks.config import Environment
    from floe_checks.servers.jaeger import JaegerServer

REPO_ROOT = checkout_root()
CUBE_DIR = REPO_ROOT / "demo" / "cube"
DEMO_MODULE = "floe_demo.definitions"
WAREHOUSE_DB = "floe"
DAGSTER_DB = "dagster"
MARTS_SCHEMA = "analytics"
# Cube keeps its rollup tables here (CUBEJS_PRE_AGGREGATIONS_SCHEMA). Created before Cube
# starts: Cube's refresh worker and a /pre-aggregations/jobs build each run
# `CREATE SCHEMA IF NOT EXISTS`, and two of those at once on a missing schema fail one build
# with `duplicate key value violates unique constraint "pg_namespace_nspname_index"`.
PRE_AGGREGATIONS_SCHEMA = "floe_pre_aggregations"
NAMESPACE = "raw"
# Marker in the environment of every process the stack starts: the final sweep finds any
# descendant that escaped its process group by it.
MARKER_VAR = "FLOE_STACK_MARKER"
# The schedule must exist and run, but must not fire during a test session: it would add a
# batch behind the tests' back. Midnight on 1 January.
TEST_SCHEDULE = "0 0 1 1 *"

# The demo's settings for an end-to-end run: small batches, defects certain to appear.
DEMO_SETTINGS = {
    "FLOE_DEMO_NAMESPACE": NAMESPACE,
    "FLOE_DEMO_SEED": "20261125",
    "FLOE_DEMO_BATCH_ORDERS": "300",
    "FLOE_DEMO_RATE": "burst",
    "FLOE_DEMO_SCHEDULE": TEST_SCHEDULE,
    "FLOE_DEMO_NULL_RATE": "0.05",
    "FLOE_DEMO_DUPLICATE_RATE": "0.05",
    "FLOE_DEMO_LATE_RATE": "0.05",
    "FLOE_DEMO_DBT_TARGET": "postgres",
}
# Kept from the caller's environment: run the suite against a modified copy of the dbt
# project (e.g. to see which tests catch a broken dedupe).
PASS_THROUGH = {"FLOE_DEMO_DBT_PROJECT_DIR"}
LOG_TAIL_LINES = 60
LOG_TAIL_CHARS = 6000


class LocalProvider:
    """Starts and stops the local stack. ``state``/``restore`` let another process stop it."""

    name = "local"

    def __init__(self, demo_settings: Mapping[str, str] | None = None) -> None:
        """A stack not started yet.

        Args:
            demo_settings: ``FLOE_DEMO_*`` values that replace the end-to-end ones in
                :data:`DEMO_SETTINGS` (``floe demo up`` sets the real schedule, the batch size
                and the rate; docs/demo.md lists the variables).
        """
        unknown = sorted(set(demo_settings or {}) - set(DEMO_SETTINGS))
        if unknown:
            raise ValueError(f"not demo settings of the local stack: {', '.join(unknown)}")
        self.demo_settings = {**DEMO_SETTINGS, **(demo_settings or {})}
        self.workdir: Path | None = None
        self.marker = uuid.uuid4().hex
        self._processes: list[dict[str, Any]] = []  # name, pid, signal, log (start order)
        self._secrets: list[str] = []
        self._cleanup: list[str] = []  # folders outside the workdir, removed by stop()
        self.jaeger_missing = ""  # why the stack runs without Jaeger, if it does

    # -- state -----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What another process needs to stop or diagnose this stack (has secrets: 0600)."""
        return {
            "workdir": str(self.workdir) if self.workdir else None,
            "marker": self.marker,
            "processes": list(self._processes),
            "secrets": list(self._secrets),
            "cleanup": list(self._cleanup),
            "demo_settings": dict(self.demo_settings),
        }

    @classmethod
    def create(cls, environment: Environment | None) -> LocalProvider:
        """A new local stack; it needs no environment (it makes its own services)."""
        return cls()

    @classmethod
    def restore(cls, state: dict[str, Any]) -> LocalProvider:
        """A provider for a stack another process started (see :meth:`state`)."""
        provider = cls(state.get("demo_settings"))
        provider.workdir = Path(state["workdir"]) if state.get("workdir") else None
        provider.marker = state["marker"]
        provider._processes = list(state.get("processes") or [])
        provider._secrets = list(state.get("secrets") or [])
        provider._cleanup = list(state.get("cleanup") or [])
        return provider

    def _record(self, process: ManagedProcess) -> None:
        self._processes.append(
            {
                "name": process.name,
                "pid": process.pid,
                "signal": int(process.stop_signal),
                "log": str(process.log_path),
            }
        )

    # -- start -----------------------------------------------------------------------------

    def start(self, workdir: Path) -> StackEndpoints:
        """Start every service, wait for its health endpoint, return the endpoints.

        On any failure everything already started is stopped before the error propagates.
        """
        from floe_checks.servers.cube import CubeDatabase, CubeServer
        from floe_checks.servers.dagster import DagsterServers, DagsterStorage
        from floe_checks.servers.postgres import PostgresServer

        # Cube's model and npm packages live in the checkout, not in the wheel
        require("demo", "cube", "model", what="the local stack (Cube's data model)")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        logs = workdir / "logs"
        telemetry_dir = workdir / "telemetry"
        demo_home = workdir / "demo-home"
        for folder in (logs, telemetry_dir, demo_home):
            folder.mkdir(parents=True, exist_ok=True)
        try:
            # As root the server runs as user postgres, which cannot enter pytest's 0700
            # temp root: its cluster lives in a folder of its own under the system temp dir.
            pg_dir = Path(tempfile.mkdtemp(prefix="floe-stack-pg-"))
            self._cleanup.append(str(pg_dir))
            postgres = PostgresServer(pg_dir).start()
            assert postgres.process is not None
            self._record(postgres.process)
            self._secrets.append(postgres.password)
            postgres.execute(f"CREATE DATABASE {DAGSTER_DB}", f"CREATE DATABASE {WAREHOUSE_DB}")
            postgres.execute(f"CREATE SCHEMA {PRE_AGGREGATIONS_SCHEMA}", database=WAREHOUSE_DB)
            password = SecretStr(postgres.password)

            receiver_port = free_port()
            receiver = ManagedProcess(
                "telemetry-receiver",
                [
                    sys.executable,
                    "-m",
                    "floe_checks.servers.telemetry_receiver",
                    "--port",
                    str(receiver_port),
                    "--out",
                    str(telemetry_dir),
                ],
                log_path=logs / "telemetry-receiver.log",
                env=self._base_env(),
            ).start()
            self._record(receiver)
            receiver_url = f"http://127.0.0.1:{receiver_port}"
            tracing = self._start_jaeger(workdir / "jaeger")

            warehouse = WarehouseEndpoint(
                host=postgres.host,
                port=postgres.port,
                user="postgres",
                password=password,
                database=WAREHOUSE_DB,
                schema=MARTS_SCHEMA,
            )
            demo_env = {
                **self._base_env(),
                **self.demo_settings,
                "FLOE_DEMO_HOME": str(demo_home),
                "FLOE_DEMO_CATALOG_URI": f"sqlite:///{demo_home}/catalog.db",
                "FLOE_DEMO_WAREHOUSE": f"file://{demo_home}/warehouse",
                "FLOE_WAREHOUSE_HOST": warehouse.host,
                "FLOE_WAREHOUSE_PORT": str(warehouse.port),
                "FLOE_WAREHOUSE_USER": warehouse.user,
                "FLOE_WAREHOUSE_PASSWORD": password.get_secret_value(),
                "FLOE_WAREHOUSE_DB": warehouse.database,
                "FLOE_WAREHOUSE_SCHEMA": warehouse.schema,
                "OPENLINEAGE_URL": receiver_url,
                "OTEL_SERVICE_NAME": "floe-demo",
            }
            if tracing is not None:
                demo_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = tracing.otlp_endpoint
            dagster = DagsterServers(
                dagster_home=workdir / "dagster-home",
                log_dir=logs,
                storage=DagsterStorage(
                    postgres.host, postgres.port, DAGSTER_DB, "postgres", password
                ),
                module=DEMO_MODULE,
                env=demo_env,
            ).launch()
            for process in dagster.processes():
                self._record(process)

            api_secret = SecretStr(secrets.token_hex(32))
            playground_secret = SecretStr(secrets.token_hex(32))
            self._secrets += [api_secret.get_secret_value(), playground_secret.get_secret_value()]
            cube = CubeServer(
                cube_dir=CUBE_DIR,
                log_dir=logs,
                database=CubeDatabase(
                    warehouse.host, warehouse.port, WAREHOUSE_DB, "postgres", password
                ),
                api_secret=api_secret,
                playground_secret=playground_secret,
                pre_aggregations_schema=PRE_AGGREGATIONS_SCHEMA,
                extra_env={MARKER_VAR: self.marker},
            )
            # The warehouse's transaction counter just before Cube's process exists: the
            # pre-aggregation schema's xmin must be below it (e2e checks the start order).
            txid_before_cube = postgres.execute(
                "SELECT pg_current_xact_id()", database=WAREHOUSE_DB
            ).strip()
            try:
                cube.start()
            finally:
                if cube.process is not None and cube.process.popen is not None:
                    self._record(cube.process)
            receiver.wait_ready(lambda: _http_ok(f"{receiver_url}/healthz"), 30)
            dagster.wait_ready(timeout=180)
        except BaseException:
            self.stop()
            raise
        return StackEndpoints(
            provider=self.name,
            cube_url=cube.url,
            cube_api_secret=api_secret,
            cube_playground_secret=playground_secret,
            dagster_url=dagster.url,
            warehouse=warehouse,
            catalog={
                "type": "sql",
                "uri": demo_env["FLOE_DEMO_CATALOG_URI"],
                "warehouse": demo_env["FLOE_DEMO_WAREHOUSE"],
                "namespace": NAMESPACE,
            },
            extras={
                "workdir": str(workdir),
                "logs": str(logs),
                "openlineage_file": str(telemetry_dir / "openlineage.jsonl"),
                **({"jaeger_url": tracing.query_url} if tracing is not None else {}),
                **({"jaeger_missing": self.jaeger_missing} if self.jaeger_missing else {}),
                "schedule_cron": self.demo_settings["FLOE_DEMO_SCHEDULE"],
                "batch_orders": self.demo_settings["FLOE_DEMO_BATCH_ORDERS"],
                "postgres_log": str(pg_dir / "postgres.log"),
                "pre_aggregations_schema": PRE_AGGREGATIONS_SCHEMA,
                "txid_before_cube": txid_before_cube,
            },
        )

    def _start_jaeger(self, base_dir: Path) -> JaegerServer | None:
        """Jaeger for the demo's spans, or None (and why in ``jaeger_missing``) where it is not
        built: tracing is optional for the stack, the pipeline is not."""
        from floe_checks.servers.jaeger import JaegerServer

        server = JaegerServer(base_dir, env=self._base_env())
        try:
            server.start()
        except PrerequisiteMissing as exc:
            self.jaeger_missing = f"{exc}; {exc.remediation}"
            return None
        finally:
            if server.process is not None and server.process.popen is not None:
                self._record(server.process)
        return server

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # pytest/xdist variables must not leak into the servers (PYTEST_XDIST_WORKER, …).
        for key in list(env):
            if key.startswith(("PYTEST_", "FLOE_DEMO_", "CUBEJS_")) and key not in PASS_THROUGH:
                del env[key]
        env[MARKER_VAR] = self.marker
        return env

    # -- stop ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every recorded process group (newest first), then sweep for stragglers."""
        for record in reversed(self._processes):
            stop_live_group(int(record["pid"]), int(record["signal"]), timeout=20)
        self._processes = []
        sweep_marked_processes(self.marker)
        if self.workdir is not None:
            # keep the Postgres log with the others for a post-mortem
            for folder in self._cleanup:
                log = Path(folder) / "postgres.log"
                with contextlib.suppress(OSError):  # the workdir may be gone already
                    shutil.copy(log, self.workdir / "logs" / "postgres.log")
        for folder in self._cleanup:
            shutil.rmtree(folder, ignore_errors=True)
        self._cleanup = []

    # -- diagnostics -----------------------------------------------------------------------

    def diagnostics(self) -> dict[str, str]:
        """The tail of each service's log, secrets redacted."""
        sections: dict[str, str] = {}
        logs = [(r["name"], Path(r["log"])) for r in self._processes]
        if not logs and self.workdir is not None:
            logs = [(p.stem, p) for p in sorted((self.workdir / "logs").glob("*.log"))]
        for name, path in logs:
            sections[f"{name} log ({path})"] = self._redact(tail(path))
        return sections

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def tail(path: Path, lines: int = LOG_TAIL_LINES, chars: int = LOG_TAIL_CHARS) -> str:
    """The last lines of a log file, at most ``chars`` characters (Cube logs long JSON)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read {path}: {exc.strerror})"
    out = "\n".join(text.splitlines()[-lines:])
    return out[-chars:]


def _http_ok(url: str) -> bool:
    import requests

    return requests.get(url, timeout=2).status_code == 200


def sweep_marked_processes(marker: str, timeout: float = 5.0) -> list[int]:
    """SIGKILL any process whose environment carries the stack's marker; returns their PIDs.

    A Dagster run worker or code server that started its own session would escape the
    process-group stop; this finds it anyway.
    """
    needle = f"{MARKER_VAR}={marker}".encode()
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)

    def all_gone() -> bool:
        return not [pid for pid in found if Path(f"/proc/{pid}").exists() and not _zombie(pid)]

    if found:
        wait_until(all_gone, timeout=timeout)
    return found


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def stop_live_group(pgid: int, sig: int, timeout: float = 20.0) -> None:
    """Signal a process group, wait until no live member is left, then SIGKILL the rest.

    Unlike waiting on ``killpg(pgid, 0)``, a zombie leader does not count: when another
    xdist worker started the stack, only that worker could reap it.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)

    def gone() -> bool:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pgid, os.WNOHANG)  # reap it when it is our own child
        return not _group_members(pgid)

    if wait_until(gone, timeout=timeout):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
