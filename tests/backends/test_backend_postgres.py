"""PostgreSQL: a throwaway cluster (scram password auth, free loopback port), the preflight
check of a ``postgres`` section against it, then the demo's raw tables published from Iceberg
(:func:`floe_demo.publish.publish_to_postgres`) and ``dbt build`` with the ``postgres`` target
of demo/profiles.yml. Run alone by ``tox -e postgres``."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floe_checks.servers.postgres import PostgresServer
from tests.backends.demo_build import TABLES, Lake, check_marts, run_preflight
from tests.preflight import local_servers

pytestmark = pytest.mark.evidence("service")


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """The cluster, stopped by PID when the module ends (even after a failure)."""
    with local_servers.postgres_server() as server:
        yield server


@pytest.mark.requirement("007-FR-015", "007-FR-019")
def test_preflight_postgres(postgres: PostgresServer, tmp_path: Path) -> None:
    # Dagster's own role, owning its database: the superuser would pass with a least-privilege
    # warning (tests/preflight/test_least_privilege_postgres.py).
    password = secrets.token_urlsafe(12)
    postgres.execute(
        f"CREATE ROLE floe_dagster LOGIN PASSWORD '{password}'",
        "CREATE DATABASE floe_dagster OWNER floe_dagster",
    )
    report = run_preflight(
        tmp_path,
        "backend-postgres",
        {
            "postgres": {
                "host": postgres.host,
                "port": postgres.port,
                "user": "floe_dagster",
                "password": "${FLOE_WAREHOUSE_PASSWORD}",
                "database": "floe_dagster",
            }
        },
        {"FLOE_WAREHOUSE_PASSWORD": password},
    )
    assert [(c.service, c.backend, c.status) for c in report.checks] == [
        ("postgres", "postgres", "ok")
    ]
    assert report.overall_status == "pass"


@pytest.mark.requirement("007-FR-027c", "007-FR-028", "SC-007")
def test_dbt_build_postgres(small_lake: Lake, postgres: PostgresServer) -> None:
    import psycopg2
    from floe_demo.dbt_runner import run_dbt
    from floe_demo.publish import publish_to_postgres

    settings = small_lake.settings(
        FLOE_DEMO_DBT_TARGET="postgres",
        FLOE_WAREHOUSE_HOST=postgres.host,
        FLOE_WAREHOUSE_PORT=str(postgres.port),
        FLOE_WAREHOUSE_USER="postgres",
        FLOE_WAREHOUSE_PASSWORD=postgres.password,
        FLOE_WAREHOUSE_DB="postgres",
    )
    published = publish_to_postgres(settings)
    assert {p.table: p.rows for p in published} == {
        name: small_lake.raw[name].num_rows for name in TABLES
    }
    run_dbt(settings, ["build"])

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(settings.warehouse_dsn())
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    check_marts(query, small_lake.raw)
