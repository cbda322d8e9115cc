"""The real Jaeger for tests, or a skip that names the build script (shared by the Jaeger tests
and the demo's tracing test)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest

from floe_checks.errors import FloeError, PrerequisiteMissing
from floe_checks.servers.jaeger import JaegerServer, throwaway_jaeger


@contextlib.contextmanager
def jaeger_or_skip() -> Iterator[JaegerServer]:
    """A started Jaeger, stopped by PID on exit; skips where it is not built, fails where it is
    built but does not start."""
    try:
        with throwaway_jaeger(prefix="floe-jaeger-test-") as server:
            yield server
    except PrerequisiteMissing as exc:
        pytest.skip(f"real Jaeger not available: {exc}; {exc.remediation}")
    except FloeError as exc:
        pytest.fail(f"Jaeger did not start: {exc}", pytrace=False)


def wait_for_spans(jaeger: JaegerServer, service: str, count: int) -> list[dict[str, Any]]:
    """``jaeger``'s traces of ``service`` once they hold ``count`` spans (the collector batches
    what it receives), or what it has after 20 s."""
    deadline = time.monotonic() + 20
    traces: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        traces = jaeger.query.traces(service)
        if sum(len(t["spans"]) for t in traces) >= count:
            return traces
        time.sleep(0.2)
    return traces
