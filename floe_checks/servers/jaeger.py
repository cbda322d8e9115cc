"""A real Jaeger (v2, all-in-one, in-memory storage) on free loopback ports.

The binary is the one ``scripts/build-jaeger.sh`` builds from the Go module proxy
(``github.com/jaegertracing/jaeger/cmd/jaeger``, pinned by ``tools/jaeger/go.mod``/``go.sum``) into
``${XDG_CACHE_HOME:-~/.cache}/floe-checks/jaeger/<version>/bin/jaeger``: no Jaeger release
binary or image is reachable from our machines.

Jaeger v2 is an OpenTelemetry Collector distribution, and its built-in all-in-one configuration
opens twelve listeners on fixed ports (OTLP, the Jaeger and Zipkin receivers, remote sampling,
expvar, zpages, the collector's own Prometheus metrics, …). :class:`JaegerServer` writes its own
configuration instead, with exactly five listeners, each on ``127.0.0.1`` and a port picked at run
time: OTLP/HTTP, OTLP/gRPC, the query API over HTTP (also the UI) and over gRPC, and the health
check. The collector's own metrics are off (``telemetry.metrics.level: none``) and the query
service does not trace itself. Jaeger has no usage reporting. Stopped by PID (its process group).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe_checks.clients.jaeger import JaegerQuery
from floe_checks.errors import FloeError, PrerequisiteMissing, SetupStepMissing
from floe_checks.polling import wait_until
from floe_checks.ports import free_port
from floe_checks.servers.process import ManagedProcess, http_ok

# Jaeger v2 is published as Go module versions v1.x (its module path has no /v2).
JAEGER_VERSION = "v1.76.0"
BUILD_STEP = "bash scripts/build-jaeger.sh"


def jaeger_binary(version: str = JAEGER_VERSION) -> Path:
    """Where the build script puts the ``jaeger`` binary of ``version`` (it may not be there)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "floe-checks" / "jaeger" / version / "bin" / "jaeger"


def find_binary(version: str = JAEGER_VERSION) -> Path:
    """The built ``jaeger`` binary of ``version``.

    Raises:
        PrerequisiteMissing: the build script has not run (or did not finish).
    """
    binary = jaeger_binary(version)
    if not os.access(binary, os.X_OK):
        raise SetupStepMissing(
            f"Jaeger {version} is not built at {binary}",
            step=BUILD_STEP.removeprefix("bash "),
            why="it builds Jaeger from the Go module proxy; about 9 CPU-minutes when Go's build "
            "cache is cold",
        )
    return binary


@dataclass
class JaegerServer:
    """One Jaeger with in-memory storage. Start with :meth:`start`, stop with :meth:`stop`.

    Args:
        base_dir: its configuration and log go here.
        max_traces: the in-memory store keeps at most this many traces.
        version: which built Jaeger to run.
        env: its environment (default: this process's).
    """

    base_dir: Path
    max_traces: int = 10_000
    version: str = JAEGER_VERSION
    otlp_http_port: int = field(default_factory=free_port)
    otlp_grpc_port: int = field(default_factory=free_port)
    query_http_port: int = field(default_factory=free_port)
    query_grpc_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    env: dict[str, str] | None = None
    process: ManagedProcess | None = None
    ready_seconds: float | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def otlp_endpoint(self) -> str:
        """The OTLP/HTTP base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``; traces go to ``/v1/traces``)."""
        return f"http://{self.host}:{self.otlp_http_port}"

    @property
    def query_url(self) -> str:
        """The query API and UI (``/api/v3/…``, ``/api/traces/…``, ``/search``)."""
        return f"http://{self.host}:{self.query_http_port}"

    @property
    def health_url(self) -> str:
        """The health check: 200 once every pipeline and extension is running."""
        return f"http://{self.host}:{self.health_port}/status"

    def listeners(self) -> dict[str, str]:
        """Every address this configuration makes Jaeger listen on, by component."""
        return {
            "otlp/http": f"{self.host}:{self.otlp_http_port}",
            "otlp/grpc": f"{self.host}:{self.otlp_grpc_port}",
            "jaeger_query/http": f"{self.host}:{self.query_http_port}",
            "jaeger_query/grpc": f"{self.host}:{self.query_grpc_port}",
            "healthcheckv2/http": f"{self.host}:{self.health_port}",
        }

    def config(self) -> dict[str, Any]:
        """The collector configuration (written as JSON, which the collector reads as YAML)."""
        listen = self.listeners()
        return {
            "service": {
                "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
                "pipelines": {
                    "traces": {
                        "receivers": ["otlp"],
                        "processors": ["batch"],
                        "exporters": ["jaeger_storage_exporter"],
                    }
                },
                # Off: the collector would otherwise serve its own metrics on localhost:8888.
                "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "info"}},
            },
            "extensions": {
                "jaeger_storage": {
                    "backends": {"memstore": {"memory": {"max_traces": self.max_traces}}}
                },
                "jaeger_query": {
                    "storage": {"traces": "memstore"},
                    # Its defaults are :16686 and :16685, i.e. every interface.
                    "http": {"endpoint": listen["jaeger_query/http"]},
                    "grpc": {"endpoint": listen["jaeger_query/grpc"]},
                    "enable_tracing": False,
                },
                "healthcheckv2": {
                    "use_v2": True,
                    "http": {"endpoint": listen["healthcheckv2/http"]},
                },
            },
            "receivers": {
                "otlp": {
                    "protocols": {
                        "http": {"endpoint": listen["otlp/http"]},
                        "grpc": {"endpoint": listen["otlp/grpc"]},
                    }
                }
            },
            "processors": {"batch": {}},
            "exporters": {"jaeger_storage_exporter": {"trace_storage": "memstore"}},
        }

    def start(self, timeout: float = 60.0) -> JaegerServer:
        """Write the configuration, start Jaeger and wait until its health check answers 200.

        Raises:
            PrerequisiteMissing: Jaeger is not built.
            StackError: it exited or was not ready within ``timeout`` seconds.
        """
        binary = find_binary(self.version)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        config = self.base_dir / "jaeger.yaml"
        config.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        self.process = ManagedProcess(
            "jaeger",
            [str(binary), "--config", str(config)],
            log_path=self.base_dir / "jaeger.log",
            cwd=self.base_dir,
            env=self.env,
        )
        started = time.monotonic()
        self.process.start()
        self.process.wait_ready(lambda: http_ok(self.health_url), timeout, interval=0.1)
        self.ready_seconds = time.monotonic() - started
        return self

    @property
    def query(self) -> JaegerQuery:
        """A client of this server's query API."""
        return JaegerQuery(self.query_url)

    def stop(self) -> None:
        """Stop Jaeger's process group (safe to call twice)."""
        if self.process is not None:
            self.process.stop()


@contextlib.contextmanager
def throwaway_jaeger(prefix: str = "floe-jaeger-", timeout: float = 60.0) -> Iterator[JaegerServer]:
    """A started Jaeger in a fresh temp dir; stopped and removed on exit, even on failure.

    Raises:
        PrerequisiteMissing: Jaeger is not built.
        StackError: it did not start.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    server = JaegerServer(base)
    try:
        server.start(timeout=timeout)
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m floe_checks.servers.jaeger [DIR]``: start Jaeger, print where to send spans
    and where its UI is, and stop it on Ctrl-C (beside a ``--floe-keep-stack`` stack, say)."""
    import signal
    import sys

    args = sys.argv[1:] if argv is None else argv
    base = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="floe-jaeger-"))
    server = JaegerServer(base)
    try:
        server.start()
    except PrerequisiteMissing as exc:
        print(f"jaeger: {exc}; {exc.remediation}", file=sys.stderr)
        return 2
    except FloeError as exc:
        print(f"jaeger: {exc}", file=sys.stderr)
        return 1
    print(f"jaeger: OTEL_EXPORTER_OTLP_ENDPOINT={server.otlp_endpoint}", flush=True)
    print(f"jaeger: UI and query API {server.query_url}/ (log {base / 'jaeger.log'})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # until Ctrl-C / SIGTERM, or until Jaeger exits on its own
        wait_until(
            lambda: server.process is None or not server.process.alive(),
            timeout=math.inf,
            interval=0.5,
        )
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
