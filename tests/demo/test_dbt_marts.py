"""``dbt build`` of the demo on duckdb (Iceberg via dbt-duckdb's plugin) and on Postgres
(after publishing the raw tables), with every mart equal to an independent computation.

One test per target, so pytest-xdist runs each dbt build once.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from floe_demo.dbt_runner import run_dbt
from floe_demo.iceberg_loader import IcebergLoader
from floe_demo.publish import ECOMMERCE_TABLES, publish_to_postgres
from floe_demo.settings import DemoSettings

from floe_checks.servers.postgres import PostgresServer
from tests.demo.conftest import Lake
from tests.demo.expected_marts import ExpectedMarts, compute

pytestmark = [
    pytest.mark.requirement("007-FR-027c", "007-FR-027a", "007-FR-027b", "007-FR-028"),
    pytest.mark.evidence("service"),
]

Query = Callable[[str], list[tuple[Any, ...]]]


def _duckdb_query(settings: DemoSettings) -> Query:
    import duckdb

    def query(sql: str) -> list[tuple[Any, ...]]:
        con = duckdb.connect(str(settings.duckdb_path), read_only=True)
        try:
            con.execute(f"SET schema = '{settings.warehouse_schema}'")
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return query


def _postgres_query(settings: DemoSettings) -> Query:
    import psycopg2

    def query(sql: str) -> list[tuple[Any, ...]]:
        conn = psycopg2.connect(settings.warehouse_dsn())
        try:
            with conn.cursor() as cur:
                cur.execute(f"SET search_path TO {settings.warehouse_schema}")
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    return query


def _check_marts(query: Query, expected: ExpectedMarts, lake: Lake) -> None:
    # After N batches the order marts count exactly the distinct orders.
    distinct_orders = {
        oid for batch in lake.batches for oid in batch.orders.column("order_id").to_pylist()
    }
    assert query("select count(*) from mart_orders") == [(len(distinct_orders),)]
    assert set(expected.orders) == distinct_orders

    rows = query(
        "select order_id, customer_id, region, status, order_date, total_amount, item_count,"
        " units, is_late_arrival from mart_orders"
    )
    got_orders = {r[0]: r for r in rows}
    want_orders = {
        oid: (
            oid,
            o["customer_id"],
            o["region"],
            o["status"],
            o["order_date"],
            o["total_amount"],
            o["item_count"],
            o["units"],
            o["is_late_arrival"],
        )
        for oid, o in expected.orders.items()
    }
    assert got_orders == want_orders

    revenue = query(
        "select period_grain, period_start, region, order_count, customer_count, gross_revenue,"
        " net_revenue, cancelled_orders, late_orders, units_sold from mart_revenue"
    )
    assert set(revenue) == expected.revenue
    assert len(revenue) == len(expected.revenue)

    segments = query(
        "select customer_id, email, region, order_count, lifetime_value, recency_days,"
        " recency_score, frequency_score, monetary_score, segment from mart_customer_segments"
    )
    assert {r[0]: r for r in segments} == {
        cid: tuple(s.values()) for cid, s in expected.customer_segments.items()
    }

    products = query(
        "select product_id, category, price, item_count, order_count, units_sold, revenue,"
        " discount_total, revenue_rank from mart_product_analytics"
    )
    assert {r[0]: r for r in products} == {
        pid: tuple(p.values()) for pid, p in expected.products.items()
    }

    discounts: dict[str, Decimal] = dict(
        query("select order_item_id, discount from stg_order_items")
    )
    assert discounts == {iid: i["discount"] for iid, i in expected.items.items()}
    # The recovered discounts are not all zero: the null-defect rule was really exercised.
    recovered = [i for i in expected.items.values() if i["discount"] != Decimal(0)]
    assert recovered, "no discounted item in the lake; raise the batch size"


def _raw_tables(settings: DemoSettings) -> dict[str, Any]:
    loader = IcebergLoader.from_settings(settings)
    return {name: loader.read(name) for name in ECOMMERCE_TABLES}


def _assert_raw_counts(lake: Lake, raw: dict[str, Any]) -> None:
    """Raw rows equal the sum of the batch sizes, duplicates included (append only)."""
    for name in ECOMMERCE_TABLES:
        appended = sum(batch.tables()[name].num_rows for batch in lake.batches)
        assert raw[name].num_rows == appended, name


def test_dbt_build_on_duckdb_matches_independent_marts(lake: Lake) -> None:
    settings = lake.settings(FLOE_DEMO_DBT_TARGET="duckdb")
    run_dbt(settings, ["build"])
    raw = _raw_tables(settings)
    _assert_raw_counts(lake, raw)
    query = _duckdb_query(settings)
    # dbt-duckdb loaded the Iceberg tables as they are, duplicates included.
    for name in ECOMMERCE_TABLES:
        assert query(f"select count(*) from raw.{name}") == [(raw[name].num_rows,)]
    _check_marts(query, compute(raw), lake)
    _check_cube_model_columns(query)


def _check_cube_model_columns(query: Query) -> None:
    """Every table and bare column the Cube model names exists in what dbt built."""
    import re

    import yaml

    model_dir = Path(__file__).resolve().parents[2] / "demo" / "cube" / "model"
    cubes = [
        c for f in sorted(model_dir.glob("*.yml")) for c in yaml.safe_load(f.read_text())["cubes"]
    ]
    assert sorted(c["name"] for c in cubes) == ["Customers", "OrderItems", "Orders", "Products"]
    for cube in cubes:
        schema, table = cube["sql_table"].split(".")
        assert schema == "analytics", cube["name"]
        columns = {
            r[0]
            for r in query(
                "select column_name from information_schema.columns"
                f" where table_schema = 'analytics' and table_name = '{table}'"
            )
        }
        assert columns, f"{cube['name']}: {cube['sql_table']} was not built"
        for member in cube.get("dimensions", []) + cube.get("measures", []):
            sql = member.get("sql")
            if sql and re.fullmatch(r"[a-z_]+", sql):
                assert sql in columns, f"{cube['name']}.{member['name']}: no column {sql}"


def test_dbt_build_on_postgres_matches_independent_marts(
    lake: Lake, postgres_server: PostgresServer
) -> None:
    settings = lake.settings(
        FLOE_DEMO_DBT_TARGET="postgres",
        FLOE_WAREHOUSE_HOST=postgres_server.host,
        FLOE_WAREHOUSE_PORT=str(postgres_server.port),
        FLOE_WAREHOUSE_USER="postgres",
        FLOE_WAREHOUSE_PASSWORD=postgres_server.password,
        FLOE_WAREHOUSE_DB="postgres",
    )
    published = publish_to_postgres(settings)
    raw = _raw_tables(settings)
    _assert_raw_counts(lake, raw)
    assert {p.table: p.rows for p in published} == {
        name: raw[name].num_rows for name in ECOMMERCE_TABLES
    }
    # Publishing again copies nothing: it is incremental by batch id.
    assert [p.rows for p in publish_to_postgres(settings)] == [0] * len(ECOMMERCE_TABLES)
    run_dbt(settings, ["build"])
    query = _postgres_query(settings)
    for name in ECOMMERCE_TABLES:
        assert query(f"select count(*) from raw.{name}") == [(raw[name].num_rows,)]
    _check_marts(query, compute(raw), lake)
