"""``--floe-strict`` (pytest) and ``floe preflight --strict`` (FC-006): a warning fails.

Against the suite's real PostgreSQL: environment ``broad`` names a superuser (the check passes
with a least-privilege warning), ``narrow`` a role that owns its database (no warning). Without
strict the broad one passes with the warning; with strict it fails, exit 1, keeping the
warning's text as remediation. The pytest path runs in a pytester repository, the CLI in its own
process.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from floe_checks.preflight.runner import STRICT_NOTE, strict_result
from floe_checks.results import CheckResult, Status
from floe_checks.servers.postgres import PostgresServer

pytestmark = [pytest.mark.requirement("FC-006", "007-FR-015"), pytest.mark.evidence("service")]

BIN = Path(sys.executable).parent
PASSWORD = secrets.token_urlsafe(12)
BROAD, NARROW = "lp_strict_broad", "lp_strict_narrow"
# The checks' own answer time is not this module's topic: a loaded machine must not add a
# slow-answer warning (which strict mode would also fail).
SLOW_MS = "--floe-slow-ms=60000"


def _warning(db: str) -> str:
    return (
        f"user {BROAD!r} is a superuser: it bypasses every permission check, and Dagster needs "
        f"only CONNECT on database {db} and USAGE, CREATE on schema public. Fix: ALTER ROLE "
        f"{BROAD} NOSUPERUSER NOCREATEROLE NOCREATEDB; GRANT CONNECT ON DATABASE {db} TO "
        f"{BROAD}; GRANT USAGE, CREATE ON SCHEMA public TO {BROAD}."
    )


@pytest.fixture(scope="module")
def floe_yaml(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    postgres_server.execute(
        f"CREATE ROLE {BROAD} LOGIN SUPERUSER PASSWORD '{PASSWORD}'",
        f"CREATE ROLE {NARROW} LOGIN PASSWORD '{PASSWORD}'",
        f"CREATE DATABASE {NARROW} OWNER {NARROW}",
    )

    def section(user: str) -> dict[str, object]:
        return {
            "postgres": {
                "host": "127.0.0.1",
                "port": postgres_server.port,
                "user": user,
                "database": NARROW,
                "password": "${LP_PG_PASSWORD}",
            }
        }

    path = tmp_path_factory.mktemp("strict") / "floe.yaml"
    environments = {"broad": section(BROAD), "narrow": section(NARROW)}
    path.write_text(json.dumps({"environments": environments}), encoding="utf-8")
    return path


def _floe(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LP_PG_PASSWORD": PASSWORD,
        # floe preflight runs pytest in-process, which reads PYTEST_ADDOPTS.
        "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} {SLOW_MS}".strip(),
    }
    return subprocess.run(
        [str(BIN / "floe"), "preflight", "--config", str(config), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _server_version(postgres_server: PostgresServer) -> str:
    return postgres_server.execute("SHOW server_version").strip()


def test_cli_broad_user_passes_with_the_warning(
    floe_yaml: Path, postgres_server: PostgresServer
) -> None:
    done = _floe(floe_yaml, "--env", "broad")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"[POSTGRES] WARNING: PostgreSQL {_server_version(postgres_server)}: SELECT 1 ok; user "
        f"{BROAD!r} may create tables in {NARROW}.public. Remediation: {_warning(NARROW)}"
    )
    assert lines[1].startswith("preflight broad: PASS (1 check, ")


def test_cli_strict_fails_the_broad_user_with_exit_1(
    floe_yaml: Path, postgres_server: PostgresServer
) -> None:
    done = _floe(floe_yaml, "--env", "broad", "--strict")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"[POSTGRES] ERROR: PostgreSQL {_server_version(postgres_server)}: SELECT 1 ok; user "
        f"{BROAD!r} may create tables in {NARROW}.public. {STRICT_NOTE} Remediation: "
        f"{_warning(NARROW)}"
    )
    assert lines[1].startswith("preflight broad: FAIL (1 check, ")
    assert PASSWORD not in done.stdout + done.stderr


def test_cli_strict_json_keeps_the_warning_and_privileges(floe_yaml: Path) -> None:
    done = _floe(floe_yaml, "--env", "broad", "--strict", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["overall_status"] == "fail"
    (check,) = report["checks"]
    assert (check["status"], check["remediation"]) == ("error", _warning(NARROW))
    details = check["details"]
    assert (details["failure"], details["strict"]) == ("strict", True)
    assert details["warnings"] == [_warning(NARROW)]
    assert details["privileges"] == {
        "role": BROAD,
        "superuser": True,
        "createrole": False,
        "createdb": False,
        "member_of": [],
    }


def test_cli_strict_passes_the_narrow_user(floe_yaml: Path) -> None:
    done = _floe(floe_yaml, "--env", "narrow", "--strict")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].startswith("[POSTGRES] OK: ")


@pytest.fixture
def repo(
    pytester: pytest.Pytester, floe_yaml: Path, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    monkeypatch.setenv("LP_PG_PASSWORD", PASSWORD)
    for name in ("FLOE_ENV", "FLOE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    (pytester.path / "floe.yaml").write_text(floe_yaml.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\n")
    return pytester


def _pytest(repo: pytest.Pytester, env: str, *argv: str) -> pytest.RunResult:
    return repo.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--floe-env={env}", "-m", "preflight", SLOW_MS, *argv
    )


def test_pytest_floe_strict_fails_the_broad_user_and_passes_the_narrow_one(
    repo: pytest.Pytester, postgres_server: PostgresServer
) -> None:
    plain = _pytest(repo, "broad", "--floe-report=plain.json")
    plain.assert_outcomes(passed=1)
    (check,) = json.loads((repo.path / "plain.json").read_text(encoding="utf-8"))["checks"]
    assert (check["status"], check["remediation"]) == ("warning", _warning(NARROW))

    strict = _pytest(repo, "broad", "--floe-strict", "--floe-report=strict.json")
    strict.assert_outcomes(failed=1)
    assert strict.ret == 1
    line = (
        f"[POSTGRES] ERROR: PostgreSQL {_server_version(postgres_server)}: SELECT 1 ok; user "
        f"{BROAD!r} may create tables in {NARROW}.public. {STRICT_NOTE} Remediation: "
        f"{_warning(NARROW)}"
    )
    assert line in strict.stdout.lines
    report = json.loads((repo.path / "strict.json").read_text(encoding="utf-8"))
    assert report["overall_status"] == "fail"
    assert report["checks"][0]["details"]["failure"] == "strict"

    # The narrow user passes under --floe-strict: strict mode fails warnings, not checks.
    _pytest(repo, "narrow", "--floe-strict").assert_outcomes(passed=1)


def test_floe_result_warning_fails_under_floe_strict(repo: pytest.Pytester) -> None:
    """A user's own check that reports a warning (docs/extending.md) fails like a bundled one."""
    repo.makepyfile(
        test_own="""
        import pytest

        @pytest.mark.preflight
        def test_own(floe_result):
            floe_result.warning("disk 91% full.", remediation="free space.", backend="disk")
        """
    )
    args = ("-p", "no:cacheprovider", "--floe-env=narrow", "test_own.py")
    repo.runpytest_subprocess(*args).assert_outcomes(passed=1)
    strict = repo.runpytest_subprocess(*args, "--floe-strict")
    strict.assert_outcomes(failed=1)
    assert f"[CUSTOM] ERROR: disk 91% full. {STRICT_NOTE} Remediation: free space." in (
        strict.stdout.lines
    )


def test_strict_result_leaves_ok_and_error_alone() -> None:
    common = {"service": "postgres", "backend": "postgres", "duration_ms": 3}
    ok = CheckResult(status=Status.OK, message="fine.", **common)  # type: ignore[arg-type]
    error = CheckResult(
        status=Status.ERROR,
        message="down.",
        remediation="start it.",
        details={"failure": "connection_refused"},
        **common,  # type: ignore[arg-type]
    )
    assert strict_result(ok) == ok
    assert strict_result(error) == error
    warning = CheckResult(
        status=Status.WARNING,
        message="slow.",
        remediation="look.",
        details={"slow_threshold_ms": 1000},
        **common,  # type: ignore[arg-type]
    )
    assert strict_result(warning).model_dump() == {
        "service": "postgres",
        "backend": "postgres",
        "status": "error",
        "message": "slow. (a warning; strict mode makes warnings fail)",
        "duration_ms": 3,
        "remediation": "look.",
        "details": {"slow_threshold_ms": 1000, "failure": "strict", "strict": True},
    }
