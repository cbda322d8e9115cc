"""Cube 0.33.65 from ``demo/cube`` as one local process: the REST API with the refresh worker on.

Cube 0.33 has no listen-address option, so it is started as
``node -r ./loopback.js node_modules/@cubejs-backend/server/bin/server``; the preload forces
``127.0.0.1`` in ``net.Server.listen``. Production mode with the in-memory cache and queue
driver (dev mode would try to download Cube Store); pre-aggregations are stored in the source
Postgres (``CUBEJS_EXTERNAL_DEFAULT=false``). Telemetry is off.

Why one process and not an API instance plus a separate refresh worker: with the in-memory
cache and queue driver (the only one without Cube Store) the two processes share nothing.
An API instance that is not a pre-aggregation builder caches the list of rollup tables it
found at its first query and never sees the tables the worker builds later (measured: the
API kept answering "No pre-aggregation partitions were built yet" for minutes). Deployed
stacks share that state through Cube Store; locally the API process runs the refresh worker
itself (``CUBEJS_REFRESH_WORKER=true``), which also lets it build on demand through
``/pre-aggregations/jobs``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import requests
from pydantic import SecretStr

from floe_checks.errors import CubeNotInstalled, NodeMissing
from floe_checks.ports import free_port
from floe_checks.servers.process import ManagedProcess

SERVER_SCRIPT = "node_modules/@cubejs-backend/server/bin/server"


@dataclass(frozen=True)
class CubeDatabase:
    """The Postgres database Cube reads (and keeps its pre-aggregations in)."""

    host: str
    port: int
    name: str
    user: str
    password: SecretStr


@dataclass
class CubeServer:
    """One Cube process serving the REST API and running the refresh worker.

    Args:
        cube_dir: the Cube project (``package.json``, ``node_modules``, ``model/``).
        log_dir: where ``cube.log`` is written.
        database: the source database.
        api_secret: signs API tokens (HS256).
        playground_secret: a token signed with it sees ``usedPreAggregations`` in answers.
        pre_aggregations_schema: schema of the rollup tables in the source database.
    """

    cube_dir: Path
    log_dir: Path
    database: CubeDatabase
    api_secret: SecretStr
    playground_secret: SecretStr
    pre_aggregations_schema: str = "floe_pre_aggregations"
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The process environment: what PLATFORM.md lists, refresh worker on."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CUBEJS_", "NODE_OPTIONS"))
        }
        env.update(
            {
                "NODE_ENV": "production",
                "CUBEJS_DEV_MODE": "false",
                "PORT": str(self.port),
                "CUBEJS_DB_TYPE": "postgres",
                "CUBEJS_DB_HOST": self.database.host,
                "CUBEJS_DB_PORT": str(self.database.port),
                "CUBEJS_DB_NAME": self.database.name,
                "CUBEJS_DB_USER": self.database.user,
                "CUBEJS_DB_PASS": self.database.password.get_secret_value(),
                "CUBEJS_API_SECRET": self.api_secret.get_secret_value(),
                "CUBEJS_PLAYGROUND_AUTH_SECRET": self.playground_secret.get_secret_value(),
                "CUBEJS_SCHEMA_PATH": "model",
                "CUBEJS_CACHE_AND_QUEUE_DRIVER": "memory",
                "CUBEJS_EXTERNAL_DEFAULT": "false",
                "CUBEJS_DEFAULT_API_SCOPES": "meta,data,graphql,jobs",
                "CUBEJS_PG_SQL_PORT": "false",
                "CUBEJS_TELEMETRY": "false",
                "CUBEJS_PRE_AGGREGATIONS_SCHEMA": self.pre_aggregations_schema,
                "CUBEJS_LOG_LEVEL": "info",
            }
        )
        env["CUBEJS_REFRESH_WORKER"] = "true"
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> CubeServer:
        """Start the process and wait until ``/readyz`` answers 200."""
        node = shutil.which("node")
        if node is None:
            raise NodeMissing("node not found on PATH (Cube needs Node.js 20)")
        if not (self.cube_dir / SERVER_SCRIPT).is_file():
            raise CubeNotInstalled(f"Cube is not installed in {self.cube_dir}")
        self.process = ManagedProcess(
            "cube",
            [node, "-r", "./loopback.js", SERVER_SCRIPT],
            log_path=self.log_dir / "cube.log",
            env=self.environment(),
            cwd=self.cube_dir,
        ).start()
        try:
            self.process.wait_ready(self.ready, timeout)
        except BaseException:
            self.process.stop()
            raise
        return self

    def ready(self) -> bool:
        """True when ``/readyz`` answers 200 (it checks the database connection too)."""
        return requests.get(f"{self.url}/readyz", timeout=2).status_code == 200

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
