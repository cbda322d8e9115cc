"""A host that does not resolve (``.invalid`` never does, RFC 2606) is a ``dns`` failure naming
the address field, for every network backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from floe_checks.config import Section
from floe_checks.preflight.runner import run_check

pytestmark = [pytest.mark.requirement("007-FR-020", "SC-003"), pytest.mark.evidence("static")]

HOST = "floe-no-such-host.invalid"

CASES: dict[str, tuple[str, dict[str, object], dict[str, str], str]] = {
    "postgres": (
        "postgres",
        {"host": HOST, "user": "dagster", "password": "${PGPW}"},
        {"PGPW": "pg-password-dns"},
        "environments.test.postgres.host",
    ),
    "s3": (
        "storage",
        {
            "type": "s3",
            "bucket": "lake",
            "endpoint_url": f"http://{HOST}:9000",
            "access_key_id": "${AK}",
            "secret_access_key": "${SK}",
        },
        {"AK": "AKIADNSTEST", "SK": "s3-secret-dns"},
        "environments.test.storage.endpoint_url",
    ),
    "catalog": (
        "catalog",
        {
            "type": "iceberg-rest",
            "uri": f"http://{HOST}:8181",
            "client_id": "floe",
            "client_secret": "${CS}",
        },
        {"CS": "catalog-secret-dns"},
        "environments.test.catalog.uri",
    ),
    "trino": (
        "compute",
        {"type": "trino", "host": HOST, "port": 8080},
        {},
        "environments.test.compute.host, environments.test.compute.port, "
        "environments.test.compute.http_scheme",
    ),
    "dagster": ("dagster", {"url": f"http://{HOST}:3000"}, {}, "environments.test.dagster.url"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_unresolvable_host_is_dns(case: str, load_section: Callable[..., Section]) -> None:
    service, raw, env, fields = CASES[case]
    result = run_check(service, load_section(service, raw, **env), timeout=5)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "dns", result.line()
    assert result.remediation == (
        f"the host name does not resolve: check {fields} and this machine's DNS."
    )
