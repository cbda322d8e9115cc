"""Least privilege of the PostgreSQL user (FC-006), against the suite's real PostgreSQL 15.

A broad user (a superuser, the bootstrap superuser ``postgres``), a user with CREATEROLE and
CREATEDB, a user that may SET ROLE to a CREATEDB role and belongs to ``pg_write_all_data``, and a
narrow user that owns its database and nothing else. The warnings' exact text is asserted, and
the fix each warning names is run on the server, after which the same user passes without one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from floe_checks.config import Section
from floe_checks.preflight.runner import run_check
from floe_checks.servers.postgres import PostgresServer

pytestmark = [pytest.mark.requirement("FC-006", "007-FR-019"), pytest.mark.evidence("static")]

PASSWORD = secrets.token_urlsafe(12)
DB = "lp_dagster"
NEEDS = f"Dagster needs only CONNECT on database {DB} and USAGE, CREATE on schema public"


@pytest.fixture(scope="module")
def roles(postgres_server: PostgresServer) -> PostgresServer:
    """The users of this module, each with ``PASSWORD``; database ``lp_dagster`` is owned by
    the narrow one (so it may create tables in ``public``, PostgreSQL 15's default)."""
    postgres_server.execute(
        f"CREATE ROLE lp_narrow LOGIN PASSWORD '{PASSWORD}'",
        f"CREATE ROLE lp_broad LOGIN SUPERUSER PASSWORD '{PASSWORD}'",
        f"CREATE ROLE lp_fixable LOGIN SUPERUSER PASSWORD '{PASSWORD}'",
        f"CREATE ROLE lp_creator LOGIN CREATEROLE CREATEDB PASSWORD '{PASSWORD}'",
        f"CREATE ROLE lp_dbmaker LOGIN CREATEDB PASSWORD '{PASSWORD}'",
        f"CREATE ROLE lp_member LOGIN PASSWORD '{PASSWORD}'",
        "CREATE ROLE lp_admins NOLOGIN CREATEDB",
        "GRANT lp_admins TO lp_member",
        "GRANT pg_write_all_data TO lp_member",
        f"CREATE ROLE lp_chained LOGIN PASSWORD '{PASSWORD}'",
        "CREATE ROLE lp_middle NOLOGIN",
        "CREATE ROLE lp_top NOLOGIN CREATEROLE",
        "GRANT lp_top TO lp_middle",
        "GRANT lp_middle TO lp_chained",
        f"CREATE DATABASE {DB} OWNER lp_narrow",
    )
    postgres_server.execute(
        "GRANT CREATE ON SCHEMA public TO lp_creator, lp_dbmaker, lp_member, lp_chained",
        database=DB,
    )
    return postgres_server


def _section(
    load_section: Callable[..., Section], port: int, user: str, password: str = PASSWORD
) -> Section:
    raw = {
        "host": "127.0.0.1",
        "port": port,
        "user": user,
        "password": "${DAGSTER_PG_PASSWORD}",
        "database": DB,
    }
    return load_section("postgres", raw, DAGSTER_PG_PASSWORD=password)


def _fix_statements(warning: str) -> list[str]:
    """The SQL statements after ``Fix:`` in a warning."""
    fix = warning.split("Fix: ", 1)[1].rstrip(".")
    return [part.strip() for part in fix.split(";") if part.strip()]


def test_narrow_user_passes_without_warning(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    result = run_check("postgres", _section(load_section, roles.port, "lp_narrow"), timeout=10)
    assert (result.status, result.remediation) == ("ok", None)
    assert "warnings" not in result.details
    assert result.details["privileges"] == {
        "role": "lp_narrow",
        "superuser": False,
        "createrole": False,
        "createdb": False,
        "member_of": [],
    }


def test_superuser_warns_with_the_narrower_grant(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    result = run_check(
        "postgres", _section(load_section, roles.port, "lp_broad"), timeout=10, slow_ms=60_000
    )
    warning = (
        f"user 'lp_broad' is a superuser: it bypasses every permission check, and {NEEDS}. "
        f"Fix: ALTER ROLE lp_broad NOSUPERUSER NOCREATEROLE NOCREATEDB; GRANT CONNECT ON "
        f"DATABASE {DB} TO lp_broad; GRANT USAGE, CREATE ON SCHEMA public TO lp_broad."
    )
    assert result.status == "warning"
    assert result.details["warnings"] == [warning]
    assert result.remediation == warning
    # The check itself passed: the message is the usual one.
    version = roles.execute("SHOW server_version").strip()
    assert result.message == (
        f"PostgreSQL {version}: SELECT 1 ok; user 'lp_broad' may create tables in {DB}.public."
    )
    assert result.details["privileges"] == {
        "role": "lp_broad",
        "superuser": True,
        "createrole": False,
        "createdb": False,
        "member_of": [],
    }


def test_the_superuser_fix_works(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, roles.port, "lp_fixable")
    before = run_check("postgres", section, timeout=10, slow_ms=60_000)
    statements = _fix_statements(before.details["warnings"][0])
    assert statements == [
        "ALTER ROLE lp_fixable NOSUPERUSER NOCREATEROLE NOCREATEDB",
        f"GRANT CONNECT ON DATABASE {DB} TO lp_fixable",
        "GRANT USAGE, CREATE ON SCHEMA public TO lp_fixable",
    ]
    roles.execute(*statements, database=DB)
    after = run_check("postgres", section, timeout=10, slow_ms=60_000)
    assert (after.status, after.remediation) == ("ok", None)
    assert after.details["can_create_tables"] is True


def test_bootstrap_superuser_is_told_to_use_a_role_of_its_own(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, roles.port, "postgres", roles.password)
    result = run_check("postgres", section, timeout=10, slow_ms=60_000)
    assert result.status == "warning"
    assert result.remediation == (
        f"user 'postgres' is the server's bootstrap superuser: it bypasses every permission "
        f"check, and {NEEDS}. Fix: give Dagster a role of its own (CREATE ROLE dagster_app "
        f"LOGIN PASSWORD '…'; GRANT CONNECT ON DATABASE {DB} TO dagster_app; GRANT USAGE, "
        "CREATE ON SCHEMA public TO dagster_app) and set environments.test.postgres.user to it."
    )
    assert roles.password not in result.model_dump_json()


def test_createrole_and_createdb_warn(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    result = run_check(
        "postgres", _section(load_section, roles.port, "lp_creator"), timeout=10, slow_ms=60_000
    )
    assert result.status == "warning"
    assert result.details["warnings"] == [
        "user 'lp_creator' may create roles and databases (CREATEROLE CREATEDB); "
        "Dagster needs neither. Fix: ALTER ROLE lp_creator NOCREATEROLE NOCREATEDB."
    ]
    assert result.details["privileges"] == {
        "role": "lp_creator",
        "superuser": False,
        "createrole": True,
        "createdb": True,
        "member_of": [],
    }


def test_createdb_alone_warns_and_its_fix_works(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, roles.port, "lp_dbmaker")
    before = run_check("postgres", section, timeout=10, slow_ms=60_000)
    assert before.details["warnings"] == [
        "user 'lp_dbmaker' may create databases (CREATEDB); Dagster does not need to. "
        "Fix: ALTER ROLE lp_dbmaker NOCREATEDB."
    ]
    roles.execute(*_fix_statements(before.details["warnings"][0]))
    after = run_check("postgres", section, timeout=10, slow_ms=60_000)
    assert (after.status, after.remediation) == ("ok", None)


def test_membership_in_a_creating_role_and_pg_write_all_data_warn(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    result = run_check(
        "postgres", _section(load_section, roles.port, "lp_member"), timeout=10, slow_ms=60_000
    )
    assert result.status == "warning"
    assert result.details["warnings"] == [
        "user 'lp_member' may act as role 'lp_admins' (SET ROLE), which may create databases "
        f"(CREATEDB); {NEEDS}. Fix: REVOKE lp_admins FROM lp_member.",
        "user 'lp_member' is a member of pg_write_all_data (it may write every table of every "
        f"database); {NEEDS}. Fix: REVOKE pg_write_all_data FROM lp_member.",
    ]
    assert result.details["privileges"] == {
        "role": "lp_member",
        "superuser": False,
        "createrole": False,
        "createdb": True,
        "member_of": ["lp_admins", "pg_write_all_data"],
    }
    # The two warnings are one remediation, in order.
    assert result.remediation == " ".join(result.details["warnings"])


def test_membership_through_another_role_names_where_to_revoke(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, roles.port, "lp_chained")
    result = run_check("postgres", section, timeout=10, slow_ms=60_000)
    assert result.details["warnings"] == [
        "user 'lp_chained' may act as role 'lp_top' (SET ROLE), which may create roles "
        f"(CREATEROLE); {NEEDS}. Fix: REVOKE lp_top FROM the role through which 'lp_chained' "
        "holds it (psql: \\du lp_chained)."
    ]
    assert result.details["privileges"]["member_of"] == ["lp_top"]


def test_quoted_role_names_are_quoted_in_the_fix(
    roles: PostgresServer, load_section: Callable[..., Section]
) -> None:
    roles.execute(f"CREATE ROLE \"LP Ops\" LOGIN CREATEROLE PASSWORD '{PASSWORD}'")
    roles.execute('GRANT CREATE ON SCHEMA public TO "LP Ops"', database=DB)
    section = _section(load_section, roles.port, "LP Ops")
    result = run_check("postgres", section, timeout=10, slow_ms=60_000)
    (warning,) = result.details["warnings"]
    assert warning == (
        "user 'LP Ops' may create roles (CREATEROLE); Dagster does not need to. "
        'Fix: ALTER ROLE "LP Ops" NOCREATEROLE.'
    )
    roles.execute(*_fix_statements(warning))
    assert run_check("postgres", section, timeout=10, slow_ms=60_000).status == "ok"
