"""The worked example of docs/extending.md, run as a user would (issue 15, point 9; FC-009):
taken from the page, run in a pytester repository against a real PostgreSQL, its result must
land in the table, the JSON report, the JUnit XML and ``floe preflight --include``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from floe_checks.servers.postgres import PostgresServer

pytestmark = [pytest.mark.requirement("FC-009", "007-FR-020"), pytest.mark.evidence("service")]

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"
BIN = Path(sys.executable).parent
REMEDIATION = (
    "run `dagster instance migrate` against this database, or point "
    "environments.prod.postgres.database at the migrated one"
)
MESSAGE = "the Dagster run storage in database 'floe_ext' has no 'runs' table."


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- example: test_dagster_storage.py -->\n```python\n(.*?)```", text, re.DOTALL
    )
    assert match, "docs/extending.md lost its worked example"
    return match.group(1)


@pytest.fixture
def repo(
    pytester: pytest.Pytester, postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    postgres_server.execute("DROP DATABASE IF EXISTS floe_ext", "CREATE DATABASE floe_ext")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", postgres_server.password)
    for name in ("FLOE_ENV", "FLOE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    pytester.makefile(
        ".yaml",
        floe=(
            "environments:\n  prod:\n    postgres:\n"
            f"      host: 127.0.0.1\n      port: {postgres_server.port}\n"
            "      user: postgres\n      database: floe_ext\n"
            "      password: ${DAGSTER_PG_PASSWORD}\n"
        ),
    )
    pytester.makeini("[pytest]\n")
    tests = pytester.mkdir("tests")
    (tests / "test_dagster_storage.py").write_text(_example(), encoding="utf-8")
    return pytester


def test_example_error_lands_in_table_json_and_junit(
    repo: pytest.Pytester, postgres_server: PostgresServer
) -> None:
    result = repo.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--floe-env=prod",
        "tests/test_dagster_storage.py",
        "--floe-report=report.json",
        "--junitxml=r.xml",
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert f"[CUSTOM] ERROR: {MESSAGE} Remediation: {REMEDIATION}" in out
    assert "Traceback" not in out
    assert "floe preflight: prod" in out  # the table's title
    report = json.loads((repo.path / "report.json").read_text(encoding="utf-8"))
    assert report["overall_status"] == "fail"
    (check,) = report["checks"]
    assert (check["service"], check["backend"], check["status"]) == (
        "custom",
        "dagster-storage",
        "error",
    )
    assert (check["message"], check["remediation"]) == (MESSAGE, REMEDIATION)
    (case,) = ET.parse(repo.path / "r.xml").getroot().iter("testcase")
    props = [(p.get("name"), p.get("value")) for p in case.iter("property")]
    assert props == [
        ("requirement", "REQ-101"),
        # floe_postgres reaches the selected environment through floe_section (issue 24)
        ("evidence", "environment"),
        ("evidence_source", "fixture floe_section"),
        ("service", "custom"),
        ("backend", "dagster-storage"),
        ("status", "error"),
        ("remediation", REMEDIATION),
    ]
    assert postgres_server.password not in out


def test_example_ok_and_cli_include(repo: pytest.Pytester, postgres_server: PostgresServer) -> None:
    cli = [str(BIN / "floe"), "preflight", "--env", "prod", "--include", "tests"]
    failing = subprocess.run(
        cli, cwd=repo.path, capture_output=True, text=True, timeout=120, check=False
    )
    assert failing.returncode == 1, failing.stdout + failing.stderr
    lines = failing.stdout.splitlines()
    # The bundled check's line first (OK, or WARNING on a loaded machine: not this test's topic).
    assert lines[0].startswith("[POSTGRES] ")
    assert not lines[0].startswith("[POSTGRES] ERROR")
    assert lines[1] == f"[CUSTOM] ERROR: {MESSAGE} Remediation: {REMEDIATION}"
    assert lines[2].startswith("preflight prod: FAIL (2 checks, ")

    postgres_server.execute("CREATE TABLE runs (id integer)", database="floe_ext")
    passing = subprocess.run(
        [*cli, "--json"], cwd=repo.path, capture_output=True, text=True, timeout=120, check=False
    )
    assert passing.returncode == 0, passing.stdout + passing.stderr
    checks = json.loads(passing.stdout)["checks"]
    assert [(c["service"], c["status"], c["message"]) for c in checks][1] == (
        "custom",
        "ok",
        "the Dagster run storage is migrated.",
    )
