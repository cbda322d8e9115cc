"""PostgreSQL for Dagster's run and event storage (psycopg2, as dagster-postgres uses).

Connects with ``connect_timeout``, runs ``SELECT 1``, reads the server version, and checks that
the user may create tables in the configured schema — Dagster creates its tables on first start —
by creating one inside a transaction that is always rolled back. Then it reads the role's
attributes (``pg_roles``) and warns when the user can do far more than Dagster needs: a
superuser, CREATEROLE, CREATEDB, or a broad predefined role (:mod:`floe_checks.least_privilege`).
"""

from __future__ import annotations

import math
import secrets
from typing import Any

from floe_checks.config import PostgresSection
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import failure
from floe_checks.least_privilege import (
    POSTGRES_ROLES_SQL,
    PostgresRole,
    postgres_privileges,
    postgres_warnings,
)
from floe_checks.results import Service

SERVICE = Service.POSTGRES

_ADDRESS = ("host", "port")


def _connect_failure(section: PostgresSection, text: str, timeout: float) -> CheckFailure:
    """Classify libpq's connection error text (psycopg2 gives no SQLSTATE before login)."""
    endpoint = f"{section.host}:{section.port}"
    low = text.lower()
    first = " ".join(text.split())[:240]
    if "password authentication failed" in low or "no password supplied" in low:
        return failure(
            FailureKind.AUTHENTICATION,
            f"PostgreSQL rejected the login of user {section.user!r}.",
            section,
            ["user", "password"],
            endpoint=endpoint,
        )
    if "role" in low and "does not exist" in low:
        return failure(
            FailureKind.AUTHENTICATION,
            f"PostgreSQL has no role {section.user!r}.",
            section,
            ["user"],
            endpoint=endpoint,
        )
    if "database" in low and "does not exist" in low:
        return failure(
            FailureKind.NOT_FOUND,
            f"database {section.database!r} does not exist.",
            section,
            ["database"],
            endpoint=endpoint,
            what=f"database {section.database!r}",
        )
    if "pg_hba.conf" in low or "permission denied for database" in low:
        return failure(
            FailureKind.AUTHORIZATION,
            f"PostgreSQL refuses user {section.user!r} on database {section.database!r}: {first}",
            section,
            ["user", "database"],
            endpoint=endpoint,
            what="CONNECT on the database / a pg_hba.conf entry for this host",
        )
    if "could not translate host name" in low or "name or service not known" in low:
        return failure(
            FailureKind.DNS,
            f"cannot resolve {section.host!r}.",
            section,
            ["host"],
            endpoint=endpoint,
        )
    if "connection refused" in low:
        return failure(
            FailureKind.REFUSED,
            f"connection to PostgreSQL at {endpoint} refused.",
            section,
            _ADDRESS,
            endpoint=endpoint,
        )
    if "timeout expired" in low or "timed out" in low:
        return failure(
            FailureKind.TIMEOUT,
            f"PostgreSQL at {endpoint} did not answer within {timeout:g} s.",
            section,
            _ADDRESS,
            endpoint=endpoint,
            timeout=timeout,
        )
    if "ssl" in low:
        return failure(
            FailureKind.TLS,
            f"TLS negotiation with PostgreSQL at {endpoint} failed: {first}",
            section,
            ["sslmode", "host"],
            endpoint=endpoint,
        )
    return failure(
        FailureKind.UNKNOWN,
        f"cannot connect to PostgreSQL at {endpoint}: {first}",
        section,
        _ADDRESS,
        endpoint=endpoint,
        what="connection error",
    )


def connect_params(section: PostgresSection, timeout: float) -> dict[str, Any]:
    """The keyword arguments of ``psycopg2.connect`` for a section (the check's and the
    ``floe_postgres`` fixture's), the password included."""
    params: dict[str, Any] = {
        "host": section.host,
        "port": section.port,
        "user": section.user,
        "dbname": section.database,
        "sslmode": section.sslmode,
        # libpq counts whole seconds (minimum 2) for the whole handshake, login included.
        "connect_timeout": max(2, math.ceil(timeout)),
        "application_name": "floe-preflight",
    }
    if section.password is not None:
        params["password"] = section.password.get_secret_value()
    return params


def check(section: PostgresSection, timeout: float) -> dict[str, object]:
    """Connect, ``SELECT 1``, server version and CREATE TABLE permission.

    Raises:
        CheckFailure: connection, query or permission failure.
    """
    import psycopg2
    from psycopg2 import errors, sql

    endpoint = f"{section.host}:{section.port}"
    params = connect_params(section, timeout)
    try:
        conn = psycopg2.connect(**params)
    except psycopg2.OperationalError as exc:
        raise _connect_failure(section, str(exc), timeout) from None
    try:
        with conn.cursor() as cur:
            # SET, not a startup option: connection poolers such as PgBouncer reject those.
            cur.execute("SET statement_timeout = %s", (int(timeout * 1000),))
            cur.execute("SELECT 1")
            row = cur.fetchone()
            if row != (1,):
                raise failure(
                    FailureKind.QUERY,
                    f"SELECT 1 returned {row!r}.",
                    section,
                    _ADDRESS,
                    endpoint=endpoint,
                    what="SELECT 1",
                )
            cur.execute("SHOW server_version")
            version_row = cur.fetchone()
            version = str(version_row[0]) if version_row else "unknown"
            roles = _roles(cur, int(timeout * 1000))
            table = f"floe_preflight_{secrets.token_hex(4)}"
            try:
                cur.execute(
                    sql.SQL("CREATE TABLE {}.{} (id integer)").format(
                        sql.Identifier(section.schema_), sql.Identifier(table)
                    )
                )
            except errors.InvalidSchemaName:
                raise failure(
                    FailureKind.NOT_FOUND,
                    f"schema {section.schema_!r} does not exist in database {section.database!r}.",
                    section,
                    ["schema"],
                    endpoint=endpoint,
                    what=f"schema {section.schema_!r}",
                    details={"server_version": version},
                ) from None
            except errors.InsufficientPrivilege:
                raise failure(
                    FailureKind.AUTHORIZATION,
                    f"user {section.user!r} may not create tables in schema "
                    f"{section.schema_!r}; Dagster needs to.",
                    section,
                    ["user", "schema"],
                    endpoint=endpoint,
                    what=f"CREATE on schema {section.schema_} (GRANT CREATE ON SCHEMA "
                    f"{section.schema_} TO {section.user})",
                    details={"server_version": version, "can_create_tables": False},
                ) from None
            finally:
                conn.rollback()
    except psycopg2.OperationalError as exc:
        raise _connect_failure(section, str(exc), timeout) from None
    except psycopg2.Error as exc:
        # e.g. a read-only standby ("cannot execute CREATE TABLE in a read-only transaction").
        text = " ".join(str(exc).split())[:240]
        raise failure(
            FailureKind.QUERY,
            f"PostgreSQL refused the preflight statements: {text}",
            section,
            ["host", "database", "schema"],
            endpoint=endpoint,
            what=f"SQLSTATE {exc.pgcode}" if exc.pgcode else type(exc).__name__,
            details={"sqlstate": exc.pgcode},
        ) from None
    finally:
        conn.close()
    details: dict[str, object] = {
        "endpoint": endpoint,
        "database": section.database,
        "schema": section.schema_,
        "server_version": version,
        "can_create_tables": True,
        "privileges": postgres_privileges(roles) if roles is not None else None,
        "message": f"PostgreSQL {version}: SELECT 1 ok; user {section.user!r} may create tables "
        f"in {section.database}.{section.schema_}.",
    }
    warnings = postgres_warnings(section, roles or [])
    if warnings:
        details["warnings"] = warnings
    return details


def _roles(cur: Any, timeout_ms: int) -> list[PostgresRole] | None:
    """The user's role and the roles it may act as, or None when ``pg_roles`` cannot be read
    (a restricted catalog): the check then goes on without the privilege facts."""
    import psycopg2

    try:
        cur.execute(POSTGRES_ROLES_SQL)
        rows = cur.fetchall()
    except psycopg2.OperationalError:
        raise
    except psycopg2.Error:
        # The failed statement aborted the transaction, and the rollback undoes the timeout.
        cur.connection.rollback()
        cur.execute("SET statement_timeout = %s", (timeout_ms,))
        return None
    return [
        PostgresRole(
            name=str(name),
            superuser=bool(superuser),
            createrole=bool(createrole),
            createdb=bool(createdb),
            bootstrap=bool(bootstrap),
            self=bool(is_self),
            direct=bool(direct),
        )
        for name, superuser, createrole, createdb, bootstrap, is_self, direct in rows
    ]
