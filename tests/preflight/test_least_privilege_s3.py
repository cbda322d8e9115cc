"""Least privilege of the S3 credential (FC-006), against moto with IAM enforced.

moto checks each request's signature and the user's IAM policies, with the object's ARN as the
resource (``arn:aws:s3:::bucket/key``), so a policy scoped to a prefix denies a DeleteObject
outside it, as AWS does. Three users: ``admin`` of the session's server (``*``), one allowed
everything on this bucket only, and a narrow one (list and head the bucket, read, write and
delete under the probe prefix). The warnings' exact text is asserted. The delete marker a
versioned bucket keeps is checked on SeaweedFS, which writes one as AWS does (moto does not).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from floe_checks.config import S3Storage, Section
from floe_checks.least_privilege import s3_outside_key, s3_warnings
from floe_checks.preflight.runner import run_check
from tests.preflight.local_servers import IcebergRestServer, S3Server

pytestmark = [pytest.mark.requirement("FC-006", "007-FR-017"), pytest.mark.evidence("static")]

BUCKET = "floe-lp"
VERSIONED = "floe-lp-versioned"
ARN = f"arn:aws:s3:::{BUCKET}"
CREDENTIAL = "the S3 credential of environments.test.storage.access_key_id (${AWS_ACCESS_KEY_ID})"
POLICIES: dict[str, list[dict[str, Any]]] = {
    "lp-bucketwide": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": [ARN, f"{ARN}/*"]},
    ],
    "lp-narrow": [
        {
            "Effect": "Allow",
            # moto authorises HEAD bucket as s3:HeadBucket (AWS uses s3:ListBucket for it).
            "Action": ["s3:ListBucket", "s3:HeadBucket", "s3:GetBucketLocation"],
            "Resource": ARN,
        },
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{ARN}/floe-preflight/*",
        },
    ],
}


def _client(server: S3Server, service: str, key: str, secret: str) -> Any:
    return _client_at(server.endpoint_url, service, key, secret)


def _client_at(endpoint_url: str, service: str, key: str, secret: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="module")
def iam_users(s3_iam_server: S3Server) -> dict[str, tuple[str, str]]:
    """The buckets, and the key pairs of ``admin`` and this module's users by name."""
    admin_key, admin_secret = s3_iam_server.keys["admin"]
    s3 = _client(s3_iam_server, "s3", admin_key, admin_secret)
    s3.create_bucket(Bucket=BUCKET)
    iam = _client(s3_iam_server, "iam", admin_key, admin_secret)
    keys = {"admin": (admin_key, admin_secret)}
    for user, statements in POLICIES.items():
        iam.create_user(UserName=user)
        created = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(
            UserName=user,
            PolicyName=f"{user}-policy",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        keys[user] = (created["AccessKeyId"], created["SecretAccessKey"])
    return keys


def _check(
    server: S3Server,
    load_section: Callable[..., Section],
    keys: tuple[str, str],
    bucket: str = BUCKET,
    **extra: object,
) -> Any:
    raw = {
        "type": "s3",
        "bucket": bucket,
        "endpoint_url": server.endpoint_url,
        "path_style": True,
        "access_key_id": "${AWS_ACCESS_KEY_ID}",
        "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
        **extra,
    }
    section = load_section("storage", raw, AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1])
    return run_check("storage", section, timeout=10, slow_ms=60_000)


def _bucket_count(server: S3Server) -> int:
    key, secret = server.keys["admin"]
    return len(_client(server, "s3", key, secret).list_buckets()["Buckets"])


def _delete_warning(key: str, bucket: str = BUCKET) -> str:
    return (
        f"{CREDENTIAL} may delete objects anywhere in bucket {bucket!r}, outside prefix "
        f"'floe-preflight/' (DeleteObject of the never-existing top-level key {key!r} was "
        "allowed). Fix: limit s3:DeleteObject to the prefix the platform writes (its warehouse "
        f"location, e.g. arn:aws:s3:::{bucket}/floe-preflight/*) and keep "
        "environments.test.storage.prefix inside it."
    )


def test_narrow_policy_passes_without_warning(
    s3_iam_server: S3Server,
    iam_users: dict[str, tuple[str, str]],
    load_section: Callable[..., Section],
) -> None:
    result = _check(s3_iam_server, load_section, iam_users["lp-narrow"])
    assert (result.status, result.remediation) == ("ok", None), result.line()
    privileges = result.details["privileges"]
    assert privileges["outside_key"].startswith("floe-least-privilege-probe-")
    assert privileges == {
        "list_all_buckets": False,
        "bucket_count": None,
        "delete_outside_prefix": False,
        "outside_key": privileges["outside_key"],
    }


def test_admin_may_list_every_bucket_and_delete_anywhere(
    s3_iam_server: S3Server,
    iam_users: dict[str, tuple[str, str]],
    load_section: Callable[..., Section],
) -> None:
    result = _check(s3_iam_server, load_section, iam_users["admin"])
    count = _bucket_count(s3_iam_server)
    key = result.details["privileges"]["outside_key"]
    assert result.status == "warning"
    assert result.details["warnings"] == [
        f"{CREDENTIAL} may list every bucket of the account "
        f"(s3:ListAllMyBuckets; it listed {count}); the platform needs only bucket "
        f"'floe-lp'. Fix: drop s3:ListAllMyBuckets from its policy and keep s3:ListBucket on "
        f"{ARN}.",
        _delete_warning(key),
    ]
    assert result.details["privileges"] == {
        "list_all_buckets": True,
        "bucket_count": count,
        "delete_outside_prefix": True,
        "outside_key": key,
    }
    # The check itself passed: read, write and the probe object's delete.
    assert result.message == (
        "bucket 'floe-lp' reachable; read ok; write ok (probe object under 'floe-preflight/')."
    )
    # Nothing was created by the delete probe.
    admin_key, admin_secret = iam_users["admin"]
    listing = _client(s3_iam_server, "s3", admin_key, admin_secret).list_objects_v2(Bucket=BUCKET)
    assert listing["KeyCount"] == 0


def test_bucketwide_policy_may_delete_outside_the_prefix(
    s3_iam_server: S3Server,
    iam_users: dict[str, tuple[str, str]],
    load_section: Callable[..., Section],
) -> None:
    result = _check(s3_iam_server, load_section, iam_users["lp-bucketwide"])
    key = result.details["privileges"]["outside_key"]
    assert result.status == "warning"
    assert result.details["warnings"] == [_delete_warning(key)]
    assert result.details["privileges"]["list_all_buckets"] is False


def test_a_prefix_scoped_to_the_bucket_root_skips_the_delete_probe(
    s3_iam_server: S3Server,
    iam_users: dict[str, tuple[str, str]],
    load_section: Callable[..., Section],
) -> None:
    """``prefix: ""`` gives the platform the whole bucket: nothing is outside it."""
    result = _check(s3_iam_server, load_section, iam_users["lp-bucketwide"], prefix="")
    assert (result.status, result.remediation) == ("ok", None), result.line()
    assert result.details["privileges"] == {
        "list_all_buckets": False,
        "bucket_count": None,
        "delete_outside_prefix": None,
        "outside_key": None,
    }


def test_versioned_bucket_keeps_no_delete_marker(
    iceberg_rest_server: IcebergRestServer, load_section: Callable[..., Section]
) -> None:
    """On a versioned bucket a DeleteObject of a key that never existed still writes a delete
    marker (AWS does; moto does not, SeaweedFS does): the probe removes it by its version id."""
    weed = iceberg_rest_server
    s3 = _client_at(weed.s3_endpoint, "s3", weed.client_id, weed.client_secret)
    s3.create_bucket(Bucket=VERSIONED)
    s3.put_bucket_versioning(Bucket=VERSIONED, VersioningConfiguration={"Status": "Enabled"})
    raw = {
        "type": "s3",
        "bucket": VERSIONED,
        "endpoint_url": weed.s3_endpoint,
        "path_style": True,
        "access_key_id": "${AWS_ACCESS_KEY_ID}",
        "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
    }
    section = load_section(
        "storage",
        raw,
        AWS_ACCESS_KEY_ID=weed.client_id,
        AWS_SECRET_ACCESS_KEY=weed.client_secret,
    )
    result = run_check("storage", section, timeout=10, slow_ms=60_000)
    key = result.details["privileges"]["outside_key"]
    assert result.details["privileges"]["delete_outside_prefix"] is True
    assert result.details["privileges"]["delete_marker"] == "removed"
    assert result.details["warnings"][-1] == _delete_warning(key, VERSIONED)
    versions = s3.list_object_versions(Bucket=VERSIONED)
    assert [m["Key"] for m in versions.get("DeleteMarkers", []) if m["Key"] == key] == []


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        ("floe-preflight/", "floe-least-privilege-probe-ab12"),
        ("warehouse/floe-preflight/", "floe-least-privilege-probe-ab12"),
        ("f", "0-floe-least-privilege-probe-ab12"),
        ("", None),
    ],
)
def test_outside_key_never_starts_with_the_prefix(prefix: str, key: str | None) -> None:
    assert s3_outside_key(prefix, "ab12") == key


def test_delete_warning_names_the_top_of_a_nested_prefix(
    load_section: Callable[..., Section],
) -> None:
    raw = {"type": "s3", "bucket": "acme-floe-prod", "prefix": "warehouse/floe-preflight/"}
    section = load_section("storage", raw)
    assert isinstance(section, S3Storage)
    (warning,) = s3_warnings(
        section,
        list_all_buckets=False,
        bucket_count=None,
        delete_outside_prefix=True,
        outside_key="floe-least-privilege-probe-ab12",
    )
    assert warning == (
        "the S3 credential from the AWS credential chain may delete objects anywhere in bucket "
        "'acme-floe-prod', outside prefix 'warehouse/floe-preflight/' (DeleteObject of the "
        "never-existing top-level key 'floe-least-privilege-probe-ab12' was allowed). Fix: "
        "limit s3:DeleteObject to the prefix the platform writes (its warehouse location, e.g. "
        "arn:aws:s3:::acme-floe-prod/warehouse/*) and keep environments.test.storage.prefix "
        "inside it."
    )
