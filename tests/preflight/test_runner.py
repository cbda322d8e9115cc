"""The runner's own guarantees, with stand-in probe modules: classification, the watchdog,
missing clients, slow answers and secret redaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from floe_checks import probes
from floe_checks.config import Section
from floe_checks.errors import FailureKind
from floe_checks.failures import failure
from floe_checks.preflight import runner
from floe_checks.results import Service

pytestmark = [pytest.mark.requirement("007-FR-020"), pytest.mark.evidence("static")]

SECRET = "s3cr3t-value-that-must-not-leak"  # pragma: allowlist secret


@pytest.fixture
def catalog(load_section: Callable[..., Section]) -> Section:
    raw = {
        "type": "polaris",
        "uri": "http://127.0.0.1:9",
        "client_id": "floe",
        "client_secret": "${POLARIS_CLIENT_SECRET}",
    }
    return load_section("catalog", raw, POLARIS_CLIENT_SECRET=SECRET)


def _use_probe(monkeypatch: pytest.MonkeyPatch, check: Callable[..., object]) -> None:
    probe = SimpleNamespace(SERVICE=Service.CATALOG, check=check)
    monkeypatch.setattr(runner, "load_probe", lambda service, backend: probe)


def test_unexpected_exception_is_classified_and_redacted(
    monkeypatch: pytest.MonkeyPatch, catalog: Section
) -> None:
    def check(section: Section, timeout: float) -> dict[str, object]:
        raise RuntimeError(f"login with {SECRET} failed") from ConnectionRefusedError(111, "x")

    _use_probe(monkeypatch, check)
    result = runner.run_check("catalog", catalog, timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "connection_refused"
    assert result.message == (
        "polaris check failed at http://127.0.0.1:9: RuntimeError: login with *** failed"
    )
    assert SECRET not in result.model_dump_json()


def test_check_failure_keeps_its_remediation(
    monkeypatch: pytest.MonkeyPatch, catalog: Section
) -> None:
    def check(section: Section, timeout: float) -> dict[str, object]:
        raise failure(
            FailureKind.AUTHENTICATION, "OAuth2 authentication failed.", section, ["client_secret"]
        )

    _use_probe(monkeypatch, check)
    result = runner.run_check("catalog", catalog, timeout=5)
    assert result.line() == (
        "[CATALOG] ERROR: OAuth2 authentication failed. Remediation: the credentials were "
        "rejected: check environments.test.catalog.client_secret (${POLARIS_CLIENT_SECRET})."
    )


def test_watchdog_reports_a_hung_probe_as_timeout(
    monkeypatch: pytest.MonkeyPatch, catalog: Section
) -> None:
    monkeypatch.setattr(runner, "WATCHDOG_GRACE", 0.2)

    def check(section: Section, timeout: float) -> dict[str, object]:
        time.sleep(30)  # a client that ignores its timeout
        return {}

    _use_probe(monkeypatch, check)
    result = runner.run_check("catalog", catalog, timeout=0.3)
    assert result.status == "error"
    assert result.details["failure"] == "timeout"
    assert result.message == "polaris at http://127.0.0.1:9 did not answer within 0.3 s."


def test_slow_answer_is_a_warning(monkeypatch: pytest.MonkeyPatch, catalog: Section) -> None:
    def check(section: Section, timeout: float) -> dict[str, object]:
        time.sleep(0.05)
        return {"message": "catalog answered."}

    _use_probe(monkeypatch, check)
    result = runner.run_check("catalog", catalog, timeout=5, slow_ms=10)
    assert result.status == "warning"
    assert result.message == "catalog answered."
    assert result.details["slow_threshold_ms"] == 10
    assert result.remediation == (
        f"the answer took {result.duration_ms} ms, over the 10 ms threshold (--floe-slow-ms): "
        "check the network path to environments.test.catalog.uri and the service's load "
        "before deploying."
    )


def test_probe_warnings_make_a_warning(monkeypatch: pytest.MonkeyPatch, catalog: Section) -> None:
    def check(section: Section, timeout: float) -> dict[str, object]:
        return {"message": "ok.", "warnings": ["probe object left behind."]}

    _use_probe(monkeypatch, check)
    result = runner.run_check("catalog", catalog, timeout=5, slow_ms=10_000)
    assert (result.status, result.remediation) == ("warning", "probe object left behind.")


def test_missing_client_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, load_section: Callable[..., Section]
) -> None:
    monkeypatch.setitem(probes.CLIENT_MODULES, "trino", ("floe_no_such_trino_client",))
    section = load_section("compute", {"type": "trino", "host": "127.0.0.1"})
    result = runner.run_check("compute", section, timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "missing_client"
    assert result.remediation == (
        "the client library is not installed: pip install 'floe-checks[trino]'."
    )


@pytest.mark.parametrize("value", [4.9, 300.5, 0])
def test_timeout_out_of_range(value: float) -> None:
    with pytest.raises(ValueError, match="use 5 to 300 seconds"):
        runner.validate_timeout(value)
