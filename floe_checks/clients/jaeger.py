"""Jaeger's query API (the HTTP JSON API its UI uses), for the tracing tests.

``GET /api/services``, ``/api/traces?service=…`` and ``/api/traces/<trace id>`` answer with
Jaeger's JSON model: a trace is ``{"traceID", "spans": [...], "processes": {...}}``, a span has
``spanID``, ``operationName``, ``references`` (``CHILD_OF`` its parent), ``tags`` (an error span
carries ``error: true``) and ``processID`` (its service is ``processes[processID]``).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class JaegerQuery:
    """A client of one Jaeger's query API at ``url`` (e.g. ``http://127.0.0.1:16686``)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, **params: str) -> Any:
        """``GET`` a query-API path with query ``params``; the decoded JSON answer."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(  # noqa: S310 - a URL the stack or the test started
            f"{self.url}{path}{query}", timeout=self.timeout
        ) as answer:
            return json.loads(answer.read())

    def services(self) -> list[str]:
        """Names of the services that have sent spans (``GET /api/services``)."""
        data: list[str] = self.get("/api/services")["data"] or []
        return data

    def traces(self, service: str) -> list[dict[str, Any]]:
        """Traces of ``service`` (``GET /api/traces?service=…``)."""
        traces: list[dict[str, Any]] = self.get("/api/traces", service=service)["data"] or []
        return traces

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """One trace (``GET /api/traces/<id>``, 32 hex digits), None while Jaeger has none."""
        try:
            data: list[dict[str, Any]] = self.get(f"/api/traces/{trace_id}")["data"] or []
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return data[0] if data else None
