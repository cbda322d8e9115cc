"""``floe preflight`` and the plugin in a user's repository (issue 15): fail closed, messages a
user can act on, only the selected services' variables, and no access key in DEBUG logs.

Each test runs ``floe`` or ``pytest`` in its own process in a temporary directory, against
real servers where a service is needed (moto for S3; DuckDB in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from floe_checks.preflight.plugin import build_report, render_table
from floe_checks.preflight.runner import run_check
from floe_checks.preflight.scrub import Scrubber, secret_forms
from floe_checks.results import CheckResult
from tests.preflight.local_servers import Blackhole, S3Server

pytestmark = [
    pytest.mark.requirement("FC-009", "007-FR-015", "007-FR-020"),
    pytest.mark.evidence("static"),
]

BIN = Path(sys.executable).parent
ACCESS_KEY_ID = "AKIAFLOECANARY7777"  # pragma: allowlist secret
SECRET_KEY = "floe/canary+secret=key&7"  # pragma: allowlist secret


def _run(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("FLOE_ENV", "FLOE_CONFIG")}
    return subprocess.run(
        list(argv),
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _write(path: Path, environments: dict[str, object]) -> None:
    (path / "floe.yaml").write_text(
        yaml.safe_dump({"environments": environments}, sort_keys=False), encoding="utf-8"
    )


def test_no_file_and_no_env_fails_closed(tmp_path: Path) -> None:
    done = _run(tmp_path, str(BIN / "floe"), "preflight")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr == (
        f"floe preflight: configuration error: {tmp_path / 'floe.yaml'}: file not found, and no "
        "environment was named. Fix: run from the directory that holds floe.yaml, or pass "
        "--config PATH and --env NAME (--env local checks the built-in local stack without a "
        "file).\n"
    )
    # Naming the built-in environment explicitly still works without a file.
    local = _run(tmp_path, str(BIN / "floe"), "preflight", "--env", "local")
    assert local.returncode == 0, local.stdout + local.stderr
    assert local.stdout.splitlines()[-1].startswith("preflight local: PASS (1 check, ")


def test_json_configuration_error_prints_an_error_object(tmp_path: Path) -> None:
    _write(tmp_path, {"prod": {"postgres": {"host": "db", "user": "u", "port": 70000}}})
    done = _run(tmp_path, str(BIN / "floe"), "preflight", "--env", "prod", "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    message = (
        f"{tmp_path / 'floe.yaml'}: environments.prod.postgres.port: port 70000 is out of "
        "range. Fix: use a TCP port from 1 to 65535."
    )
    assert json.loads(done.stdout) == {
        "status": "error",
        "error": "configuration",
        "message": message,
        "field": "environments.prod.postgres.port",
        "file": str(tmp_path / "floe.yaml"),
        "exit_code": 2,
    }
    assert done.stderr == f"floe preflight: configuration error: {message}\n"


def test_missing_config_file_names_the_cli_option(tmp_path: Path) -> None:
    done = _run(tmp_path, str(BIN / "floe"), "preflight", "--env", "prod", "--config", "x.yaml")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--config PATH (floe preflight), --floe-config PATH (pytest) or FLOE_CONFIG" in (
        done.stderr
    )
    assert "docs/" not in done.stderr


def test_check_storage_needs_only_the_storage_variables(
    tmp_path: Path, s3_server: S3Server
) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket="floe-only-storage")
    _write(
        tmp_path,
        {
            "prod": {
                "storage": {
                    "type": "s3",
                    "bucket": "floe-only-storage",
                    "endpoint_url": s3_server.endpoint_url,
                    "path_style": True,
                    "access_key_id": "${AWS_ACCESS_KEY_ID}",
                    "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
                },
                # DAGSTER_PG_PASSWORD is not set: only --check-postgres may ask for it.
                "postgres": {"host": "db", "user": "u", "password": "${DAGSTER_PG_PASSWORD}"},
            }
        },
    )
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    os.environ.pop("DAGSTER_PG_PASSWORD", None)
    done = _run(tmp_path, str(BIN / "floe"), "preflight", "--env", "prod", "--check-storage", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    # Plain moto lets any key do anything: a pass with the least-privilege warnings.
    assert done.stdout.splitlines()[0].startswith(
        "[STORAGE] WARNING: bucket 'floe-only-storage' reachable; read ok; write ok "
    )
    assert done.stdout.splitlines()[-1].startswith("preflight prod: PASS (1 check, ")
    both = _run(tmp_path, str(BIN / "floe"), "preflight", "--env", "prod", **env)
    assert both.returncode == 2
    assert "environments.prod.postgres.password: environment variable DAGSTER_PG_PASSWORD" in (
        both.stderr
    )


BOTO_CHECK = """\
import boto3


def test_bucket_listing(floe_env):
    storage = floe_env.storage
    client = boto3.client(
        "s3",
        endpoint_url=storage.endpoint_url,
        region_name=storage.region,
        aws_access_key_id=storage.access_key_id.get_secret_value(),
        aws_secret_access_key=storage.secret_access_key.get_secret_value(),
    )
    client.head_bucket(Bucket="no-such-bucket-here")
"""


@pytest.mark.parametrize("logging_args", [["--log-level=DEBUG"], ["--log-cli-level=DEBUG"]])
def test_botocore_debug_log_hides_the_access_key(
    tmp_path: Path, s3_server: S3Server, logging_args: list[str]
) -> None:
    _write(
        tmp_path,
        {
            "prod": {
                "storage": {
                    "type": "s3",
                    "bucket": "b",
                    "endpoint_url": s3_server.endpoint_url,
                    "access_key_id": "${AWS_ACCESS_KEY_ID}",
                    "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
                }
            }
        },
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_boto.py").write_text(BOTO_CHECK, encoding="utf-8")
    done = _run(
        tmp_path,
        str(BIN / "pytest"),
        "-p",
        "no:cacheprovider",
        "--floe-env=prod",
        "test_boto.py",
        "--junitxml=r.xml",
        *logging_args,
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    text = done.stdout + done.stderr
    junit = (tmp_path / "r.xml").read_text(encoding="utf-8")
    # botocore did log its signed request: the header is there, the key id is not.
    assert "Credential=***/" in text
    for secret in (ACCESS_KEY_ID, SECRET_KEY):
        assert secret not in text
        assert secret not in junit


def test_bundled_check_masks_a_percent_encoded_echo(
    monkeypatch: pytest.MonkeyPatch, load_section: object
) -> None:
    """An OAuth2 server that echoes the form body puts the secret on the wire percent-encoded;
    the runner masks that form too (the probe here is a stand-in raising what such a server's
    client error would carry)."""
    from types import SimpleNamespace

    from floe_checks.preflight import runner
    from floe_checks.results import Service

    section = load_section(  # type: ignore[operator]
        "catalog",
        {
            "type": "polaris",
            "uri": "http://127.0.0.1:9",
            "client_id": "floe",
            "client_secret": "${CAT_SECRET}",
        },
        CAT_SECRET="Cat/Pr0d+Wr0ng=7z&x",  # pragma: allowlist secret
    )

    def check(section: object, timeout: float) -> dict[str, object]:
        raise RuntimeError(
            "400 Bad Request: grant_type=client_credentials&client_id=floe&"
            "client_secret=Cat%2FPr0d%2BWr0ng%3D7z%26x"
        )

    probe = SimpleNamespace(SERVICE=Service.CATALOG, check=check)
    monkeypatch.setattr(runner, "load_probe", lambda service, backend: probe)
    result = run_check("catalog", section, timeout=5)
    assert result.message == (
        "polaris check failed at http://127.0.0.1:9: RuntimeError: 400 Bad Request: "
        "grant_type=client_credentials&client_id=floe&client_secret=***"
    )


def test_secret_forms_cover_basic_auth_and_json() -> None:
    from floe_checks.config import validate_environment

    os.environ["FLOE_TEST_PG_PW"] = 'p"w\\x/1'  # pragma: allowlist secret
    try:
        env = validate_environment(
            "floe.yaml",
            "t",
            {"postgres": {"host": "db", "user": "dagster", "password": "${FLOE_TEST_PG_PW}"}},
        )
    finally:
        del os.environ["FLOE_TEST_PG_PW"]
    scrubber = Scrubber(secret_forms(env.sections()["postgres"]))
    # base64("dagster:p\"w\\x/1") and the JSON-escaped form, computed by hand.
    assert scrubber.text("Basic ZGFnc3RlcjpwIndceC8x") == "Basic ***"
    json_escaped = '{"password": "p\\"w\\\\x/1"}'  # pragma: allowlist secret
    assert scrubber.text(json_escaped) == '{"password": "***"}'
    assert scrubber.text("pw=p%22w%5Cx%2F1") == "pw=***"


def _result(service: str, message: str, remediation: str | None, ms: int) -> CheckResult:
    return CheckResult.model_validate(
        {
            "service": service,
            "backend": "polaris" if service == "catalog" else "postgres",
            "status": "error" if remediation else "ok",
            "message": message,
            "duration_ms": ms,
            "remediation": remediation,
        }
    )


def test_table_at_80_columns_never_cuts_an_identifier() -> None:
    field = "environments.production-eu-west.catalog.client_secret"
    report = build_report(
        "production-eu-west",
        [
            _result(
                "catalog",
                "OAuth2 authentication failed (401 Unauthorized).",
                f"the credentials were rejected: check {field} (${{POLARIS_CLIENT_SECRET}}).",
                182,
            ),
            _result("postgres", "connected as dagster.", None, 12),
        ],
        200,
    )
    text = render_table(report, width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    words = text.split()
    assert field in words
    assert "(${POLARIS_CLIENT_SECRET})." in words
    assert text.splitlines()[1] == "catalog polaris: error in 182 ms"


def test_junit_time_is_the_checks_own(tmp_path: Path, s3_server: S3Server) -> None:
    """Two services run ahead of their tests in the thread pool; each test's JUnit time is its
    check's duration, not the microseconds of handing the result over."""
    _write(
        tmp_path,
        {
            "prod": {
                "compute": {"type": "duckdb"},
                "storage": {
                    "type": "s3",
                    "bucket": "absent-bucket",
                    "endpoint_url": s3_server.endpoint_url,
                    "path_style": True,
                    "access_key_id": "${AWS_ACCESS_KEY_ID}",
                    "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
                },
            }
        },
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    done = _run(
        tmp_path,
        str(BIN / "pytest"),
        "-p",
        "no:cacheprovider",
        "--floe-env=prod",
        "-m",
        "preflight",
        "--floe-report=report.json",
        "--junitxml=r.xml",
        # The call phase only: setup and teardown vary with the machine's load.
        "-o",
        "junit_duration_report=call",
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    took = {c["service"]: c["duration_ms"] / 1000 for c in report["checks"]}
    times = {
        str(case.get("name")): float(case.get("time", "0"))
        for case in ET.parse(tmp_path / "r.xml").getroot().iter("testcase")
    }
    for service, seconds in took.items():
        # The call reports the check's own time; the hand-over itself takes a millisecond or
        # so, which only shows when it outlasts a check of a few milliseconds.
        assert round(seconds, 3) <= times[f"test_preflight[{service}]"] <= seconds + 0.05


def test_demo_generate_without_the_extra_names_it(tmp_path: Path) -> None:
    """A venv whose floe_demo dependencies are missing: ``floe demo generate`` names the extra."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # A sitecustomize that makes numpy unimportable, as in an install without [demo].
    (blocker / "sitecustomize.py").write_text(
        "import sys\nsys.modules['numpy'] = None\n", encoding="utf-8"
    )
    done = _run(
        tmp_path,
        sys.executable,
        "-m",
        "floe_checks.cli",
        "demo",
        "generate",
        PYTHONPATH=str(blocker),
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr == (
        "floe demo generate: the demo extra is not installed (module numpy is missing). "
        "Fix: pip install 'floe-checks[demo]'\n"
    )


def test_run_check_result_is_what_the_table_shows() -> None:
    """Guard for the table test's hand-made results: a real run's result has the same shape."""
    from floe_checks.config import validate_environment

    env = validate_environment("floe.yaml", "t", {"compute": {"type": "duckdb"}})
    result = run_check("compute", env.sections()["compute"], timeout=5)
    assert (result.service, result.backend, result.status) == ("compute", "duckdb", "ok")


def _write_hole_repository(path: Path, blackhole: Blackhole) -> None:
    """A repository whose environment ``hole`` has one service: a catalog at the blackhole."""
    catalog = {
        "type": "polaris",
        "uri": blackhole.url,
        "client_id": "floe",
        "client_secret": "${HOLE_SECRET}",
    }
    _write(path, {"hole": {"catalog": catalog}})
    (path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")


def test_blackhole_under_xdist_is_checked_from_session_start(
    tmp_path: Path, blackhole: Blackhole
) -> None:
    """Issue 15.19: under ``-n 2`` the controller starts the check when the session starts,
    while the workers are still starting, and the workers' tests report its result. Measured
    here: the result is published within timeout + 2 s of the session's start (the folder the
    controller creates then). The whole run's wall time also includes the workers' start-up
    and is not asserted: on a loaded 2-core machine that alone takes several seconds."""
    import subprocess
    import time

    _write_hole_repository(tmp_path, blackhole)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FLOE_ENV", "FLOE_CONFIG")}
    env |= {
        "HOLE_SECRET": "hole-secret-value-7",  # pragma: allowlist secret
        "TMPDIR": str(scratch),
    }
    argv = [str(BIN / "pytest"), "-p", "no:cacheprovider", "--floe-env=hole", "-m", "preflight"]
    argv += ["-n", "2", "--floe-timeout=5", "--floe-report=report.json"]
    process = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    session_start = published = None
    while process.poll() is None:
        folders = list(scratch.glob("floe-preflight-*"))
        if folders and session_start is None:
            session_start = time.monotonic()
        if folders and published is None and (folders[0] / "catalog.json").is_file():
            published = time.monotonic()
        time.sleep(0.02)
    output = process.stdout.read() if process.stdout else ""
    assert process.returncode == 1, output
    (check,) = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["checks"]
    assert (check["service"], check["details"]["failure"]) == ("catalog", "timeout")
    assert session_start is not None, "the controller did not start the check"
    assert published is not None, "the controller did not publish the result"
    assert published - session_start <= 7.0, f"took {published - session_start:.1f} s"
    assert list(scratch.glob("floe-preflight-*")) == []  # cleaned up


def test_blackhole_under_xdist_is_shown_by_the_controller_before_any_worker_reports(
    tmp_path: Path, blackhole: Blackhole
) -> None:
    """Issue 15.19: under ``-n 2`` the controller prints the check's result line, with the
    check's own recorded duration, as soon as the check is done: before any worker reports it
    (however long the workers take to start), and that duration is the report's and within
    timeout + 2 s. The wall time from session start to that line is measured in
    benchmarks/bench_blackhole_xdist.py, not asserted here."""
    _write_hole_repository(tmp_path, blackhole)
    env = {k: v for k, v in os.environ.items() if k not in ("FLOE_ENV", "FLOE_CONFIG")}
    env["HOLE_SECRET"] = "hole-secret-value-8"  # pragma: allowlist secret
    argv = [str(BIN / "pytest"), "-p", "no:cacheprovider", "--floe-env=hole", "-m", "preflight"]
    argv += ["-n", "2", "-v", "--floe-timeout=5", "--floe-report=report.json"]
    done = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 1, done.stdout + done.stderr
    (check,) = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["checks"]
    assert (check["service"], check["details"]["failure"]) == ("catalog", "timeout")
    assert check["duration_ms"] <= 7000, check["duration_ms"]
    lines = done.stdout.splitlines()
    announced = [i for i, line in enumerate(lines) if line.startswith("floe preflight: [")]
    expected = (
        f"floe preflight: [CATALOG] ERROR: {check['message']} Remediation: "
        f"{check['remediation']} ({check['duration_ms']} ms)"
    )
    assert [lines[i] for i in announced] == [expected]
    worker_results = [i for i, line in enumerate(lines) if "FAILED" in line and "[gw" in line]
    assert len(worker_results) == 1, done.stdout
    assert announced[0] < worker_results[0]


S3_CHECK = """\
import pytest

pytestmark = pytest.mark.preflight


def test_lake_bucket_is_versioned(floe_s3, floe_section, floe_result):
    storage = floe_section("storage")
    status = floe_s3.get_bucket_versioning(Bucket=storage.bucket).get("Status", "Disabled")
    if status != "Enabled":
        floe_result.warning(
            f"bucket {storage.bucket} has versioning {status}.",
            remediation=f"enable versioning on {storage.hint('bucket')}",
            backend="s3-versioning",
            service="storage",
        )
    else:
        floe_result.ok(f"bucket {storage.bucket} is versioned.", backend="s3-versioning")
"""


def test_floe_s3_fixture_and_a_warning_result(tmp_path: Path, s3_server: S3Server) -> None:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    ).create_bucket(Bucket="floe-unversioned")
    _write(
        tmp_path,
        {
            "prod": {
                "storage": {
                    "type": "s3",
                    "bucket": "floe-unversioned",
                    "endpoint_url": s3_server.endpoint_url,
                    "path_style": True,
                    "access_key_id": "${AWS_ACCESS_KEY_ID}",
                    "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
                }
            }
        },
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_lake.py").write_text(S3_CHECK, encoding="utf-8")
    done = _run(
        tmp_path,
        str(BIN / "pytest"),
        "-p",
        "no:cacheprovider",
        "--floe-env=prod",
        "test_lake.py",
        "--floe-report=report.json",
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
    )
    assert done.returncode == 0, done.stdout + done.stderr  # a warning passes
    (check,) = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["checks"]
    assert {k: check[k] for k in ("service", "backend", "status", "message", "remediation")} == {
        "service": "storage",
        "backend": "s3-versioning",
        "status": "warning",
        "message": "bucket floe-unversioned has versioning Disabled.",
        "remediation": "enable versioning on environments.prod.storage.bucket",
    }
