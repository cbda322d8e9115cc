"""A throwaway PostgreSQL cluster on a free loopback port (``initdb`` + ``postgres``).

Password authentication is on for TCP (scram-sha-256), so wrong credentials really fail.
As root, the server runs as the ``postgres`` user, as PostgreSQL requires.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from floe_checks.errors import PostgresMissing
from floe_checks.ports import free_port, is_listening
from floe_checks.servers.process import ManagedProcess

SUPERUSER = "postgres"


def find_pg_bin(name: str) -> str:
    """Path of a PostgreSQL server binary (PATH first, then Debian's versioned folders)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise PostgresMissing(f"PostgreSQL server binary {name!r} not found")


@dataclass
class PostgresServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``password`` is random per cluster."""

    base_dir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    process: ManagedProcess | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    def _run_as(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def start(self, timeout: float = 30.0) -> PostgresServer:
        initdb, postgres = find_pg_bin("initdb"), find_pg_bin("postgres")
        self.base_dir.mkdir(parents=True, exist_ok=True)
        sock_dir = self.base_dir / "sock"
        sock_dir.mkdir(exist_ok=True)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n", encoding="utf-8")
        user = self._run_as()
        if user:
            for path in (self.base_dir, sock_dir, pwfile):
                shutil.chown(path, user=user, group=None)
        if not self.data_dir.exists():
            subprocess.run(
                [
                    initdb,
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                ],
                check=True,
                capture_output=True,
                user=user,
                cwd=self.base_dir,
            )
        pwfile.unlink()
        self.process = ManagedProcess(
            "postgres",
            [
                postgres,
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={sock_dir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            log_path=self.base_dir / "postgres.log",
            stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM waits for clients
            cwd=self.base_dir,
        )
        if user:
            self.process.log_path.touch()
            shutil.chown(self.process.log_path, user=user, group=None)
        self._start_process(user)
        self.process.wait_ready(lambda: is_listening(self.port), timeout)
        return self

    def _start_process(self, user: str | None) -> None:
        assert self.process is not None
        if user is None:
            self.process.start()
            return
        # Popen(user=...) drops privileges in the child, so the PID we keep is postgres itself.
        log = self.process.log_path.open("ab")
        try:
            self.process.popen = subprocess.Popen(
                list(self.process.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=user,
                cwd=self.base_dir,
            )
        finally:
            log.close()

    def dsn(
        self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None
    ) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{user}:{pw}@{self.host}:{self.port}/{database}"

    def execute(self, *statements: str, database: str = "postgres") -> str:
        """Run statements as the superuser over the unix socket, each in its own transaction
        (so CREATE DATABASE works); returns psql's output. No psycopg2 needed."""
        psql = shutil.which("psql") or find_pg_bin("psql")
        argv = [
            psql,
            "-h",
            str(self.base_dir / "sock"),
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-tA",
        ]
        for sql in statements:
            argv += ["-c", sql]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@contextlib.contextmanager
def throwaway_postgres(prefix: str = "floe-pg-") -> Iterator[PostgresServer]:
    """A started cluster in a fresh temp dir; stopped and removed on exit, even on failure.

    The dir is not under pytest's tmp dir: that is private to root, and as root the server
    runs as ``postgres``.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    server = PostgresServer(base)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
