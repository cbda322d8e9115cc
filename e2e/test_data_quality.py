"""Injected defects (duplicates, nulls) do not reach the marts, and dbt's tests pass."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.raw_facts import order_totals
from floe_checks.clients.dagster import DagsterClient
from floe_checks.stack.base import StackEndpoints

pytestmark = pytest.mark.e2e


@pytest.mark.requirement("007-FR-027b")
def test_duplicates_in_raw_are_gone_from_the_marts(
    baseline: dict[str, Any],
    iceberg: Any,
    namespace: str,
    warehouse: Any,
    floe_stack: StackEndpoints,
    data_lock: None,
) -> None:
    raw = order_totals(iceberg, namespace)
    assert raw.raw_rows > len(raw.order_ids), "no duplicate was injected: the test proves nothing"
    schema = floe_stack.warehouse.schema if floe_stack.warehouse else "analytics"
    with warehouse.cursor() as cur:
        cur.execute(f"select count(*), count(distinct order_id) from {schema}.mart_orders")
        rows, distinct = cur.fetchone()
        cur.execute(f"select order_id from {schema}.mart_orders")
        mart_ids = {row[0] for row in cur.fetchall()}
    assert (rows, distinct) == (len(raw.order_ids), len(raw.order_ids))
    assert mart_ids == raw.order_ids


@pytest.mark.requirement("007-FR-027b", "007-FR-027c")
def test_nulls_in_raw_and_dbt_tests_pass(
    baseline: dict[str, Any],
    dagster: DagsterClient,
    iceberg: Any,
    namespace: str,
) -> None:
    customers = iceberg.load_table(f"{namespace}.customers").scan().to_arrow()
    assert customers.column("email").null_count > 0, "no null email was injected"
    checks = dagster.run_asset_check_results(baseline["run_id"])
    for name in ("unique_stg_orders_order_id", "not_null_stg_orders_order_id"):
        assert name in checks, f"dbt test {name} did not run; ran {sorted(checks)}"
    failed = sorted(name for name, passed in checks.items() if not passed)
    assert failed == []
