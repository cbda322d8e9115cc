"""The Dagster probe against a real ``dagster-webserver``; the Cube probe's token and its
failure modes (a running Cube 0.33 is the end-to-end suite's: see e2e/)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from floe_checks.probes.cube import hs256_token
from floe_checks.servers.process import ManagedProcess
from tests.preflight.conftest import Blackhole

pytestmark = pytest.mark.requirement("007-FR-020")

DEFS = "import dagster as dg\n\ndefs = dg.Definitions()\n"


@pytest.fixture(scope="module")
def dagster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dagster-webserver`` on a free loopback port, telemetry off, stopped with SIGINT."""
    base = tmp_path_factory.mktemp("dagster")
    home = base / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    (base / "defs.py").write_text(DEFS, encoding="utf-8")
    port = free_port()
    process = ManagedProcess(
        "dagster-webserver",
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-f",
            str(base / "defs.py"),
        ],
        log_path=base / "dagster.log",
        env={**os.environ, "DAGSTER_HOME": str(home)},
        cwd=base,
        stop_signal=signal.SIGINT,  # Dagster treats SIGTERM like SIGINT only in a terminal
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_ready(
            lambda: requests.get(f"{url}/server_info", timeout=2).status_code == 200, 90
        )
        yield url
    finally:
        process.stop()


def test_dagster_success(dagster_url: str, load_section: Callable[..., Section]) -> None:
    import dagster

    result = run_check(
        "dagster", load_section("dagster", {"url": dagster_url}), timeout=10, slow_ms=10_000
    )
    assert result.status == "ok", result.line()
    assert result.details["dagster_version"] == dagster.__version__
    assert result.message == (f"Dagster {dagster.__version__} webserver answers; GraphQL works.")


def test_dagster_wrong_service_is_protocol(
    dagster_url: str, load_section: Callable[..., Section]
) -> None:
    """A URL that answers, but not as Dagster: here the webserver with a path prefix typo."""
    url = f"{dagster_url}/not-dagster"
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
        env["CUBEJS_API_SECRET"] = "cube-secret-for-refused"
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
        env["CUBEJS_API_SECRET"] = "cube-secret-for-blackhole"
    result = run_check(service, load_section(service, raw, **env), timeout=2)
    assert result.status == "error"
    assert result.details["failure"] == "timeout"


def test_cube_token_verifies_with_an_independent_jwt_library() -> None:
    import jwt

    token = hs256_token("a-cube-api-secret", {"floe": "preflight"}, now=1_800_000_000)
    claims = jwt.decode(
        token,
        "a-cube-api-secret",
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {"iat": 1_800_000_000, "exp": 1_800_000_300, "floe": "preflight"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            "another-secret",
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False},
        )
