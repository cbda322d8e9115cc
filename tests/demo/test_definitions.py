"""The Dagster code location: it loads, its graph is raw → staging → intermediate → marts, and
the whole graph materialises in process (duckdb target, temp folders), emitting lineage
events and spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from floe_demo.iceberg_loader import IcebergLoader
from floe_demo.orchestration import build_definitions, prune_run_dirs
from floe_demo.settings import DemoSettings

from floe_checks.servers.postgres import PostgresServer

pytestmark = pytest.mark.evidence("service")

Make = Callable[..., DemoSettings]


@pytest.mark.requirement("007-FR-026", "007-FR-026a", "007-FR-027c")
def test_code_location_loads_with_job_schedule_retries_and_layered_graph(tmp_path: Path) -> None:
    """``floe_demo.definitions`` imported the way dagster loads it, in a fresh interpreter."""
    script = """
import json
from dagster import AssetKey
from floe_demo.definitions import defs
graph = defs.resolve_asset_graph()
schedule = defs.resolve_schedule_def("demo_schedule")
job = defs.resolve_job_def("demo_pipeline")
print(json.dumps({
    "cron": schedule.cron_schedule,
    "status": schedule.default_status.value,
    "schedule_job": schedule.job_name,
    "job_assets": sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys),
    "parents": {k.to_user_string(): sorted(p.to_user_string() for p in graph.get(k).parent_keys)
                for k in graph.get_all_asset_keys()},
    "groups": {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()},
    "retries": {k: [p.max_retries, p.backoff.value] for k in ("raw/orders", "mart_orders")
                for p in [defs.resolve_assets_def(AssetKey.from_user_string(k)).op.retry_policy]},
}))
"""
    env = {
        **os.environ,
        "FLOE_DEMO_HOME": str(tmp_path / "home"),
        "FLOE_DEMO_SCHEDULE": "*/7 * * * *",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["cron"] == "*/7 * * * *"
    assert info["status"] == "RUNNING"
    assert info["schedule_job"] == "demo_pipeline"
    parents = info["parents"]
    assert info["job_assets"] == sorted(parents)
    assert parents["stg_orders"] == ["raw/orders"]
    assert parents["stg_order_items"] == ["raw/order_items"]
    assert parents["int_product_performance"] == ["int_order_items_enriched"]
    assert parents["mart_revenue"] == ["mart_orders"]
    assert parents["mart_customer_segments"] == [
        "int_customer_orders",
        "stg_customers",
        "stg_orders",
    ]
    assert parents["raw/orders"] == []
    groups = info["groups"]
    assert {groups[k] for k in ("stg_orders", "stg_customers")} == {"staging"}
    assert groups["int_order_items_enriched"] == "intermediate"
    assert groups["mart_product_analytics"] == "marts"
    assert groups["raw/orders"] == "raw"
    # Generation and dbt retry three times with exponential backoff.
    assert info["retries"] == {
        "raw/orders": [3, "EXPONENTIAL"],
        "mart_orders": [3, "EXPONENTIAL"],
    }


@pytest.mark.requirement("007-FR-026a", "007-FR-028", "007-FR-033", "007-FR-034")
def test_materialising_the_whole_graph_twice_appends_and_rebuilds(
    make_settings: Make, tmp_path: Path
) -> None:
    spans_file, lineage_file = tmp_path / "spans.jsonl", tmp_path / "lineage.jsonl"
    settings = make_settings(
        FLOE_DEMO_BATCH_ORDERS="40",
        FLOE_DEMO_DUPLICATE_RATE="0.1",
        FLOE_DEMO_OTEL_FILE=str(spans_file),
        FLOE_DEMO_OPENLINEAGE_FILE=str(lineage_file),
    )
    defs = build_definitions(settings)
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    resources = dict(defs.resources or {})
    run_ids = []
    for _ in range(2):
        result = dg.materialize(assets, resources=resources)
        assert result.success
        run_ids.append(result.run_id)

    loader = IcebergLoader.from_settings(settings)
    orders = loader.read("orders")
    assert loader.batch_ids("orders") == {"s42-b000000", "s42-b000001"}
    materialized = [
        e.step_materialization_data.materialization.metadata["rows_appended"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["raw", "orders"])
    ]
    assert len(materialized) == 1
    distinct = len(set(orders.column("order_id").to_pylist()))
    assert orders.num_rows > distinct  # duplicates are in the lake…

    import duckdb

    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        count = con.execute("select count(*) from analytics.mart_orders").fetchone()
    finally:
        con.close()
    assert count == (distinct,)  # …and not in the marts

    spans = [json.loads(line) for line in spans_file.open()]
    names = [s["name"] for s in spans]
    assert names.count("generate") == 4  # e-commerce and SaaS, twice
    assert names.count("dbt") == 2
    assert names.count("floe_demo.ingest") == 2
    # one trace per run, its ID the run's: each run's three step spans are its roots, and every
    # other span of the run is in the same trace
    steps = {"ecommerce_raw", "saas_raw", "demo_dbt"}
    roots = sorted((s["context"]["trace_id"], s["name"]) for s in spans if s["parent_id"] is None)
    assert roots == sorted((f"0x{uuid.UUID(r).hex}", step) for r in run_ids for step in steps)
    assert {s["context"]["trace_id"] for s in spans} == {f"0x{uuid.UUID(r).hex}" for r in run_ids}
    assert {s["attributes"]["table"] for s in spans if s["name"] == "append"} >= {
        "orders",
        "order_items",
        "customers",
        "products",
    }

    events = [json.loads(line) for line in lineage_file.open()]
    states = [(e["job"]["name"], e["eventType"]) for e in events]
    for job in ("floe_demo.generate_and_append", "floe_demo.dbt_build"):
        assert states.count((job, "START")) == 2, job
        assert states.count((job, "COMPLETE")) == 2, job
    revenue = next(e for e in events if e["job"]["name"] == "floe_demo.dbt.mart_revenue")
    assert [d["name"] for d in revenue["inputs"]] == ["analytics.mart_orders"]
    assert [d["name"] for d in revenue["outputs"]] == ["analytics.mart_revenue"]
    staging = next(e for e in events if e["job"]["name"] == "floe_demo.dbt.stg_orders")
    assert [d["name"] for d in staging["inputs"]] == ["raw.orders"]


@pytest.mark.requirement("007-FR-026a", "007-FR-027c", "007-FR-033", "007-FR-034")
def test_postgres_target_publishes_and_builds_marts_in_postgres(
    make_settings: Make, tmp_path: Path, postgres_server: PostgresServer
) -> None:
    """The configuration the end-to-end stack runs: raw batches published to Postgres and
    the marts built there by dbt-postgres, all from one materialisation."""
    spans_file, lineage_file = tmp_path / "spans.jsonl", tmp_path / "lineage.jsonl"
    settings = make_settings(
        FLOE_DEMO_BATCH_ORDERS="30",
        FLOE_DEMO_DBT_TARGET="postgres",
        FLOE_WAREHOUSE_HOST=postgres_server.host,
        FLOE_WAREHOUSE_PORT=str(postgres_server.port),
        FLOE_WAREHOUSE_PASSWORD=postgres_server.password,
        FLOE_WAREHOUSE_SCHEMA="analytics_dagster",
        FLOE_DEMO_NAMESPACE="raw_dagster",
        FLOE_DEMO_OTEL_FILE=str(spans_file),
        FLOE_DEMO_OPENLINEAGE_FILE=str(lineage_file),
    )
    defs = build_definitions(settings)
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    assert dg.materialize(assets, resources=dict(defs.resources or {})).success

    orders = IcebergLoader.from_settings(settings).read("orders")
    distinct = len(set(orders.column("order_id").to_pylist()))
    counts = postgres_server.execute(
        "select count(*) from raw_dagster.orders",
        "select count(*) from analytics_dagster.mart_orders",
    ).split()
    assert counts == [str(orders.num_rows), str(distinct)]
    spans = [json.loads(line)["name"] for line in spans_file.open()]
    assert spans.count("publish") == 1
    jobs = [(e["job"]["name"], e["eventType"]) for e in map(json.loads, lineage_file.open())]
    assert ("floe_demo.publish_postgres", "COMPLETE") in jobs


def test_old_dbt_run_folders_are_pruned(tmp_path: Path) -> None:
    """A long demo keeps only the newest dbt run artifacts (disk does not fill up)."""
    for age, name in enumerate(["e", "d", "c", "b", "a"]):
        folder = tmp_path / name
        folder.mkdir()
        os.utime(folder, (1_000_000 - age, 1_000_000 - age))
    prune_run_dirs(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "e"]
