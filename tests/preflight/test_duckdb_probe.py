"""The DuckDB probe: embedded, so no credentials, ports or timeouts — files and modes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from floe_checks.config import Section
from floe_checks.preflight.runner import run_check

duckdb = pytest.importorskip(
    "duckdb", reason="the DuckDB probe tests need the duckdb extra: pip install -e '.[duckdb]'"
)

pytestmark = [pytest.mark.requirement("007-FR-016", "007-FR-020"), pytest.mark.evidence("service")]


def _section(load_section: Callable[..., Section], **raw: object) -> Section:
    return load_section("compute", {"type": "duckdb", **raw})


def test_memory(load_section: Callable[..., Section]) -> None:
    result = run_check("compute", _section(load_section), timeout=5, slow_ms=10_000)
    assert result.status == "ok"
    assert result.details["mode"] == "memory"
    assert result.message == f"SELECT 1 ok on DuckDB {duckdb.__version__} (memory: :memory:)."


def test_existing_file_opens_read_only(
    tmp_path: Path, load_section: Callable[..., Section]
) -> None:
    path = tmp_path / "lake.duckdb"
    duckdb.connect(str(path)).close()
    result = run_check("compute", _section(load_section, path=str(path)), timeout=5, slow_ms=10_000)
    assert result.status == "ok"
    assert result.details["mode"] == "read-only"


def test_missing_file_read_only_is_not_found_and_not_created(
    tmp_path: Path, load_section: Callable[..., Section]
) -> None:
    path = tmp_path / "missing.duckdb"
    result = run_check("compute", _section(load_section, path=str(path)), timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "not_found"
    assert result.remediation == (
        f"database file '{path}' does not exist: create it, or fix environments.test.compute.path."
    )
    assert not path.exists()


def test_read_write_creates_the_file(tmp_path: Path, load_section: Callable[..., Section]) -> None:
    path = tmp_path / "new.duckdb"
    section = _section(load_section, path=str(path), read_write=True)
    result = run_check("compute", section, timeout=5, slow_ms=10_000)
    assert result.status == "ok"
    assert result.details["mode"] == "read-write"
    assert path.is_file()


def test_not_a_duckdb_file(tmp_path: Path, load_section: Callable[..., Section]) -> None:
    path = tmp_path / "notes.duckdb"
    path.write_text("this is not a database\n" * 200, encoding="utf-8")
    result = run_check("compute", _section(load_section, path=str(path)), timeout=5)
    assert result.status == "error"
    assert result.details["failure"] == "protocol"
    assert result.remediation == (
        f"{path} answered, but not as a DuckDB database file would: check that "
        "environments.test.compute.path points at the right service and path."
    )
