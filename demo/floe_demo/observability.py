"""Lineage (OpenLineage, FR-033) and tracing (OpenTelemetry, FR-034) for the pipeline steps.

* OpenLineage: ``OPENLINEAGE_URL`` → HTTP transport (``POST /api/v1/lineage``, Marquez);
  ``FLOE_DEMO_OPENLINEAGE_FILE`` → one JSON event per line in that file. Neither → no events.
* OpenTelemetry: ``OTEL_EXPORTER_OTLP_ENDPOINT`` → OTLP/HTTP spans (Jaeger, any collector);
  ``FLOE_DEMO_OTEL_FILE`` → one JSON span per line. Neither → spans are not exported.
  Inside a Dagster run each asset step is a root span (:meth:`Telemetry.step_span`) whose trace
  ID *is* the run ID (its 32 hex digits): one trace per pipeline run, found in Jaeger by the run
  ID Dagster shows, with the steps' own spans (ingest, generate, append, publish, dbt) as
  children. Outside a run (``floe-demo ingest``) trace IDs are random.

Emission never fails a pipeline step: a lineage receiver that is down costs a warning.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_demo import __version__
from floe_demo.settings import DemoSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

SERVICE_NAME = "floe-demo"
LINEAGE_NAMESPACE = "floe-demo"
PRODUCER = f"https://github.com/floe-runtime/floe-checks/tree/v{__version__}/demo"

# The trace ID a new root span takes (the Dagster run's ID as an int), or None for a random one.
_RUN_TRACE_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "floe_demo_run_trace_id", default=None
)


def run_trace_id(run_id: str) -> int:
    """The trace ID of a Dagster run: its UUID's 128 bits (Jaeger shows it as the run ID's hex
    digits without dashes)."""
    return uuid.UUID(run_id).int


def _id_generator() -> Any:
    """OpenTelemetry's random IDs, except a root span's trace ID inside :meth:`Telemetry.step_span`
    (a class made here: the SDK is imported lazily)."""
    from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

    class RunTraceIds(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            forced = _RUN_TRACE_ID.get()
            return forced if forced is not None else int(super().generate_trace_id())

    return RunTraceIds()


@dataclass(frozen=True)
class DatasetRef:
    """An OpenLineage dataset: ``namespace`` (where) and ``name`` (what)."""

    namespace: str
    name: str


def iceberg_dataset(settings: DemoSettings, table: str) -> DatasetRef:
    """The lineage name of a raw Iceberg table."""
    where = settings.polaris_uri if settings.catalog_type == "rest" else settings.warehouse
    return DatasetRef(f"iceberg+{where}", f"{settings.namespace}.{table}")


def postgres_dataset(settings: DemoSettings, relation: str) -> DatasetRef:
    """The lineage name of a Postgres table (``relation`` = schema.name)."""
    return DatasetRef(
        f"postgres://{settings.warehouse_host}:{settings.warehouse_port}",
        f"{settings.warehouse_db}.{relation}",
    )


def warehouse_dataset(settings: DemoSettings, relation: str) -> DatasetRef:
    """The lineage name of a table or view dbt builds (``relation`` = schema.name)."""
    if settings.dbt_target == "postgres":
        return postgres_dataset(settings, relation)
    return DatasetRef(f"duckdb://{settings.duckdb_path}", relation)


class JsonLinesSpanExporter:
    """Writes each finished span as one JSON object per line (tests read it back)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        lines = [json.dumps(json.loads(span.to_json()), sort_keys=True) for span in spans]
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write("".join(line + "\n" for line in lines))
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@dataclass
class Telemetry:
    """A tracer and an OpenLineage client configured from the settings."""

    tracer: Tracer
    _provider: Any = None
    _lineage: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @contextlib.contextmanager
    def span(self, name: str, **attributes: str | int | float | bool) -> Iterator[Span]:
        """A span around a pipeline step; exceptions are recorded and re-raised."""
        with self.tracer.start_as_current_span(name, attributes=attributes) as current:
            yield current

    @contextlib.contextmanager
    def step_span(
        self, run_id: str, step: str, **attributes: str | int | float | bool
    ) -> Iterator[Span]:
        """The root span of one asset step of Dagster run ``run_id``, in the run's trace.

        An exception (a failed step) marks it as an error and is re-raised; the spans are
        exported when the step ends, failed or not.
        """
        token = _RUN_TRACE_ID.set(run_trace_id(run_id))
        try:
            # a root span (empty parent context): a step never continues another span; the
            # ID generator gives it the run's trace ID, its children inherit it
            span = self.tracer.start_span(
                step, context=_empty_context(), attributes={"dagster.run_id": run_id, **attributes}
            )
        finally:
            _RUN_TRACE_ID.reset(token)
        from opentelemetry.trace import use_span

        try:
            with use_span(
                span, end_on_exit=True, record_exception=True, set_status_on_exception=True
            ):
                yield span
        finally:
            # a run's worker process may exit right after its last step: export the step now
            self.flush()

    def flush(self) -> None:
        if self._provider is not None:
            self._provider.force_flush()

    def emit(
        self,
        state: str,
        job: str,
        run_id: str,
        inputs: Sequence[DatasetRef] = (),
        outputs: Sequence[DatasetRef] = (),
    ) -> None:
        """Emit one OpenLineage RunEvent (``state``: START, COMPLETE, FAIL)."""
        if self._lineage is None:
            return
        from openlineage.client.event_v2 import (
            InputDataset,
            Job,
            OutputDataset,
            Run,
            RunEvent,
            RunState,
        )

        event = RunEvent(
            eventType=RunState[state],
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=run_id),
            job=Job(namespace=LINEAGE_NAMESPACE, name=job),
            producer=PRODUCER,
            inputs=[InputDataset(namespace=d.namespace, name=d.name) for d in inputs],
            outputs=[OutputDataset(namespace=d.namespace, name=d.name) for d in outputs],
        )
        try:
            with self._lock:
                self._lineage.emit(event)
        except Exception as exc:  # lineage must never break the pipeline
            log.warning("OpenLineage event %s for %s was not delivered: %s", state, job, exc)

    @contextlib.contextmanager
    def lineage_run(
        self,
        job: str,
        inputs: Sequence[DatasetRef] = (),
        outputs: Sequence[DatasetRef] = (),
    ) -> Iterator[str]:
        """START on entry, COMPLETE on success, FAIL on an exception; yields the run id."""
        run_id = str(uuid.uuid4())
        self.emit("START", job, run_id, inputs, outputs)
        try:
            yield run_id
        except BaseException:
            self.emit("FAIL", job, run_id, inputs, outputs)
            raise
        self.emit("COMPLETE", job, run_id, inputs, outputs)


def _lineage_client(url: str | None, path: Path | None) -> Any:
    from openlineage.client import OpenLineageClient

    if url:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        http = HttpConfig(
            url=url,
            timeout=5.0,
            retry={"total": 2, "backoff_factor": 0.2, "allowed_methods": ["POST"]},
        )
        return OpenLineageClient(transport=HttpTransport(http))
    if path:
        from openlineage.client.transport.file import FileConfig, FileTransport

        path.parent.mkdir(parents=True, exist_ok=True)
        file = FileConfig(log_file_path=str(path), append=True)
        return OpenLineageClient(transport=FileTransport(file))
    return None


def _empty_context() -> Any:
    from opentelemetry.context import Context

    return Context()


def telemetry_for(settings: DemoSettings) -> Telemetry:
    """The telemetry of ``settings``: one tracer provider per configuration, cached."""
    return _telemetry(
        settings.otel_endpoint,
        settings.otel_file,
        settings.openlineage_url,
        settings.openlineage_file,
    )


@functools.lru_cache(maxsize=8)
def _telemetry(
    otel_endpoint: str | None,
    otel_file: Path | None,
    openlineage_url: str | None,
    openlineage_file: Path | None,
) -> Telemetry:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}), id_generator=_id_generator()
    )
    if otel_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otel_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if otel_file:
        exporter: Any = JsonLinesSpanExporter(otel_file)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("floe_demo", __version__)
    return Telemetry(tracer, provider, _lineage_client(openlineage_url, openlineage_file))
