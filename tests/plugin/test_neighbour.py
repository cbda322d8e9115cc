"""The plugin in a user's repository (issue 15): it must not break a suite with its own
requirement IDs, selecting a test must select, and configuration mistakes fail closed with a
message naming the field — the same with and without xdist."""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.requirement("FC-009", "007-FR-020"), pytest.mark.evidence("static")]

USER_SUITE = """\
import pytest

@pytest.mark.requirement("REQ-123")
def test_own_id():
    pass

@pytest.mark.requirement("REQ-124", "ACME-7")
def test_two_own_ids():
    pass

def test_plain():
    pass
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLOE_ENV", "FLOE_CONFIG", "PG_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def _run(pytester: pytest.Pytester, *args: str, ini: str = "") -> pytest.RunResult:
    pytester.makeini("[pytest]\n" + ini)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_users_own_requirement_ids_pass_untouched(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    pytester.makepyfile(test_suite=USER_SUITE)
    result = _run(pytester, "test_suite.py", "--junitxml=r.xml", *xdist)
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3)
    xml = (pytester.path / "r.xml").read_text(encoding="utf-8")
    assert '<property name="requirement" value="REQ-123" />' in xml


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_unknown_id_of_our_family_fails_that_test_alone_in_both_modes(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    pytester.makepyfile(
        test_suite=USER_SUITE
        + "\n@pytest.mark.requirement('007-FR-999')\ndef test_bad():\n    pass\n"
    )
    result = _run(pytester, "test_suite.py", *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, errors=1)
    assert (
        "test_suite.py::test_bad: unknown requirement ID(s) 007-FR-999: their family is "
        "registered, but they are not." in result.stdout.str()
    )


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_a_registered_family_is_enforced_and_traced(
    pytester: pytest.Pytester, xdist: list[str]
) -> None:
    pytester.makefile(".yaml", reqs="REQ-123: Orders load nightly\nREQ-124: Refunds balance\n")
    pytester.makepyfile(
        test_suite=USER_SUITE
        + "\n@pytest.mark.requirement('REQ-999')\ndef test_unlisted():\n    pass\n"
    )
    result = _run(
        pytester,
        "test_suite.py",
        "--floe-trace=t.json",
        *xdist,
        ini="floe_requirements = reqs.yaml\n",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3, errors=1)
    assert "test_suite.py::test_unlisted: unknown requirement ID(s) REQ-999" in (
        result.stdout.str()
    )
    # ACME-7's family is registered nowhere: accepted as is.
    data = json.loads((pytester.path / "t.json").read_text(encoding="utf-8"))
    # The user's matrix lists their requirements; none of our 50 chart and image IDs.
    assert [row["id"] for row in data["requirements"]] == ["REQ-123", "REQ-124"]
    assert [row["status"] for row in data["requirements"]] == ["passed", "passed"]


def test_missing_registry_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=USER_SUITE)
    result = _run(pytester, "test_suite.py", ini="floe_requirements = nope.yaml\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{pytester.path / 'nope.yaml'}: requirement registry not found." in (
        result.stderr.str()
    )


def test_naming_one_test_runs_only_that_test(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", floe="environments:\n  staging:\n    compute: {type: duckdb}\n")
    pytester.makepyfile(test_custom="def test_x():\n    pass\n\ndef test_y():\n    pass\n")
    result = _run(pytester, "--floe-env=staging", "test_custom.py::test_x", "-v")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    assert "test_preflight" not in result.stdout.str()
    # Without a test named, the bundled checks are collected (pytest --floe-env=… -m preflight).
    everything = _run(pytester, "--floe-env=staging", "--collect-only", "-q")
    assert "test_custom.py::test_x" in everything.stdout.lines
    assert any(
        line.endswith("test_preflight.py::test_preflight[compute]")
        for line in everything.stdout.lines
    )


def _usage_error(pytester: pytest.Pytester, yaml_text: str) -> str:
    pytester.makefile(".yaml", floe=yaml_text)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _run(pytester, "test_x.py", "--floe-env=prod")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in text
    return text


def test_empty_environment_is_a_configuration_error(pytester: pytest.Pytester) -> None:
    text = _usage_error(pytester, "environments:\n  prod: {}\n")
    assert (
        "floe.yaml: environments.prod: no service is configured. Fix: add a compute, storage, "
        "catalog, postgres, cube or dagster section" in text
    )


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "postgres: {host: db, user: u, port: 70000}",
            "environments.prod.postgres.port: port 70000 is out of range. "
            "Fix: use a TCP port from 1 to 65535.",
        ),
        (
            "postgres: {host: db, user: u, port: 0}",
            "environments.prod.postgres.port: port 0 is out of range.",
        ),
        (
            "catalog: {type: polaris, uri: 'polaris.internal:8181', client_id: a, "
            "client_secret: '${PG_PASSWORD:-x}'}",
            "environments.prod.catalog.uri: 'polaris.internal:8181' is not an http(s) URL.",
        ),
        (
            "storage: {type: s3, bucket: b, endpoint_url: 'ftp://minio:9000'}",
            "environments.prod.storage.endpoint_url: 'ftp://minio:9000' is not an http(s) URL.",
        ),
        (
            "cube: {url: 'http://cube:99999', api_secret: '${PG_PASSWORD:-x}'}",
            "environments.prod.cube.url: 'http://cube:99999' has an invalid port.",
        ),
        (
            "postgres: {host: db, user: u, port: '${DAGSTER_PG_PORT}'}",
            "environment variable DAGSTER_PG_PORT is not set. Fix: export DAGSTER_PG_PORT, or "
            "write ${DAGSTER_PG_PORT:-default} to give a default.",
        ),
    ],
)
def test_bad_values_are_configuration_errors_naming_the_field(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, section: str, expected: str
) -> None:
    monkeypatch.delenv("DAGSTER_PG_PORT", raising=False)
    text = _usage_error(pytester, f"environments:\n  prod:\n    {section}\n")
    assert expected in text


def test_help_works_with_a_missing_registry_file(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--help", ini="floe_requirements = nope.yaml\n")
    assert result.ret == pytest.ExitCode.OK
    assert "floe_requirements" in result.stdout.str()
