"""A loopback HTTP receiver standing in for Marquez (OpenLineage ``POST /api/v1/lineage``) and
for Jaeger's OTLP/HTTP collector (``POST /v1/traces``), neither of which can run here.

It records each request's path, headers and body and answers 200/201. It does not check what
the real servers would: Marquez's validation of the event schema and its lineage graph,
Jaeger's storage and UI. Tests decode the recorded bodies themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    path: str
    content_type: str
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Request] = field(default_factory=list)

    def bodies(self, path: str) -> list[bytes]:
        return [r.body for r in self.requests if r.path == path]


@contextmanager
def telemetry_receiver() -> Iterator[Receiver]:
    """Serve on 127.0.0.1 (a free port) in a thread; shut down on exit."""
    lock = threading.Lock()
    recorded: list[Request] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                recorded.append(Request(self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(201 if self.path.endswith("/lineage") else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}", recorded)
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
