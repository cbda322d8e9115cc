"""Amazon S3 and S3-compatible object storage (boto3).

``head_bucket``; then read (list under the probe prefix) and write (put, get back, delete a probe
object under ``prefix``), each reported on its own in ``details`` — a deploy needs both, and a
read-only key is the most common surprise. botocore gets the per-check connect and read timeouts
and no retries, so a dead endpoint fails once, within the timeout.

Then two least-privilege probes (:mod:`floe_checks.least_privilege`), each a warning when
allowed: ``ListBuckets`` (the credential may list every bucket of the account) and a
``DeleteObject`` of a random, never-existing key at the top level of the bucket, outside
``prefix`` (it may delete outside the platform's part of the bucket). Deleting a key that does
not exist deletes nothing; on a versioned bucket it leaves a delete marker, which the probe
removes again by its version id. IAM policy simulation would avoid even that, but needs
``iam:SimulatePrincipalPolicy`` (which a narrow credential lacks), exists only on AWS, and sees
neither bucket policies nor S3-compatible stores' own rules.
"""

from __future__ import annotations

import secrets
from typing import Any

from floe_checks.config import S3Storage
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import (
    certificate_failure,
    classify_network_error,
    failure,
    untrusted_certificate,
    wrong_region,
)
from floe_checks.least_privilege import s3_outside_key, s3_warnings
from floe_checks.results import Service

SERVICE = Service.STORAGE

_AUTH_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "InvalidClientTokenId",
    "AuthFailure",
}
_DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "AccountProblem", "403"}
_MISSING_CODES = {"NoSuchBucket", "404", "NotFound"}
# The bucket lives in another region than the one configured (or signed for).
_REGION_CODES = {
    "301",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
}


def _endpoint(section: S3Storage) -> str:
    return section.endpoint_url or f"https://s3.{section.region}.amazonaws.com"


def _address_fields(section: S3Storage) -> list[str]:
    return ["endpoint_url"] if section.endpoint_url else ["region"]


def _credential_fields(section: S3Storage) -> list[str]:
    return ["access_key_id", "secret_access_key"]


def _error_code(exc: Any) -> str:
    response = getattr(exc, "response", None) or {}
    return str((response.get("Error") or {}).get("Code") or "")


def _http_status(exc: Any) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _transport_failure(
    section: S3Storage, exc: Exception, timeout: float, step: str
) -> CheckFailure | None:
    from botocore import exceptions as bce

    endpoint = _endpoint(section)
    fields = _address_fields(section)
    if isinstance(exc, bce.ConnectTimeoutError | bce.ReadTimeoutError):
        return failure(
            FailureKind.TIMEOUT,
            f"no answer from S3 at {endpoint} within {timeout:g} s ({step}).",
            section,
            fields,
            endpoint=endpoint,
            timeout=timeout,
            details={"step": step},
        )
    if isinstance(exc, bce.SSLError):
        reason = untrusted_certificate(exc)
        if reason is not None:
            return certificate_failure(section, reason, endpoint=endpoint, step=step)
        return failure(
            FailureKind.TLS,
            f"TLS handshake with S3 at {endpoint} failed ({step}).",
            section,
            fields,
            endpoint=endpoint,
            details={"step": step},
        )
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        return failure(
            FailureKind.AUTHENTICATION,
            "no S3 credentials found (neither in floe.yaml nor in the AWS credential chain).",
            section,
            _credential_fields(section),
            endpoint=endpoint,
            details={"step": step},
        )
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectionClosedError):
        kind = classify_network_error(exc) or FailureKind.REFUSED
        if kind is FailureKind.REFUSED and isinstance(exc, bce.ConnectionClosedError):
            kind = FailureKind.PROTOCOL
        messages = {
            FailureKind.DNS: f"cannot resolve the S3 endpoint {endpoint} ({step}).",
            FailureKind.REFUSED: f"connection to S3 at {endpoint} refused ({step}).",
            FailureKind.TIMEOUT: f"no answer from S3 at {endpoint} within {timeout:g} s ({step}).",
        }
        return failure(
            kind,
            messages.get(kind, f"S3 at {endpoint} closed the connection ({step})."),
            section,
            fields,
            endpoint=endpoint,
            timeout=timeout,
            what="an S3 endpoint",
            details={"step": step},
        )
    return None


def _client_failure(
    section: S3Storage, exc: Exception, step: str, code: str, details: dict[str, object]
) -> CheckFailure:
    endpoint = _endpoint(section)
    status = _http_status(exc)
    facts = {**details, "step": step, "error_code": code, "http_status": status}
    if code in _AUTH_CODES:
        return failure(
            FailureKind.AUTHENTICATION,
            f"S3 rejected the credentials ({code}).",
            section,
            _credential_fields(section),
            endpoint=endpoint,
            details=facts,
        )
    if code in _MISSING_CODES:
        return failure(
            FailureKind.NOT_FOUND,
            f"bucket {section.bucket!r} does not exist ({code}).",
            section,
            ["bucket"],
            endpoint=endpoint,
            what=f"bucket {section.bucket!r}",
            details=facts,
        )
    if code in _REGION_CODES:
        return CheckFailure(
            FailureKind.PROTOCOL,
            f"bucket {section.bucket!r} is not in region {section.region!r} ({code}).",
            remediation=wrong_region(section, "region", section.region),
            details={"endpoint": endpoint, "failure": FailureKind.PROTOCOL.value, **facts},
        )
    if code in _DENIED_CODES:
        return failure(
            FailureKind.AUTHORIZATION,
            f"access denied: {step} on bucket {section.bucket!r} ({code}).",
            section,
            [*_credential_fields(section), "bucket"],
            endpoint=endpoint,
            what=_permission(step, section),
            details=facts,
        )
    return failure(
        FailureKind.PROTOCOL,
        f"S3 {step} failed ({code or status}).",
        section,
        _address_fields(section),
        endpoint=endpoint,
        what="S3",
        details=facts,
    )


def _permission(step: str, section: S3Storage) -> str:
    arn = f"arn:aws:s3:::{section.bucket}"
    return {
        "head_bucket": f"s3:ListBucket on {arn}",
        "read": f"s3:ListBucket on {arn}",
        "write": f"s3:PutObject on {arn}/{section.prefix}*",
        "read back": f"s3:GetObject on {arn}/{section.prefix}*",
        "delete": f"s3:DeleteObject on {arn}/{section.prefix}*",
    }.get(step, step)


def make_client(section: S3Storage, timeout: float) -> Any:
    """A boto3 S3 client for a section (the check's and the ``floe_s3`` fixture's): its own
    session, the section's credentials, timeouts and no retries."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path" if section.path_style else "auto"},
        user_agent_extra="floe-preflight",
    )
    kwargs: dict[str, Any] = {"region_name": section.region, "config": config}
    if section.endpoint_url:
        kwargs["endpoint_url"] = section.endpoint_url
    if section.ca_bundle:
        # explicit, so it wins over AWS_CA_BUNDLE and the profile's ca_bundle
        kwargs["verify"] = section.ca_bundle
    if section.access_key_id is not None:
        kwargs["aws_access_key_id"] = section.access_key_id.get_secret_value()
    if section.secret_access_key is not None:
        kwargs["aws_secret_access_key"] = section.secret_access_key.get_secret_value()
    return boto3.session.Session().client("s3", **kwargs)


def check(section: S3Storage, timeout: float) -> dict[str, object]:
    """Bucket, read permission and write permission.

    Raises:
        CheckFailure: the bucket is unreachable, missing, or not readable and writable.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    client = make_client(section, timeout)
    bucket = section.bucket
    details: dict[str, object] = {"endpoint": _endpoint(section), "bucket": bucket}

    def call(step: str, fn: Any, **args: Any) -> Any:
        try:
            return fn(**args)
        except ClientError as exc:
            code = _error_code(exc)
            if step == "head_bucket" and code in ("403", "400"):
                # HEAD answers carry no body: ask again with a call whose error names the cause.
                try:
                    client.get_bucket_location(Bucket=bucket)
                except ClientError as again:
                    code = _error_code(again) or code
                except BotoCoreError:
                    pass
            raise _client_failure(section, exc, step, code, details) from None
        except BotoCoreError as exc:
            problem = _transport_failure(section, exc, timeout, step)
            if problem is None:
                raise
            problem.details.update(details)
            raise problem from None

    call("head_bucket", client.head_bucket, Bucket=bucket)
    call("read", client.list_objects_v2, Bucket=bucket, Prefix=section.prefix, MaxKeys=1)
    details["read"] = "ok"
    key = f"{section.prefix}probe-{secrets.token_hex(6)}"
    body = f"floe preflight {key}".encode()
    try:
        call("write", client.put_object, Bucket=bucket, Key=key, Body=body)
    except CheckFailure as exc:
        exc.details["write"] = "denied" if exc.kind is FailureKind.AUTHORIZATION else "failed"
        raise
    details["write"] = "ok"
    try:
        answer = call("read back", client.get_object, Bucket=bucket, Key=key)
        data = answer["Body"].read()
    finally:
        # Leave nothing behind, even when reading back failed.
        try:
            call("delete", client.delete_object, Bucket=bucket, Key=key)
            details["delete"] = "ok"
        except CheckFailure as exc:
            details["delete"] = "denied" if exc.kind is FailureKind.AUTHORIZATION else "failed"
    if data != body:
        raise failure(
            FailureKind.PROTOCOL,
            f"the probe object read back from {bucket!r} differs from what was written.",
            section,
            _address_fields(section),
            endpoint=_endpoint(section),
            what="S3",
            details=details,
        )
    warnings: list[str] = []
    if details.get("delete") != "ok":
        warnings.append(
            f"the probe object {key!r} could not be deleted: grant "
            f"{_permission('delete', section)} or remove objects under {section.prefix!r}."
        )
    privileges = _privileges(client, section)
    details["privileges"] = privileges
    warnings += s3_warnings(
        section,
        list_all_buckets=privileges["list_all_buckets"],
        bucket_count=privileges["bucket_count"],
        delete_outside_prefix=privileges["delete_outside_prefix"],
        outside_key=privileges["outside_key"],
    )
    if warnings:
        details["warnings"] = warnings
    details["probe_key_prefix"] = section.prefix
    details["message"] = (
        f"bucket {bucket!r} reachable; read ok; write ok (probe object under {section.prefix!r})."
    )
    return details


def _allowed(exc: Exception) -> bool | None:
    """False for an access-denied answer, None (not known) for anything else."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError) and _error_code(exc) in _DENIED_CODES:
        return False
    return None


def _privileges(client: Any, section: S3Storage) -> dict[str, Any]:
    """Whether the credential may list every bucket and delete outside ``prefix``; each None
    when the store's answer says neither yes nor no (an S3-compatible store without the
    call, a network error): least privilege is advice, it never fails the check."""
    from botocore.exceptions import BotoCoreError, ClientError

    facts: dict[str, Any] = {
        "list_all_buckets": None,
        "bucket_count": None,
        "delete_outside_prefix": None,
        "outside_key": None,
    }
    try:
        answer = client.list_buckets()
        facts["list_all_buckets"] = True
        facts["bucket_count"] = len(answer.get("Buckets") or [])
    except (ClientError, BotoCoreError) as exc:
        facts["list_all_buckets"] = _allowed(exc)
    key = s3_outside_key(section.prefix, secrets.token_hex(8))
    if key is None:
        return facts
    facts["outside_key"] = key
    try:
        answer = client.delete_object(Bucket=section.bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        facts["delete_outside_prefix"] = _allowed(exc)
        return facts
    facts["delete_outside_prefix"] = True
    marker = answer.get("VersionId") if answer.get("DeleteMarker") else None
    if marker:
        # A versioned bucket keeps a delete marker even for a key that never existed.
        try:
            client.delete_object(Bucket=section.bucket, Key=key, VersionId=marker)
            facts["delete_marker"] = "removed"
        except (ClientError, BotoCoreError):
            facts["delete_marker"] = f"left (version {marker})"
    return facts
