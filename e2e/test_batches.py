"""Another batch on demand through Dagster (FR-026a), appended to Iceberg and never
overwriting (FR-028); Cube's totals grow by exactly the new distinct orders."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.conftest import cube_by_status, totals
from e2e.raw_facts import RAW_TABLES

pytestmark = pytest.mark.e2e

GROWING_TABLES = ("customers", "orders", "order_items")  # every batch adds rows to these


@pytest.mark.requirement("007-FR-026a", "007-FR-029")
def test_launched_batch_grows_cube_totals_by_the_new_distinct_orders(
    growth: dict[str, Any],
) -> None:
    assert growth["run"]["status"] == "SUCCESS"
    raw_before, raw_after = totals(growth["raw_before"]), totals(growth["raw_after"])
    new_orders = raw_after.order_ids - raw_before.order_ids
    assert raw_before.order_ids <= raw_after.order_ids  # no order disappeared
    assert len(new_orders) > 0, "the launched run added no new order"
    cube_before = cube_by_status(growth["cube_before"])
    cube_after = cube_by_status(growth["cube_after"])
    count_before = sum(c for c, _ in cube_before.values())
    count_after = sum(c for c, _ in cube_after.values())
    assert count_after - count_before == len(new_orders)
    revenue_before = sum(r for _, r in cube_before.values())
    revenue_after = sum(r for _, r in cube_after.values())
    assert revenue_after - revenue_before == raw_after.revenue - raw_before.revenue


@pytest.mark.requirement("007-FR-028")
def test_raw_iceberg_tables_only_ever_appended(growth: dict[str, Any]) -> None:
    """Every snapshot that existed before the batch is still there, each new one is an
    append whose parent is the previous head, and no row count ever shrinks. (The product
    catalogue is generated once, so ``products`` may get no new snapshot.)"""
    before, after = growth["snapshots_before"], growth["snapshots_after"]
    for table in RAW_TABLES:
        old_ids = [s["id"] for s in before[table]]
        assert [s["id"] for s in after[table]][: len(old_ids)] == old_ids, table
        new = after[table][len(old_ids) :]
        if table in GROWING_TABLES:
            assert len(new) >= 1, f"{table}: the batch appended no snapshot"
        assert {s["operation"] for s in new} <= {"append"}, table
        previous = before[table][-1]
        for snap in new:
            assert snap["parent"] == previous["id"], table
            assert snap["total"] == previous["total"] + snap["added"], table
            previous = snap
    assert totals(growth["raw_after"]).raw_rows == (
        totals(growth["raw_before"]).raw_rows
        + sum(s["added"] for s in after["orders"][len(before["orders"]) :])
    )
