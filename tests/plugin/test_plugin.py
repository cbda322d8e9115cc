"""Tests of the floe_checks pytest plugin itself, run through pytester (in a subprocess, so the
entry-point plugin loads exactly as it does for users)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from floe_checks.requirements import registry

pytestmark = [pytest.mark.requirement("SC-010"), pytest.mark.evidence("static")]

SECRET = "s3cr3t-Value-that-must-not-leak"  # pragma: allowlist secret

FLOE_YAML = """\
environments:
  prod:
    postgres:
      host: db.example.internal
      user: dagster
      password: ${PG_PASSWORD}
  staging:
    compute:
      type: duckdb
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Isolate from the repository's own pytest.ini and from the caller's environment.
    pytester.makeini("[pytest]\n")
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLOE_ENV", "FLOE_CONFIG", "FLOE_STACK", "PG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_help_lists_options(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--help")
    out = result.stdout.str()
    for option in ("--floe-env", "--floe-config", "--floe-trace", "--floe-trace-strict"):
        assert option in out
    assert result.ret == 0


def test_help_works_with_broken_config(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", floe="environments: [unclosed\n")
    result = _run(pytester, "--floe-env=prod", "--help")
    assert result.ret == 0
    assert "--floe-env" in result.stdout.str()


def test_markers_registered(pytester: pytest.Pytester) -> None:
    out = _run(pytester, "--markers").stdout.str()
    for marker in ("@pytest.mark.preflight:", "@pytest.mark.e2e:", "@pytest.mark.charts:"):
        assert marker in out
    assert "@pytest.mark.requirement(id, *ids):" in out


@pytest.mark.parametrize(
    ("args", "env", "ini", "expected"),
    [
        (["--floe-env=staging"], "prod", "local", "floe env: staging (from --floe-env)"),
        ([], "staging", "prod", "floe env: staging (from $FLOE_ENV)"),
        ([], None, "staging", "floe env: staging (from ini floe_env)"),
        ([], None, None, "floe env: none"),
    ],
)
def test_env_resolution_order(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: str | None,
    ini: str | None,
    expected: str,
) -> None:
    pytester.makefile(".yaml", floe=FLOE_YAML.replace("${PG_PASSWORD}", "${PG_PASSWORD:-x}"))
    monkeypatch.setenv("PG_PASSWORD", SECRET)
    if env:
        monkeypatch.setenv("FLOE_ENV", env)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    ini_text = f"[pytest]\nfloe_env = {ini}\n" if ini else "[pytest]\n"
    pytester.makeini(ini_text)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "test_x.py", *args)
    assert expected in result.stdout.str()


def test_config_path_resolution(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = pytester.path / "conf"
    conf.mkdir()
    (conf / "mine.yaml").write_text(FLOE_YAML, encoding="utf-8")
    monkeypatch.setenv("FLOE_CONFIG", "conf/mine.yaml")
    monkeypatch.setenv("PG_PASSWORD", SECRET)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _run(pytester, "test_x.py", "--floe-env=staging")
    assert "floe config: conf/mine.yaml (from $FLOE_CONFIG)" in result.stdout.str()


def _config_error(pytester: pytest.Pytester, yaml_text: str, *args: str) -> str:
    pytester.makefile(".yaml", floe=yaml_text)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _run(pytester, "test_x.py", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text
    return text


def test_literal_password_is_a_usage_error(pytester: pytest.Pytester) -> None:
    text = _config_error(pytester, FLOE_YAML.replace("${PG_PASSWORD}", SECRET), "--floe-env=prod")
    assert "floe.yaml: environments.prod.postgres.password:" in text
    assert "SC-004" in text
    assert SECRET not in text


def test_unknown_environment_lists_defined(pytester: pytest.Pytester) -> None:
    text = _config_error(pytester, FLOE_YAML, "--floe-env=nope")
    assert "environment 'nope' is not defined" in text
    assert "use one of: local, prod, staging" in text


def test_missing_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _run(pytester, "test_x.py", "--floe-env=prod", "--floe-config=absent.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "absent.yaml: file not found." in result.stderr.str()


def test_yaml_syntax_error_names_line(pytester: pytest.Pytester) -> None:
    text = _config_error(pytester, "environments:\n  prod:\n\tcompute: {}\n", "--floe-env=prod")
    assert "floe.yaml: YAML syntax error at line 3, column 1" in text


def test_unknown_key(pytester: pytest.Pytester) -> None:
    text = _config_error(
        pytester,
        "environments:\n  prod:\n    compute: {type: duckdb, pth: x.db}\n",
        "--floe-env=prod",
    )
    assert "environments.prod.compute.pth: Extra inputs are not permitted" in text


def test_wrong_type(pytester: pytest.Pytester) -> None:
    text = _config_error(
        pytester,
        "environments:\n  prod:\n    postgres: {host: h, user: u, port: five}\n",
        "--floe-env=prod",
    )
    assert "environments.prod.postgres.port: Input should be a valid integer" in text


def test_unset_variable(pytester: pytest.Pytester) -> None:
    text = _config_error(pytester, FLOE_YAML, "--floe-env=prod")
    assert (
        "environments.prod.postgres.password: environment variable PG_PASSWORD is not set" in text
    )


def test_unknown_compute_type(pytester: pytest.Pytester) -> None:
    text = _config_error(
        pytester, "environments:\n  prod:\n    compute: {type: oracle}\n", "--floe-env=prod"
    )
    assert "environments.prod.compute: unknown type 'oracle'" in text


def test_local_needs_no_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x=(
            "def test_env(floe_env):\n"
            "    assert floe_env.name == 'local'\n"
            "    assert floe_env.compute.type == 'duckdb'\n"
        )
    )
    result = _run(pytester, "test_x.py", "--floe-env=local", "-v")
    result.stdout.fnmatch_lines(["*test_x.py::test_env PASSED*"])


def test_secret_never_in_output_or_junit(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makefile(".yaml", floe=FLOE_YAML)
    monkeypatch.setenv("PG_PASSWORD", SECRET)
    pytester.makepyfile(
        test_x=(
            "def test_fails(floe_env):\n"
            "    pw = floe_env.postgres.password\n"
            "    assert str(pw) == 'x', repr(floe_env)\n"
        )
    )
    result = _run(pytester, "test_x.py", "--floe-env=prod", "-k", "test_fails", "--junitxml=r.xml")
    result.assert_outcomes(failed=1)
    text = result.stdout.str() + result.stderr.str()
    assert "**********" in text  # the repr was printed, masked
    assert SECRET not in text
    assert SECRET not in (pytester.path / "r.xml").read_text(encoding="utf-8")


def test_unknown_requirement_id_is_an_error_of_that_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_req=(
            "import pytest\n@pytest.mark.requirement('007-FR-999')\ndef test_bad():\n    pass\n"
        )
    )
    # The same with and without xdist: a setup error of that test, exit 1 (issue 15.7).
    for args in ([], ["-n", "2"]):
        result = _run(pytester, "test_req.py", *args)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        result.assert_outcomes(errors=1)
        assert "test_req.py::test_bad: unknown requirement ID(s) 007-FR-999" in result.stdout.str()


REQ_TESTS = """\
import pytest

@pytest.mark.requirement("007-FR-016")
def test_compute():
    pass

@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_storage():
    assert False

@pytest.mark.requirement("007-FR-018")
def test_catalog():
    pytest.skip("no catalog here")

def test_plain():
    pass
"""


def _testcases(path: Path) -> dict[str, list[tuple[str, str]]]:
    root = ET.parse(path).getroot()
    out: dict[str, list[tuple[str, str]]] = {}
    for case in root.iter("testcase"):
        props = [(p.get("name", ""), p.get("value", "")) for p in case.iter("property")]
        out[case.get("name", "")] = props
    return out


def test_junit_properties_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_req=REQ_TESTS)
    result = _run(pytester, "-n", "2", "--junitxml=r.xml", "test_req.py")
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    cases = _testcases(pytester.path / "r.xml")
    # no marker, no fixture that derives a level: "unstated", said so (issue 24)
    unstated = [("evidence", "unstated"), ("evidence_source", "unstated")]
    assert cases["test_compute"] == [("requirement", "007-FR-016"), *unstated]
    assert cases["test_storage"] == [
        ("requirement", "007-FR-017"),
        ("requirement", "007-FR-020"),
        *unstated,
    ]
    assert cases["test_catalog"] == [("requirement", "007-FR-018"), *unstated]
    assert cases["test_plain"] == []


def test_trace_matrix(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_req=REQ_TESTS)
    result = _run(pytester, "-n", "2", "--floe-trace=out/t.json", "test_req.py")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads((pytester.path / "out" / "t.json").read_text(encoding="utf-8"))
    rows = {row["id"]: row for row in data["requirements"]}
    assert list(rows) == list(registry())  # every SPEC requirement, in order
    assert rows["007-FR-016"]["status"] == "passed"
    assert rows["007-FR-016"]["tests"] == [
        {
            "nodeid": "test_req.py::test_compute",
            "outcome": "passed",
            "reason": "",
            "evidence": "unstated",
        }
    ]
    assert rows["007-FR-017"]["status"] == "failed"
    assert rows["007-FR-020"]["tests"][0]["outcome"] == "failed"
    assert rows["007-FR-018"]["tests"] == [
        {
            "nodeid": "test_req.py::test_catalog",
            "outcome": "skipped",
            "reason": "no catalog here",
            "evidence": "unstated",
        }
    ]
    untested = set(registry()) - {"007-FR-016", "007-FR-017", "007-FR-018", "007-FR-020"}
    assert set(data["summary"]["untested"]) == untested
    md = (pytester.path / "out" / "t.md").read_text(encoding="utf-8")
    assert (
        "| 007-FR-016 | Compute connectivity (Trino, Snowflake, BigQuery, DuckDB) | passed "
        "| unstated (below service) | service | — | `test_req.py::test_compute` passed [unstated] |"
        in md.splitlines()
    )


def test_trace_strict_fails_on_unproven(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_req="import pytest\n@pytest.mark.requirement('SC-001')\ndef test_a():\n    pass\n"
    )
    result = _run(pytester, "--floe-trace=t.json", "--floe-trace-strict", "test_req.py")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert f"{len(registry()) - 1} of {len(registry())} requirements have no passing test" in (
        result.stdout.str()
    )


def test_bundled_checks_collected_when_env_selected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    without = _run(pytester, "--collect-only", "-q")
    assert "floe_checks" not in without.stdout.str()
    with_env = _run(pytester, "--collect-only", "-q", "--floe-env=local")
    assert "test_preflight.py::test_preflight[compute]" in with_env.stdout.lines


def test_several_problems_are_listed_one_per_line(pytester: pytest.Pytester) -> None:
    text = _config_error(
        pytester,
        "environments:\n  prod:\n    postgres: {hots: h, user: u, port: five}\n",
        "--floe-env=prod",
    )
    assert "floe.yaml: 3 problems:\n" in text
    assert "  environments.prod.postgres.host: Field required. Fix: add the field.\n" in text
    assert "  environments.prod.postgres.port: Input should be a valid integer" in text
    assert "  environments.prod.postgres.hots: Extra inputs are not permitted." in text
