"""A tiny loopback receiver for the demo's OpenLineage events and OTLP/HTTP spans.

It is a *receiver*, not a test double: Marquez and Jaeger cannot run on this machine
(PLATFORM.md), so the local stack points the demo's real OpenLineage ``HttpTransport``
(``OPENLINEAGE_URL``) and real OpenTelemetry ``OTLPSpanExporter``
(``OTEL_EXPORTER_OTLP_ENDPOINT``) here. It records what arrives and answers as the real
servers do (``POST /api/v1/lineage`` → 201, ``POST /v1/traces`` → 200 with an empty
``ExportTraceServiceResponse``). It does not check what Marquez or Jaeger would check: no
lineage graph is built, no event is validated against the OpenLineage schema, nothing is
stored beyond the two files.

Run as ``python -m floe_checks.servers.telemetry_receiver --port P --out DIR``; it writes
``DIR/openlineage.jsonl`` (one event per line) and ``DIR/spans.jsonl`` (one span per line:
name, trace and span ids, parent, service name).
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LINEAGE_PATH = "/api/v1/lineage"
TRACES_PATH = "/v1/traces"
LINEAGE_FILE = "openlineage.jsonl"
SPANS_FILE = "spans.jsonl"


def decode_spans(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """Spans of one OTLP/HTTP export request (protobuf, or JSON when so declared)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    if "json" in content_type:
        json_format.Parse(body.decode("utf-8"), request)
    else:
        request.ParseFromString(body)
    spans: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        service = ""
        for attribute in resource_spans.resource.attributes:
            if attribute.key == "service.name":
                service = attribute.value.string_value
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "service": service,
                    }
                )
    return spans


class _Handler(BaseHTTPRequestHandler):
    server: _ReceiverServer

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: the files are the record

    def do_GET(self) -> None:
        self._answer(200 if self.path == "/healthz" else 404, b"ok", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        content_type = self.headers.get("Content-Type", "")
        if self.path.rstrip("/") == LINEAGE_PATH:
            try:
                event = json.loads(body)
            except ValueError:
                self._answer(400, b'{"error": "not JSON"}', "application/json")
                return
            self.server.append(LINEAGE_FILE, [event])
            self._answer(201, b"", "application/json")
        elif self.path.rstrip("/") == TRACES_PATH:
            try:
                spans = decode_spans(body, content_type)
            except Exception:
                self._answer(400, b"bad OTLP payload", "text/plain")
                return
            self.server.append(SPANS_FILE, spans)
            self._answer(200, b"", "application/x-protobuf")
        else:
            self._answer(404, b"", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, out_dir: Path) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.out_dir = out_dir
        self._lock = threading.Lock()

    def append(self, name: str, records: list[Any]) -> None:
        with self._lock, (self.out_dir / name).open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, sort_keys=True) + "\n")


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of one of the receiver's files (empty when nothing arrived)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    server = _ReceiverServer(args.port, args.out)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
