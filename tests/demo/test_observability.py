"""OpenLineage over HTTP (FR-033) and OTLP/HTTP spans (FR-034) from a pipeline step."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from floe_demo.pipeline import ingest_ecommerce_batch
from floe_demo.settings import DemoSettings

from tests.demo.telemetry_receiver import telemetry_receiver
from tests.observability.jaeger import jaeger_or_skip, wait_for_spans

pytestmark = pytest.mark.evidence("emulator")

Make = Callable[..., DemoSettings]


@pytest.mark.requirement("007-FR-033", "007-FR-034")
def test_ingest_sends_lineage_and_spans_over_http(make_settings: Make) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    with telemetry_receiver() as receiver:
        settings = make_settings(
            OPENLINEAGE_URL=receiver.url,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            FLOE_DEMO_BATCH_ORDERS="20",
        )
        report = ingest_ecommerce_batch(settings)

    events = [json.loads(body) for body in receiver.bodies("/api/v1/lineage")]
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [
        ("floe_demo.generate_and_append", "START"),
        ("floe_demo.generate_and_append", "COMPLETE"),
    ]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    assert sorted(d["name"] for d in events[1]["outputs"]) == [
        "raw.customers",
        "raw.order_items",
        "raw.orders",
        "raw.products",
    ]

    spans = []
    for body in receiver.bodies("/v1/traces"):
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                spans.extend(scope_spans.spans)
    names = sorted(s.name for s in spans)
    assert names == ["append"] * 4 + ["floe_demo.ingest", "generate"]
    root = next(s for s in spans if s.name == "floe_demo.ingest")
    assert {s.trace_id for s in spans} == {root.trace_id}
    attrs = {a.key: a.value.string_value for a in root.attributes if a.key == "floe.batch_id"}
    assert attrs == {"floe.batch_id": report.spec.batch_id}


@pytest.mark.requirement("007-FR-034")
@pytest.mark.evidence("service")
def test_ingest_spans_are_readable_in_jaeger(make_settings: Make) -> None:
    """The demo's own OTLP exporter against the real Jaeger (skips naming
    scripts/build-jaeger.sh where it is not built): Jaeger's query API gives back the ingest
    trace with the demo's span names, one trace, and every step a child of the ingest span."""
    from floe_demo.observability import SERVICE_NAME

    with jaeger_or_skip() as jaeger:
        settings = make_settings(
            OTEL_EXPORTER_OTLP_ENDPOINT=jaeger.otlp_endpoint, FLOE_DEMO_BATCH_ORDERS="20"
        )
        report = ingest_ecommerce_batch(settings)
        traces = wait_for_spans(jaeger, SERVICE_NAME, 6)

    assert len(traces) == 1
    spans = traces[0]["spans"]
    assert sorted(s["operationName"] for s in spans) == ["append"] * 4 + [
        "floe_demo.ingest",
        "generate",
    ]
    root = next(s for s in spans if s["operationName"] == "floe_demo.ingest")
    assert root["references"] == []
    assert [
        [(r["refType"], r["spanID"]) for r in s["references"]] for s in spans if s is not root
    ] == [[("CHILD_OF", root["spanID"])]] * 5
    tags = {t["key"]: t["value"] for t in root["tags"]}
    assert tags["floe.batch_id"] == report.spec.batch_id
    tables = sorted(t["value"] for s in spans for t in s["tags"] if t["key"] == "table")
    assert tables == ["customers", "order_items", "orders", "products"]
