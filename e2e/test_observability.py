"""FR-033/FR-034 locally: the run's OpenLineage events and OpenTelemetry spans reached the
receiver the local stack started (Marquez and Jaeger cannot run here; see
floe_checks.servers.telemetry_receiver)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

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
SPAN_NAMES = {"floe_demo.ingest", "generate", "append", "publish", "dbt"}


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


@pytest.mark.requirement("007-FR-034")
def test_pipeline_spans_were_exported(baseline: dict[str, Any], floe_stack: StackEndpoints) -> None:
    spans = read_records(_receiver_file(floe_stack, "spans_file"))
    assert SPAN_NAMES - {s["name"] for s in spans} == set()
    assert {s["service"] for s in spans} == {"floe-demo"}
    ingest = [s for s in spans if s["name"] == "floe_demo.ingest"]
    children = {s["name"] for s in spans if s["parent_span_id"] in {i["span_id"] for i in ingest}}
    assert {"generate", "append"} <= children
