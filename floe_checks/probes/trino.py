"""Trino (the ``trino`` client, DB-API): ``SELECT 1`` over http or https, with basic auth
(``password``) or a JWT (``jwt``), exactly as dbt-trino and Cube's Trino driver connect."""

from __future__ import annotations

from typing import Any

from floe_checks.config import TrinoCompute
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import failure
from floe_checks.probes.rest import transport_failure
from floe_checks.results import Service

SERVICE = Service.COMPUTE

_ADDRESS = ("host", "port", "http_scheme")


def _credential_fields(section: TrinoCompute) -> list[str]:
    if section.jwt is not None:
        return ["jwt"]
    return ["user", "password"] if section.password is not None else ["user"]


def _requests_error(exc: BaseException) -> Exception | None:
    """The ``requests`` exception the trino client wrapped (it chains it implicitly)."""
    import requests

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.exceptions.RequestException):
            return current
        current = current.__cause__ or current.__context__
    return None


def pinned_session(verify: bool | str) -> Any:
    """A ``requests`` session whose ``verify`` (False, or a CA bundle path) holds for every
    request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's own
    ``verify`` when a call passes none (psf/requests#3829), and the trino client passes none."""
    import requests

    class PinnedSession(requests.Session):
        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> Any:
            settings = super().merge_environment_settings(*args, **kwargs)
            settings["verify"] = verify
            return settings

    session = PinnedSession()
    session.verify = verify
    return session


def _http_failure(section: TrinoCompute, exc: Exception, endpoint: str) -> CheckFailure:
    text = str(exc)
    status = None
    if text.startswith("error "):
        head = text[6:9]
        status = int(head) if head.isdigit() else None
    facts: dict[str, object] = {"http_status": status}
    if status == 401:
        return failure(
            FailureKind.AUTHENTICATION,
            "Trino rejected the credentials (401 Unauthorized).",
            section,
            _credential_fields(section),
            endpoint=endpoint,
            details=facts,
        )
    if status == 403:
        return failure(
            FailureKind.AUTHORIZATION,
            f"Trino refused user {section.user!r} (403 Forbidden).",
            section,
            ["user"],
            endpoint=endpoint,
            what="query access for this user",
            details=facts,
        )
    return failure(
        FailureKind.PROTOCOL,
        f"Trino answered HTTP {status or '?'} to the statement request.",
        section,
        _ADDRESS,
        endpoint=endpoint,
        what="a Trino coordinator",
        details=facts,
    )


def _execute(
    cur: Any, statement: str, section: TrinoCompute, endpoint: str, timeout: float
) -> list[Any]:
    """Run one statement; every client error becomes the :class:`CheckFailure` it means."""
    import requests
    from trino import exceptions as tx

    try:
        cur.execute(statement)
        return list(cur.fetchall())
    except requests.exceptions.RequestException as exc:
        raise transport_failure(
            exc, section, _ADDRESS, endpoint=endpoint, timeout=timeout, step=statement
        ) from None
    except tx.TrinoUserError as exc:
        kind = FailureKind.QUERY
        fields = ["catalog", "schema"] if section.catalog else list(_ADDRESS)
        what = exc.error_name or "query error"
        if exc.error_name == "CATALOG_NOT_FOUND":
            kind, fields, what = (
                FailureKind.NOT_FOUND,
                ["catalog"],
                f"catalog {section.catalog!r}",
            )
        elif exc.error_name == "SCHEMA_NOT_FOUND":
            kind, fields, what = (
                FailureKind.NOT_FOUND,
                ["schema"],
                f"schema {section.schema_!r}",
            )
        elif exc.error_name == "PERMISSION_DENIED":
            kind, fields = FailureKind.AUTHORIZATION, ["user"]
        raise failure(
            kind,
            f"Trino rejected {statement}: {exc.error_name}: {exc.message}",
            section,
            fields,
            endpoint=endpoint,
            what=what,
            details={"error_name": exc.error_name, "error_type": exc.error_type},
        ) from None
    except tx.TrinoQueryError as exc:
        raise failure(
            FailureKind.QUERY,
            f"{statement} failed in Trino: {exc.error_name}: {exc.message}",
            section,
            _ADDRESS,
            endpoint=endpoint,
            what=exc.error_name or "query error",
            details={"error_name": exc.error_name, "error_type": exc.error_type},
        ) from None
    except tx.HttpError as exc:
        raise _http_failure(section, exc, endpoint) from None
    except tx.TrinoConnectionError as exc:
        cause = _requests_error(exc)
        if cause is not None:
            raise transport_failure(
                cause, section, _ADDRESS, endpoint=endpoint, timeout=timeout, step=statement
            ) from None
        raise failure(
            FailureKind.PROTOCOL,
            f"Trino at {endpoint} gave an answer the client cannot use: {exc}",
            section,
            _ADDRESS,
            endpoint=endpoint,
            what="a Trino coordinator",
        ) from None


def check(section: TrinoCompute, timeout: float) -> dict[str, object]:
    """Run ``SELECT 1`` through the Trino client, then resolve the session's catalog and schema.

    ``SELECT 1`` alone never reads them, so a misspelt ``catalog`` or ``schema`` would pass:
    ``SHOW SCHEMAS`` (catalog set) or ``SHOW TABLES`` (schema set too) make Trino resolve them.

    Raises:
        CheckFailure: the coordinator is unreachable, rejects the login, or the query fails.
    """
    import trino

    endpoint = f"{section.http_scheme}://{section.host}:{section.port}"
    if section.http_scheme == "http" and (section.password or section.jwt):
        # The client (and Trino) refuse to send credentials over plain http.
        raise failure(
            FailureKind.TLS,
            "Trino password or JWT authentication needs https, but http_scheme is http.",
            section,
            ["http_scheme"],
            endpoint=endpoint,
        )
    auth: Any = None
    if section.jwt is not None:
        auth = trino.auth.JWTAuthentication(section.jwt.get_secret_value())
    elif section.password is not None:
        auth = trino.auth.BasicAuthentication(section.user, section.password.get_secret_value())
    session = pinned_session(section.tls_verify())
    conn = trino.dbapi.connect(  # type: ignore[no-untyped-call]
        host=section.host,
        port=section.port,
        user=section.user,
        http_scheme=section.http_scheme,
        auth=auth,
        catalog=section.catalog,
        schema=section.schema_,
        http_session=session,
        source="floe-preflight",
        request_timeout=timeout,
        max_attempts=1,
    )
    # SELECT 1 never reads the session catalog or schema (real Trino answers it for a catalog
    # that does not exist): SHOW SCHEMAS / SHOW TABLES make Trino resolve them.
    statements = ["SELECT 1"]
    if section.catalog:
        statements.append("SHOW TABLES" if section.schema_ else "SHOW SCHEMAS")
    results: dict[str, Any] = {}
    try:
        cur = conn.cursor()
        for statement in statements:
            results[statement] = _execute(cur, statement, section, endpoint, timeout)
    finally:
        conn.close()
    rows = results["SELECT 1"]
    if rows != [[1]]:
        raise failure(
            FailureKind.QUERY,
            f"SELECT 1 returned {rows!r}.",
            section,
            _ADDRESS,
            endpoint=endpoint,
            what="SELECT 1",
        )
    return {
        "endpoint": endpoint,
        "user": section.user,
        "auth": "jwt" if section.jwt else ("password" if section.password else "none"),
        "statements": statements,
        "message": f"SELECT 1 ok on Trino at {endpoint} as {section.user!r}.",
    }
