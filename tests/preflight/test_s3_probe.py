"""The S3 probe against moto with IAM enforced (real signature checks and policies)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest

from floe_checks.config import Section
from floe_checks.ports import free_port
from floe_checks.preflight.runner import run_check
from tests.preflight.local_servers import Blackhole, S3Server

pytestmark = [pytest.mark.requirement("007-FR-017", "007-FR-020"), pytest.mark.evidence("static")]

BUCKET = "floe-lake"
ENV_REFS = {
    "access_key_id": "${AWS_ACCESS_KEY_ID}",
    "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
}
CREDENTIALS_HINT = (
    "environments.test.storage.access_key_id (${AWS_ACCESS_KEY_ID}), "
    "environments.test.storage.secret_access_key (${AWS_SECRET_ACCESS_KEY})"
)


def _admin(server: S3Server) -> Any:
    import boto3
    from botocore.config import Config

    key, secret = server.keys["admin"]
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def lake(s3_iam_server: S3Server) -> S3Server:
    _admin(s3_iam_server).create_bucket(Bucket=BUCKET)
    return s3_iam_server


def _section(
    load_section: Callable[..., Section],
    endpoint: str,
    key: str,
    secret: str,
    bucket: str = BUCKET,
) -> Section:
    raw = {
        "type": "s3",
        "bucket": bucket,
        "endpoint_url": endpoint,
        "path_style": True,
        **ENV_REFS,
    }
    return load_section("storage", raw, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)


def test_success_reports_read_and_write_and_cleans_up(
    lake: S3Server, load_section: Callable[..., Section]
) -> None:
    # The least-privilege key: the admin's would pass with warnings (test_least_privilege_s3).
    key, secret = lake.keys["writer"]
    result = run_check(
        "storage",
        _section(load_section, lake.endpoint_url, key, secret),
        timeout=10,
        slow_ms=10_000,
    )
    assert result.status == "ok", result.line()
    assert result.backend == "s3"
    assert result.details["read"] == "ok"
    assert result.details["write"] == "ok"
    assert result.details["delete"] == "ok"
    assert result.message == (
        "bucket 'floe-lake' reachable; read ok; write ok (probe object under 'floe-preflight/')."
    )
    listing = _admin(lake).list_objects_v2(Bucket=BUCKET, Prefix="floe-preflight/")
    assert listing["KeyCount"] == 0


def test_wrong_secret_is_authentication(
    lake: S3Server, load_section: Callable[..., Section]
) -> None:
    key, _ = lake.keys["admin"]
    wrong = secrets.token_urlsafe(20)
    result = run_check("storage", _section(load_section, lake.endpoint_url, key, wrong), timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "authentication"
    assert result.details["error_code"] == "SignatureDoesNotMatch"
    assert result.remediation == f"the credentials were rejected: check {CREDENTIALS_HINT}."
    assert wrong not in result.model_dump_json()


def test_missing_bucket(lake: S3Server, load_section: Callable[..., Section]) -> None:
    key, secret = lake.keys["admin"]
    section = _section(load_section, lake.endpoint_url, key, secret, bucket="no-such-bucket")
    result = run_check("storage", section, timeout=10)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.remediation == (
        "bucket 'no-such-bucket' does not exist: create it, or fix "
        "environments.test.storage.bucket."
    )


def test_read_only_key_reports_read_ok_and_write_denied(
    lake: S3Server, load_section: Callable[..., Section]
) -> None:
    key, secret = lake.keys["reader"]
    result = run_check(
        "storage", _section(load_section, lake.endpoint_url, key, secret), timeout=10
    )
    assert result.status == "error", result.line()
    assert result.details["failure"] == "authorization", result.details
    assert result.details["read"] == "ok", result.details
    assert result.details["write"] == "denied"
    assert result.remediation == (
        "the credentials are valid but lack a permission (s3:PutObject on "
        "arn:aws:s3:::floe-lake/floe-preflight/*): grant it to the identity in "
        f"{CREDENTIALS_HINT}, environments.test.storage.bucket."
    )


def test_connection_refused(load_section: Callable[..., Section]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = run_check(
        "storage", _section(load_section, endpoint, "AKIAREFUSED", "refused-secret"), timeout=5
    )
    assert result.status == "error"
    assert result.details["failure"] == "connection_refused"
    assert result.remediation == (
        f"nothing accepts connections at {endpoint}: check environments.test.storage.endpoint_url,"
        " that the service is running, and that firewalls or network policies let this machine "
        "through."
    )


def test_blackhole_times_out_through_botocore_timeouts(
    blackhole: Blackhole, load_section: Callable[..., Section]
) -> None:
    result = run_check(
        "storage",
        _section(load_section, blackhole.url, "AKIABLACKHOLE", "blackhole-secret"),
        timeout=2,
    )
    assert result.status == "error"
    assert result.details["failure"] == "timeout"
    assert result.message == f"no answer from S3 at {blackhole.url} within 2 s (head_bucket)."
    assert result.remediation == (
        "check environments.test.storage.endpoint_url,"
        " security groups and network policies, or raise --timeout if the service is just slow."
    )


def test_plain_moto_accepts_any_key(
    s3_server: S3Server, load_section: Callable[..., Section]
) -> None:
    """The shared ``s3_server`` fixture (no IAM) works with the probe as well."""
    _admin_any = _section(load_section, s3_server.endpoint_url, "any", "any", bucket="plain")
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="any",
        aws_secret_access_key="any",  # pragma: allowlist secret
    ).create_bucket(Bucket="plain")
    result = run_check("storage", _admin_any, timeout=10, slow_ms=10_000)
    assert (result.details["read"], result.details["write"]) == ("ok", "ok")
    # Without IAM every key may do everything: both least-privilege warnings, nothing worse.
    assert result.status == "warning", result.line()
    assert (
        result.details["privileges"]["list_all_buckets"],
        result.details["privileges"]["delete_outside_prefix"],
    ) == (True, True)
    assert len(result.details["warnings"]) == 2
