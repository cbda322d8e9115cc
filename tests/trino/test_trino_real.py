"""The preflight Trino probe and the ``trino`` client against a real Trino 483 coordinator
(``floe_checks.servers.trino``), over https with password authentication."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from floe_checks.probes.trino import pinned_session
from floe_checks.servers.trino import TrinoServer

pytestmark = [
    pytest.mark.requirement("007-FR-016", "007-FR-020"),
    pytest.mark.evidence("static"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


def _section(load_section: Callable[..., Section], trino: TrinoServer, **extra: object) -> Section:
    assert trino.security is not None
    raw = {
        "type": "trino",
        "host": "127.0.0.1",
        "port": trino.client_port,
        "user": trino.security.user,
        "password": "${TRINO_PASSWORD}",
        "http_scheme": "https",
        "verify": False,
        **extra,
    }
    return load_section("compute", raw, TRINO_PASSWORD=trino.security.password.get_secret_value())


def _connect(trino: TrinoServer, **session: str) -> Any:
    """The trino client as dbt-trino uses it: https, basic auth, the server's CA."""
    import trino as trino_client

    assert trino.security is not None
    return trino_client.dbapi.connect(  # type: ignore[no-untyped-call]
        host=trino.host,
        port=trino.client_port,
        user=trino.security.user,
        http_scheme="https",
        auth=trino_client.auth.BasicAuthentication(
            trino.security.user, trino.security.password.get_secret_value()
        ),
        http_session=pinned_session(str(trino.ca_bundle)),
        **session,
    )


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
        conn = _connect(trino, catalog=catalog, schema=schema)
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
    conn = _connect(trino, catalog="tpch", schema="tiny")
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
    conn = _connect(trino, catalog="memory", schema="default")
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
