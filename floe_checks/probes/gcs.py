"""Google Cloud Storage: list the bucket under the prefix, then write, read back and delete a
probe object there (:mod:`~floe_checks.probes.object_round_trip`). Read and write are reported
separately.

Credentials: ``credentials_file`` when set; otherwise anonymous when ``endpoint`` points at an
emulator; otherwise application default credentials. Every request has the per-check timeout
and no retries.
"""

from __future__ import annotations

from typing import Any

from floe_checks.config import GCSStorage
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import failure
from floe_checks.probes.google_client import (
    classify,
    credentials_source,
    first_line,
    http_status,
    load_credentials,
)
from floe_checks.probes.object_round_trip import ReadBackMismatch, round_trip
from floe_checks.results import Service

SERVICE = Service.STORAGE

_SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
_DEFAULT_ENDPOINT = "https://storage.googleapis.com"
# Which permission each step needs, for the authorization remediation.
_PERMISSION = {
    "list": "storage.objects.list",
    "write": "storage.objects.create",
    "read back": "storage.objects.get",
    "delete": "storage.objects.delete",
}


def _fields(kind: FailureKind, section: GCSStorage) -> list[str]:
    if kind == FailureKind.AUTHENTICATION:
        return ["credentials_file"]
    if kind == FailureKind.AUTHORIZATION:
        return ["credentials_file", "bucket"]
    if kind == FailureKind.NOT_FOUND:
        return ["bucket", "project"] if section.project else ["bucket"]
    return ["endpoint"]


class _Bucket:
    """The round trip's steps through google-cloud-storage: per-call timeout, no retries."""

    def __init__(self, client: Any, name: str, timeout: float) -> None:
        self._client = client
        self._bucket = client.bucket(name)
        self._timeout = timeout

    def list(self, prefix: str) -> None:
        blobs = self._client.list_blobs(
            self._bucket, prefix=prefix, max_results=1, timeout=self._timeout, retry=None
        )
        list(blobs)

    def write(self, key: str, data: bytes) -> None:
        self._bucket.blob(key).upload_from_string(
            data, content_type="text/plain", timeout=self._timeout, retry=None
        )

    def read(self, key: str) -> bytes:
        data: bytes = self._bucket.blob(key).download_as_bytes(timeout=self._timeout, retry=None)
        return data

    def delete(self, key: str) -> None:
        self._bucket.blob(key).delete(timeout=self._timeout, retry=None)


def check(section: GCSStorage, timeout: float) -> dict[str, object]:
    """List, write, read back and delete under ``gs://bucket/prefix``.

    Raises:
        CheckFailure: the bucket is missing, a permission is missing or the endpoint is wrong.
    """
    from google.api_core.client_options import ClientOptions
    from google.cloud import storage  # type: ignore[attr-defined,unused-ignore]

    endpoint = section.endpoint or _DEFAULT_ENDPOINT
    anonymous = section.endpoint is not None and section.credentials_file is None
    credentials = load_credentials(
        section, anonymous=anonymous, scopes=_SCOPES, endpoint=endpoint, timeout=timeout
    )
    options = ClientOptions(api_endpoint=section.endpoint) if section.endpoint else None
    client = storage.Client(
        project=section.project, credentials=credentials, client_options=options
    )
    url = f"gs://{section.bucket}/{section.prefix}"

    def fail(step: str, exc: Exception) -> CheckFailure:
        kind = FailureKind.PROTOCOL if isinstance(exc, ReadBackMismatch) else classify(exc)
        status = http_status(exc)
        return failure(
            kind,
            f"GCS {step} at {url} failed: {first_line(exc)}",
            section,
            _fields(kind, section),
            endpoint=endpoint,
            timeout=timeout,
            what={
                FailureKind.AUTHORIZATION: f"{_PERMISSION[step]} on gs://{section.bucket}",
                FailureKind.NOT_FOUND: f"the bucket gs://{section.bucket}",
                FailureKind.PROTOCOL: "the GCS JSON API",
            }.get(kind, first_line(exc)),
            details={"bucket": section.bucket, **({"http_status": status} if status else {})},
        )

    try:
        steps = round_trip(_Bucket(client, section.bucket, timeout), section.prefix, fail)
    finally:
        client.close()
    return {
        "message": f"listed, wrote, read back and deleted a probe object under {url}",
        "endpoint": endpoint,
        "bucket": section.bucket,
        "prefix": section.prefix,
        "credentials": credentials_source(section, anonymous=anonymous),
        **steps,
    }
