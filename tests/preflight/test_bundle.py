"""The diagnostics bundle (issue 17 point 5, FC-008): ``floe preflight --bundle DIR`` and
``pytest --floe-bundle DIR``.

* The canary test: an environment whose secrets are long random canaries fails against the
  suite's real servers (PostgreSQL with a wrong password, SeaweedFS' catalog with a wrong client
  secret, moto S3 with a missing bucket, an https Trino endpoint nothing listens on); the
  archive is opened and every member scanned for each canary in plain, base64, URL-encoded,
  JSON-escaped and Basic-auth forms (computed here, independently of floe_checks).
* Exact content of the manifest and of one check's entries (DNS answers for 127.0.0.1, the
  refused connect, client versions as ``importlib.metadata`` reports them), through pytester.
* No failure, no bundle; an unwritable DIR is an error naming the option (CLI exit 2, pytest
  usage error exit 4), without a traceback.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import os
import platform
import secrets
import subprocess
import sys
import tarfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import pytest

from floe_checks.config import validate_environment
from floe_checks.ports import free_port
from floe_checks.preflight.bundle import (
    COLLECTOR_GRACE,
    COLLECTOR_TIMEOUT,
    StackDiagnostics,
    collect_check,
    collect_http,
    target_of,
    write_bundle,
)
from floe_checks.preflight.runner import run_check
from floe_checks.preflight.scrub import Scrubber, environment_forms
from floe_checks.results import CheckResult, Service, Status
from floe_checks.servers.postgres import PostgresServer
from tests.preflight.certificates import TestCa
from tests.preflight.local_servers import Blackhole, IcebergRestServer, S3Server
from tests.preflight.tls_front import tls_front

pytestmark = pytest.mark.requirement("FC-008", "007-FR-015")

BIN = Path(sys.executable).parent
BUCKET = "floe-bundle-present"
DAY = datetime.timedelta(days=1)


def _canary(prefix: str) -> str:
    # the characters encodings change: / + = & for URLs, " and \\ for JSON
    return f'{prefix}/{secrets.token_urlsafe(24)}+={secrets.token_hex(6)}&"\\z'


def _forms(identity: str, secret: str) -> list[str]:
    """The secret as a client may write it, computed without floe_checks."""
    pair = f"{identity}:{secret}".encode()
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode(),
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        json.dumps(secret)[1:-1],
        base64.b64encode(pair).decode(),
        base64.urlsafe_b64encode(pair).decode(),
    ]


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "floe"), "preflight", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env={**os.environ, **env},
    )


def _yaml(sections: dict[str, object]) -> str:
    return json.dumps({"environments": {"canary": sections}}, indent=2)


@pytest.mark.evidence("service")
def test_cli_bundle_holds_no_secret_in_any_encoding(
    tmp_path: Path,
    postgres_server: PostgresServer,
    iceberg_rest_server: IcebergRestServer,
    s3_server: S3Server,
) -> None:
    canaries = {
        "CANARY_PG_PASSWORD": _canary("Pg"),
        "CANARY_CLIENT_SECRET": _canary("Cat"),
        "CANARY_AWS_KEY_ID": f"AKIA{secrets.token_hex(10).upper()}",
        "CANARY_AWS_SECRET": _canary("Aws"),
        "CANARY_TRINO_PASSWORD": _canary("Tr"),
    }
    identities = {
        "CANARY_PG_PASSWORD": "postgres",  # pragma: allowlist secret
        "CANARY_CLIENT_SECRET": iceberg_rest_server.client_id,
        "CANARY_AWS_KEY_ID": canaries["CANARY_AWS_SECRET"],
        "CANARY_AWS_SECRET": canaries["CANARY_AWS_KEY_ID"],
        "CANARY_TRINO_PASSWORD": "analyst",  # pragma: allowlist secret
    }
    (tmp_path / "floe.yaml").write_text(
        _yaml(
            {
                "postgres": {
                    "host": postgres_server.host,
                    "port": postgres_server.port,
                    "user": "postgres",
                    "password": "${CANARY_PG_PASSWORD}",
                    "database": "postgres",
                },
                "catalog": {
                    "type": "iceberg-rest",
                    "uri": iceberg_rest_server.uri,
                    "client_id": iceberg_rest_server.client_id,
                    "client_secret": "${CANARY_CLIENT_SECRET}",
                    "warehouse": iceberg_rest_server.warehouse,
                },
                "storage": {
                    "type": "s3",
                    "bucket": "floe-bundle-missing",
                    "endpoint_url": s3_server.endpoint_url,
                    "region": s3_server.region,
                    "path_style": True,
                    "access_key_id": "${CANARY_AWS_KEY_ID}",
                    "secret_access_key": "${CANARY_AWS_SECRET}",
                },
                "compute": {
                    "type": "trino",
                    "host": "127.0.0.1",
                    "port": free_port(),
                    "http_scheme": "https",
                    "user": "analyst",
                    "password": "${CANARY_TRINO_PASSWORD}",
                },
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "bundles"
    result = _run_cli(
        "--env", "canary", "--bundle", str(out), "--timeout", "10", env=canaries, cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    files = sorted(out.iterdir())
    assert len(files) == 1, files  # the archive alone: no partial file left behind
    archive = files[0]
    assert f"diagnostics bundle: {archive}" in result.stdout.splitlines()
    members = _members(archive)
    top = archive.name.removesuffix(".tar.gz")
    assert sorted(members) == [
        f"{top}/checks/catalog.json",
        f"{top}/checks/compute.json",
        f"{top}/checks/postgres.json",
        f"{top}/checks/storage.json",
        f"{top}/manifest.json",
    ]
    # the servers did answer: the bundle holds what they said
    catalog = json.loads(members[f"{top}/checks/catalog.json"])
    assert catalog["details"]["failure"] == "authentication"
    assert catalog["tcp"]["connected"] is True
    assert catalog["http"]["url"] == iceberg_rest_server.uri.split("/api")[0].rstrip("/") + "/"
    compute = json.loads(members[f"{top}/checks/compute.json"])
    assert compute["tcp"]["errno"] == "ECONNREFUSED"
    assert compute["tls"]["inspected"] is False
    postgres = json.loads(members[f"{top}/checks/postgres.json"])
    assert postgres["details"]["failure"] == "authentication"
    text = b"\n".join([*members.values(), *(n.encode() for n in members)]).decode()
    for name, secret in canaries.items():
        for form in _forms(identities[name], secret):
            assert form not in text, (name, form)


@pytest.mark.evidence("service")
def test_cli_no_failure_no_bundle(tmp_path: Path, postgres_server: PostgresServer) -> None:
    (tmp_path / "floe.yaml").write_text(
        _yaml(
            {
                "postgres": {
                    "host": postgres_server.host,
                    "port": postgres_server.port,
                    "user": "postgres",
                    "password": "${BUNDLE_PG_PASSWORD}",
                    "database": "postgres",
                }
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "new" / "bundles"
    result = _run_cli(
        "--env",
        "canary",
        "--bundle",
        str(out),
        env={"BUNDLE_PG_PASSWORD": postgres_server.password},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "diagnostics bundle: none written (no check failed)"
    assert list(out.iterdir()) == []  # created, left empty


@pytest.mark.evidence("static")
def test_cli_unwritable_bundle_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n", encoding="utf-8")
    (tmp_path / "floe.yaml").write_text(
        _yaml({"postgres": {"host": "127.0.0.1", "port": 9, "user": "u"}}), encoding="utf-8"
    )
    result = _run_cli("--env", "canary", "--bundle", str(blocker / "out"), env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"floe preflight: configuration error: --bundle: cannot write the diagnostics bundle "
        f"into {blocker / 'out'}: Not a directory. Fix: name a directory you may write to (it "
        "is created when missing).\n"
    )


@pytest.mark.evidence("static")
def test_cli_json_names_the_bundle(tmp_path: Path) -> None:
    """With ``--json`` the report gains one key, ``bundle``, only when ``--bundle`` is given."""
    (tmp_path / "floe.yaml").write_text(
        _yaml({"postgres": {"host": "127.0.0.1", "port": free_port(), "user": "u"}}),
        encoding="utf-8",
    )
    result = _run_cli("--env", "canary", "--json", "--bundle", "out", env={}, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    (archive,) = sorted((tmp_path / "out").iterdir())
    data = json.loads(result.stdout)
    assert set(data) == {
        "timestamp", "overall_status", "duration_ms", "environment", "checks", "bundle"
    }  # fmt: skip
    assert data["bundle"] == str(archive)
    plain = _run_cli("--env", "canary", "--json", env={}, cwd=tmp_path)
    assert "bundle" not in json.loads(plain.stdout)


@pytest.mark.evidence("static")
@pytest.mark.parametrize("xdist", [[], ["-n", "1"]], ids=["plain", "xdist"])
def test_pytest_bundle_exact_content(pytester: pytest.Pytester, xdist: list[str]) -> None:
    """Under xdist the controller writes the bundle from the results the workers hand over."""
    port = free_port()
    pytester.makefile(
        ".yaml",
        floe=_yaml({"postgres": {"host": "127.0.0.1", "port": port, "user": "dagster"}}),
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--floe-env=canary",
        "--floe-bundle=out",
        "--floe-timeout=5",
        *xdist,
    )
    result.assert_outcomes(failed=1)
    archives = sorted((pytester.path / "out").iterdir())
    assert len(archives) == 1
    archive = archives[0]
    assert f"floe diagnostics bundle: {archive}" in result.stdout.lines
    top = archive.name.removesuffix(".tar.gz")
    stamp = top.removeprefix("floe-diagnostics-")
    created = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}Z"
    members = _members(archive)
    check_bytes = members[f"{top}/checks/postgres.json"]
    manifest = json.loads(members[f"{top}/manifest.json"])
    assert manifest == {
        "format": "floe-diagnostics/1",
        "floe_checks_version": metadata.version("floe-checks"),
        "created": created,
        "environment": "canary",
        "python": platform.python_version(),
        "failed_checks": ["postgres/postgres"],
        "failed_tests": ["test_preflight.py::test_preflight[postgres]"],
        "files": [
            {
                "path": "checks/postgres.json",
                "bytes": len(check_bytes),
                "sha256": hashlib.sha256(check_bytes).hexdigest(),
            }
        ],
    }
    check = json.loads(check_bytes)
    # timings vary run to run; each is bounded by the collectors' 2 s timeout
    assert 0 <= check["dns"].pop("ms") <= 2000
    assert 0 <= check.pop("duration_ms") <= 5000
    assert check == {
        "service": "postgres",
        "backend": "postgres",
        "status": "error",
        "message": f"connection to PostgreSQL at 127.0.0.1:{port} refused.",
        "remediation": (
            f"nothing accepts connections at 127.0.0.1:{port}: check "
            "environments.canary.postgres.host, environments.canary.postgres.port, that the "
            "service is running, and that firewalls or network policies let this machine "
            "through."
        ),
        "details": {"endpoint": f"127.0.0.1:{port}", "failure": "connection_refused"},
        "endpoint": f"127.0.0.1:{port}",
        "client_versions": {"psycopg2-binary": metadata.version("psycopg2-binary")},
        "target": {"host": "127.0.0.1", "port": port, "scheme": ""},
        "dns": {"host": "127.0.0.1", "answers": [{"family": "IPv4", "address": "127.0.0.1"}]},
        "tcp": {
            "address": f"127.0.0.1:{port}",
            "connected": False,
            "error": "ConnectionRefusedError: [Errno 111] Connection refused",
            "errno": "ECONNREFUSED",
        },
        "tls": {"skipped": "not an https endpoint"},
        "http": {"skipped": "the service does not speak HTTP"},
    }


@pytest.mark.evidence("emulator")
def test_pytest_no_failure_no_bundle(
    pytester: pytest.Pytester, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, secret = f"AKIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
    boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name=s3_server.region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    ).create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("BUNDLE_KEY_ID", key)
    monkeypatch.setenv("BUNDLE_SECRET", secret)
    pytester.makefile(
        ".yaml",
        floe=_yaml(
            {
                "storage": {
                    "type": "s3",
                    "bucket": BUCKET,
                    "endpoint_url": s3_server.endpoint_url,
                    "region": s3_server.region,
                    "path_style": True,
                    "access_key_id": "${BUNDLE_KEY_ID}",
                    "secret_access_key": "${BUNDLE_SECRET}",
                }
            }
        ),
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--floe-env=canary", "--floe-bundle=out", "--floe-slow-ms=60000"
    )
    result.assert_outcomes(passed=1)
    assert "floe diagnostics bundle: none written (no check or test failed)" in result.stdout.lines
    assert list((pytester.path / "out").iterdir()) == []


@pytest.mark.evidence("static")
def test_pytest_unwritable_bundle_dir(pytester: pytest.Pytester) -> None:
    pytester.makefile(".txt", blocker="a file\n")
    pytester.makefile(
        ".yaml", floe=_yaml({"postgres": {"host": "127.0.0.1", "port": 9, "user": "u"}})
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--floe-env=canary", "--floe-bundle=blocker.txt/out"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    target = pytester.path / "blocker.txt" / "out"
    assert result.stderr.lines == [
        f"ERROR: --floe-bundle: cannot write the diagnostics bundle into {target}: Not a "
        "directory. Fix: name a directory you may write to (it is created when missing).",
        "",
    ]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


@pytest.mark.evidence("static")
@pytest.mark.parametrize(
    ("service", "raw", "expected"),
    [
        ("storage", {"type": "s3", "bucket": "b", "region": "eu-west-1"}, "https://s3.eu-west-1.amazonaws.com:443/"),
        ("storage", {"type": "gcs", "bucket": "b"}, "https://storage.googleapis.com:443/"),
        ("storage", {"type": "adls", "account": "acme", "container": "c"}, "https://acme.blob.core.windows.net:443/"),
        ("compute", {"type": "snowflake", "account": "xy123", "user": "u"}, "https://xy123.snowflakecomputing.com:443/"),
        ("compute", {"type": "trino", "host": "trino.internal", "port": 8443,
                     "http_scheme": "https"}, "https://trino.internal:8443/"),
        ("dagster", {"url": "http://u:pw@dagster.internal/q?x=1"},  # pragma: allowlist secret
         "http://dagster.internal:80/"),
    ],
)  # fmt: skip
def test_target_of_each_kind_of_section(
    service: str, raw: dict[str, object], expected: str
) -> None:
    """Where the HTTP collector goes: the configured endpoint without user info, path or
    query; the public service when floe.yaml names none."""
    section = validate_environment("floe.yaml", "t", {service: raw}).sections()[service]
    target = target_of(service, section)
    assert target is not None
    assert target.base_url == expected


@pytest.mark.evidence("static")
def test_duckdb_has_no_network_target() -> None:
    section = validate_environment(
        "floe.yaml", "t", {"compute": {"type": "duckdb", "path": "x.duckdb"}}
    ).sections()["compute"]
    assert target_of("compute", section) is None


@pytest.mark.evidence("static")
def test_write_bundle_scrubs_every_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundle's own scrubber, on its own: a result and a stack log tail that still hold the
    secrets in every encoding (what a provider that redacts only the plain value lets through),
    and a test ID carrying one; none may be left in any member or member name."""
    password, client_secret = _canary("Pg"), _canary("Cat")
    monkeypatch.setenv("W_PG", password)
    monkeypatch.setenv("W_CS", client_secret)
    env = validate_environment(
        "floe.yaml",
        "t",
        {
            "postgres": {
                "host": "127.0.0.1", "port": free_port(), "user": "u", "password": "${W_PG}"
            },
            "catalog": {
                "type": "iceberg-rest",
                "uri": f"http://127.0.0.1:{free_port()}/api/catalog",
                "client_id": "floe-client",
                "client_secret": "${W_CS}",
            },
        },
    )  # fmt: skip
    leaked = " ".join(_forms("u", password) + _forms("floe-client", client_secret))
    result = CheckResult(
        service=Service.POSTGRES,
        backend="postgres",
        status=Status.ERROR,
        message=f"refused: {leaked}",
        duration_ms=3,
        remediation=f"fix {leaked}",
        details={"echo": [leaked, {"nested": leaked}]},
    )
    stack = [StackDiagnostics(f"test_e2e[{password}] call", [(f"dagster log {password}", leaked)])]
    path = write_bundle(
        tmp_path,
        environment="t",
        failed=[(result, env.sections()["postgres"])],
        scrubber=Scrubber(environment_forms(env)),
        stack=stack,
        failed_tests=[f"test_e2e[{password}]"],
    )
    members = _members(path)
    top = path.name.removesuffix(".tar.gz")
    assert sorted(members) == [
        f"{top}/checks/postgres.json",
        f"{top}/manifest.json",
        f"{top}/stack/test_e2e-call/dagster-log.log",
    ]
    assert (
        members[f"{top}/stack/test_e2e-call/dagster-log.log"]
        == " ".join(
            ["***"] * len(_forms("u", password) + _forms("floe-client", client_secret))
        ).encode()
    )
    text = b"\n".join([*members.values(), *(n.encode() for n in members)]).decode()
    for form in _forms("u", password) + _forms("floe-client", client_secret):
        assert form not in text, form


STACK_CONFTEST = '''
"""Stands in for floe_checks.stack.plugin's pytest_runtest_makereport over a running local
stack: a failing test that used the stack gets a "floe stack: <title>" section per service log
tail (LocalProvider.diagnostics(), which redacts only the plain secret). It does not start a
stack, so it cannot show that a real provider's log tails are read at failure time; that part
is the stack plugin's own (tests/stack)."""
import base64, os
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.floe_stack_used = True
    if report.failed:
        pw = os.environ["STACK_PG_PASSWORD"]
        encoded = base64.b64encode(pw.encode()).decode()
        report.sections.append(
            ("floe stack: dagster log (/tmp/x/dagster.log)", f"line 1\\nconnect password={encoded}")
        )
'''


@pytest.mark.evidence("static")
def test_pytest_bundle_holds_the_stack_diagnostics_of_a_failing_e2e_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = _canary("Stack")
    monkeypatch.setenv("STACK_PG_PASSWORD", password)
    pytester.makefile(
        ".yaml",
        floe=_yaml(
            {"postgres": {"host": "127.0.0.1", "user": "u", "password": "${STACK_PG_PASSWORD}"}}
        ),
    )
    pytester.makeconftest(STACK_CONFTEST)
    pytester.makepyfile(test_e2e="def test_e2e():\n    assert 1 == 2\n\ndef test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--floe-env=canary", "--floe-bundle=out", "test_e2e.py"
    )
    result.assert_outcomes(failed=1, passed=1)
    # the terminal too: the session's scrubber wraps the stack plugin's (and this conftest's)
    # report sections
    terminal = result.stdout.str() + result.stderr.str()
    assert "connect password=***" in result.stdout.lines
    for form in _forms("u", password):
        assert form not in terminal, form
    (archive,) = sorted((pytester.path / "out").iterdir())
    top = archive.name.removesuffix(".tar.gz")
    members = _members(archive)
    log = members[f"{top}/stack/test_e2e.py-test_e2e-call/dagster-log-tmp-x-dagster.log.log"]
    assert log == b"line 1\nconnect password=***"
    manifest = json.loads(members[f"{top}/manifest.json"])
    assert manifest["failed_checks"] == []
    assert manifest["failed_tests"] == ["test_e2e.py::test_e2e"]
    assert manifest["files"] == [
        {
            "path": "stack/test_e2e.py-test_e2e-call/dagster-log-tmp-x-dagster.log.log",
            "bytes": len(log),
            "sha256": hashlib.sha256(log).hexdigest(),
        }
    ]


@pytest.mark.evidence("service")
def test_bundle_of_an_expired_certificate_holds_the_tls_summary(
    tmp_path: Path, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SeaweedFS' real catalog behind a TLS front whose certificate, issued at test time by a
    throwaway CA, expired 2.5 days ago: the bundle holds the certificate's facts (not the
    certificate), and the GET's certificate error as its ``http`` entry."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    ca = TestCa.create(tmp_path / "ca", "floe bundle CA")
    not_before, not_after = now - 30 * DAY, now - 2 * DAY - DAY / 2
    cert = ca.issue(tmp_path / "expired", "expired", not_before=not_before, not_after=not_after)
    port = int(iceberg_rest_server.uri.rsplit(":", 1)[1].split("/")[0])
    monkeypatch.setenv("TLS_CS", iceberg_rest_server.client_secret)
    with tls_front(port, tmp_path / "front", cert) as front:
        env = validate_environment(
            "floe.yaml",
            "t",
            {
                "catalog": {
                    "type": "iceberg-rest",
                    "uri": front.url(),
                    "client_id": iceberg_rest_server.client_id,
                    "client_secret": "${TLS_CS}",
                    "ca_bundle": str(ca.bundle),
                }
            },
        )
        section = env.sections()["catalog"]
        result = run_check("catalog", section, timeout=5)
        path = write_bundle(
            tmp_path / "out",
            environment="t",
            failed=[(result, section)],
            scrubber=Scrubber(environment_forms(env)),
        )
    top = path.name.removesuffix(".tar.gz")
    entry = json.loads(_members(path)[f"{top}/checks/catalog.json"])
    assert entry["details"]["failure"] == "tls_expired"
    assert entry["tls"] == {
        "endpoint": front.url(),
        "inspected": True,
        "verified": False,
        "verify_error": "certificate has expired",
        "subject": "CN=expired,O=floe-checks tests",
        "names": ["127.0.0.1"],
        "issuer": "CN=floe bundle CA,O=floe-checks tests",
        "not_before": not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_left": -3,
    }
    assert entry["http"]["error"].startswith("SSLError: ")
    assert "certificate has expired" in entry["http"]["error"]
    assert "BEGIN CERTIFICATE" not in json.dumps(entry)


class _HeaderHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with headers a real gateway sends, credentials among them."""

    def do_GET(self) -> None:
        self.send_response(401, "Unauthorized")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.send_header("WWW-Authenticate", 'Bearer realm="floe"')
        self.send_header("Set-Cookie", "SESSION=abc123; HttpOnly")
        self.send_header("X-Api-Key", "k-123")
        self.send_header("X-Auth-Token", "t-456")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.evidence("static")
def test_http_collector_drops_headers_that_may_hold_a_credential(load_section: Any) -> None:
    """Python's own HTTP server on a free loopback port: the GET's status and the headers
    kept and dropped, exactly."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HeaderHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        section = load_section("dagster", {"url": f"http://127.0.0.1:{server.server_port}/x?y=1"})
        target = target_of("dagster", section)
        assert target is not None
        entry = collect_http(section, target)
    finally:
        server.shutdown()
        server.server_close()
    headers = entry.pop("headers")
    assert isinstance(headers, dict)
    assert headers.pop("Date")  # the moment of the answer
    assert entry == {
        "url": f"http://127.0.0.1:{server.server_port}/",
        "status": 401,
        "reason": "Unauthorized",
        "dropped_headers": ["Set-Cookie", "X-Api-Key", "X-Auth-Token"],
    }
    assert headers == {
        "Server": f"BaseHTTP/0.6 Python/{platform.python_version()}",
        "Content-Type": "application/json",
        "Content-Length": "2",
        "WWW-Authenticate": 'Bearer realm="floe"',
    }


@pytest.mark.evidence("static")
def test_collectors_give_up_after_two_seconds(
    load_section: Any, blackhole: Blackhole, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that accepts TCP and never answers: the connect is recorded, the GET gives up
    after its 2 s read timeout, and collecting the check stays within the collectors' bound."""
    section = load_section(
        "cube",
        {"url": blackhole.url, "api_secret": "${BH_SECRET}"},
        BH_SECRET="bh-secret-value",  # pragma: allowlist secret
    )  # pragma: allowlist secret
    result = CheckResult(
        service=Service.CUBE, backend="cube", status=Status.ERROR, message="m", duration_ms=1
    )
    started = time.perf_counter()
    entry = collect_check("cube", section, result)
    elapsed = time.perf_counter() - started
    assert COLLECTOR_TIMEOUT <= elapsed < COLLECTOR_TIMEOUT + COLLECTOR_GRACE + 0.5
    tcp = entry["tcp"]
    assert isinstance(tcp, dict)
    assert tcp["connected"] is True
    http_entry = entry["http"]
    assert isinstance(http_entry, dict)
    assert http_entry == {
        "error": f"ReadTimeout: HTTPConnectionPool(host='{blackhole.host}', "
        f"port={blackhole.port}): Read timed out. (read timeout=2.0)"
    }


@pytest.mark.evidence("static")
def test_the_scrubbing_wrapper_encloses_the_stack_plugins(pytester: pytest.Pytester) -> None:
    """The stack plugin adds its log tails in its own ``pytest_runtest_makereport`` wrapper: the
    top plugin's scrubbing wrapper must run around it (called first, resumed last)."""
    pytester.makeconftest(
        "def pytest_collection_finish(session):\n"
        "    hook = session.config.pluginmanager.hook.pytest_runtest_makereport\n"
        "    names = [i.plugin_name for i in reversed(hook.get_hookimpls())\n"
        "             if i.wrapper or i.hookwrapper]\n"
        "    print('WRAPPERS', ' '.join(names))\n"
    )
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "test_x.py")
    (line,) = [x for x in result.stdout.lines if x.startswith("WRAPPERS ")]
    order = line.split()[1:]
    assert order.index("floe") < order.index("floe_checks.stack.plugin"), order
