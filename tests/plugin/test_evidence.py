"""Evidence levels (issue 24): derived from the fixtures, stated by a marker, checked like
requirement IDs, reported per requirement in JUnit, ``--floe-trace`` and ``floe report``, and
enforced against the registry's ``needs`` by ``--floe-trace-strict``. Run through pytester in
a subprocess, as users load the plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from floe_checks.evidence import LEVELS, EvidenceConflict, derive, resolve
from floe_checks.requirements import needs, registry

pytestmark = [pytest.mark.requirement("FC-011", "FC-009"), pytest.mark.evidence("static")]

KNOWN = "static, rendered, emulator, service, api-server, cluster, environment"

# floe_cluster stands for the control plane of tests/cluster: the name is all the ini table
# looks at, so the fixture here needs no API server.
CONFTEST = """\
import pytest

@pytest.fixture
def floe_cluster():
    return "plane"
"""

SUITE = """\
import pytest

pytestmark = pytest.mark.evidence("rendered")

@pytest.mark.requirement("007-FR-005")
def test_chart_dependency():
    pass

@pytest.mark.evidence("static")
@pytest.mark.requirement("007-FR-001")
def test_dockerfile_lint():
    pass

@pytest.mark.requirement("007-FR-012")
def test_flux_applied(floe_cluster):
    pass  # the module says rendered; the fixture proves api-server: the certain one wins

@pytest.mark.evidence("emulator")
@pytest.mark.requirement("007-FR-019")
def test_postgres_emulated():
    pass

@pytest.mark.requirement("007-FR-019")
def test_postgres_live(floe_env):
    pass  # no --floe-env: floe_env skips; its level, environment, only skipped

@pytest.mark.skip(reason="no stack in this run")
@pytest.mark.requirement("007-FR-029")
def test_data_reaches_cube(floe_stack):
    pass
"""

OVERRIDE = """\
import pytest

@pytest.fixture
def floe_env():
    return "my own environment"  # an override may point anywhere: it derives nothing

@pytest.mark.requirement("007-FR-016")
def test_compute(floe_env):
    pass
"""


def _run(pytester: pytest.Pytester, *args: str, ini: str = "") -> pytest.RunResult:
    pytester.makeini("[pytest]\n" + ini)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLOE_ENV", "FLOE_CONFIG", "FLOE_STACK", "FLOE_REQUIRE_STACK"):
        monkeypatch.delenv(name, raising=False)


def _properties(path: Path) -> tuple[list[tuple[str, str]], dict[str, list[tuple[str, str]]]]:
    """The ``<testsuite>`` properties and each test case's, in file order."""
    root = ET.parse(path).getroot()
    suite = root.find("testsuite") if root.tag == "testsuites" else root
    assert suite is not None
    glob = [(p.get("name", ""), p.get("value", "")) for p in suite.findall("properties/property")]
    cases = {
        c.get("name", ""): [(p.get("name", ""), p.get("value", "")) for p in c.iter("property")]
        for c in suite.iter("testcase")
    }
    return glob, cases


def test_derivation_markers_trace_junit_and_report(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE, test_override=OVERRIDE)
    result = _run(
        pytester,
        "-n",
        "2",
        "--junitxml=r.xml",
        "--floe-trace=t.json",
        "--floe-trace-strict",
        ini="floe_evidence_fixtures =\n    floe_cluster: api-server\n",
    )
    result.assert_outcomes(passed=5, skipped=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # strict
    out = result.stdout.lines
    # A requirement without a passing test is counted; one that passed below its need is named
    # with the level it has and the level it needs.
    passed = {"007-FR-001", "007-FR-005", "007-FR-012", "007-FR-016", "007-FR-019"}
    missing = [rid for rid in registry() if rid not in passed]
    assert [line for line in out if line.startswith("floe trace strict:")] == [
        f"floe trace strict: {len(missing)} of {len(registry())} requirements have no passing "
        f"test: {', '.join(missing)}",
        "floe trace strict: 007-FR-001 passed with 'static' evidence, below the 'cluster' it needs",
        "floe trace strict: 007-FR-016 passed with 'unstated' evidence, below the 'service' it "
        "needs",
        "floe trace strict: 007-FR-019 passed with 'emulator' evidence, below the 'service' it "
        "needs",
    ]

    # JUnit: each test case says its level and where it comes from
    suite_props, cases = _properties(pytester.path / "r.xml")
    assert cases["test_chart_dependency"] == [
        ("requirement", "007-FR-005"),
        ("evidence", "rendered"),
        ("evidence_source", "marker"),
    ]
    assert cases["test_dockerfile_lint"][1:] == [
        ("evidence", "static"),
        ("evidence_source", "marker"),
    ]
    assert cases["test_flux_applied"][1:] == [
        ("evidence", "api-server"),
        ("evidence_source", "fixture floe_cluster"),
    ]
    assert cases["test_postgres_live"][1:] == [
        ("evidence", "environment"),
        ("evidence_source", "fixture floe_env"),
    ]
    assert cases["test_data_reaches_cube"][1:] == [
        ("evidence", "service"),  # --floe-stack defaults to local: processes here
        ("evidence_source", "fixture floe_stack"),
    ]
    assert cases["test_compute"][1:] == [
        ("evidence", "unstated"),
        ("evidence_source", "unstated"),
    ]
    # ... and the suite, per requirement claimed: strongest passed, skipped only, needs
    assert suite_props == [
        ("evidence", "007-FR-001 passed=static skipped-only=- needs=cluster"),
        ("evidence", "007-FR-005 passed=rendered skipped-only=- needs=rendered"),
        ("evidence", "007-FR-012 passed=api-server skipped-only=- needs=api-server"),
        ("evidence", "007-FR-016 passed=unstated skipped-only=- needs=service"),
        ("evidence", "007-FR-019 passed=emulator skipped-only=environment needs=service"),
        ("evidence", "007-FR-029 passed=- skipped-only=service needs=service"),
    ]

    # --floe-trace: JSON and Markdown
    data = json.loads((pytester.path / "t.json").read_text(encoding="utf-8"))
    rows = {row["id"]: row for row in data["requirements"]}
    picked = {
        rid: (
            rows[rid]["status"],
            rows[rid]["evidence"],
            rows[rid]["skipped_only"],
            rows[rid]["needs"],
        )
        for rid in ("007-FR-001", "007-FR-005", "007-FR-012", "007-FR-019", "007-FR-029", "SC-009")
    }
    assert picked == {
        "007-FR-001": ("passed", "static", [], "cluster"),
        "007-FR-005": ("passed", "rendered", [], "rendered"),
        "007-FR-012": ("passed", "api-server", [], "api-server"),
        "007-FR-019": ("passed", "emulator", ["environment"], "service"),
        "007-FR-029": ("skipped", None, ["service"], "service"),
        "SC-009": ("untested", None, [], "cluster"),
    }
    short = data["summary"]["below_needed_evidence"]
    assert short[:4] == [
        {"id": "007-FR-001", "has": "static", "needs": "cluster"},
        {"id": "007-FR-002", "has": None, "needs": "cluster"},
        {"id": "007-FR-003", "has": None, "needs": "cluster"},
        {"id": "007-FR-004", "has": None, "needs": "cluster"},
    ]
    # every requirement with a need and no passing test is short, plus the three above
    no_pass = [r for r in registry() if rows[r]["evidence"] is None]
    assert [s["id"] for s in short] == [
        r for r in registry() if r in no_pass or r in {"007-FR-001", "007-FR-016", "007-FR-019"}
    ]
    md = (pytester.path / "t.md").read_text(encoding="utf-8").splitlines()
    assert (
        "| 007-FR-019 | PostgreSQL for Dagster metadata | passed | emulator (below service) "
        "| service | environment | `test_suite.py::test_postgres_emulated` passed [emulator]"
        "<br>`test_suite.py::test_postgres_live` skipped [environment] (no floe environment "
        "selected: pass --floe-env NAME or set FLOE_ENV) |"
    ) in md
    assert (
        "| 007-FR-012 | Flux HelmRelease and Kustomization examples | passed | api-server "
        "| api-server | — | `test_suite.py::test_flux_applied` passed [api-server] |"
    ) in md

    # floe report: the same columns from the JUnit file, in JSON, Markdown and HTML
    out_json, out_md, out_html = (pytester.path / f"m.{ext}" for ext in ("json", "md", "html"))
    done = subprocess.run(
        [
            *(sys.executable, "-m", "floe_checks.cli", "report", f"ci={pytester.path / 'r.xml'}"),
            *("--json", str(out_json), "--markdown", str(out_md), "--html", str(out_html)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    merged = {r["id"]: r for r in json.loads(out_json.read_text(encoding="utf-8"))["requirements"]}
    assert merged["007-FR-019"] == {
        "id": "007-FR-019",
        "title": "PostgreSQL for Dagster metadata",
        "runs": {"ci": "passed"},
        "proven_by": ["ci"],
        "needs": "service",
        "evidence": "emulator",
        "skipped_only": ["environment"],
    }
    assert merged["007-FR-029"]["evidence"] is None
    assert merged["007-FR-029"]["skipped_only"] == ["service"]
    report_md = out_md.read_text(encoding="utf-8").splitlines()
    assert "| requirement | title | evidence | needs | skipped only | ci |" in report_md
    assert (
        "| 007-FR-001 | Production image for the Dagster components | static (below cluster) "
        "| cluster | — | passed |"
    ) in report_md
    assert (
        "| 007-FR-029 | E2E proves data flows from generation to Cube API answers | — "
        "| service | service | skipped |"
    ) in report_md
    html = out_html.read_text(encoding="utf-8")
    assert (
        "<tr><td>007-FR-001</td><td>Production image for the Dagster components</td>"
        '<td class="short">static (below cluster)</td><td>cluster</td><td>—</td>'
        '<td class="passed">passed</td></tr>'
    ) in html
    assert (
        "<tr><td>007-FR-005</td><td>floe-dagster builds on the official dagster chart as a "
        "dependency</td><td>rendered</td><td>rendered</td><td>—</td>"
        '<td class="passed">passed</td></tr>'
    ) in html


ERRORS = """\
import pytest

@pytest.mark.evidence("rendred")
@pytest.mark.requirement("007-FR-009")
def test_typo():
    pass

@pytest.mark.evidence("cluster")
@pytest.mark.requirement("FC-001")
def test_overclaim(floe_cluster):
    pass

@pytest.mark.requirement("007-FR-021")
def test_no_level():
    pass

def test_no_requirement_no_level():
    pass

@pytest.mark.skip(reason="no kind here")
@pytest.mark.requirement("SC-001")
def test_on_kind(floe_stack):
    pass
"""


def test_bad_levels_are_errors_of_their_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_bad=ERRORS)
    result = _run(
        pytester,
        "--junitxml=r.xml",
        "--floe-stack=kind",
        ini="floe_evidence_fixtures = floe_cluster: api-server\nfloe_evidence_required = true\n",
    )
    result.assert_outcomes(passed=1, skipped=1, errors=3)
    out = result.stdout.str()
    for message in (
        "test_bad.py::test_typo: @pytest.mark.evidence: unknown evidence level 'rendred'; known "
        f"levels, weakest first: {KNOWN}\n",
        "test_bad.py::test_overclaim: @pytest.mark.evidence('cluster') claims more than its "
        "fixture floe_cluster proves ('api-server'). Fix: drop the marker, or, if another "
        "fixture provides 'cluster' evidence, declare it in the ini option "
        "floe_evidence_fixtures ('NAME: cluster')\n",
        "test_bad.py::test_no_level: no evidence level: the test has requirement IDs, and ini "
        "floe_evidence_required is set. Fix: add @pytest.mark.evidence(LEVEL) (or a module "
        f"pytestmark) with one of {KNOWN}, or use a fixture that establishes one\n",
    ):
        assert message in out
    _, cases = _properties(pytester.path / "r.xml")
    assert cases["test_on_kind"][1:] == [
        ("evidence", "cluster"),  # --floe-stack=kind: containers on a real node
        ("evidence_source", "fixture floe_stack"),
    ]


def test_bad_fixture_table_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = _run(pytester, ini="floe_evidence_fixtures = floe_cluster: apiserver\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "ERROR: ini option floe_evidence_fixtures: 'floe_cluster: apiserver': unknown evidence "
        f"level 'apiserver'; known levels, weakest first: {KNOWN}"
    ) in result.stderr.lines


STRICT = """\
import os, pytest

@pytest.mark.evidence(os.environ["LEVEL"])
@pytest.mark.requirement("REQ-1")
def test_orders_land():
    pass

@pytest.mark.requirement("REQ-2")
def test_refunds():
    pass
"""


@pytest.mark.parametrize(
    ("level", "ret", "lines"),
    [
        ("service", pytest.ExitCode.OK, []),
        ("environment", pytest.ExitCode.OK, []),
        (
            "emulator",
            pytest.ExitCode.TESTS_FAILED,
            [
                "floe trace strict: REQ-1 passed with 'emulator' evidence, below the 'service' "
                "it needs"
            ],
        ),
    ],
)
def test_strict_fails_evidence_below_the_need(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    level: str,
    ret: pytest.ExitCode,
    lines: list[str],
) -> None:
    monkeypatch.setenv("LEVEL", level)
    pytester.makefile(
        ".yaml",
        reqs="REQ-1:\n  title: Orders land in the warehouse\n  needs: service\n"
        "REQ-2: Refunds balance\n",
    )
    pytester.makepyfile(test_user=STRICT)
    result = _run(
        pytester,
        "--floe-trace=t.json",
        "--floe-trace-strict",
        ini="floe_requirements = reqs.yaml\n",
    )
    result.assert_outcomes(passed=2)
    assert result.ret == ret
    assert [line for line in result.stdout.lines if line.startswith("floe trace strict")] == lines


def test_registry_needs_a_known_level_for_every_requirement() -> None:
    assert list(needs()) == list(registry())
    assert {level for level in needs().values()} <= set(LEVELS)
    assert [rid for rid in registry() if rid.startswith("FC-")] == [
        f"FC-{n:03d}" for n in range(1, 12)
    ]
    # what the issue names: an image needs a container that ran, GitOps an API server
    assert (needs()["007-FR-001"], needs()["007-FR-011"], needs()["007-FR-012"]) == (
        "cluster",
        "api-server",
        "api-server",
    )


def test_the_rule_between_marker_and_fixtures() -> None:
    derived = derive({"floe_cluster": "api-server", "floe_env": "environment"})
    assert derived is not None
    assert (derived.level, derived.source) == ("environment", "fixture floe_env")
    assert resolve("static", derive({"floe_cluster": "api-server"})).level == "api-server"
    assert resolve("rendered", None).source == "marker"
    assert resolve(None, None).level == "unstated"
    with pytest.raises(EvidenceConflict):
        resolve("cluster", derive({"floe_stack": "service"}))
