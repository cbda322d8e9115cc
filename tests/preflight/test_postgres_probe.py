"""The PostgreSQL probe against a real PostgreSQL 15 cluster."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from floe_checks.servers.postgres import PostgresServer
from tests.preflight.local_servers import Blackhole

pytestmark = [pytest.mark.requirement("007-FR-019", "007-FR-020"), pytest.mark.evidence("static")]

APP_PASSWORD = secrets.token_urlsafe(12)
RO_PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope="module")
def dagster_db(postgres_server: PostgresServer) -> PostgresServer:
    """Database ``dagster`` owned by ``dagster_app``; ``dagster_ro`` may connect but (PostgreSQL
    15 default) not create tables in ``public``."""
    postgres_server.execute(
        f"CREATE ROLE dagster_app LOGIN PASSWORD '{APP_PASSWORD}'",
        f"CREATE ROLE dagster_ro LOGIN PASSWORD '{RO_PASSWORD}'",
        "CREATE DATABASE dagster OWNER dagster_app",
        # A standby or a read-only default behaves alike: SELECT works, CREATE TABLE does not.
        f"CREATE ROLE dagster_standby LOGIN PASSWORD '{RO_PASSWORD}'",
        "ALTER ROLE dagster_standby SET default_transaction_read_only = on",
        "GRANT CREATE ON SCHEMA public TO dagster_standby",
    )
    return postgres_server


def _section(
    load_section: Callable[..., Section],
    port: int,
    *,
    user: str = "dagster_app",
    password: str = APP_PASSWORD,
    **extra: object,
) -> Section:
    raw = {
        "host": "127.0.0.1",
        "port": port,
        "user": user,
        "password": "${DAGSTER_PG_PASSWORD}",
        **extra,
    }
    return load_section("postgres", raw, DAGSTER_PG_PASSWORD=password)


def test_success_reports_version_and_create_permission(
    dagster_db: PostgresServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, dagster_db.port)
    result = run_check("postgres", section, timeout=10, slow_ms=10_000)
    version = dagster_db.execute("SHOW server_version").strip()
    assert result.status == "ok"
    assert result.backend == "postgres"
    assert result.remediation is None
    assert result.details["server_version"] == version
    assert result.details["can_create_tables"] is True
    assert result.message == (
        f"PostgreSQL {version}: SELECT 1 ok; user 'dagster_app' may create tables in "
        "dagster.public."
    )
    # The CREATE TABLE probe was rolled back: nothing is left in the schema.
    left = dagster_db.execute(
        "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'floe_preflight_%'",
        database="dagster",
    )
    assert left.strip() == "0"


def test_wrong_password(dagster_db: PostgresServer, load_section: Callable[..., Section]) -> None:
    wrong = secrets.token_urlsafe(12)
    section = _section(load_section, dagster_db.port, password=wrong)
    result = run_check("postgres", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "authentication"
    assert result.message == "PostgreSQL rejected the login of user 'dagster_app'."
    assert result.remediation == (
        "the credentials were rejected: check environments.test.postgres.user, "
        "environments.test.postgres.password (${DAGSTER_PG_PASSWORD})."
    )
    assert wrong not in result.model_dump_json()


def test_missing_database(dagster_db: PostgresServer, load_section: Callable[..., Section]) -> None:
    section = _section(load_section, dagster_db.port, database="nosuchdb")
    result = run_check("postgres", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.remediation == (
        "database 'nosuchdb' does not exist: create it, or fix environments.test.postgres.database."
    )


def test_missing_schema(dagster_db: PostgresServer, load_section: Callable[..., Section]) -> None:
    section = _section(load_section, dagster_db.port, schema="nosuchschema")
    result = run_check("postgres", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.remediation == (
        "schema 'nosuchschema' does not exist: create it, or fix environments.test.postgres.schema."
    )


def test_user_without_create_permission(
    dagster_db: PostgresServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, dagster_db.port, user="dagster_ro", password=RO_PASSWORD)
    result = run_check("postgres", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "authorization"
    assert result.details["can_create_tables"] is False
    assert result.remediation == (
        "the credentials are valid but lack a permission (CREATE on schema public (GRANT "
        "CREATE ON SCHEMA public TO dagster_ro)): grant it to the identity in "
        "environments.test.postgres.user, environments.test.postgres.schema."
    )


def test_read_only_transaction_is_a_query_failure(
    dagster_db: PostgresServer, load_section: Callable[..., Section]
) -> None:
    section = _section(
        load_section,
        dagster_db.port,
        user="dagster_standby",
        password=RO_PASSWORD,
        database="postgres",
    )
    result = run_check("postgres", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "query"
    assert result.details["sqlstate"] == "25006"  # read_only_sql_transaction
    assert result.message == (
        "PostgreSQL refused the preflight statements: cannot execute CREATE TABLE in a "
        "read-only transaction"
    )


def test_connection_refused(load_section: Callable[..., Section]) -> None:
    port = free_port()
    section = _section(load_section, port)
    result = run_check("postgres", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "connection_refused"
    assert result.remediation == (
        f"nothing accepts connections at 127.0.0.1:{port}: check environments.test.postgres.host, "
        "environments.test.postgres.port, that the service is running, and that firewalls or "
        "network policies let this machine through."
    )


def test_blackhole_times_out_through_connect_timeout(
    blackhole: Blackhole, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, blackhole.port)
    result = run_check("postgres", section, timeout=2)
    assert result.status == "error"
    assert result.details["failure"] == "timeout"
    # The probe's own message (libpq's connect_timeout fired), not the runner's watchdog.
    assert result.message == f"PostgreSQL at 127.0.0.1:{blackhole.port} did not answer within 2 s."
    assert result.remediation == (
        "check "
        "environments.test.postgres.host, environments.test.postgres.port, security groups and "
        "network policies, or raise --timeout if the service is just slow."
    )
