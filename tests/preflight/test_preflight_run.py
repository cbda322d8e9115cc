"""End to end: ``floe preflight`` and ``pytest --floe-env=… -m preflight`` in their own processes
against an environment made of the local real servers (PostgreSQL, moto with IAM, SeaweedFS's
Iceberg REST catalog, Cube 0.33, dagster-webserver) and the real Trino over https."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.ports import free_port
from floe_checks.results import Report
from floe_checks.servers.postgres import PostgresServer
from floe_checks.servers.trino import TrinoServer
from tests.preflight import local_servers
from tests.preflight.local_servers import (
    Blackhole,
    CubeServer,
    IcebergRestServer,
    S3Server,
)

pytestmark = [
    pytest.mark.requirement("007-FR-015", "007-FR-020", "SC-003"),
    pytest.mark.evidence("service"),
]

BIN = Path(sys.executable).parent
REPORT_KEYS = {"timestamp", "overall_status", "duration_ms", "environment", "checks"}
CHECK_KEYS = {"service", "backend", "status", "message", "duration_ms", "remediation", "details"}
BUCKET = "floe-run"
# The environments' identities have least privilege (no warning): a role owning its database,
# and moto's ``writer`` key.
PG_USER = "floe_run"
PG_PASSWORD = secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Workspace:
    """A directory with floe.yaml and the environment variables its secrets come from."""

    path: Path
    env: dict[str, str]
    cube: bool  # whether the environments include Cube

    def services(self, *names: str) -> list[str]:
        """``names`` without ``cube`` when Cube could not run here."""
        return [n for n in names if self.cube or n != "cube"]

    @property
    def secrets(self) -> list[str]:
        return [v for k, v in self.env.items() if v and k.endswith(("PASSWORD", "SECRET", "_KEY"))]

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=self.path,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _sections(
    trino: TrinoServer,
    s3: S3Server,
    catalog: IcebergRestServer,
    pg: PostgresServer,
    cube: CubeServer | None,
    prefix: str,
) -> dict[str, object]:
    sections: dict[str, object] = {
        "compute": {
            "type": "trino",
            "host": "127.0.0.1",
            "port": trino.client_port,
            "user": "analyst",
            "http_scheme": "https",
            "ca_bundle": str(trino.ca_bundle),
            "password": f"${{{prefix}TRINO_PASSWORD}}",
        },
        "storage": {
            "type": "s3",
            "bucket": BUCKET,
            "endpoint_url": s3.endpoint_url,
            "path_style": True,
            "access_key_id": f"${{{prefix}AWS_ACCESS_KEY_ID}}",
            "secret_access_key": f"${{{prefix}AWS_SECRET_ACCESS_KEY}}",
        },
        "catalog": {
            "type": "polaris",
            "uri": catalog.uri,
            "warehouse": catalog.warehouse,
            "client_id": f"${{{prefix}POLARIS_CLIENT_ID}}",
            "client_secret": f"${{{prefix}POLARIS_CLIENT_SECRET}}",
        },
        "postgres": {
            "host": "127.0.0.1",
            "port": pg.port,
            "user": PG_USER,
            "database": PG_USER,
            "password": f"${{{prefix}DAGSTER_PG_PASSWORD}}",
        },
    }
    if cube is not None:
        sections["cube"] = {"url": cube.url, "api_secret": f"${{{prefix}CUBEJS_API_SECRET}}"}
    return sections


@pytest.fixture(scope="module")
def workspace(
    tmp_path_factory: pytest.TempPathFactory,
    trino: TrinoServer,
    s3_iam_server: S3Server,
    iceberg_rest_server: IcebergRestServer,
    postgres_server: PostgresServer,
    blackhole: Blackhole,
    dagster_server: str,
    request: pytest.FixtureRequest,
) -> Workspace:
    """floe.yaml with environments ``all`` (everything right), ``broken`` (every secret wrong),
    ``hole`` (a catalog that never answers) and ``typo`` (a misspelt key)."""
    import boto3

    admin_key, admin_secret = s3_iam_server.keys["admin"]
    boto3.client(
        "s3",
        endpoint_url=s3_iam_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=admin_key,
        aws_secret_access_key=admin_secret,
    ).create_bucket(Bucket=BUCKET)
    key, secret = s3_iam_server.keys["writer"]
    postgres_server.execute(
        f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{PG_PASSWORD}'",
        f"CREATE DATABASE {PG_USER} OWNER {PG_USER}",
    )
    # Cube needs Node.js and demo/cube's npm install; without them the rest is still checked.
    cube_server: CubeServer | None = None
    if local_servers.cube_missing() is None:
        cube_server = request.getfixturevalue("cube_server")
    assert trino.security is not None
    servers = (trino, s3_iam_server, iceberg_rest_server, postgres_server, cube_server)
    good = {**_sections(*servers, ""), "dagster": {"url": dagster_server}}
    bad = _sections(*servers, "BAD_")
    environments = {
        "all": good,
        "broken": bad,
        "hole": {"catalog": {**good["catalog"], "uri": blackhole.url}},  # type: ignore[dict-item]
        "typo": {"postgres": {"hots": "127.0.0.1", "user": "postgres"}},
        "empty": {},
    }
    path = tmp_path_factory.mktemp("workspace")
    (path / "floe.yaml").write_text(
        yaml.safe_dump({"environments": environments}, sort_keys=False), encoding="utf-8"
    )
    env = {
        "TRINO_PASSWORD": trino.security.password.get_secret_value(),
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "POLARIS_CLIENT_ID": iceberg_rest_server.client_id,
        "POLARIS_CLIENT_SECRET": iceberg_rest_server.client_secret,
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        "CUBEJS_API_SECRET": cube_server.api_secret if cube_server else "",
        "BAD_CUBEJS_API_SECRET": "wrong-cube-api-secret-7",  # pragma: allowlist secret
        "BAD_TRINO_PASSWORD": "wrong-trino-password-7",  # pragma: allowlist secret
        "BAD_AWS_ACCESS_KEY_ID": key,
        "BAD_AWS_SECRET_ACCESS_KEY": "wrong-aws-secret-key-7",  # pragma: allowlist secret
        "BAD_POLARIS_CLIENT_ID": iceberg_rest_server.client_id,
        "BAD_POLARIS_CLIENT_SECRET": "wrong-polaris-secret-7",  # pragma: allowlist secret
        "BAD_DAGSTER_PG_PASSWORD": "wrong-pg-password-7",  # pragma: allowlist secret
    }
    return Workspace(path, env, cube=cube_server is not None)


def _assert_contract(raw: str) -> Report:
    data = json.loads(raw)
    assert set(data) == REPORT_KEYS
    for check in data["checks"]:
        assert set(check) == CHECK_KEYS
    return Report.model_validate(data)


def _assert_no_secret(workspace: Workspace, *texts: str) -> None:
    for secret in workspace.secrets:
        for text in texts:
            assert secret not in text


def test_cli_all_local_servers_pass(workspace: Workspace) -> None:
    done = workspace.run(str(BIN / "floe"), "preflight", "--env", "all", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = _assert_contract(done.stdout)
    assert report.overall_status == "pass"
    assert report.environment == "all"
    backends = {"compute": "trino", "storage": "s3", "catalog": "polaris"}
    expected = workspace.services("compute", "storage", "catalog", "postgres", "cube", "dagster")
    assert [(c.service, c.backend) for c in report.checks] == [
        (name, backends.get(name, name)) for name in expected
    ]
    assert {c.status for c in report.checks} <= {"ok", "warning"}
    _assert_no_secret(workspace, done.stdout, done.stderr)


def test_cli_human_lines_and_selection(workspace: Workspace) -> None:
    done = workspace.run(
        str(BIN / "floe"), "preflight", "--env", "all", "--check-postgres", "--check-catalog"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["[CATALOG] OK", "[POSTGRES] OK"]
    assert lines[2].startswith("preflight all: PASS (2 checks, ")


def test_cli_every_failure_exits_1_with_remediation_and_no_secret(
    workspace: Workspace, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    done = workspace.run(
        str(BIN / "floe"), "preflight", "--env", "broken", "--json", "--junitxml", str(junit)
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = _assert_contract(done.stdout)
    assert report.overall_status == "fail"
    failures = {str(c.service): (str(c.status), c.details["failure"]) for c in report.checks}
    assert failures == {
        name: ("error", "authentication")
        for name in workspace.services("compute", "storage", "catalog", "postgres", "cube")
    }
    remediations = {str(c.service): c.remediation for c in report.checks}
    assert "${BAD_TRINO_PASSWORD}" in str(remediations["compute"])
    assert "${BAD_AWS_SECRET_ACCESS_KEY}" in str(remediations["storage"])
    assert "${BAD_POLARIS_CLIENT_SECRET}" in str(remediations["catalog"])
    assert "${BAD_DAGSTER_PG_PASSWORD}" in str(remediations["postgres"])
    if workspace.cube:
        assert "${BAD_CUBEJS_API_SECRET}" in str(remediations["cube"])
    xml = junit.read_text(encoding="utf-8")
    _assert_no_secret(workspace, done.stdout, done.stderr, xml)
    assert "Traceback" not in done.stdout + done.stderr + xml


def test_cli_blackhole_with_timeout_5_is_reported_as_a_timeout(
    workspace: Workspace, record_property: Any
) -> None:
    """An endpoint that accepts TCP and never answers is an error naming the 5 s timeout. How
    soon it is reported (the 007 goal: within timeout + 2 s) is measured, not asserted here:
    ``benchmarks/bench_blackhole_xdist.py`` prints it; this run's wall time is recorded as the
    JUnit property ``elapsed_s``."""
    started = time.monotonic()
    done = workspace.run(str(BIN / "floe"), "preflight", "--env", "hole", "--timeout", "5")
    record_property("elapsed_s", round(time.monotonic() - started, 1))
    assert done.returncode == 1, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("[CATALOG] ERROR: no answer from ")
    assert "within 5 s" in first


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--env", "typo"],
            "floe.yaml: 2 problems:\n"
            "  environments.typo.postgres.host: Field required. Fix: add the field.\n"
            "  environments.typo.postgres.hots: Extra inputs are not permitted. Fix: remove the "
            "key or correct its spelling; allowed here: host, port, user, password, database, "
            "schema, sslmode.",
        ),
        (["--env", "nowhere"], "environments.nowhere: environment 'nowhere' is not defined."),
        (["--env", "all", "--timeout", "4"], "--timeout: timeout 4 s is out of range"),
        (["--env", "hole", "--check-postgres"], "environments.hole.postgres: not configured"),
        (["--env", "empty"], "environments.empty: no service is configured."),
    ],
)
def test_cli_configuration_errors_exit_2(
    workspace: Workspace, argv: list[str], expected: str
) -> None:
    done = workspace.run(str(BIN / "floe"), "preflight", *argv)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_pytest_path_under_xdist_writes_report_table_and_junit(
    workspace: Workspace, tmp_path: Path
) -> None:
    report_path, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    done = workspace.run(
        str(BIN / "pytest"),
        "--floe-env=all",
        "-m",
        "preflight",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "--floe-slow-ms=60000",  # a loaded CI machine must not turn ok into warning here
        f"--floe-report={report_path}",
        f"--junitxml={junit}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = _assert_contract(report_path.read_text(encoding="utf-8"))
    expected = workspace.services("compute", "storage", "catalog", "postgres", "cube", "dagster")
    assert [c.service for c in report.checks] == expected
    assert "floe preflight: all" in done.stdout  # the Rich table's title
    cases = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in ET.parse(junit).getroot().iter("testcase")
    }
    assert set(cases) == {f"test_preflight[{name}]" for name in expected}
    props = cases["test_preflight[storage]"]
    assert (props["service"], props["backend"], props["status"]) == ("storage", "s3", "ok")
    assert props["requirement"] == "SC-003"  # the last requirement property written
    assert "floe_preflight_result" not in props


def test_pytest_path_failure_text_is_the_human_line_only(
    workspace: Workspace, tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    done = workspace.run(
        str(BIN / "pytest"),
        "--floe-env=broken",
        "-m",
        "preflight",
        "-p",
        "no:cacheprovider",
        "--floe-check=catalog",
        f"--junitxml={junit}",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    failure = next(ET.parse(junit).getroot().iter("failure"))
    assert failure.text is not None
    assert failure.text.strip() == (
        "[CATALOG] ERROR: OAuth2 authentication failed (401 Unauthorized: Invalid client "
        "credentials). Remediation: the credentials were rejected: check "
        "environments.broken.catalog.client_id (${BAD_POLARIS_CLIENT_ID}), "
        "environments.broken.catalog.client_secret (${BAD_POLARIS_CLIENT_SECRET})."
    )
    xml = junit.read_text(encoding="utf-8")
    assert "Traceback" not in done.stdout + xml
    _assert_no_secret(workspace, done.stdout, done.stderr, xml)


def test_pytest_path_config_error_is_a_usage_error(workspace: Workspace) -> None:
    done = workspace.run(str(BIN / "pytest"), "--floe-env=typo", "-m", "preflight")
    assert done.returncode == 4
    assert "environments.typo.postgres.host: Field required" in done.stderr


def test_pytest_collects_nothing_for_unconfigured_services(workspace: Workspace) -> None:
    """Unconfigured services are not collected (not even as skips)."""
    done = workspace.run(
        str(BIN / "pytest"), "--floe-env=hole", "-m", "preflight", "--collect-only", "-q"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert [line.rsplit("::", 1)[1] for line in collected] == ["test_preflight[catalog]"]
    # An empty environment is a configuration error under pytest as in the CLI (issue 15.5).
    empty = workspace.run(str(BIN / "pytest"), "--floe-env=empty", "-m", "preflight", "-q")
    assert empty.returncode == 4, empty.stdout + empty.stderr
    assert "floe.yaml: environments.empty: no service is configured." in empty.stderr


def test_pytest_timeout_option_range(workspace: Workspace) -> None:
    done = workspace.run(
        str(BIN / "pytest"), "--floe-env=all", "-m", "preflight", "--floe-timeout=301"
    )
    assert done.returncode == 4
    assert "--floe-timeout: timeout 301 s is out of range: use 5 to 300 seconds" in done.stderr


def test_unused_port_is_never_a_pass(workspace: Workspace, tmp_path: Path) -> None:
    """The earlier tool's bug: a check that only opens sockets and swallows errors. Here a
    postgres section pointing at a free port must fail."""
    port = free_port()
    (tmp_path / "floe.yaml").write_text(
        yaml.safe_dump(
            {"environments": {"x": {"postgres": {"host": "127.0.0.1", "port": port, "user": "u"}}}}
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [str(BIN / "floe"), "preflight", "--env", "x", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    report = Report.model_validate_json(done.stdout)
    assert report.checks[0].details["failure"] == "connection_refused"
