"""Cube answers equal what the raw Iceberg data says (FR-029), its model is the SPEC's, and
pre-aggregations serve queries and refresh on new data (FR-032)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import BY_STATUS, cube_by_status, totals
from e2e.expected import CubeQuery, Row, assert_same
from e2e.raw_facts import order_totals
from floe_checks.clients.cube import CubeClient
from floe_checks.stack.base import StackEndpoints

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


ORDERS = ("Orders.count", "Orders.total_revenue", "Orders.average_order_value")
CUSTOMERS = (
    "Customers.count",
    "Customers.lifetime_value",
    "Customers.total_orders",
    "Customers.average_order_value",
)
PRODUCTS = ("Products.count", "Products.units_sold", "Products.revenue", "Products.average_price")
ITEMS = ("OrderItems.count", "OrderItems.units", "OrderItems.revenue", "OrderItems.discount")
# Every measure of every cube by the dimensions users slice by, alone and together, plus the
# joins the model declares. Each answer is compared group by group, measure by measure, with
# e2e/expected.py (docs/demo.md, "Exact answers").
EXACT_QUERIES = [
    CubeQuery(ORDERS, ("Orders.status",)),
    CubeQuery(ORDERS, ("Orders.region",)),
    CubeQuery(ORDERS, day="Orders.order_date"),
    CubeQuery(ORDERS, ("Orders.status", "Orders.region"), day="Orders.order_date"),
    CubeQuery(ORDERS[:2], ("Customers.segment",)),
    CubeQuery(CUSTOMERS, ("Customers.region",)),
    CubeQuery(CUSTOMERS, ("Customers.segment",)),
    CubeQuery(CUSTOMERS, ("Customers.region", "Customers.segment")),
    CubeQuery(PRODUCTS, ("Products.category",)),
    CubeQuery(PRODUCTS, ("Products.name",)),
    CubeQuery(PRODUCTS, ("Products.category", "Products.name")),
    CubeQuery(ITEMS, ("OrderItems.category",)),
    CubeQuery(ITEMS, ("OrderItems.region",)),
    CubeQuery(ITEMS, day="OrderItems.order_date"),
    CubeQuery(ITEMS, ("OrderItems.category", "OrderItems.region"), day="OrderItems.order_date"),
    CubeQuery(ITEMS[1:3], ("Products.name",)),
]
# Served from the rollup Orders.orders_by_status_region_day at its own grain.
ROLLUP_QUERY = CubeQuery(ORDERS[:2], ("Orders.status", "Orders.region"), day="Orders.order_date")


def _query_id(query: CubeQuery) -> str:
    return f"{query.cube}-by-{'+'.join(c.split('.')[-1] for c in query.columns)}"


@pytest.mark.requirement("007-FR-029")
@pytest.mark.parametrize("query", EXACT_QUERIES, ids=_query_id)
def test_cube_answer_equals_the_raw_data(
    query: CubeQuery,
    baseline: dict[str, Any],
    cube: CubeClient,
    raw_cube_rows: Callable[[], dict[str, list[Row]]],
    data_lock: None,
) -> None:
    """Every group and every measure of Cube's answer equals the computation from the raw
    Iceberg tables (counts and sums exactly, averages digit for digit under Postgres's
    numeric division rule); ``renewQuery`` so no cached answer from before a batch is used."""
    rows = raw_cube_rows()
    answer = cube.load(query.body(), renew=True)
    assert_same(query, answer, rows)


@pytest.mark.requirement("007-FR-029", "007-FR-032")
def test_rollup_answer_at_its_grain_equals_the_raw_data(
    baseline: dict[str, Any],
    cube: CubeClient,
    raw_cube_rows: Callable[[], dict[str, list[Row]]],
    data_lock: None,
) -> None:
    """The rollup serves count and revenue by status, region and day, and every one of its
    groups is exact."""
    rows = raw_cube_rows()
    answer = cube.load(ROLLUP_QUERY.body())
    assert list(answer.get("usedPreAggregations") or {}) == [
        "floe_pre_aggregations.orders_orders_by_status_region_day"
    ]
    assert_same(ROLLUP_QUERY, answer, rows)


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


@pytest.mark.requirement("007-FR-032")
def test_pre_aggregation_schema_exists_before_cube_starts(
    floe_stack: StackEndpoints, warehouse: Any
) -> None:
    """Cube's refresh worker and a jobs-API build both run ``CREATE SCHEMA IF NOT EXISTS``;
    on a missing schema, two at once fail one build with a duplicate key in
    ``pg_namespace_nspname_index``. The provider creates the schema first: the transaction
    that created it (its row's xmin) is older than the one recorded just before Cube's
    process started."""
    extras = floe_stack.extras
    if "txid_before_cube" not in extras:
        pytest.skip(
            f"the {floe_stack.provider} stack does not start Cube itself (no txid_before_cube "
            "in its extras); only the local provider creates the schema before Cube"
        )
    schema = extras["pre_aggregations_schema"]
    with warehouse.cursor() as cur:
        cur.execute("select xmin::text::bigint from pg_namespace where nspname = %s", (schema,))
        found = cur.fetchall()
    assert len(found) == 1, f"schema {schema} does not exist in the warehouse"
    (created,) = found[0]
    assert created < int(extras["txid_before_cube"])


@pytest.mark.requirement("007-FR-032")
def test_no_pre_aggregation_build_raced_on_the_schema(
    floe_stack: StackEndpoints, growth: dict[str, Any]
) -> None:
    """After both data steps (each builds the rollups through the jobs API while the refresh
    worker runs), the warehouse's log holds no duplicate-schema error."""
    log = floe_stack.extras.get("postgres_log")
    if not log:
        pytest.skip(f"the {floe_stack.provider} stack exposes no PostgreSQL log")
    races = [
        line
        for line in Path(log).read_text(errors="replace").splitlines()
        if "pg_namespace_nspname_index" in line
    ]
    assert races == []
