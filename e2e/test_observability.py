"""FR-033/FR-034 on the local stack: the run's OpenTelemetry spans read back from the real
Jaeger the stack started (its query API), and its OpenLineage events from the receiver the stack
started (Marquez cannot be assembled here: docs/emulators.md;
floe_checks.servers.telemetry_receiver)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import JOB, RUN_TIMEOUT
from e2e.expected import RAW_TABLES
from floe_checks.clients.dagster import DagsterClient
from floe_checks.clients.jaeger import JaegerQuery
from floe_checks.polling import wait_until
from floe_checks.servers.telemetry_receiver import read_records
from floe_checks.stack.base import StackEndpoints

pytestmark = pytest.mark.e2e

LINEAGE_JOBS = {
    "floe_demo.generate_and_append",
    "floe_demo.publish_postgres",
    "floe_demo.dbt_build",
    "floe_demo.dbt.stg_orders",
    "floe_demo.dbt.mart_orders",
}


def _receiver_file(floe_stack: StackEndpoints, key: str) -> Path:
    if key not in floe_stack.extras:
        pytest.skip(f"the {floe_stack.provider} stack has no local telemetry receiver ({key})")
    return Path(floe_stack.extras[key])


@pytest.mark.requirement("007-FR-033")
def test_openlineage_events_of_the_run_reached_the_receiver(
    baseline: dict[str, Any], floe_stack: StackEndpoints
) -> None:
    events = read_records(_receiver_file(floe_stack, "openlineage_file"))
    by_run: dict[str, set[str]] = {}
    jobs: dict[str, str] = {}
    for event in events:
        run_id = event["run"]["runId"]
        by_run.setdefault(run_id, set()).add(event["eventType"])
        jobs[run_id] = event["job"]["name"]
    complete = {jobs[r] for r, types in by_run.items() if types == {"START", "COMPLETE"}}
    assert LINEAGE_JOBS - complete == set()
    dbt_build = next(e for e in events if e["job"]["name"] == "floe_demo.dbt_build")
    assert {d["name"].rsplit(".", 1)[-1] for d in dbt_build["inputs"]} >= {"orders"}


SAAS_TABLES = ("accounts", "subscriptions", "usage_events")
STEPS = ("demo_dbt", "ecommerce_raw", "saas_raw")  # the asset functions of the demo's job


def _jaeger(floe_stack: StackEndpoints) -> JaegerQuery:
    url = floe_stack.extras.get("jaeger_url")
    if not url:
        why = floe_stack.extras.get("jaeger_missing") or "it does not start one"
        pytest.skip(f"the {floe_stack.provider} stack has no Jaeger: {why}")
    return JaegerQuery(url)


def _trace(jaeger: JaegerQuery, run_id: str, roots: int) -> dict[str, Any]:
    """The trace of Dagster run ``run_id`` (its trace ID is the run ID's hex digits) once it
    holds ``roots`` step spans; the steps export on their way out, Jaeger's collector batches."""
    trace_id = uuid.UUID(run_id).hex
    found: dict[str, Any] = {}

    def complete() -> bool:
        nonlocal found
        found = jaeger.trace(trace_id) or {}
        return len([s for s in found.get("spans", []) if not s["references"]]) >= roots

    wait_until(complete, timeout=30, interval=0.2, factor=1.5, max_interval=2.0)
    assert found, f"Jaeger has no trace {trace_id} (run {run_id})"
    return found


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span["tags"]}


def _fields(log: dict[str, Any]) -> dict[str, Any]:
    return {f["key"]: f["value"] for f in log["fields"]}


def _tree(trace: dict[str, Any]) -> dict[str, list[str]]:
    """Each span's operation name → the sorted operation names of its children; the roots
    under ``""``."""
    by_id = {s["spanID"]: s for s in trace["spans"]}
    tree: dict[str, list[str]] = {}
    for span in trace["spans"]:
        parents = [r["spanID"] for r in span["references"] if r["refType"] == "CHILD_OF"]
        assert len(parents) <= 1, span
        parent = by_id[parents[0]]["operationName"] if parents else ""
        tree.setdefault(parent, []).append(span["operationName"])
    return {name: sorted(children) for name, children in tree.items()}


@pytest.mark.requirement("007-FR-034")
def test_a_pipeline_run_is_one_trace_in_jaeger_with_a_span_per_step(
    baseline: dict[str, Any], floe_stack: StackEndpoints
) -> None:
    """The baseline run, read back from Jaeger's query API: one trace whose ID is the run's,
    a root span per asset step tagged with the run, and the steps' own spans under them."""
    jaeger = _jaeger(floe_stack)
    run_id = baseline["run_id"]
    trace = _trace(jaeger, run_id, len(STEPS))
    assert trace["traceID"] == uuid.UUID(run_id).hex
    assert {p["serviceName"] for p in trace["processes"].values()} == {"floe-demo"}
    assert _tree(trace) == {
        "": list(STEPS),
        "ecommerce_raw": ["floe_demo.ingest"],
        # ingest generates, appends each table, then copies the batch to Postgres (the local
        # stack's dbt target)
        "floe_demo.ingest": sorted(["generate", "publish", *["append"] * len(RAW_TABLES)]),
        "saas_raw": sorted(["generate", *["append"] * len(SAAS_TABLES)]),
        "demo_dbt": ["dbt"],
    }
    roots = [s for s in trace["spans"] if not s["references"]]
    for root in roots:
        tags = _tags(root)
        assert (tags["dagster.run_id"], tags["job"]) == (run_id, JOB)
        assert "error" not in tags
    appended = sorted(_tags(s)["table"] for s in trace["spans"] if s["operationName"] == "append")
    assert appended == sorted([*RAW_TABLES, *SAAS_TABLES])


@pytest.mark.requirement("007-FR-034")
def test_a_failed_run_marks_its_step_span_as_an_error(
    baseline: dict[str, Any], floe_stack: StackEndpoints, dagster: DagsterClient
) -> None:
    """A run of ``ecommerce_raw`` alone with ``orders: 0`` fails in the step (no batch can have
    no order); its trace holds that one step span, marked as an error with the failure's
    message, and nothing under it: no batch was generated."""
    jaeger = _jaeger(floe_stack)
    config = {"ops": {"ecommerce_raw": {"config": {"orders": 0}}}}
    run_id = dagster.launch_run(JOB, config, step_keys=["ecommerce_raw"])
    assert dagster.wait_for_run(run_id, RUN_TIMEOUT) == "FAILURE"
    trace = _trace(jaeger, run_id, 1)
    (span,) = trace["spans"]
    assert span["operationName"] == "ecommerce_raw"
    tags = _tags(span)
    assert (tags["error"], tags["otel.status_code"]) == (True, "ERROR")
    (event,) = [log for log in span["logs"] if _fields(log).get("event") == "exception"]
    assert _fields(event)["exception.message"] == (
        "run config ops.ecommerce_raw.config.orders is 0: a batch needs at least 1 order; "
        "launch the run with orders >= 1 or without it"
    )
