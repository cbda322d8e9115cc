"""A real Jaeger (built from the Go module proxy, in-memory storage) receives spans the
OpenTelemetry SDK exports over OTLP/HTTP, and its query API gives them back: names, one trace,
parent links and the error status, compared with the ids the SDK itself assigned.

Skips, naming ``scripts/build-jaeger.sh``, where the binary is not built (an opt-in build: many
minutes of CPU when cold)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe_checks.servers.jaeger import JaegerServer
from tests.observability.jaeger import jaeger_or_skip, wait_for_spans

pytestmark = [pytest.mark.requirement("007-FR-034"), pytest.mark.evidence("service")]


@pytest.fixture(scope="module")
def jaeger() -> Iterator[JaegerServer]:
    with jaeger_or_skip() as server:
        yield server


def _inodes_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> str:
    host, port = hex_address.split(":")
    if len(host) == 8:  # IPv4, little-endian
        ip = ".".join(str(int(host[i : i + 2], 16)) for i in (6, 4, 2, 0))
    else:  # IPv6 as four little-endian words; enough to tell :: and ::1 from loopback v4
        words = [host[i : i + 8] for i in range(0, 32, 8)]
        ip = "[" + ":".join(words) + "]"
    return f"{ip}:{int(port, 16)}"


def listening_sockets(pid: int) -> set[str]:
    """Addresses ``pid`` listens on (TCP LISTEN and bound UDP), read from /proc/net."""
    inodes = _inodes_of(pid)
    found = set()
    for table, listen_state in (("tcp", "0A"), ("tcp6", "0A"), ("udp", "07"), ("udp6", "07")):
        lines = Path(f"/proc/net/{table}").read_text(encoding="utf-8").splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[3] == listen_state and fields[9] in inodes:
                found.add(f"{table}:{_address(fields[1])}")
    return found


def test_jaeger_listens_only_on_its_configured_loopback_ports(jaeger: JaegerServer) -> None:
    assert jaeger.process is not None
    expected = {f"tcp:{address}" for address in jaeger.listeners().values()}
    assert listening_sockets(jaeger.process.pid) == expected


def test_otlp_spans_come_back_from_the_query_api(jaeger: JaegerServer) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    service = f"floe-jaeger-test-{uuid.uuid4().hex[:8]}"
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=f"{jaeger.otlp_endpoint}/v1/traces")
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("floe-checks-test")
    ids: dict[str, tuple[str, str]] = {}  # name -> (trace id, span id), as Jaeger writes them
    with tracer.start_as_current_span("pipeline_run") as run:
        run.set_attribute("floe.run_id", "run-1")
        for name in ("asset raw_orders", "dbt build"):
            with tracer.start_as_current_span(name) as span:
                if name == "dbt build":
                    with tracer.start_as_current_span("model stg_orders") as model:
                        model.set_status(Status(StatusCode.ERROR, "boom"))
                        context = model.get_span_context()
                        ids["model stg_orders"] = (
                            f"{context.trace_id:032x}",
                            f"{context.span_id:016x}",
                        )
                context = span.get_span_context()
                ids[name] = (f"{context.trace_id:032x}", f"{context.span_id:016x}")
        context = run.get_span_context()
        ids["pipeline_run"] = (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    provider.shutdown()

    traces = wait_for_spans(jaeger, service, 4)
    assert [t["traceID"] for t in traces] == [ids["pipeline_run"][0]]
    spans = {s["operationName"]: s for s in traces[0]["spans"]}
    assert sorted(spans) == ["asset raw_orders", "dbt build", "model stg_orders", "pipeline_run"]
    assert {name: span["spanID"] for name, span in spans.items()} == {
        name: span_id for name, (_, span_id) in ids.items()
    }
    parents = {
        name: [(r["refType"], r["spanID"]) for r in span["references"]]
        for name, span in spans.items()
    }
    assert parents == {
        "pipeline_run": [],
        "asset raw_orders": [("CHILD_OF", ids["pipeline_run"][1])],
        "dbt build": [("CHILD_OF", ids["pipeline_run"][1])],
        "model stg_orders": [("CHILD_OF", ids["dbt build"][1])],
    }
    errors = {
        name
        for name, span in spans.items()
        if {"key": "error", "type": "bool", "value": True} in span["tags"]
    }
    assert errors == {"model stg_orders"}
    run_tags = {t["key"]: t["value"] for t in spans["pipeline_run"]["tags"]}
    assert run_tags["floe.run_id"] == "run-1"
    assert jaeger.query.services() == [service]
