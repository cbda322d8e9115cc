"""Dagster webserver: ``GET /server_info``, then the GraphQL ``{ version }`` query — the API the
Dagster UI, ``dagster-graphql`` clients and the end-to-end tests use."""

from __future__ import annotations

from floe_checks.config import DagsterSection
from floe_checks.errors import FailureKind
from floe_checks.failures import failure, kind_for_http_status
from floe_checks.probes.rest import error_text, json_body, request
from floe_checks.results import Service

SERVICE = Service.DAGSTER


def check(section: DagsterSection, timeout: float) -> dict[str, object]:
    """Server info and a GraphQL round trip.

    Raises:
        CheckFailure: the webserver is unreachable or does not answer as Dagster.
    """
    base = section.url.rstrip("/")
    info_url = f"{base}/server_info"
    response = request(
        "GET",
        info_url,
        section,
        ["url"],
        timeout=timeout,
        step="GET /server_info",
        verify=section.tls_verify(),
    )
    if response.status_code != 200:
        kind = kind_for_http_status(response.status_code)
        if kind is FailureKind.NOT_FOUND:
            kind = FailureKind.PROTOCOL
        raise failure(
            kind,
            f"GET /server_info failed ({error_text(response)}).",
            section,
            ["url"],
            endpoint=info_url,
            what="a Dagster webserver",
            details={"http_status": response.status_code, "step": "server_info"},
        )
    info = json_body(response, section, ["url"], endpoint=info_url, what="a Dagster webserver")
    graphql_url = f"{base}/graphql"
    response = request(
        "POST",
        graphql_url,
        section,
        ["url"],
        timeout=timeout,
        step="GraphQL version",
        verify=section.tls_verify(),
        json={"query": "{ version }"},
    )
    body = (
        json_body(response, section, ["url"], endpoint=graphql_url, what="Dagster GraphQL")
        if response.status_code == 200
        else None
    )
    data = body.get("data") if body else None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str):
        raise failure(
            FailureKind.PROTOCOL,
            f"the GraphQL version query failed ({error_text(response)}).",
            section,
            ["url"],
            endpoint=graphql_url,
            what="Dagster GraphQL",
            details={"http_status": response.status_code, "step": "graphql"},
        )
    return {
        "endpoint": base,
        "dagster_version": version,
        "webserver_version": info.get("dagster_webserver_version"),
        "message": f"Dagster {version} webserver answers; GraphQL works.",
    }
