"""Cube answers equal what the raw Iceberg data says (FR-029), its model is the SPEC's, and
pre-aggregations serve queries and refresh on new data (FR-032)."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.conftest import BY_STATUS, cube_by_status, totals
from e2e.raw_facts import order_totals
from floe_checks.clients.cube import CubeClient

pytestmark = pytest.mark.e2e

# SPEC "Demo data model": the cubes, their measures and dimensions.
SPEC_MODEL = {
    "Orders": {
        "measures": {"count", "total_revenue", "average_order_value"},
        "dimensions": {"status", "region", "order_date"},
    },
    "Customers": {
        "measures": {"count", "lifetime_value", "average_order_value"},
        "dimensions": {"region", "segment", "created_at"},
    },
    "Products": {
        "measures": {"units_sold", "revenue", "average_price"},
        "dimensions": {"category", "name"},
    },
}


@pytest.mark.requirement("007-FR-029")
def test_orders_by_status_equal_deduplicated_raw_data(
    baseline: dict[str, Any], cube: CubeClient, iceberg: Any, namespace: str, data_lock: None
) -> None:
    """After a batch and a dbt build, Cube's Orders count and revenue by status are exactly
    the deduplicated raw orders in Iceberg."""
    expected = order_totals(iceberg, namespace)
    answer = cube.load(BY_STATUS)
    assert cube_by_status(answer) == expected.by_status
    # The raw layer really holds duplicates: without the dedupe the count would differ.
    assert expected.raw_rows != len(expected.order_ids)


@pytest.mark.requirement("007-FR-027c")
def test_meta_lists_the_spec_cubes_with_their_measures(cube: CubeClient) -> None:
    meta = cube.meta()
    cubes = {c["name"]: c for c in meta["cubes"]}
    missing: dict[str, set[str]] = {}
    for name, spec in SPEC_MODEL.items():
        assert name in cubes, f"Cube /meta has no {name} cube; it has {sorted(cubes)}"
        measures = {m["name"].split(".", 1)[1] for m in cubes[name]["measures"]}
        dimensions = {d["name"].split(".", 1)[1] for d in cubes[name]["dimensions"]}
        gaps = (spec["measures"] - measures) | (spec["dimensions"] - dimensions)
        if gaps:
            missing[name] = gaps
    assert missing == {}


@pytest.mark.requirement("007-FR-032")
def test_pre_aggregation_serves_and_refreshes_with_new_rows(growth: dict[str, Any]) -> None:
    """The by-status query is answered from the rollup before and after another batch; after
    the refresh the rollup is a new table whose answer includes exactly the new rows."""
    before, after = growth["cube_before"], growth["cube_after"]
    used_before = before.get("usedPreAggregations") or {}
    used_after = after.get("usedPreAggregations") or {}
    assert len(used_before) == 1, f"not served from a pre-aggregation: {before.keys()}"
    assert used_after.keys() == used_before.keys()
    (name,) = used_before
    assert used_after[name]["targetTableName"] != used_before[name]["targetTableName"]
    assert {job["status"] for job in growth["jobs"]} == {"done"}
    assert cube_by_status(before) == totals(growth["raw_before"]).by_status
    assert cube_by_status(after) == totals(growth["raw_after"]).by_status
