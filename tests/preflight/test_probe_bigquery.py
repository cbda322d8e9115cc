"""The BigQuery probe against bqemulator (the real google-cloud-bigquery client over REST)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floe_checks.config import BigQueryCompute
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.ports import free_port
from floe_checks.probes import bigquery
from tests.preflight.cloud_emulators import BQ_PROJECT, Emulator, section
from tests.preflight.local_servers import Blackhole

pytestmark = pytest.mark.evidence("static")


TIMEOUT = 2.0
ROOT = "environments.test.compute"


def _compute(**fields: Any) -> BigQueryCompute:
    result = section("compute", {"type": "bigquery", "project": BQ_PROJECT, **fields})
    assert isinstance(result, BigQueryCompute)
    return result


def _fail(compute: BigQueryCompute) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        bigquery.check(compute, TIMEOUT)
    return info.value


@pytest.mark.requirement("007-FR-016")
def test_select_1_runs_as_a_query_job(bigquery_server: Emulator) -> None:
    details = bigquery.check(_compute(anonymous=True, api_endpoint=bigquery_server.url), TIMEOUT)

    job_id = details["job_id"]
    assert isinstance(job_id, str)
    assert details["message"] == f"SELECT 1 ran as job {job_id} in project {BQ_PROJECT}"
    assert details["project"] == BQ_PROJECT
    assert details["endpoint"] == bigquery_server.url
    assert details["credentials"] == "anonymous"
    # bqemulator runs every job in the US multi-region unless told otherwise.
    assert details["location"] == "US"


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_wrong_credentials_is_authentication() -> None:
    """bqemulator accepts any credentials, so the mapping is checked with the errors the real
    clients raise: google-api-core's from the HTTP status, google-auth's RefreshError."""
    from google.api_core.exceptions import from_http_status
    from google.auth.exceptions import RefreshError

    from floe_checks.probes.google_client import classify

    assert classify(from_http_status(401, "Request is missing required authentication")) == (
        FailureKind.AUTHENTICATION
    )
    assert classify(RefreshError("invalid_grant: account not found")) == (
        FailureKind.AUTHENTICATION
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_missing_project_is_not_found() -> None:
    """bqemulator runs jobs in any project id, so the mapping is checked with the errors
    google-api-core raises for BigQuery's 404 (no such project) and 403 (no jobs.create)."""
    from google.api_core.exceptions import from_http_status

    from floe_checks.probes.google_client import classify

    missing = from_http_status(404, "Not found: Project floe-no-such-project")
    denied = from_http_status(403, "Access Denied: Project p: bigquery.jobs.create permission")
    assert (classify(missing), classify(denied)) == (
        FailureKind.NOT_FOUND,
        FailureKind.AUTHORIZATION,
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_missing_credentials_file_is_not_found(bigquery_server: Emulator, tmp_path: Path) -> None:
    missing = tmp_path / "sa.json"

    failure = _fail(_compute(credentials_file=str(missing), api_endpoint=bigquery_server.url))

    assert failure.kind == FailureKind.NOT_FOUND
    assert failure.remediation == (
        f"the credentials file {missing} does not exist: create it, or fix {ROOT}.credentials_file."
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_unusable_credentials_file_is_authentication(
    bigquery_server: Emulator, tmp_path: Path
) -> None:
    broken = tmp_path / "sa.json"
    broken.write_text('{"type": "service_account"}', encoding="utf-8")

    failure = _fail(_compute(credentials_file=str(broken), api_endpoint=bigquery_server.url))

    assert failure.kind == FailureKind.AUTHENTICATION
    assert failure.remediation == (f"the credentials were rejected: check {ROOT}.credentials_file.")


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_no_application_default_credentials_is_authentication(
    bigquery_server: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No file, no gcloud login, and no metadata-server lookup (which would leave the machine).
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("NO_GCE_CHECK", "True")

    failure = _fail(_compute(api_endpoint=bigquery_server.url))

    assert failure.kind == FailureKind.AUTHENTICATION
    assert failure.message.startswith("no Google application default credentials were found")
    assert failure.remediation == (f"the credentials were rejected: check {ROOT}.credentials_file.")


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_connection_refused() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"

    failure = _fail(_compute(anonymous=True, api_endpoint=endpoint))

    assert failure.kind == FailureKind.REFUSED
    assert failure.remediation == (
        f"nothing accepts connections at {endpoint}: check {ROOT}.api_endpoint, that the "
        "service is running, and that firewalls or network policies let this machine through."
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_blackhole_is_timeout(blackhole: Blackhole) -> None:
    endpoint = f"http://127.0.0.1:{blackhole.port}"

    failure = _fail(_compute(anonymous=True, api_endpoint=endpoint))

    assert failure.kind == FailureKind.TIMEOUT
    assert failure.remediation == (
        f"check {ROOT}.api_endpoint, security groups and "
        "network policies, or raise --timeout if the service is just slow."
    )
