"""``floe report`` merges JUnit files of different runs into one requirement matrix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from floe_checks.requirements import registry

pytestmark = pytest.mark.requirement("SC-007")

TESTS = """\
import os, pytest

@pytest.mark.requirement("007-FR-016")
def test_compute():
    assert os.environ["BACKEND"] != "trino"

@pytest.mark.requirement("007-FR-019")
def test_postgres():
    if os.environ["BACKEND"] == "duckdb":
        pytest.skip("no postgres for duckdb")
"""


def _junit(pytester: pytest.Pytester, backend: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BACKEND", backend)
    target = pytester.path / "reports" / f"junit-{backend}.xml"
    pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={target}", "test_m.py")
    return target


def _floe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floe_checks.cli", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_merge_two_backends(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_m=TESTS)
    duck = _junit(pytester, "duckdb", monkeypatch)
    trino = _junit(pytester, "trino", monkeypatch)
    out_json = pytester.path / "matrix.json"
    out_md = pytester.path / "matrix.md"
    done = _floe(
        "report", str(duck), str(trino), "--json", str(out_json), "--markdown", str(out_md)
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["runs"] == ["duckdb", "trino"]
    rows = {row["id"]: row for row in data["requirements"]}
    assert len(rows) == len(registry())
    assert rows["007-FR-016"]["runs"] == {"duckdb": "passed", "trino": "failed"}
    assert rows["007-FR-016"]["proven_by"] == ["duckdb"]
    assert rows["007-FR-019"]["runs"] == {"duckdb": "skipped", "trino": "passed"}
    assert rows["007-FR-001"]["runs"] == {"duckdb": "untested", "trino": "untested"}
    md = out_md.read_text(encoding="utf-8")
    assert "| requirement | title | duckdb | trino |" in md
    assert (
        "| 007-FR-016 | Compute connectivity (Trino, Snowflake, BigQuery, DuckDB) "
        "| passed | failed |" in md
    )


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    missing = _floe("report", str(tmp_path / "junit-x.xml"))
    assert missing.returncode == 2
    assert missing.stderr == f"floe report: {tmp_path / 'junit-x.xml'}: file not found.\n"
    bad = tmp_path / "junit-bad.xml"
    bad.write_text("<html></html>", encoding="utf-8")
    wrong = _floe("report", str(bad))
    assert wrong.returncode == 2
    assert "not a JUnit file (root element <html>)" in wrong.stderr
    twice = _floe("report", str(bad), str(bad))
    assert twice.returncode == 2
    assert "run label(s) used twice: bad" in twice.stderr
