"""Snowflake: log in as dbt would, select the configured warehouse, database and schema, run
``SELECT 1`` and report the warehouse and role in effect.

Selecting the warehouse, database and schema with ``USE …`` after the login (instead of only
passing them in the connect string) is on purpose: Snowflake accepts a connect string naming an
object that does not exist or that the role may not use and leaves it unset, so the mistake
would only show up at the first model. ``USE`` fails with "does not exist or not authorized"
and names the object.
"""

from __future__ import annotations

import contextlib
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_checks.config import SnowflakeCompute
from floe_checks.errors import FailureKind
from floe_checks.failures import classify_network_error, failure
from floe_checks.least_privilege import (
    snowflake_admin_roles,
    snowflake_secondary_roles,
    snowflake_warnings,
)
from floe_checks.results import Service

if TYPE_CHECKING:
    from snowflake.connector import SnowflakeConnection

SERVICE = Service.COMPUTE

# Snowflake error numbers (``errno`` of the connector's exceptions).
_BAD_CREDENTIALS = {
    390100,  # Incorrect username or password was specified.
    390101,  # User temporarily locked.
    390102,  # User disabled.
    390144,  # JWT token is invalid (key-pair).
    390302,  # Invalid OAuth access token.
    390318,  # OAuth access token expired.
    251005,  # User is empty.
    251006,  # Password is empty.
}
# The role in the connect string does not exist or is not granted to the user.
_ROLE_NOT_GRANTED = {390189}
_OBJECT_MISSING = {2003, 2043}  # does not exist or not authorized / object does not exist.
_ACCOUNT_UNKNOWN = {250003, 390400, 390422}  # HTTP 403/404 from a wrong account URL; IP policy.

_SIMPLE_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*|\".+\"")

_AUTH_FIELDS = ("user", "password", "private_key_path", "private_key_passphrase")


def _auth_fields(section: SnowflakeCompute) -> list[str]:
    used = [name for name in _AUTH_FIELDS if getattr(section, name) is not None]
    return ["user", *[n for n in used if n != "user"]] if used else ["user", "password"]


def _endpoint(section: SnowflakeCompute) -> str:
    host = section.host or f"{section.account}.snowflakecomputing.com"
    port = section.port or (443 if section.protocol == "https" else 80)
    return f"{section.protocol}://{host}:{port}"


def _identifier(name: str) -> str:
    """The name as Snowflake reads it in the connect string: unquoted names verbatim, anything
    else double-quoted."""
    if _SIMPLE_IDENTIFIER.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _private_key(section: SnowflakeCompute, endpoint: str, timeout: float) -> bytes:
    """Read and decrypt the key-pair private key; returns it as DER (PKCS#8)."""
    from cryptography.hazmat.primitives import serialization

    assert section.private_key_path is not None
    path = Path(section.private_key_path).expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise failure(
            FailureKind.NOT_FOUND,
            f"the private key file {path} does not exist.",
            section,
            ["private_key_path"],
            endpoint=endpoint,
            timeout=timeout,
            what=f"the private key file {path}",
        ) from None
    except OSError as exc:
        raise failure(
            FailureKind.AUTHORIZATION,
            f"cannot read the private key file {path}: {exc.strerror}.",
            section,
            ["private_key_path"],
            endpoint=endpoint,
            timeout=timeout,
            what=f"read access to {path} for this user",
        ) from None
    passphrase = section.private_key_passphrase
    password = passphrase.get_secret_value().encode() if passphrase is not None else None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        # No secret in these messages: "Bad decrypt", "Password was not given but …".
        raise failure(
            FailureKind.AUTHENTICATION,
            f"cannot load the private key {path}: {str(exc).splitlines()[0]}",
            section,
            ["private_key_path", "private_key_passphrase"],
            endpoint=endpoint,
            timeout=timeout,
        ) from None
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _connect_args(section: SnowflakeCompute, endpoint: str, timeout: float) -> dict[str, Any]:
    seconds = max(1, math.ceil(timeout))
    args: dict[str, Any] = {
        "account": section.account,
        "user": section.user,
        "protocol": section.protocol,
        "login_timeout": seconds,
        "network_timeout": seconds,
        "socket_timeout": seconds,
        "application": "floe-checks",
        # The connector sends usage telemetry out of band; a preflight must not.
        "session_parameters": {"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    }
    if section.role:
        args["role"] = section.role
    if section.host:
        args["host"] = section.host
    if section.port:
        args["port"] = section.port
    if section.private_key_path:
        args["private_key"] = _private_key(section, endpoint, timeout)
    elif section.password is not None:
        args["password"] = section.password.get_secret_value()
    return args


def _classify(exc: BaseException) -> FailureKind:
    network = classify_network_error(exc)
    if network is not None:
        return network
    errno = getattr(exc, "errno", None)
    if errno in _BAD_CREDENTIALS:
        return FailureKind.AUTHENTICATION
    if errno in _ROLE_NOT_GRANTED:
        return FailureKind.AUTHORIZATION
    if errno in _ACCOUNT_UNKNOWN:
        return FailureKind.NOT_FOUND
    return FailureKind.UNKNOWN


def _login(section: SnowflakeCompute, endpoint: str, timeout: float) -> SnowflakeConnection:
    import snowflake.connector
    from snowflake.connector.errors import Error as SnowflakeError

    args = _connect_args(section, endpoint, timeout)
    try:
        return snowflake.connector.connect(**args)
    except SnowflakeError as exc:
        kind = _classify(exc)
        fields: list[str] = {
            FailureKind.AUTHENTICATION: _auth_fields(section),
            FailureKind.AUTHORIZATION: ["role", "user"],
            FailureKind.NOT_FOUND: ["account"],
        }.get(kind, ["account", "host", "port"] if section.host else ["account"])
        what = {
            FailureKind.AUTHORIZATION: f"the role {section.role} for user {section.user}",
            FailureKind.NOT_FOUND: f"the Snowflake account {section.account}",
        }.get(kind, f"Snowflake login: {_first_line(exc)}")
        raise failure(
            kind,
            f"Snowflake login to {endpoint} failed: {_first_line(exc)}",
            section,
            fields,
            endpoint=endpoint,
            timeout=timeout,
            what=what,
            details={"errno": getattr(exc, "errno", None)},
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _use(
    conn: SnowflakeConnection, section: SnowflakeCompute, endpoint: str, timeout: float
) -> None:
    """``USE WAREHOUSE/DATABASE/SCHEMA`` for each one configured."""
    from snowflake.connector.errors import Error as SnowflakeError

    steps = [
        ("warehouse", "WAREHOUSE", section.warehouse),
        ("database", "DATABASE", section.database),
        ("schema", "SCHEMA", section.schema_),
    ]
    cursor = conn.cursor()
    for field, keyword, name in steps:
        if not name:
            continue
        try:
            cursor.execute(f"USE {keyword} {_identifier(name)}")
        except SnowflakeError as exc:
            kind = classify_network_error(exc) or (
                FailureKind.NOT_FOUND
                if getattr(exc, "errno", None) in _OBJECT_MISSING
                else FailureKind.QUERY
            )
            role = section.role or "the user's default role"
            raise failure(
                kind,
                f"USE {keyword} {name} failed: {_first_line(exc)}",
                section,
                [field, "role"] if kind == FailureKind.NOT_FOUND else [field],
                endpoint=endpoint,
                timeout=timeout,
                what=(
                    f"the {field} {name} (or the USAGE grant on it for {role})"
                    if kind == FailureKind.NOT_FOUND
                    else f"USE {keyword}: {_first_line(exc)}"
                ),
                details={"errno": getattr(exc, "errno", None)},
            ) from None


def _current(conn: SnowflakeConnection, function: str) -> tuple[str | None, bool]:
    """``SELECT CURRENT_X()``: (value, whether the server implements it)."""
    from snowflake.connector.errors import ProgrammingError

    cursor = conn.cursor()
    try:
        cursor.execute(f"SELECT {function}()")
        row = cursor.fetchone()
    except ProgrammingError:
        return None, False
    value = row[0] if row else None
    return (str(value) if value is not None else None), True


def check(section: SnowflakeCompute, timeout: float) -> dict[str, object]:
    """Log in, select warehouse/database/schema, run ``SELECT 1``, read warehouse and role.

    Raises:
        CheckFailure: login, object selection or the query failed.
    """
    from snowflake.connector.errors import Error as SnowflakeError

    endpoint = _endpoint(section)
    conn = _login(section, endpoint, timeout)
    try:
        _use(conn, section, endpoint, timeout)
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        except SnowflakeError as exc:
            raise failure(
                classify_network_error(exc) or FailureKind.QUERY,
                f"SELECT 1 failed: {_first_line(exc)}",
                section,
                ["warehouse", "role"],
                endpoint=endpoint,
                timeout=timeout,
                what=f"SELECT 1: {_first_line(exc)}",
            ) from None
        if row is None or row[0] != 1:
            raise failure(
                FailureKind.PROTOCOL,
                f"SELECT 1 returned {row!r} instead of (1,).",
                section,
                ["account", "host"],
                endpoint=endpoint,
                timeout=timeout,
                what="Snowflake",
            )
        warnings: list[str] = []
        warehouse, has_warehouse_fn = _current(conn, "CURRENT_WAREHOUSE")
        role, _ = _current(conn, "CURRENT_ROLE")
        # Since 2024 new users default to DEFAULT_SECONDARY_ROLES = ('ALL'): every role they
        # were granted, ACCOUNTADMIN included, acts alongside the primary one.
        secondary_json, _ = _current(conn, "CURRENT_SECONDARY_ROLES")
        secondary = snowflake_secondary_roles(secondary_json)
        if not has_warehouse_fn:
            # Emulators (fakesnow) lack CURRENT_WAREHOUSE(); USE WAREHOUSE above succeeded.
            warehouse = section.warehouse
        elif warehouse is None:
            warnings.append(
                f"no warehouse is in effect: queries that scan tables will fail; set "
                f"{section.hint('warehouse')} or give {section.user} a DEFAULT_WAREHOUSE."
            )
        details: dict[str, object] = {
            "message": (
                f"logged in to {section.account} as {section.user}; SELECT 1 ran "
                f"(warehouse {warehouse or 'none'}, role {role or 'unknown'})"
            ),
            "endpoint": endpoint,
            "warehouse": warehouse,
            "role": role,
            "database": section.database,
            "schema": section.schema_,
            "auth": "key-pair" if section.private_key_path else "password",
            "privileges": {
                "role": role,
                "secondary_roles": secondary,
                "admin_roles": snowflake_admin_roles(role, secondary),
            },
        }
        warnings += snowflake_warnings(section, role, secondary)
        if warnings:
            details["warnings"] = warnings
        return details
    finally:
        with contextlib.suppress(SnowflakeError):
            conn.close()
