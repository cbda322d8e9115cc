"""The preflight Trino probe and the ``trino`` client against a real Trino 483 coordinator
(``floe_checks.servers.trino``), over https with password and JWT authentication and the
certificate generated at start: ok, wrong password, wrong token, unknown catalog and schema, an
untrusted certificate without and with ``ca_bundle``, a password over plain http, refused,
unknown host, blackhole, slow → warning. Every case runs against the real server; the
blackhole is a socket that accepts and never answers, which no running Trino does."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from floe_checks.servers.trino import TrinoServer
from tests.preflight import local_servers
from tests.preflight.local_servers import Blackhole
from tests.trino.shared import connect

pytestmark = [pytest.mark.requirement("007-FR-016", "007-FR-020"), pytest.mark.evidence("static")]


def _section(load_section: Callable[..., Section], trino: TrinoServer, **extra: object) -> Section:
    assert trino.security is not None
    raw = {
        "type": "trino",
        "host": "127.0.0.1",
        "port": trino.client_port,
        "user": trino.security.user,
        "password": "${TRINO_PASSWORD}",
        "http_scheme": "https",
        "ca_bundle": str(trino.ca_bundle),
        **extra,
    }
    raw = {key: value for key, value in raw.items() if value is not None}  # None: leave it out
    return load_section("compute", raw, TRINO_PASSWORD=trino.security.password.get_secret_value())


def _raw(trino: TrinoServer) -> dict[str, object]:
    """The https section without credentials (tests add password or jwt)."""
    assert trino.security is not None
    return {
        "type": "trino",
        "host": "127.0.0.1",
        "port": trino.client_port,
        "user": trino.security.user,
        "http_scheme": "https",
        "ca_bundle": str(trino.ca_bundle),
    }


def test_server_reports_its_version_and_environment(trino: TrinoServer) -> None:
    info = trino.info()
    assert info["nodeVersion"] == {"version": "483"}
    assert info["environment"] == "test"
    assert info["coordinator"] is True
    assert info["starting"] is False


def test_probe_ok_against_real_trino(
    trino: TrinoServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, trino, catalog="tpch", schema="tiny")
    result = run_check("compute", section, timeout=30, slow_ms=60_000)
    assert result.status == "ok", result.line()
    assert result.backend == "trino"
    assert result.details["auth"] == "password"
    assert result.message == (
        f"SELECT 1 ok on Trino at https://127.0.0.1:{trino.client_port} as 'analyst'."
    )


def test_probe_wrong_password_is_authentication(
    trino: TrinoServer, load_section: Callable[..., Section]
) -> None:
    wrong = secrets.token_urlsafe(16)
    section = load_section(
        "compute",
        {**_raw(trino), "password": "${TRINO_PASSWORD}"},
        TRINO_PASSWORD=wrong,
    )
    result = run_check("compute", section, timeout=30)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "authentication"
    assert result.details["http_status"] == 401
    assert result.message == "Trino rejected the credentials (401 Unauthorized)."
    assert result.remediation == (
        "the credentials were rejected: check environments.test.compute.user, "
        "environments.test.compute.password (${TRINO_PASSWORD})."
    )
    assert wrong not in result.model_dump_json()


def test_probe_jwt_is_ok(trino: TrinoServer, load_section: Callable[..., Section]) -> None:
    assert trino.security is not None
    raw = {**_raw(trino), "jwt": "${TRINO_JWT}"}
    token = trino.security.token().get_secret_value()
    result = run_check("compute", load_section("compute", raw, TRINO_JWT=token), timeout=30)
    assert result.status == "ok", result.line()
    assert result.details["auth"] == "jwt"


def test_probe_wrong_jwt_is_authentication(
    trino: TrinoServer, load_section: Callable[..., Section]
) -> None:
    from floe_checks.tokens import hs256_token

    forged = hs256_token(secrets.token_urlsafe(24), {"sub": "analyst"})
    raw = {**_raw(trino), "jwt": "${TRINO_JWT}"}
    result = run_check("compute", load_section("compute", raw, TRINO_JWT=forged), timeout=30)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "authentication"
    assert result.remediation == (
        "the credentials were rejected: check environments.test.compute.jwt (${TRINO_JWT})."
    )
    assert forged not in result.model_dump_json()


def test_probe_self_signed_certificate_without_ca_bundle_names_it(
    trino: TrinoServer, load_section: Callable[..., Section]
) -> None:
    """The certificate generated at start is in no system bundle (REQUESTS_CA_BUNDLE, when
    set, names one: the probe must not silently use it either)."""
    result = run_check("compute", _section(load_section, trino, ca_bundle=None), timeout=30)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_untrusted"
    assert result.details["certificate"] == "self-signed certificate"
    assert result.message == (
        f"the certificate of {trino.url} is not trusted (self-signed certificate; SELECT 1)."
    )
    assert result.remediation == (
        "point environments.test.compute.ca_bundle at the PEM file of the CA that signed the "
        f"certificate of {trino.url} (for a private or self-signed CA; its issuer is "
        "CN=floe-checks test 127.0.0.1), or give the server a certificate from a CA this "
        "machine trusts."
    )


def test_probe_with_ca_bundle_from_a_variable_is_ok(
    trino: TrinoServer, load_section: Callable[..., Section], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRINO_CA_BUNDLE", str(trino.ca_bundle))
    section = _section(load_section, trino, ca_bundle="${TRINO_CA_BUNDLE}", catalog="memory")
    result = run_check("compute", section, timeout=30, slow_ms=60_000)
    assert result.status == "ok", result.line()
    assert result.details["statements"] == ["SELECT 1", "SHOW SCHEMAS"]


def test_probe_password_over_plain_http_is_refused_before_sending(
    trino: TrinoServer, load_section: Callable[..., Section]
) -> None:
    """The probe refuses before any request (the real server would answer 403 on its http
    port: test_trino_secured.py checks that)."""
    section = _section(load_section, trino, http_scheme="http", ca_bundle=None)
    result = run_check("compute", section, timeout=10)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls"
    assert result.remediation == (
        f"the TLS handshake with http://127.0.0.1:{trino.client_port} failed: check the scheme "
        "and port in environments.test.compute.http_scheme and the CA bundle of this machine."
    )


@pytest.fixture(scope="module")
def blackhole(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Blackhole]:
    with local_servers.blackhole(tmp_path_factory.mktemp("blackhole")) as hole:
        yield hole


def test_probe_blackhole_times_out(
    trino: TrinoServer, blackhole: Blackhole, load_section: Callable[..., Section]
) -> None:
    """A coordinator behind a silent firewall: the TCP handshake completes, no byte comes back
    (a running Trino always answers, so the socket stands in for the firewall, not Trino)."""
    section = _section(load_section, trino, port=blackhole.port)
    result = run_check("compute", section, timeout=2)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "timeout"
    assert (
        result.message
        == f"no answer from https://127.0.0.1:{blackhole.port} within 2 s (SELECT 1)."
    )


def test_probe_unknown_catalog_is_not_found(
    trino: TrinoServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, trino, catalog="iceberg")
    result = run_check("compute", section, timeout=30)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "not_found"
    assert result.remediation == (
        "catalog 'iceberg' does not exist: create it, or fix environments.test.compute.catalog."
    )


def test_probe_unknown_schema_is_not_found(
    trino: TrinoServer, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, trino, catalog="tpch", schema="nope")
    result = run_check("compute", section, timeout=30)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "not_found"
    assert result.remediation == (
        "schema 'nope' does not exist: create it, or fix environments.test.compute.schema."
    )


def test_unknown_catalog_and_schema_errors_of_real_trino(trino: TrinoServer) -> None:
    """What the probe's CATALOG_NOT_FOUND / SCHEMA_NOT_FOUND branches must match: the error
    names and messages real Trino gives when a statement resolves the session's catalog."""
    from trino.exceptions import TrinoUserError

    def show_tables(catalog: str, schema: str) -> TrinoUserError:
        conn = connect(trino, catalog=catalog, schema=schema)
        try:
            with pytest.raises(TrinoUserError) as caught:
                conn.cursor().execute("SHOW TABLES")
        finally:
            conn.close()
        return caught.value

    no_catalog = show_tables("iceberg", "raw")
    assert (no_catalog.error_name, no_catalog.message) == (
        "CATALOG_NOT_FOUND",
        "line 1:1: Catalog 'iceberg' not found",
    )
    no_schema = show_tables("tpch", "nope")
    assert (no_schema.error_name, no_schema.message) == (
        "SCHEMA_NOT_FOUND",
        "line 1:1: Schema 'nope' does not exist",
    )


def test_probe_connection_refused(load_section: Callable[..., Section]) -> None:
    port = free_port()
    section = load_section(
        "compute", {"type": "trino", "host": "127.0.0.1", "port": port, "http_scheme": "http"}
    )
    result = run_check("compute", section, timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "connection_refused"
    assert result.remediation == (
        f"nothing accepts connections at http://127.0.0.1:{port}: check "
        "environments.test.compute.host, environments.test.compute.port, "
        "environments.test.compute.http_scheme, that the service is running, and that firewalls "
        "or network policies let this machine through."
    )


def test_probe_unknown_host_is_dns(load_section: Callable[..., Section]) -> None:
    host = "floe-no-such-host.invalid"  # .invalid never resolves (RFC 2606)
    section = load_section(
        "compute", {"type": "trino", "host": host, "port": 8080, "http_scheme": "http"}
    )
    result = run_check("compute", section, timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "dns"
    assert result.message == f"cannot resolve the host of http://{host}:8080 (SELECT 1)."


def test_exact_answers_through_the_trino_client(trino: TrinoServer) -> None:
    """TPC-H ``tiny`` has 25 nations in 5 regions, 5 each (the TPC-H spec fixes both tables)."""
    conn = connect(trino, catalog="tpch", schema="tiny")
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM tpch.tiny.nation")
        assert cur.fetchall() == [[25]]
        cur.execute(
            "SELECT r.name, count(*) FROM nation n JOIN region r ON n.regionkey = r.regionkey "
            "GROUP BY r.name ORDER BY r.name"
        )
        assert cur.fetchall() == [
            ["AFRICA", 5],
            ["AMERICA", 5],
            ["ASIA", 5],
            ["EUROPE", 5],
            ["MIDDLE EAST", 5],
        ]
    finally:
        conn.close()


def test_memory_catalog_round_trip(trino: TrinoServer) -> None:
    """Rows written through the memory connector come back exactly (decimals as Decimal)."""
    conn = connect(trino, catalog="memory", schema="default")
    table = f"orders_{free_port()}"  # unique per run: the server lives for the whole session
    try:
        cur = conn.cursor()
        cur.execute(
            f"CREATE TABLE {table} AS SELECT * FROM (VALUES "
            "('open', DECIMAL '10.25'), ('open', DECIMAL '4.75'), ('shipped', DECIMAL '7.10')"
            ") AS t(status, amount)"
        )
        assert cur.fetchall() == [[3]]
        cur.execute(f"SELECT status, sum(amount) FROM {table} GROUP BY status ORDER BY status")
        assert cur.fetchall() == [["open", Decimal("15.00")], ["shipped", Decimal("7.10")]]
        cur.execute(f"DROP TABLE {table}")
        cur.fetchall()
    finally:
        conn.close()


def test_slow_answer_is_a_warning(trino: TrinoServer, load_section: Callable[..., Section]) -> None:
    """A real round trip of SELECT 1 (POST, then polling nextUri) takes well over 1 ms."""
    section = _section(load_section, trino, catalog="tpch", schema="tiny")
    result = run_check("compute", section, timeout=30, slow_ms=1)
    assert result.status == "warning", result.line()
    assert result.details["slow_threshold_ms"] == 1
    assert result.remediation == (
        f"the answer took {result.duration_ms} ms, over the 1 ms threshold (--floe-slow-ms): "
        "check the network path to environments.test.compute.host, "
        "environments.test.compute.port and the service's load before deploying."
    )
