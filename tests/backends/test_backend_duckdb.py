"""DuckDB (embedded, no server): the preflight check of a DuckDB compute section, then
``dbt build`` of the demo with the ``duckdb`` target of demo/profiles.yml (raw tables read
from Iceberg by dbt-duckdb's iceberg plugin). Run alone by ``tox -e duckdb``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.backends.demo_build import Lake, check_marts, run_preflight

pytestmark = pytest.mark.evidence("service")


@pytest.mark.requirement("007-FR-015", "007-FR-016", "SC-007")
def test_preflight_duckdb(small_lake: Lake, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    report = run_preflight(
        tmp_path,
        "backend-duckdb",
        {"compute": {"type": "duckdb", "path": str(database), "read_write": True}},
        {},
    )
    assert [(c.service, c.backend, c.status) for c in report.checks] == [
        ("compute", "duckdb", "ok")
    ]
    assert report.overall_status == "pass"
    assert database.is_file()  # read_write: the check opened (and so created) the file


@pytest.mark.requirement("007-FR-027c", "007-FR-028", "SC-007")
def test_dbt_build_duckdb(small_lake: Lake) -> None:
    import duckdb
    from floe_demo.dbt_runner import run_dbt

    settings = small_lake.settings(FLOE_DEMO_DBT_TARGET="duckdb")
    run_dbt(settings, ["build"])

    def query(sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(settings.duckdb_path), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    check_marts(query, small_lake.raw)
