"""What Dagster shows: the schedule running in the daemon (FR-026), the runs, the
materialisations and the lineage raw → staging → marts."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.conftest import JOB, SCHEDULE
from floe_checks.clients.dagster import DagsterClient
from floe_checks.stack.base import StackEndpoints

pytestmark = pytest.mark.e2e

DEFAULT_CRON = "*/5 * * * *"  # SPEC FR-026: every 5 minutes unless configured
RAW = {"raw/customers", "raw/products", "raw/orders", "raw/order_items"}
STAGING = {"stg_customers", "stg_products", "stg_orders", "stg_order_items"}
MARTS = {"mart_revenue", "mart_customer_segments", "mart_product_analytics", "mart_orders"}


@pytest.mark.requirement("007-FR-026")
def test_schedule_has_the_configured_cron_and_runs_in_the_daemon(
    dagster: DagsterClient, floe_stack: StackEndpoints
) -> None:
    schedule = dagster.schedule(SCHEDULE, JOB)
    expected_cron = floe_stack.extras.get("schedule_cron", DEFAULT_CRON)
    assert (schedule["cronSchedule"], schedule["job"], schedule["status"]) == (
        expected_cron,
        JOB,
        "RUNNING",
    )
    assert dagster.daemon_health()["SCHEDULER"] is True


@pytest.mark.requirement("007-FR-026a")
def test_runs_and_materialisations_are_visible(
    dagster: DagsterClient, baseline: dict[str, Any]
) -> None:
    runs = {run["runId"]: run for run in dagster.runs(JOB)}
    assert runs[baseline["run_id"]]["status"] == "SUCCESS"
    materialised = set(dagster.run_materializations(baseline["run_id"]))
    missing = (RAW | STAGING | MARTS) - materialised
    assert missing == set()


@pytest.mark.requirement("007-FR-027c")
def test_lineage_runs_raw_to_staging_to_marts(dagster: DagsterClient) -> None:
    graph = dagster.asset_graph()
    assert "raw/orders" in graph["stg_orders"]
    assert "raw/order_items" in graph["stg_order_items"]

    def upstream(key: str) -> set[str]:
        seen: set[str] = set()
        todo = [key]
        while todo:
            for parent in graph.get(todo.pop(), []):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    assert {"stg_orders", "raw/orders"} <= upstream("mart_orders")
    assert {"stg_orders", "stg_customers", "raw/orders"} <= upstream("mart_revenue")
    groups = dagster.asset_groups()
    assert {groups[k] for k in RAW} == {"raw"}
    assert {groups[k] for k in STAGING} == {"staging"}
    assert {groups[k] for k in MARTS} == {"marts"}
