"""The pipeline's steps as plain functions (Dagster assets and ``floe demo generate`` call them).

``ingest_ecommerce_batch``: pick the next batch index from the lake, generate the batch,
append it to Iceberg and, for the Postgres target, publish the new batches to Postgres;
each step in its own span, the whole as one OpenLineage run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from floe_demo.generators import (
    BatchSpec,
    DefectRates,
    EcommerceConfig,
    Rate,
    SaasConfig,
    generate_batch,
    generate_saas_batch,
    plan_batch,
)
from floe_demo.generators.batches import utc_now
from floe_demo.iceberg_loader import AppendResult, IcebergLoader
from floe_demo.observability import (
    Telemetry,
    iceberg_dataset,
    postgres_dataset,
    telemetry_for,
)
from floe_demo.publish import ECOMMERCE_TABLES, PublishResult, publish_to_postgres
from floe_demo.settings import DemoSettings


@dataclass
class IngestReport:
    """What one ingest did."""

    spec: BatchSpec
    appended: list[AppendResult]
    published: list[PublishResult] = field(default_factory=list)
    seconds: float = 0.0

    def rows(self, table: str) -> int:
        return sum(a.rows for a in self.appended if a.table == table)

    @property
    def total_rows(self) -> int:
        return sum(a.rows for a in self.appended)


def ecommerce_config(settings: DemoSettings, seed: int | None = None) -> EcommerceConfig:
    """The generator configuration the settings describe."""
    return EcommerceConfig(
        seed=settings.seed if seed is None else seed,
        customers_per_batch=settings.customers_per_batch,
        products=settings.products,
        window_minutes=settings.window_minutes,
        defects=defect_rates(settings),
    )


def defect_rates(settings: DemoSettings) -> DefectRates:
    return DefectRates(
        null_rate=settings.null_rate,
        duplicate_rate=settings.duplicate_rate,
        late_rate=settings.late_rate,
        late_days=settings.late_days,
    )


def ingest_ecommerce_batch(
    settings: DemoSettings,
    *,
    loader: IcebergLoader | None = None,
    telemetry: Telemetry | None = None,
    index: int | None = None,
    window_end: datetime | None = None,
    rate: Rate | None = None,
    orders: int | None = None,
    seed: int | None = None,
    publish: bool | None = None,
) -> IngestReport:
    """Generate one e-commerce batch and append it to Iceberg (then publish to Postgres).

    Args:
        settings: the demo settings.
        loader: an Iceberg loader (default: from the settings).
        telemetry: spans and lineage (default: from the settings).
        index: batch index (default: the next one for the seed, from the lake's metadata).
        window_end: end of the batch window (default: now, so the data looks live).
        rate: burst or realistic (default ``FLOE_DEMO_RATE``).
        orders: orders per batch (default ``FLOE_DEMO_BATCH_ORDERS``).
        seed: generator seed (default ``FLOE_DEMO_SEED``).
        publish: copy new batches to Postgres (default: when the dbt target is postgres).
    """
    started = time.perf_counter()
    loader = loader or IcebergLoader.from_settings(settings)
    telemetry = telemetry or telemetry_for(settings)
    config = ecommerce_config(settings, seed)
    with telemetry.span("floe_demo.ingest", seed=config.seed) as root:
        if index is None:
            index = loader.next_batch_index(config.seed)
        spec = plan_batch(
            config.seed,
            index,
            rate=rate or settings.rate,
            batch_orders=orders or settings.batch_orders,
            window_minutes=settings.window_minutes,
            window_end=window_end or utc_now(),
        )
        root.set_attribute("floe.batch_id", spec.batch_id)
        outputs = [iceberg_dataset(settings, name) for name in ECOMMERCE_TABLES]
        with telemetry.lineage_run("floe_demo.generate_and_append", outputs=outputs):
            with telemetry.span("generate", batch_id=spec.batch_id) as span:
                batch = generate_batch(config, spec)
                span.set_attribute("rows", batch.row_count)
            appended = []
            for name, table in batch.tables().items():
                with telemetry.span("append", table=name, batch_id=spec.batch_id) as span:
                    result = loader.append(
                        name,
                        table,
                        batch_id=spec.batch_id,
                        batch_index=spec.index,
                        seed=spec.seed,
                    )
                    span.set_attribute("rows", result.rows)
                    span.set_attribute("attempts", result.attempts)
                    appended.append(result)
        report = IngestReport(spec, appended)
        if settings.dbt_target == "postgres" if publish is None else publish:
            report.published = publish_step(settings, loader, telemetry)
    telemetry.flush()
    report.seconds = time.perf_counter() - started
    return report


def publish_step(
    settings: DemoSettings, loader: IcebergLoader, telemetry: Telemetry
) -> list[PublishResult]:
    """Copy the batches Postgres lacks (a span and a lineage run of their own)."""
    inputs = [iceberg_dataset(settings, name) for name in ECOMMERCE_TABLES]
    outputs = [postgres_dataset(settings, f"{settings.namespace}.{n}") for n in ECOMMERCE_TABLES]
    with (
        telemetry.lineage_run("floe_demo.publish_postgres", inputs, outputs),
        telemetry.span("publish", target="postgres") as span,
    ):
        results = publish_to_postgres(settings, loader)
        span.set_attribute("rows", sum(r.rows for r in results))
        return results


def ingest_saas_batch(
    settings: DemoSettings,
    *,
    loader: IcebergLoader | None = None,
    telemetry: Telemetry | None = None,
    index: int | None = None,
    window_end: datetime | None = None,
) -> list[AppendResult]:
    """Generate and append one SaaS batch (accounts, subscriptions, usage events)."""
    loader = loader or IcebergLoader.from_settings(settings)
    telemetry = telemetry or telemetry_for(settings)
    if index is None:
        index = loader.next_batch_index(settings.seed, table="usage_events")
    spec = plan_batch(
        settings.seed,
        index,
        rate=settings.rate,
        batch_orders=settings.batch_orders,
        window_minutes=settings.window_minutes,
        window_end=window_end or utc_now(),
    )
    config = SaasConfig(
        seed=settings.seed, window_minutes=settings.window_minutes, defects=defect_rates(settings)
    )
    with telemetry.span("generate", dataset="saas", batch_id=spec.batch_id):
        batch = generate_saas_batch(config, spec)
    results = []
    for name, table in batch.tables().items():
        with telemetry.span("append", table=name, batch_id=spec.batch_id):
            results.append(
                loader.append(
                    name, table, batch_id=spec.batch_id, batch_index=index, seed=spec.seed
                )
            )
    telemetry.flush()
    return results
