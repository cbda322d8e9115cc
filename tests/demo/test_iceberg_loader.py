"""The Iceberg loader: append only, idempotent per batch, no loss under concurrent writers
(FR-028), on a real pyiceberg SQL catalog with a file warehouse."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable

import pytest
from floe_demo.generators import EcommerceConfig, generate_batch, plan_batch
from floe_demo.generators.defects import NONE
from floe_demo.iceberg_loader import DAY_PARTITIONS, INGESTED_AT, IcebergLoader, table_schema
from floe_demo.settings import DemoSettings

from tests.preflight.local_servers import IcebergRestServer

pytestmark = [pytest.mark.requirement("007-FR-028"), pytest.mark.evidence("service")]

Make = Callable[..., DemoSettings]


def _append(loader: IcebergLoader, seed: int, index: int, orders: int = 100) -> int:
    batch = generate_batch(EcommerceConfig(seed=seed), plan_batch(seed, index, batch_orders=orders))
    loader.append_batch(batch.tables(), batch_id=batch.spec.batch_id, batch_index=index, seed=seed)
    rows: int = batch.orders.num_rows
    return rows


def test_append_twice_doubles_and_keeps_both_snapshots(make_settings: Make) -> None:
    loader = IcebergLoader.from_settings(make_settings())
    batch = generate_batch(EcommerceConfig(seed=1, defects=NONE), plan_batch(1, 0, batch_orders=50))
    first = loader.append("orders", batch.orders, batch_id="a", batch_index=0, seed=1)
    second = loader.append("orders", batch.orders, batch_id="b", batch_index=1, seed=1)
    table = loader.ensure_table("orders")
    assert table.scan().to_arrow().num_rows == 100
    snapshots = [s.snapshot_id for s in table.metadata.snapshots]
    assert snapshots == [first.snapshot_id, second.snapshot_id]
    # Nothing was overwritten: the first snapshot still reads the first 50 rows.
    assert table.scan(snapshot_id=first.snapshot_id).to_arrow().num_rows == 50
    for snapshot in table.metadata.snapshots:
        assert snapshot.summary is not None
        assert snapshot.summary.operation.value == "append"


def test_tables_are_created_idempotently_with_day_partitions(make_settings: Make) -> None:
    settings = make_settings()
    loader = IcebergLoader.from_settings(settings)
    loader.ensure_tables()
    loader.ensure_tables()  # second time: loads, does not fail or recreate
    orders = IcebergLoader.from_settings(settings).ensure_table("orders")
    assert [f.name for f in orders.schema().fields] == table_schema("orders").names
    pytest.importorskip("pyiceberg_core", reason="day partitions need pyiceberg-core")
    assert [(f.name, str(f.transform)) for f in orders.spec().fields] == [
        (f"{DAY_PARTITIONS['orders']}_day", "day")
    ]


def test_rows_carry_batch_id_and_ingestion_time(make_settings: Make) -> None:
    loader = IcebergLoader.from_settings(make_settings())
    rows = _append(loader, seed=2, index=0)
    orders = loader.read("orders")
    assert orders.num_rows == rows
    assert set(orders.column("_batch_id").to_pylist()) == {"s2-b000000"}
    assert orders.column(INGESTED_AT).null_count == 0


def test_same_batch_is_appended_once_and_next_index_resumes(make_settings: Make) -> None:
    loader = IcebergLoader.from_settings(make_settings())
    assert loader.next_batch_index(3) == 0
    _append(loader, seed=3, index=0)
    _append(loader, seed=3, index=1)
    assert loader.next_batch_index(3) == 2
    assert loader.next_batch_index(4) == 0  # other seeds count on their own
    before = loader.read("orders").num_rows
    _append(loader, seed=3, index=1)  # a retried run: skipped, not duplicated
    assert loader.read("orders").num_rows == before

    # A batch interrupted after its customers: the next index is that batch again, and
    # finishing it does not append its customers twice.
    batch = generate_batch(EcommerceConfig(seed=3), plan_batch(3, 2))
    loader.append("customers", batch.customers, batch_id=batch.spec.batch_id, batch_index=2, seed=3)
    assert loader.next_batch_index(3) == 2
    results = loader.append_batch(
        batch.tables(), batch_id=batch.spec.batch_id, batch_index=2, seed=3
    )
    assert [(r.table, r.skipped) for r in results] == [
        ("products", True),
        ("customers", True),
        ("order_items", False),
        ("orders", False),
    ]
    customers = loader.read("customers")
    assert customers.num_rows == 3 * batch.customers.num_rows
    assert loader.next_batch_index(3) == 3


def test_two_concurrent_writers_lose_nothing(make_settings: Make) -> None:
    settings = make_settings()
    IcebergLoader.from_settings(settings).ensure_tables(["order_items"])
    appended: dict[int, int] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(worker: int) -> None:
        try:
            loader = IcebergLoader.from_settings(settings)  # its own catalog connection
            start.wait()
            for j in range(6):
                index = worker * 100 + j
                batch = generate_batch(
                    EcommerceConfig(seed=5), plan_batch(5, index, batch_orders=200)
                )
                loader.append(
                    "order_items",
                    batch.order_items,
                    batch_id=batch.spec.batch_id,
                    batch_index=index,
                    seed=5,
                )
                appended[index] = batch.order_items.num_rows
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    loader = IcebergLoader.from_settings(settings)
    items = loader.read("order_items")
    assert items.num_rows == sum(appended.values())
    assert len(loader.batch_ids("order_items")) == 12
    per_batch = items.group_by("_batch_id").aggregate([([], "count_all")]).to_pylist()
    assert {r["_batch_id"]: r["count_all"] for r in per_batch} == {
        f"s5-b{i:06d}": n for i, n in appended.items()
    }


def _rest_env(server: IcebergRestServer, secret: str) -> dict[str, str]:
    return {
        "FLOE_DEMO_CATALOG_TYPE": "rest",
        "POLARIS_URI": server.uri,
        "POLARIS_CLIENT_ID": server.client_id,
        "POLARIS_CLIENT_SECRET": secret,
        "POLARIS_WAREHOUSE": server.warehouse,
        "FLOE_DEMO_NAMESPACE": f"demo_{secrets.token_hex(4)}",
        "FLOE_DEMO_CATALOG_PROPERTIES": json.dumps(
            {
                "s3.endpoint": server.s3_endpoint,
                "s3.access-key-id": server.client_id,
                "s3.secret-access-key": server.client_secret,
                "s3.region": "us-east-1",
                "s3.path-style-access": "true",
            }
        ),
    }


@pytest.mark.requirement("007-FR-027c")
def test_rest_catalog_with_oauth2_appends_and_feeds_dbt_duckdb(
    make_settings: Make, iceberg_rest_server: IcebergRestServer
) -> None:
    """The Polaris path: OAuth2 client credentials, S3 warehouse, and dbt-duckdb's iceberg
    plugin reading the same REST catalog through profiles.yml."""
    import duckdb
    from floe_demo.dbt_runner import run_dbt

    settings = make_settings(**_rest_env(iceberg_rest_server, iceberg_rest_server.client_secret))
    loader = IcebergLoader.from_settings(settings)
    rows = _append(loader, seed=42, index=0) + _append(loader, seed=42, index=1)
    orders = loader.read("orders")
    assert orders.num_rows == rows
    assert loader.next_batch_index(42) == 2

    run_dbt(settings, ["build"])
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    try:
        marts = con.execute("select count(*) from analytics.mart_orders").fetchone()
    finally:
        con.close()
    assert marts == (len(set(orders.column("order_id").to_pylist())),)


def test_rest_catalog_rejects_a_wrong_secret(
    make_settings: Make, iceberg_rest_server: IcebergRestServer
) -> None:
    from pyiceberg.exceptions import OAuthError

    settings = make_settings(**_rest_env(iceberg_rest_server, "not-the-secret"))
    with pytest.raises(OAuthError) as caught:
        IcebergLoader.from_settings(settings)
    assert "not-the-secret" not in str(caught.value)
