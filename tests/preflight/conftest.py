"""Fixtures for the preflight tests: the real local servers of :mod:`local_servers`, session
scoped (once per xdist worker) and stopped by PID in their finalizers, plus ``load_section``.

``postgres_server``, ``s3_server``, ``s3_iam_server``, ``iceberg_rest_server``, ``blackhole``,
``cube_server`` and ``dagster_server`` — see :mod:`tests.preflight.local_servers`. The real
Trino (``trino``) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floe_checks.servers.postgres import PostgresServer
from tests.preflight import local_servers
from tests.preflight.local_servers import (
    Blackhole,
    CubeServer,
    IcebergRestServer,
    S3Server,
)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster with scram password auth on a free loopback port."""
    with local_servers.postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 API; it accepts any credentials."""
    with local_servers.s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto with IAM enforced: keys ``admin`` (everything), ``reader`` (list and get) and
    ``writer`` (what the storage check needs, under ``floe-preflight/`` only)."""
    with local_servers.s3_iam_server(tmp_path_factory.mktemp("s3-iam")) as server:
        yield server


@pytest.fixture(scope="session")
def iceberg_rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IcebergRestServer]:
    """SeaweedFS ``weed mini``: S3 plus an Iceberg REST catalog with OAuth2, loopback only."""
    with local_servers.iceberg_rest_server(tmp_path_factory.mktemp("iceberg")) as server:
        yield server


@pytest.fixture(scope="session")
def blackhole(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Blackhole]:
    """A TCP endpoint that accepts connections and never answers (a silent firewall or a hung
    server): what a client meets when only its read timeout can save it."""
    with local_servers.blackhole(tmp_path_factory.mktemp("blackhole")) as server:
        yield server


@pytest.fixture(scope="session")
def cube_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer
) -> Iterator[CubeServer]:
    """Cube 0.33 (``demo/cube``) over a one-table model in ``postgres_server``."""
    missing = local_servers.cube_missing()
    if missing:
        pytest.skip(missing)
    with local_servers.cube_server(tmp_path_factory.mktemp("cube"), postgres_server) as server:
        yield server


@pytest.fixture(scope="session")
def dagster_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dagster-webserver`` on a free loopback port; the fixture's value is its URL."""
    with local_servers.dagster_server(tmp_path_factory.mktemp("dagster")) as url:
        yield url
