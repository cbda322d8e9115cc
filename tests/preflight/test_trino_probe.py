"""The Trino probe (the official ``trino`` client) against the protocol-faithful stand-in in
``tests/preflight/trino_server.py`` — no Trino server can run on our machines."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from tests.preflight import local_servers
from tests.preflight.local_servers import Blackhole, TrinoServer

pytestmark = [
    pytest.mark.requirement("007-FR-016", "007-FR-020"),
    # The stand-in's certificate is self-signed, so the sections say verify: false.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    pytest.mark.evidence("static"),
]


def _section(
    load_section: Callable[..., Section], port: int, password: str, **extra: object
) -> Section:
    raw = {
        "type": "trino",
        "host": "127.0.0.1",
        "port": port,
        "user": "analyst",
        "password": "${TRINO_PASSWORD}",
        "http_scheme": "https",
        "verify": False,  # the stand-in's certificate is self-signed
        **extra,
    }
    return load_section("compute", raw, TRINO_PASSWORD=password)


def test_select_one_with_basic_auth(
    trino_server: TrinoServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, trino_server.port, trino_server.password, catalog="memory")
    result = run_check("compute", section, timeout=10, slow_ms=10_000)
    assert result.status == "ok", result.line()
    assert result.backend == "trino"
    assert result.details["auth"] == "password"
    assert result.message == (
        f"SELECT 1 ok on Trino at https://127.0.0.1:{trino_server.port} as 'analyst'."
    )


def test_wrong_password(trino_server: TrinoServer, load_section: Callable[..., Section]) -> None:
    wrong = secrets.token_urlsafe(16)
    result = run_check("compute", _section(load_section, trino_server.port, wrong), timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "authentication"
    assert result.details["http_status"] == 401
    assert result.remediation == (
        "the credentials were rejected: check environments.test.compute.user, "
        "environments.test.compute.password (${TRINO_PASSWORD})."
    )
    assert wrong not in result.model_dump_json()


def test_missing_catalog(trino_server: TrinoServer, load_section: Callable[..., Section]) -> None:
    section = _section(load_section, trino_server.port, trino_server.password, catalog="iceberg")
    result = run_check("compute", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.details["error_name"] == "CATALOG_NOT_FOUND"
    assert result.message == (
        "Trino rejected SHOW SCHEMAS: CATALOG_NOT_FOUND: line 1:1: Catalog 'iceberg' not found"
    )
    assert result.remediation == (
        "catalog 'iceberg' does not exist: create it, or fix environments.test.compute.catalog."
    )


def test_missing_schema(trino_server: TrinoServer, load_section: Callable[..., Section]) -> None:
    """SELECT 1 never reads the session schema; SHOW TABLES makes Trino resolve it."""
    section = _section(
        load_section, trino_server.port, trino_server.password, catalog="memory", schema="nope"
    )
    result = run_check("compute", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.details["error_name"] == "SCHEMA_NOT_FOUND"
    assert result.message == (
        "Trino rejected SHOW TABLES: SCHEMA_NOT_FOUND: line 1:1: Schema 'nope' does not exist"
    )
    assert result.remediation == (
        "schema 'nope' does not exist: create it, or fix environments.test.compute.schema."
    )


def test_connection_refused(load_section: Callable[..., Section]) -> None:
    port = free_port()
    result = run_check("compute", _section(load_section, port, "pw-refused"), timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "connection_refused"
    assert result.remediation == (
        f"nothing accepts connections at https://127.0.0.1:{port}: check "
        "environments.test.compute.host, environments.test.compute.port, "
        "environments.test.compute.http_scheme, that the service is running, and that firewalls "
        "or network policies let this machine through."
    )


def test_blackhole_times_out_through_request_timeout(
    blackhole: Blackhole, load_section: Callable[..., Section]
) -> None:
    result = run_check("compute", _section(load_section, blackhole.port, "pw-hole"), timeout=2)
    assert result.status == "error"
    assert result.details["failure"] == "timeout"
    url = f"https://127.0.0.1:{blackhole.port}"
    assert result.message == f"no answer from {url} within 2 s (SELECT 1)."


def test_password_over_plain_http_is_refused_before_sending(
    trino_server: TrinoServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, trino_server.port, trino_server.password, http_scheme="http")
    result = run_check("compute", section, timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "tls"
    assert result.remediation == (
        f"the TLS handshake with http://127.0.0.1:{trino_server.port} failed: check the scheme "
        "and port in environments.test.compute.http_scheme and the CA bundle of this machine."
    )


@pytest.fixture(scope="module")
def trino_jwt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrinoServer]:
    with local_servers.trino_server(tmp_path_factory.mktemp("trino-jwt"), jwt=True) as server:
        yield server


def _jwt_section(load_section: Callable[..., Section], port: int, token: str) -> Section:
    raw = {
        "type": "trino",
        "host": "127.0.0.1",
        "port": port,
        "user": "analyst",
        "http_scheme": "https",
        "verify": False,
        "jwt": "${TRINO_JWT}",
    }
    return load_section("compute", raw, TRINO_JWT=token)


def test_select_one_with_jwt(
    trino_jwt_server: TrinoServer, load_section: Callable[..., Section]
) -> None:
    section = _jwt_section(load_section, trino_jwt_server.port, trino_jwt_server.password)
    result = run_check("compute", section, timeout=10, slow_ms=10_000)
    assert result.status == "ok", result.line()
    assert result.details["auth"] == "jwt"


def test_wrong_jwt(trino_jwt_server: TrinoServer, load_section: Callable[..., Section]) -> None:
    section = _jwt_section(load_section, trino_jwt_server.port, "eyJ.wrong.token")
    result = run_check("compute", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "authentication"
    assert result.remediation == (
        "the credentials were rejected: check environments.test.compute.jwt (${TRINO_JWT})."
    )
