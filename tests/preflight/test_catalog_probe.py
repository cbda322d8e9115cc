"""The Iceberg REST catalog probe against SeaweedFS's OAuth2 Iceberg REST catalog."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
import requests

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from tests.preflight.local_servers import Blackhole, IcebergRestServer

pytestmark = [pytest.mark.requirement("007-FR-018", "007-FR-020"), pytest.mark.evidence("static")]

CREDENTIALS_HINT = (
    "environments.test.catalog.client_id (${POLARIS_CLIENT_ID}), "
    "environments.test.catalog.client_secret (${POLARIS_CLIENT_SECRET})"
)


@pytest.fixture(scope="module")
def catalog(iceberg_rest_server: IcebergRestServer) -> IcebergRestServer:
    """The catalog with namespace ``sales`` created through the REST API."""
    server = iceberg_rest_server
    token = requests.post(
        f"{server.uri}/v1/oauth/tokens",
        data={
            "grant_type": "client_credentials",
            "client_id": server.client_id,
            "client_secret": server.client_secret,
        },
        timeout=10,
    ).json()["access_token"]
    created = requests.post(
        f"{server.uri}/v1/{server.warehouse}/namespaces",
        json={"namespace": ["sales"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 200, created.text
    return server


def _section(
    load_section: Callable[..., Section],
    uri: str,
    client_id: str,
    secret: str,
    **extra: object,
) -> Section:
    raw = {
        "type": "polaris",
        "uri": uri,
        "client_id": "${POLARIS_CLIENT_ID}",
        "client_secret": "${POLARIS_CLIENT_SECRET}",
        "warehouse": "warehouse",
        **extra,
    }
    return load_section("catalog", raw, POLARIS_CLIENT_ID=client_id, POLARIS_CLIENT_SECRET=secret)


def test_success_reports_token_lifetime_and_namespaces(
    catalog: IcebergRestServer, load_section: Callable[..., Section]
) -> None:
    section = _section(
        load_section, catalog.uri, catalog.client_id, catalog.client_secret, namespace="sales"
    )
    result = run_check("catalog", section, timeout=10, slow_ms=10_000)
    assert result.status == "ok", result.line()
    assert result.backend == "polaris"
    assert result.details["token_expires_in"] == 3600  # weed's default token lifetime
    assert result.details["prefix"] == "warehouse"
    assert result.details["namespaces"] == ["sales"]
    assert result.message == (
        "OAuth2 token valid 3600 s; config read; 1 namespace(s) listed; namespace 'sales' exists."
    )


def test_wrong_secret_is_authentication(
    catalog: IcebergRestServer, load_section: Callable[..., Section]
) -> None:
    wrong = secrets.token_urlsafe(20)
    section = _section(load_section, catalog.uri, catalog.client_id, wrong)
    result = run_check("catalog", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "authentication"
    assert result.details["http_status"] == 401
    assert result.message == (
        "OAuth2 authentication failed (401 Unauthorized: Invalid client credentials)."
    )
    assert result.remediation == f"the credentials were rejected: check {CREDENTIALS_HINT}."
    assert wrong not in result.model_dump_json()


def test_missing_namespace(
    catalog: IcebergRestServer, load_section: Callable[..., Section]
) -> None:
    section = _section(
        load_section, catalog.uri, catalog.client_id, catalog.client_secret, namespace="nope"
    )
    result = run_check("catalog", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.remediation == (
        "namespace 'nope' does not exist: create it, or fix environments.test.catalog.namespace."
    )


def test_missing_warehouse(
    catalog: IcebergRestServer, load_section: Callable[..., Section]
) -> None:
    section = _section(
        load_section, catalog.uri, catalog.client_id, catalog.client_secret, warehouse="lost"
    )
    result = run_check("catalog", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.details["step"] == "list namespaces"
    assert result.remediation == (
        "warehouse 'lost' does not exist: create it, or fix environments.test.catalog.warehouse."
    )


def test_connection_refused(load_section: Callable[..., Section]) -> None:
    uri = f"http://127.0.0.1:{free_port()}"
    result = run_check("catalog", _section(load_section, uri, "id1", "secret-1"), timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "connection_refused"
    assert result.remediation == (
        f"nothing accepts connections at {uri}/v1/oauth/tokens: check "
        "environments.test.catalog.uri, that the service is running, and that firewalls or "
        "network policies let this machine through."
    )


def test_blackhole_times_out_through_read_timeout(
    blackhole: Blackhole, load_section: Callable[..., Section]
) -> None:
    section = _section(load_section, blackhole.url, "id1", "secret-1")
    result = run_check("catalog", section, timeout=2)
    assert result.status == "error"
    assert result.details["failure"] == "timeout"
    token_url = f"{blackhole.url}/v1/oauth/tokens"
    assert result.message == f"no answer from {token_url} within 2 s (OAuth2 token request)."
    assert result.remediation == (
        "check environments.test.catalog.uri, "
        "security groups and network policies, or raise --timeout if the service is just slow."
    )
