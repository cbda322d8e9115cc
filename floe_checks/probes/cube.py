"""Cube semantic layer: ``GET /readyz``, then ``GET /cubejs-api/v1/meta`` with an HS256 token
signed with ``api_secret`` — what every Cube client does before its first query."""

from __future__ import annotations

from floe_checks.config import CubeSection
from floe_checks.errors import FailureKind
from floe_checks.failures import failure, kind_for_http_status
from floe_checks.probes.rest import error_text, json_body, request
from floe_checks.results import Service
from floe_checks.tokens import hs256_token

SERVICE = Service.CUBE


def check(section: CubeSection, timeout: float) -> dict[str, object]:
    """Readiness, then the data model's metadata with a signed token.

    Raises:
        CheckFailure: Cube is unreachable, not ready, or rejects the token.
    """
    base = section.url.rstrip("/")
    ready_url = f"{base}/readyz"
    response = request(
        "GET",
        ready_url,
        section,
        ["url"],
        timeout=timeout,
        step="GET /readyz",
        verify=section.tls_verify(),
    )
    if response.status_code != 200:
        kind = kind_for_http_status(response.status_code)
        if kind is not FailureKind.TIMEOUT:
            kind = FailureKind.PROTOCOL
        raise failure(
            kind,
            f"Cube is not ready ({error_text(response)}).",
            section,
            ["url"],
            endpoint=ready_url,
            what="a ready Cube API",
            details={"http_status": response.status_code, "step": "readyz"},
        )
    meta_url = f"{base}/cubejs-api/v1/meta"
    token = hs256_token(section.api_secret.get_secret_value(), {"floe": "preflight"})
    response = request(
        "GET",
        meta_url,
        section,
        ["url"],
        timeout=timeout,
        step="GET /cubejs-api/v1/meta",
        verify=section.tls_verify(),
        headers={"Authorization": token},
    )
    if response.status_code in (401, 403):
        raise failure(
            FailureKind.AUTHENTICATION,
            f"Cube rejected the signed token ({error_text(response)}).",
            section,
            ["api_secret"],
            endpoint=meta_url,
            details={"http_status": response.status_code, "step": "meta"},
        )
    if response.status_code != 200:
        raise failure(
            FailureKind.PROTOCOL,
            f"GET /cubejs-api/v1/meta failed ({error_text(response)}).",
            section,
            ["url"],
            endpoint=meta_url,
            what="the Cube REST API",
            details={"http_status": response.status_code, "step": "meta"},
        )
    meta = json_body(response, section, ["url"], endpoint=meta_url, what="the Cube REST API")
    cubes = meta.get("cubes")
    names = (
        [str(c.get("name")) for c in cubes if isinstance(c, dict)]
        if isinstance(cubes, list)
        else []
    )
    return {
        "endpoint": base,
        "cubes": names,
        "message": f"Cube ready; data model has {len(names)} cube(s).",
    }
