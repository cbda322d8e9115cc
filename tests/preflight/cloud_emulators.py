"""Local stand-ins for the cloud services, as pytest fixtures: fakesnow (Snowflake), bqemulator
(BigQuery), gcp-storage-emulator (GCS) and Azurite (Azure Blob).

These are real emulators, not test doubles: each answers the real client library over its real
protocol. What each one does not check (credentials, mostly) is written in docs/emulators.md
and in the tests that skip those cases.

Every emulator listens on 127.0.0.1 on a free port, with telemetry off, and is started and
stopped by PID (:class:`~floe_checks.servers.process.ManagedProcess`). A missing install skips
with the setup step to run. Test modules import the fixtures they use::

    from tests.preflight.cloud_emulators import snowflake_server
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from floe_checks.config import Environment, Section, validate_environment
from floe_checks.ports import free_port, is_listening
from floe_checks.servers.process import ManagedProcess

REPO = Path(__file__).resolve().parents[2]
FAKESNOW = REPO / ".venvs" / "fakesnow" / "bin" / "fakesnow"
BQEMULATOR = REPO / ".venvs" / "bqemulator" / "bin" / "bqemulator"
# bqemulator runs `INSTALL spatial/avro`; 21-bqemulator.sh put them under this HOME.
BQEMULATOR_HOME = REPO / ".venvs" / "bqemulator" / "home"
GCS_EMULATOR = Path(sys.executable).parent / "gcp-storage-emulator"
AZURITE_BLOB = REPO / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"

# Azurite's single account and its key: published in Azure's documentation, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2"  # pragma: allowlist secret
    "UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="  # pragma: allowlist secret
)
BQ_PROJECT = "floe-demo"
GCS_BUCKET = "floe-preflight-test"
AZURE_CONTAINER = "floe-preflight-test"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Emulator:
    """A started emulator: its HTTP(S) base URL and port."""

    name: str
    port: int
    url: str
    process: ManagedProcess


def _require(path: Path, step: str) -> None:
    if not path.exists():
        pytest.skip(
            f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path} is "
            f"missing: run `bash {step}` (or scripts/setup.sh)"
        )


def _http_answers(url: str) -> bool:
    # Readiness: any HTTP status counts; only "no answer" keeps waiting.
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback URL we built
            return True
    except urllib.error.HTTPError:
        return True


def _start(
    name: str, argv: list[str], port: int, log_dir: Path, ready_url: str, **kwargs: Any
) -> ManagedProcess:
    process = ManagedProcess(name, argv, log_dir / f"{name}.log", **kwargs).start()
    try:
        process.wait_ready(lambda: is_listening(port) and _http_answers(ready_url), START_TIMEOUT)
    except BaseException:
        process.stop()
        raise
    return process


@pytest.fixture(scope="session")
def snowflake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """fakesnow's HTTP server (the Snowflake REST protocol over DuckDB)."""
    _require(FAKESNOW, "scripts/setup.d/20-fakesnow.sh")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start(
        "fakesnow",
        [str(FAKESNOW), "-s", "--host", "127.0.0.1", "-p", str(port)],
        port,
        tmp_path_factory.mktemp("fakesnow"),
        f"{url}/",
    )
    try:
        yield Emulator("fakesnow", port, url, process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def bigquery_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """bqemulator's REST API (gRPC on a second port, unused by the probe)."""
    _require(BQEMULATOR, "scripts/setup.d/21-bqemulator.sh")
    port, grpc_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HOME": str(BQEMULATOR_HOME)}
    process = _start(
        "bqemulator",
        [
            str(BQEMULATOR),
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(port),
            "--grpc-host",
            "127.0.0.1",
            "--grpc-port",
            str(grpc_port),
            "--project",
            BQ_PROJECT,
            "--ephemeral",
        ],
        port,
        tmp_path_factory.mktemp("bqemulator"),
        f"{url}/bigquery/v2/projects/{BQ_PROJECT}/datasets",
        env=env,
    )
    try:
        yield Emulator("bqemulator", port, url, process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """gcp-storage-emulator (GCS JSON API, in memory) with the bucket ``GCS_BUCKET``."""
    _require(GCS_EMULATOR, "scripts/setup.sh")  # it comes with the project's dev extra
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _start(
        "gcp-storage-emulator",
        [str(GCS_EMULATOR), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        port,
        tmp_path_factory.mktemp("gcs"),
        f"{url}/storage/v1/b",
    )
    try:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage  # type: ignore[attr-defined,unused-ignore]

        client = storage.Client(
            project="floe-demo",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": url},
        )
        client.create_bucket(GCS_BUCKET)
        client.close()
        yield Emulator("gcp-storage-emulator", port, url, process)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def azurite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Azurite's blob service with the container ``AZURE_CONTAINER``; ``url`` includes the
    account (path-style), as ``storage.endpoint`` must for Azurite."""
    _require(AZURITE_BLOB, "scripts/setup.d/22-azurite.sh")
    port = free_port()
    base = tmp_path_factory.mktemp("azurite")
    url = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    process = _start(
        "azurite",
        [
            str(AZURITE_BLOB),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(base / "data"),
            "--skipApiVersionCheck",
            "--disableTelemetry",
        ],
        port,
        base,
        f"http://127.0.0.1:{port}/",
    )
    try:
        from azure.storage.blob import BlobServiceClient

        with BlobServiceClient(
            account_url=url,
            credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
            retry_total=0,
        ) as service:
            service.create_container(AZURE_CONTAINER)
        yield Emulator("azurite", port, url, process)
    finally:
        process.stop()


def section(service: str, fields: dict[str, Any], env_name: str = "test") -> Section:
    """One floe.yaml section, validated as ``environments.<env_name>.<service>`` so that its
    remediation names real field paths (secrets as ``${VAR}``, read from the environment)."""
    environment: Environment = validate_environment("floe.yaml", env_name, {service: fields})
    return environment.sections()[service]
