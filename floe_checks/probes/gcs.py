"""Google Cloud Storage: list the bucket under the prefix, then write, read back and delete a
probe object there. Read and write are reported separately.

Credentials: ``credentials_file`` when set; otherwise anonymous when ``endpoint`` points at an
emulator; otherwise application default credentials. Every request has the per-check timeout
and no retries.
"""

from __future__ import annotations

import uuid

from floe_checks.config import GCSStorage
from floe_checks.errors import FailureKind
from floe_checks.preflight.remediation import failure
from floe_checks.preflight.result import Service
from floe_checks.probes.google_client import classify, first_line, http_status, load_credentials

SERVICE = Service.STORAGE

_SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)
_DEFAULT_ENDPOINT = "https://storage.googleapis.com"
# Which permission each step needs, for the authorization remediation.
_PERMISSION = {
    "list": "storage.objects.list",
    "write": "storage.objects.create",
    "read": "storage.objects.get",
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


def check(section: GCSStorage, timeout: float) -> dict[str, object]:
    """List, write, read and delete under ``gs://bucket/prefix``.

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
        project=section.project,
        credentials=credentials,
        client_options=options,
    )
    url = f"gs://{section.bucket}/{section.prefix}"
    key = f"{section.prefix}floe-preflight-{uuid.uuid4().hex}.txt"
    payload = f"floe-checks preflight probe {key}\n".encode()
    bucket = client.bucket(section.bucket)
    blob = bucket.blob(key)
    steps: dict[str, str] = {}
    step = "list"
    try:
        blobs = client.list_blobs(
            section.bucket, prefix=section.prefix, max_results=1, timeout=timeout, retry=None
        )
        list(blobs)
        steps["list"] = "ok"
        step = "write"
        blob.upload_from_string(payload, content_type="text/plain", timeout=timeout, retry=None)
        steps["write"] = "ok"
        step = "read"
        got = blob.download_as_bytes(timeout=timeout, retry=None)
        steps["read"] = "ok" if got == payload else "mismatch"
        step = "delete"
        blob.delete(timeout=timeout, retry=None)
        steps["delete"] = "ok"
    except Exception as exc:
        kind = classify(exc)
        steps[step] = kind.value
        status = http_status(exc)
        raise failure(
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
            details={
                "bucket": section.bucket,
                "probe_object": key,
                **{name: steps.get(name, "not checked") for name in _PERMISSION},
                **({"http_status": status} if status is not None else {}),
            },
        ) from None
    finally:
        client.close()
    if steps["read"] != "ok":
        raise failure(
            FailureKind.PROTOCOL,
            f"GCS read back other bytes than written at gs://{section.bucket}/{key}.",
            section,
            ["endpoint"],
            endpoint=endpoint,
            timeout=timeout,
            what="the GCS JSON API",
            details={"bucket": section.bucket, "probe_object": key, **steps},
        )
    return {
        "message": f"wrote, read back and deleted a probe object under {url}",
        "endpoint": endpoint,
        "bucket": section.bucket,
        "prefix": section.prefix,
        "probe_object": key,
        "credentials": (
            "anonymous"
            if anonymous
            else ("credentials_file" if section.credentials_file else "application default")
        ),
        **steps,
    }
