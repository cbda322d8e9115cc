"""``floe preflight --env NAME --json`` against environments made of the local servers.

A floe.yaml holds one environment per pair of backends, so that between them every compute and
storage kind is checked: PostgreSQL, moto S3, SeaweedFS's Iceberg REST catalog, the real Trino
(https, password), DuckDB, fakesnow, bqemulator, gcp-storage-emulator and Azurite. Secrets
appear in the file only as ``${VAR}``; the values go to the ``floe`` subprocess through its
environment, and none of them may show up in stdout, stderr or the JUnit XML. A last
environment points at a missing Snowflake database and a missing GCS bucket: exit 1, each
remediation names its field.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from floe_checks.results import Report
from floe_checks.servers.postgres import PostgresServer
from floe_checks.servers.trino import TrinoServer
from tests.preflight.cloud_emulators import (
    AZURE_CONTAINER,
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    BQ_PROJECT,
    GCS_BUCKET,
    Emulator,
)
from tests.preflight.local_servers import IcebergRestServer, S3Server

pytestmark = pytest.mark.evidence("emulator")


FLOE = Path(sys.executable).parent / "floe"
S3_BUCKET = "floe-preflight-cli"


@dataclass
class LocalEnvironment:
    """One floe.yaml environment, the secret values its ``${VAR}`` references need, and the
    (service, backend) pairs its report must hold."""

    sections: dict[str, dict[str, Any]]
    expected: list[tuple[str, str]]
    env: dict[str, str] = field(default_factory=dict)


def _trino_s3_catalog_postgres(request: pytest.FixtureRequest) -> LocalEnvironment:
    trino: TrinoServer = request.getfixturevalue("trino")
    assert trino.security is not None
    s3: S3Server = request.getfixturevalue("s3_server")
    catalog: IcebergRestServer = request.getfixturevalue("iceberg_rest_server")
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    access_key, secret_key = f"AKIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    ).create_bucket(Bucket=S3_BUCKET)
    return LocalEnvironment(
        sections={
            "compute": {
                "type": "trino",
                "host": trino.host,
                "port": trino.client_port,
                "user": trino.security.user,
                "password": "${TRINO_PASSWORD}",
                "http_scheme": "https",
                "ca_bundle": str(trino.ca_bundle),
                "catalog": "memory",
            },
            "storage": {
                "type": "s3",
                "bucket": S3_BUCKET,
                "endpoint_url": s3.endpoint_url,
                "region": s3.region,
                "path_style": True,
                "access_key_id": "${AWS_ACCESS_KEY_ID}",
                "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
            },
            "catalog": {
                "type": "iceberg-rest",
                "uri": catalog.uri,
                "client_id": catalog.client_id,
                "client_secret": "${POLARIS_CLIENT_SECRET}",
                "warehouse": catalog.warehouse,
            },
            "postgres": {
                "host": postgres.host,
                "port": postgres.port,
                "user": "postgres",
                "password": "${DAGSTER_PG_PASSWORD}",
                "database": "postgres",
            },
        },
        expected=[
            ("compute", "trino"),
            ("storage", "s3"),
            ("catalog", "iceberg-rest"),
            ("postgres", "postgres"),
        ],
        env={
            "TRINO_PASSWORD": trino.security.password.get_secret_value(),
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "POLARIS_CLIENT_SECRET": catalog.client_secret,
            "DAGSTER_PG_PASSWORD": postgres.password,
        },
    )


def _snowflake_gcs(request: pytest.FixtureRequest) -> LocalEnvironment:
    snowflake: Emulator = request.getfixturevalue("snowflake_server")
    gcs: Emulator = request.getfixturevalue("gcs_server")
    return LocalEnvironment(
        sections={
            "compute": {
                "type": "snowflake",
                "account": "floe",
                "user": "floe_user",
                "password": "${SNOWFLAKE_PASSWORD}",
                "host": "127.0.0.1",
                "port": snowflake.port,
                "protocol": "http",
            },
            "storage": {"type": "gcs", "bucket": GCS_BUCKET, "endpoint": gcs.url},
        },
        expected=[("compute", "snowflake"), ("storage", "gcs")],
        env={"SNOWFLAKE_PASSWORD": secrets.token_urlsafe(18)},
    )


def _bigquery_adls(request: pytest.FixtureRequest) -> LocalEnvironment:
    bigquery: Emulator = request.getfixturevalue("bigquery_server")
    azurite: Emulator = request.getfixturevalue("azurite_server")
    return LocalEnvironment(
        sections={
            "compute": {
                "type": "bigquery",
                "project": BQ_PROJECT,
                "anonymous": True,
                "api_endpoint": bigquery.url,
            },
            "storage": {
                "type": "adls",
                "account": AZURITE_ACCOUNT,
                "container": AZURE_CONTAINER,
                "account_key": "${AZURE_STORAGE_KEY}",
                "endpoint": azurite.url,
            },
        },
        expected=[("compute", "bigquery"), ("storage", "adls")],
        env={"AZURE_STORAGE_KEY": AZURITE_KEY},
    )


def _duckdb(request: pytest.FixtureRequest) -> LocalEnvironment:
    tmp_path: Path = request.getfixturevalue("tmp_path")
    return LocalEnvironment(
        sections={
            "compute": {"type": "duckdb", "path": str(tmp_path / "floe.duckdb"), "read_write": True}
        },
        expected=[("compute", "duckdb")],
    )


ENVIRONMENTS: dict[str, Callable[[pytest.FixtureRequest], LocalEnvironment]] = {
    "local-trino-s3-catalog-postgres": _trino_s3_catalog_postgres,
    "local-snowflake-gcs": _snowflake_gcs,
    "local-bigquery-adls": _bigquery_adls,
    "local-duckdb": _duckdb,
}


@pytest.mark.requirement("007-FR-015", "007-FR-016", "007-FR-017")
@pytest.mark.parametrize("name", list(ENVIRONMENTS))
def test_floe_preflight_passes_against_local_servers(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    local = ENVIRONMENTS[name](request)
    config = tmp_path / "floe.yaml"
    config.write_text(json.dumps({"environments": {name: local.sections}}), encoding="utf-8")
    junit = tmp_path / "preflight.xml"
    env = {**os.environ, **local.env}

    done = subprocess.run(
        [
            str(FLOE),
            "preflight",
            "--env",
            name,
            "--config",
            str(config),
            "--json",
            "--timeout",
            "20",
            "--junitxml",
            str(junit),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report = Report.model_validate_json(done.stdout)
    assert report.environment == name
    assert report.overall_status == "pass"
    assert sorted((c.service, c.backend) for c in report.checks) == sorted(local.expected)
    assert [c.line() for c in report.checks if c.status == "error"] == []
    junit_text = junit.read_text(encoding="utf-8")
    for variable, value in local.env.items():
        assert value not in done.stdout, f"${variable} leaked into stdout"
        assert value not in done.stderr, f"${variable} leaked into stderr"
        assert value not in junit_text, f"${variable} leaked into the JUnit XML"


@pytest.mark.requirement("007-FR-015", "007-FR-020")
def test_floe_preflight_failures_exit_1_and_name_the_fields(
    snowflake_server: Emulator, gcs_server: Emulator, tmp_path: Path
) -> None:
    password = secrets.token_urlsafe(18)
    sections = {
        "compute": {
            "type": "snowflake",
            "account": "floe",
            "user": "floe_user",
            "password": "${SNOWFLAKE_PASSWORD}",
            "host": "127.0.0.1",
            "port": snowflake_server.port,
            "protocol": "http",
            "database": "NO_SUCH_DB",
        },
        "storage": {"type": "gcs", "bucket": "floe-no-such-bucket", "endpoint": gcs_server.url},
    }
    config = tmp_path / "floe.yaml"
    config.write_text(json.dumps({"environments": {"broken": sections}}), encoding="utf-8")

    done = subprocess.run(
        [str(FLOE), "preflight", "--env", "broken", "--config", str(config), "--json"],
        env={**os.environ, "SNOWFLAKE_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert done.returncode == 1, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report = Report.model_validate_json(done.stdout)
    assert report.overall_status == "fail"
    remediations = {(c.service, c.status): c.remediation for c in report.checks}
    assert remediations == {
        ("compute", "error"): (
            "the database NO_SUCH_DB (or the USAGE grant on it for the user's default role) "
            "does not exist: create it, or fix environments.broken.compute.database, "
            "environments.broken.compute.role."
        ),
        ("storage", "error"): (
            "the bucket gs://floe-no-such-bucket does not exist: create it, or fix "
            "environments.broken.storage.bucket."
        ),
    }
    assert password not in done.stdout
    assert password not in done.stderr
