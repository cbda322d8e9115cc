"""Fixtures of the end-to-end suite. The stack comes from the ``floe_stack`` fixture of the
floe_checks plugin (local, kind or existing); nothing here knows which provider ran.

Data steps and xdist: two workers share one stack, so every step that changes data runs
once for the whole session (``floe_stack_shared.once``) under the data lock, and a test
that compares exact numbers holds the same lock while it reads. The steps:

* ``baseline``: the first batch, launched through Dagster GraphQL, then the pre-aggregations
  built;
* ``growth``: facts before, another batch through Dagster, facts after the run and after a
  pre-aggregation refresh. FR-026a/FR-028 and FR-032 assert on these recorded facts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from e2e.expected import RAW_TABLES, Row, cube_rows, read_raw
from e2e.raw_facts import OrderTotals, load_catalog, order_totals, snapshots
from floe_checks.clients.cube import CubeClient
from floe_checks.clients.dagster import DagsterClient
from floe_checks.errors import StackError
from floe_checks.stack.base import StackEndpoints

JOB = "demo_pipeline"
SCHEDULE = "demo_schedule"
RUN_TIMEOUT = 420.0
BY_STATUS = {"measures": ["Orders.count", "Orders.total_revenue"], "dimensions": ["Orders.status"]}


def cube_by_status(answer: dict[str, Any]) -> dict[str, tuple[int, Decimal]]:
    """Cube's ``Orders`` by status answer as status → (count, revenue); Postgres numbers come
    back as strings."""
    return {
        row["Orders.status"]: (int(row["Orders.count"]), Decimal(row["Orders.total_revenue"]))
        for row in answer["data"]
    }


def run_batch(dagster: DagsterClient) -> dict[str, Any]:
    """Launch the demo job through GraphQL and wait; the run must succeed."""
    started = time.monotonic()
    run_id = dagster.launch_run(JOB)
    status = dagster.wait_for_run(run_id, RUN_TIMEOUT)
    if status != "SUCCESS":
        errors = "\n".join(dagster.run_failure_messages(run_id)[-5:])
        raise StackError(f"run {run_id} of {JOB} ended {status}:\n{errors}")
    return {"run_id": run_id, "status": status, "seconds": time.monotonic() - started}


@pytest.fixture(scope="session")
def cube(floe_stack: StackEndpoints) -> CubeClient:
    """Cube's REST API; signed with the playground secret when the stack has one, so answers
    show ``usedPreAggregations``."""
    secret = floe_stack.cube_playground_secret or floe_stack.cube_api_secret
    verify = floe_stack.cube_ca_bundle or True  # the cube section's ca_bundle, if any
    return CubeClient(floe_stack.cube_url, secret, timeout=120, verify=verify)


@pytest.fixture(scope="session")
def dagster(floe_stack: StackEndpoints) -> DagsterClient:
    return DagsterClient(floe_stack.dagster_url, verify=floe_stack.dagster_ca_bundle or True)


@pytest.fixture(scope="session")
def iceberg(floe_stack: StackEndpoints) -> Any:
    """The raw layer's Iceberg catalog, the system of record the expectations come from, read
    through the stack's own catalog settings (``StackEndpoints.catalog``: pyiceberg
    properties, so a SQL catalog, or a REST catalog with its OAuth2 ``credential`` and S3
    properties, alike)."""
    reason = catalog_skip_reason(floe_stack)
    if reason:
        pytest.skip(reason)
    return load_catalog(floe_stack.catalog)


def catalog_skip_reason(stack: StackEndpoints) -> str | None:
    """Why the expectations cannot be read on this stack, or None when they can."""
    props = stack.catalog
    if not props.get("type"):
        return (
            f"the {stack.provider} stack names no Iceberg catalog (StackEndpoints.catalog is "
            "empty), so the raw layer the expectations come from cannot be read"
        )
    if props["type"] == "rest" and not (props.get("credential") or props.get("token")):
        return (
            f"the {stack.provider} stack's REST catalog settings carry no OAuth2 credential "
            "(StackEndpoints.catalog has no 'credential' or 'token'), so the raw tables "
            "cannot be read"
        )
    return None


@pytest.fixture(scope="session")
def raw_cube_rows(iceberg: Any, namespace: str) -> Callable[[], dict[str, list[Row]]]:
    """Returns the rows behind each cube as the raw layer says *now* (e2e/expected.py); the
    tables are scanned again only when a snapshot changed since the last call."""
    cache: dict[tuple[Any, ...], dict[str, list[Row]]] = {}

    def current() -> dict[str, list[Row]]:
        key = tuple(
            getattr(
                iceberg.load_table(f"{namespace}.{name}").current_snapshot(), "snapshot_id", None
            )
            for name in RAW_TABLES
        )
        if key not in cache:
            cache.clear()
            cache[key] = cube_rows(read_raw(iceberg, namespace))
        return cache[key]

    return current


@pytest.fixture(scope="session")
def namespace(floe_stack: StackEndpoints) -> str:
    return floe_stack.catalog.get("namespace", "raw")


@pytest.fixture(scope="session")
def warehouse(floe_stack: StackEndpoints) -> Iterator[Any]:
    """A psycopg2 connection to the warehouse the marts are built in (autocommit)."""
    if floe_stack.warehouse is None:
        pytest.skip(f"the {floe_stack.provider} stack does not expose its warehouse database")
    import psycopg2

    wh = floe_stack.warehouse
    conn = psycopg2.connect(
        host=wh.host,
        port=wh.port,
        user=wh.user,
        password=wh.password.get_secret_value(),
        dbname=wh.database,
    )
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def baseline(floe_stack_shared: Any, dagster: DagsterClient, cube: CubeClient) -> dict[str, Any]:
    """The first batch of the session (once for all workers): run id and duration."""

    def step() -> dict[str, Any]:
        result = run_batch(dagster)
        cube.run_pre_aggregation_jobs(timeout=120)
        return result

    result: dict[str, Any] = floe_stack_shared.once("baseline", step)
    return result


@pytest.fixture(scope="session")
def growth(
    floe_stack_shared: Any,
    baseline: dict[str, Any],
    dagster: DagsterClient,
    cube: CubeClient,
    iceberg: Any,
    namespace: str,
) -> dict[str, Any]:
    """Another batch through Dagster, with the facts before and after (once per session)."""

    def step() -> dict[str, Any]:
        before = cube.load(BY_STATUS)
        facts: dict[str, Any] = {
            "raw_before": order_totals(iceberg, namespace).to_json(),
            "snapshots_before": snapshots(iceberg, namespace),
            "cube_before": before,
        }
        facts["run"] = run_batch(dagster)
        refreshed = time.monotonic()
        facts["jobs"] = cube.run_pre_aggregation_jobs(timeout=120)
        facts["refresh_seconds"] = time.monotonic() - refreshed
        facts["cube_after"] = cube.load(BY_STATUS)
        facts["raw_after"] = order_totals(iceberg, namespace).to_json()
        facts["snapshots_after"] = snapshots(iceberg, namespace)
        return facts

    result: dict[str, Any] = floe_stack_shared.once("growth", step)
    return result


@pytest.fixture
def data_lock(floe_stack_shared: Any) -> Iterator[None]:
    """Hold while reading for an exact comparison: no data step runs meanwhile."""
    with floe_stack_shared.data_lock():
        yield


def totals(data: dict[str, Any]) -> OrderTotals:
    return OrderTotals.from_json(data)
