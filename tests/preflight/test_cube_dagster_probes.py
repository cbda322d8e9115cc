"""The Cube probe against Cube 0.33.65 and the Dagster probe against a real
``dagster-webserver``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from floe_checks.tokens import hs256_token
from tests.preflight.local_servers import Blackhole, CubeServer

pytestmark = [pytest.mark.requirement("007-FR-020"), pytest.mark.evidence("static")]

CUBE_TEST_KEY = "a-cube-api-secret-of-32-bytes-min"  # RFC 7518: 32+ bytes for HS256


def test_dagster_success(dagster_server: str, load_section: Callable[..., Section]) -> None:
    import dagster

    result = run_check(
        "dagster", load_section("dagster", {"url": dagster_server}), timeout=10, slow_ms=10_000
    )
    assert result.status == "ok", result.line()
    assert result.details["dagster_version"] == dagster.__version__
    assert result.message == (f"Dagster {dagster.__version__} webserver answers; GraphQL works.")


def test_dagster_wrong_service_is_protocol(
    dagster_server: str, load_section: Callable[..., Section]
) -> None:
    """A URL that answers, but not as Dagster: here the webserver with a path prefix typo."""
    url = f"{dagster_server}/not-dagster"
    result = run_check("dagster", load_section("dagster", {"url": url}), timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "protocol"
    assert result.details["http_status"] == 200, result.line()
    assert (
        result.message
        == f"{url}/server_info answered 200 without the JSON object a Dagster webserver sends."
    )


@pytest.mark.parametrize("service", ["cube", "dagster"])
def test_connection_refused(service: str, load_section: Callable[..., Section]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    raw: dict[str, object] = {"url": url}
    env = {}
    if service == "cube":
        raw["api_secret"] = "${CUBEJS_API_SECRET}"
        env["CUBEJS_API_SECRET"] = "cube-secret-for-refused"  # pragma: allowlist secret
    result = run_check(service, load_section(service, raw, **env), timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "connection_refused"
    path = "/readyz" if service == "cube" else "/server_info"
    assert result.remediation == (
        f"nothing accepts connections at {url}{path}: check environments.test.{service}.url, "
        "that the service is running, and that firewalls or network policies let this machine "
        "through."
    )


@pytest.mark.parametrize("service", ["cube", "dagster"])
def test_blackhole(
    service: str, blackhole: Blackhole, load_section: Callable[..., Section]
) -> None:
    raw: dict[str, object] = {"url": blackhole.url}
    env = {}
    if service == "cube":
        raw["api_secret"] = "${CUBEJS_API_SECRET}"
        env["CUBEJS_API_SECRET"] = "cube-secret-for-blackhole"  # pragma: allowlist secret
    result = run_check(service, load_section(service, raw, **env), timeout=2)
    assert result.status == "error"
    assert result.details["failure"] == "timeout"


def test_cube_token_verifies_with_an_independent_jwt_library() -> None:
    import jwt

    token = hs256_token(CUBE_TEST_KEY, {"floe": "preflight"}, now=1_800_000_000)
    claims = jwt.decode(
        token,
        CUBE_TEST_KEY,
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {"iat": 1_800_000_000, "exp": 1_800_000_300, "floe": "preflight"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            "another-cube-api-secret-of-32-bytes",
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False},
        )


def _cube_section(load_section: Callable[..., Section], url: str, secret: str) -> Section:
    raw = {"url": url, "api_secret": "${CUBEJS_API_SECRET}"}
    return load_section("cube", raw, CUBEJS_API_SECRET=secret)


def test_cube_success(cube_server: CubeServer, load_section: Callable[..., Section]) -> None:
    section = _cube_section(load_section, cube_server.url, cube_server.api_secret)
    result = run_check("cube", section, timeout=10, slow_ms=10_000)
    assert result.status == "ok", result.line()
    assert result.details["cubes"] == ["probe_orders"]
    assert result.message == "Cube ready; data model has 1 cube(s)."


def test_cube_wrong_secret(cube_server: CubeServer, load_section: Callable[..., Section]) -> None:
    wrong = "not-the-cube-api-secret"
    result = run_check("cube", _cube_section(load_section, cube_server.url, wrong), timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "authentication"
    assert result.details["http_status"] == 403
    assert result.message == "Cube rejected the signed token (403 Forbidden: Invalid token)."
    assert result.remediation == (
        "the credentials were rejected: check environments.test.cube.api_secret "
        "(${CUBEJS_API_SECRET})."
    )
