"""The house rules, proven on every run: ruff (lint and format) and ``mypy --strict``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.evidence("static")

ROOT = Path(__file__).resolve().parents[2]
PYTHON_TREES = ["floe_checks", "demo/floe_demo", "tests", "e2e", "benchmarks"]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.requirement("SC-010")
def test_ruff_check_and_format() -> None:
    check = _run("ruff", "check", "--no-cache", *PYTHON_TREES)
    assert check.returncode == 0, check.stdout
    fmt = _run("ruff", "format", "--check", "--no-cache", *PYTHON_TREES)
    assert fmt.returncode == 0, fmt.stdout


@pytest.mark.requirement("SC-010")
def test_mypy_strict(tmp_path: Path) -> None:
    done = _run("mypy", "--strict", "--cache-dir", str(tmp_path), "floe_checks", "demo/floe_demo")
    assert done.returncode == 0, done.stdout
