"""Dagster webserver and daemon on a code location, as local processes.

Storage is PostgreSQL (``dagster-postgres``) through a ``dagster.yaml`` written into the
``DAGSTER_HOME`` given; the password stays out of the file (``env: DAGSTER_PG_PASSWORD``).
Telemetry is off. Dagster treats SIGTERM like SIGINT but a background child of a
non-interactive shell ignores both, so each process starts in its own session and is
stopped with SIGINT to its process group (PLATFORM.md).
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
from pydantic import SecretStr

from floe_checks.errors import ExtraMissing
from floe_checks.ports import free_port
from floe_checks.servers.process import ManagedProcess

PASSWORD_VAR = "DAGSTER_PG_PASSWORD"


@dataclass(frozen=True)
class DagsterStorage:
    """The Postgres database Dagster keeps runs, events and schedules in."""

    host: str
    port: int
    database: str
    user: str
    password: SecretStr


def write_instance_yaml(dagster_home: Path, storage: DagsterStorage) -> Path:
    """Write ``dagster.yaml``: Postgres storage, telemetry off. Returns its path."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": storage.host,
                    "port": storage.port,
                    "db_name": storage.database,
                    "username": storage.user,
                    "password": {"env": PASSWORD_VAR},
                    # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; we ship psycopg2.
                    "scheme": "postgresql+psycopg2",
                }
            }
        },
        "telemetry": {"enabled": False},
        # Runs launched through GraphQL start at once (no queue), in the webserver's group.
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "DefaultRunCoordinator",
        },
    }
    path = dagster_home / "dagster.yaml"
    # JSON is YAML; no yaml dependency needed for writing.
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path


def _venv_tool(name: str) -> str:
    """A console script of this interpreter's environment (the venv), else from PATH."""
    candidate = Path(sys.executable).with_name(name)
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ExtraMissing(
            f"{name} not found", extra="demo", alternative=" (or run scripts/setup.sh)"
        )
    return found


@dataclass
class DagsterServers:
    """``dagster-webserver`` and ``dagster-daemon`` on one module's definitions.

    Args:
        dagster_home: ``DAGSTER_HOME`` (``dagster.yaml`` is written there).
        log_dir: where ``dagster-webserver.log`` and ``dagster-daemon.log`` go.
        storage: the Postgres database for Dagster's storage.
        module: the code location module (``-m``), e.g. ``floe_demo.definitions``.
        env: extra environment for both processes and the runs they launch.
    """

    dagster_home: Path
    log_dir: Path
    storage: DagsterStorage
    module: str
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    webserver: ManagedProcess | None = None
    daemon: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)
        env = dict(self.env)
        env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"  # dagster-dbt needs dbt on PATH
        env["DAGSTER_HOME"] = str(self.dagster_home)
        env[PASSWORD_VAR] = self.storage.password.get_secret_value()
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return env

    def launch(self) -> DagsterServers:
        """Start both processes without waiting (see :meth:`wait_ready`)."""
        write_instance_yaml(self.dagster_home, self.storage)
        env = self.environment()
        self.webserver = ManagedProcess(
            "dagster-webserver",
            [
                _venv_tool("dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                self.module,
            ],
            log_path=self.log_dir / "dagster-webserver.log",
            env=env,
            cwd=self.dagster_home,
            stop_signal=signal.SIGINT,
        ).start()
        self.daemon = ManagedProcess(
            "dagster-daemon",
            [_venv_tool("dagster-daemon"), "run", "-m", self.module],
            log_path=self.log_dir / "dagster-daemon.log",
            env=env,
            cwd=self.dagster_home,
            stop_signal=signal.SIGINT,
        ).start()
        return self

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait for ``/server_info`` and for the daemon's scheduler heartbeat."""
        assert self.webserver is not None
        assert self.daemon is not None
        self.webserver.wait_ready(self._server_info_ok, timeout)
        self.daemon.wait_ready(self._scheduler_healthy, timeout)

    def _server_info_ok(self) -> bool:
        return requests.get(f"{self.url}/server_info", timeout=2).status_code == 200

    def _scheduler_healthy(self) -> bool:
        from floe_checks.clients.dagster import DagsterClient

        return DagsterClient(self.url, timeout=5).daemon_health().get("SCHEDULER", False)

    def processes(self) -> list[ManagedProcess]:
        return [p for p in (self.daemon, self.webserver) if p is not None]

    def stop(self) -> None:
        for process in self.processes():
            process.stop()
