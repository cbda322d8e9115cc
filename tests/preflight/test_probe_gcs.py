"""The GCS probe against gcp-storage-emulator (the real google-cloud-storage client)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floe_checks.config import GCSStorage
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.ports import free_port
from floe_checks.probes import gcs
from tests.preflight.cloud_emulators import GCS_BUCKET, Emulator, section
from tests.preflight.local_servers import Blackhole

pytestmark = pytest.mark.evidence("static")


TIMEOUT = 2.0
ROOT = "environments.test.storage"


def _storage(endpoint: str, **fields: Any) -> GCSStorage:
    values = {"type": "gcs", "bucket": GCS_BUCKET, "endpoint": endpoint, **fields}
    result = section("storage", values)
    assert isinstance(result, GCSStorage)
    return result


def _fail(storage: GCSStorage) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        gcs.check(storage, TIMEOUT)
    return info.value


def _object_names(server: Emulator, prefix: str) -> list[str]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined,unused-ignore]

    client = storage.Client(
        project="floe-demo",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": server.url},
    )
    try:
        return [blob.name for blob in client.list_blobs(GCS_BUCKET, prefix=prefix)]
    finally:
        client.close()


@pytest.mark.requirement("007-FR-017")
def test_write_read_delete_reported_separately(gcs_server: Emulator) -> None:
    prefix = "preflight/gcs-ok/"

    details = gcs.check(_storage(gcs_server.url, prefix=prefix), TIMEOUT)

    assert details["message"] == (
        f"listed, wrote, read back and deleted a probe object under gs://{GCS_BUCKET}/{prefix}"
    )
    assert (details["read"], details["write"], details["delete"]) == ("ok", "ok", "ok")
    probe_object = details["probe_object"]
    assert isinstance(probe_object, str)
    assert probe_object.startswith(prefix)
    assert details["credentials"] == "anonymous"
    # The probe cleaned up after itself.
    assert _object_names(gcs_server, prefix) == []


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_wrong_credentials_is_authentication() -> None:
    """gcp-storage-emulator ignores the Authorization header, so a rejected credential cannot be
    provoked against it: the mapping is checked with the errors the real clients raise for the
    real service's answers (google-api-core builds them from the HTTP status, google-auth raises
    RefreshError when the token endpoint refuses a key)."""
    from google.api_core.exceptions import from_http_status
    from google.auth.exceptions import RefreshError

    from floe_checks.probes.google_client import classify, http_status

    unauthorized = from_http_status(401, "Request had invalid authentication credentials.")
    forbidden = from_http_status(403, "floe@p.iam.gserviceaccount.com does not have access")
    refused_key = RefreshError("invalid_grant: Invalid JWT Signature.", {"error": "invalid_grant"})
    assert [classify(e) for e in (unauthorized, forbidden, refused_key)] == [
        FailureKind.AUTHENTICATION,
        FailureKind.AUTHORIZATION,
        FailureKind.AUTHENTICATION,
    ]
    assert [http_status(e) for e in (unauthorized, forbidden, refused_key)] == [401, 403, None]


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_missing_bucket_is_not_found(gcs_server: Emulator) -> None:
    failure = _fail(_storage(gcs_server.url, bucket="floe-no-such-bucket"))

    assert failure.kind == FailureKind.NOT_FOUND
    assert failure.remediation == (
        f"the bucket gs://floe-no-such-bucket does not exist: create it, or fix {ROOT}.bucket."
    )
    assert (failure.details["read"], failure.details["write"]) == ("failed", "not checked")


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_missing_credentials_file_is_not_found(gcs_server: Emulator, tmp_path: Path) -> None:
    missing = tmp_path / "sa.json"

    failure = _fail(_storage(gcs_server.url, credentials_file=str(missing)))

    assert failure.kind == FailureKind.NOT_FOUND
    assert failure.remediation == (
        f"the credentials file {missing} does not exist: create it, or fix {ROOT}.credentials_file."
    )


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_connection_refused() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"

    failure = _fail(_storage(endpoint))

    assert failure.kind == FailureKind.REFUSED
    assert failure.remediation == (
        f"nothing accepts connections at {endpoint}: check {ROOT}.endpoint, that the service "
        "is running, and that firewalls or network policies let this machine through."
    )


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_blackhole_is_timeout(blackhole: Blackhole) -> None:
    endpoint = f"http://127.0.0.1:{blackhole.port}"

    failure = _fail(_storage(endpoint))

    assert failure.kind == FailureKind.TIMEOUT
    assert failure.remediation == (
        f"check {ROOT}.endpoint, security groups and "
        "network policies, or raise --timeout if the service is just slow."
    )
