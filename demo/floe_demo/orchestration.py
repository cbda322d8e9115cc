"""The demo's Dagster assets, job and schedule, built for given settings.

:mod:`floe_demo.definitions` builds them from the environment (``defs``); tests build
their own with :func:`build_definitions` and temporary folders.

* ``ecommerce_raw`` (keys ``raw/customers``, ``raw/products``, ``raw/orders``,
  ``raw/order_items``): generate the next batch, append it to Iceberg and, for
  ``FLOE_DEMO_DBT_TARGET=postgres``, publish the new batches to Postgres.
* ``saas_raw`` (``raw/accounts``, ``raw/subscriptions``, ``raw/usage_events``).
* ``demo_dbt``: every dbt model and test, via dagster-dbt; the dbt sources are the raw keys,
  so the graph reads raw → staging → intermediate → marts.
* job ``demo_pipeline`` (everything; launch it from the UI or GraphQL for another batch,
  FR-026a) and schedule ``demo_schedule`` on ``FLOE_DEMO_SCHEDULE`` (FR-026), running by default.
* Generation and dbt retry with exponential backoff; both emit OpenLineage events and
  OpenTelemetry spans (see :mod:`floe_demo.observability`).
"""

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets
from filelock import FileLock

from floe_demo.dbt_runner import dbt_executable, ensure_manifest
from floe_demo.generators import ecommerce, saas
from floe_demo.observability import DatasetRef, iceberg_dataset, telemetry_for, warehouse_dataset
from floe_demo.pipeline import ingest_ecommerce_batch, ingest_saas_batch
from floe_demo.settings import DemoSettings

# dbt sources are named "raw" whatever the Iceberg namespace is, so the raw asset keys are too.
RAW_PREFIX = "raw"
RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


# dbt artifacts of the latest runs kept under FLOE_DEMO_HOME (a 24 h demo runs ~290 times).
KEEP_DBT_RUNS = 20


class BatchConfig(dg.Config):
    """Run config of ``ecommerce_raw``: ``floe demo trigger --orders N`` sets ``orders``.

    Unset, the batch size comes from the settings (``FLOE_DEMO_BATCH_ORDERS``).
    """

    orders: int | None = None


def prune_run_dirs(runs: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest run folders under ``runs``."""
    folders = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in folders[:-keep] if keep else folders:
        shutil.rmtree(old, ignore_errors=True)


def raw_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([RAW_PREFIX, table])


class DemoTranslator(DagsterDbtTranslator):
    """Groups dbt models by their layer folder (staging, intermediate, marts)."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return str(fqn[1])
        return super().get_group_name(dbt_resource_props)


def _model_lineage(
    settings: DemoSettings, manifest: Mapping[str, Any]
) -> dict[str, tuple[list[DatasetRef], DatasetRef]]:
    """Model name → (input datasets, output dataset), from the manifest."""
    schema = settings.warehouse_schema
    lineage = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        inputs = []
        for parent in node["depends_on"]["nodes"]:
            if parent.startswith("source."):
                table = manifest["sources"][parent]["name"]
                if settings.dbt_target == "postgres":
                    inputs.append(warehouse_dataset(settings, f"{settings.namespace}.{table}"))
                else:
                    inputs.append(iceberg_dataset(settings, table))
            elif parent.startswith("model."):
                inputs.append(warehouse_dataset(settings, f"{schema}.{parent.split('.')[-1]}"))
        lineage[node["name"]] = (inputs, warehouse_dataset(settings, f"{schema}.{node['name']}"))
    return lineage


def build_definitions(settings: DemoSettings) -> dg.Definitions:
    """The demo's Dagster definitions for ``settings`` (tests pass their own)."""
    telemetry = telemetry_for(settings)

    @dg.multi_asset(
        name="ecommerce_raw",
        specs=[
            dg.AssetSpec(
                raw_key(name),
                group_name="raw",
                kinds={"iceberg"},
                description=f"Raw {name} batches appended to Iceberg (never overwritten).",
            )
            for name in ecommerce.SCHEMAS
        ],
        retry_policy=RETRY,
    )
    def ecommerce_raw(context: AssetExecutionContext, config: BatchConfig) -> Iterator[Any]:
        with telemetry.step_span(context.run.run_id, "ecommerce_raw", job=context.job_name):
            if config.orders is not None and config.orders < 1:
                # what `floe demo trigger --orders 0` refuses before launching; a run launched
                # another way fails here, once (no retry can fix its config)
                raise dg.Failure(
                    description=(
                        f"run config ops.ecommerce_raw.config.orders is {config.orders}: a batch "
                        "needs at least 1 order; launch the run with orders >= 1 or without it"
                    ),
                    allow_retries=False,
                )
            report = ingest_ecommerce_batch(settings, telemetry=telemetry, orders=config.orders)
        context.log.info(
            f"batch {report.spec.batch_id}: {report.total_rows} rows appended "
            f"in {report.seconds:.2f} s; published {sum(p.rows for p in report.published)}"
        )
        for result in report.appended:
            yield dg.MaterializeResult(
                asset_key=raw_key(result.table),
                metadata={
                    "batch_id": result.batch_id,
                    "rows_appended": result.rows,
                    "snapshot_id": str(result.snapshot_id),
                    "commit_attempts": result.attempts,
                },
            )

    @dg.multi_asset(
        name="saas_raw",
        specs=[
            dg.AssetSpec(
                raw_key(name),
                group_name="raw",
                kinds={"iceberg"},
                description=f"Raw SaaS {name} batches appended to Iceberg.",
            )
            for name in saas.SCHEMAS
        ],
        retry_policy=RETRY,
    )
    def saas_raw(context: AssetExecutionContext) -> Iterator[Any]:
        with telemetry.step_span(context.run.run_id, "saas_raw", job=context.job_name):
            results = ingest_saas_batch(settings, telemetry=telemetry)
        for result in results:
            yield dg.MaterializeResult(
                asset_key=raw_key(result.table),
                metadata={"batch_id": result.batch_id, "rows_appended": result.rows},
            )

    manifest_path = ensure_manifest(settings)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    lineage = _model_lineage(settings, manifest)
    raw_inputs = [iceberg_dataset(settings, name) for name in ecommerce.SCHEMAS]

    @dbt_assets(
        manifest=manifest,
        name="demo_dbt",
        dagster_dbt_translator=DemoTranslator(),
        retry_policy=RETRY,
    )
    def demo_dbt(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        os.environ.update(settings.dbt_env())
        os.environ["FLOE_DEMO_DBT_TARGET"] = settings.dbt_target
        os.environ.setdefault("DBT_LOG_PATH", str(settings.dbt_target_path.parent / "logs"))
        target_path = settings.dbt_target_path.parent / "runs" / context.run.run_id
        outputs = [output for _, output in lineage.values()]
        # A scheduled run and a manual one may overlap: one dbt build at a time per home
        # (DuckDB has a single writer; on Postgres, dbt's table swaps would race).
        with (
            FileLock(str(settings.dbt_target_path.parent / "build.lock"), timeout=1800),
            telemetry.step_span(context.run.run_id, "demo_dbt", job=context.job_name),
            telemetry.lineage_run("floe_demo.dbt_build", raw_inputs, outputs),
            telemetry.span("dbt", target=settings.dbt_target, command="build"),
        ):
            invocation = dbt.cli(["build"], context=context, target_path=target_path)
            for event in invocation.stream():
                # One lineage run per built model, with its parents as inputs.
                model = (
                    getattr(event, "output_name", None) if isinstance(event, dg.Output) else None
                )
                if model in lineage:
                    inputs, output = lineage[model]
                    with telemetry.lineage_run(f"floe_demo.dbt.{model}", inputs, [output]):
                        pass
                yield event
        telemetry.flush()
        prune_run_dirs(target_path.parent, keep=KEEP_DBT_RUNS)

    pipeline = dg.define_asset_job(
        "demo_pipeline",
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="Generate and append a batch, then rebuild staging, intermediate and marts.",
    )
    schedule = dg.ScheduleDefinition(
        name="demo_schedule",
        job=pipeline,
        cron_schedule=settings.schedule,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return dg.Definitions(
        assets=[ecommerce_raw, saas_raw, demo_dbt],
        jobs=[pipeline],
        schedules=[schedule],
        resources={
            "dbt": DbtCliResource(
                project_dir=str(settings.dbt_project_dir),
                profiles_dir=str(settings.dbt_project_dir),
                target=settings.dbt_target,
                dbt_executable=str(dbt_executable()),
            )
        },
    )
