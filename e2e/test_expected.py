"""The independent computation of Cube's answers (``e2e/expected.py``) without a stack: its
rounding rule against a real PostgreSQL, its comparison against tampered Cube answers (what a
broken Cube model would return), and its catalog-agnostic read through a real Iceberg REST
catalog with OAuth2."""

from __future__ import annotations

import copy
import json
import random
import secrets
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from e2e.expected import (
    MEASURES,
    CubeQuery,
    Key,
    Measure,
    Row,
    Value,
    assert_same,
    cube_rows,
    expected_answer,
    pg_numeric_div,
    read_raw,
)
from e2e.raw_facts import load_catalog
from floe_checks.servers.postgres import PostgresServer, throwaway_postgres

T0 = datetime(2026, 11, 30, 10, 0)


def _raw() -> dict[str, list[Row]]:
    """A tiny raw layer with every defect the cleaning rules handle: an updated customer, a
    resent order, a null discount, a customer without orders, a product nobody bought."""

    def meta(batch: int, minute: int = 0) -> dict[str, Any]:
        return {"_batch_id": f"s1-b{batch:06d}", "_ingested_at": T0.replace(minute=minute)}

    def order(oid: str, cid: str, status: str, amount: str, day: int, hour: int = 10) -> Row:
        placed = datetime(2026, 11, day, hour, 0)
        return {"order_id": oid, "customer_id": cid, "status": status,
                "total_amount": Decimal(amount), "order_date": placed, **meta(0)}  # fmt: skip

    def item(iid: str, oid: str, pid: str, qty: int, unit: str, disc: str | None) -> Row:
        subtotal = qty * Decimal(unit) - Decimal(disc or "0")
        return {"order_item_id": iid, "order_id": oid, "product_id": pid, "quantity": qty,
                "unit_price": Decimal(unit), "discount": Decimal(disc) if disc else None,
                "subtotal": subtotal, **meta(0)}  # fmt: skip

    def customer(cid: str, region: str, updated: int) -> Row:
        return {"customer_id": cid, "region": region,
                "updated_at": T0.replace(minute=updated), **meta(0)}  # fmt: skip

    def product(pid: str, name: str, category: str) -> Row:
        return {"product_id": pid, "name": name, "category": category, **meta(0)}

    resent = order("o2", "c1", "shipped", "15.00", 29)
    return {
        "customers": [
            customer("c1", "LATAM", 1),
            customer("c1", "NA", 2),  # updated later: NA wins
            customer("c2", "EMEA", 1),
            customer("c3", "APAC", 1),  # never orders: a prospect
        ],
        "products": [
            product("p1", "Widget", "tools"),
            product("p2", "Gadget", "toys"),
            product("p3", "Unsold", "toys"),
            product("p4", "Gizmo", "tools"),
        ],
        "orders": [
            order("o1", "c1", "delivered", "30.00", 30),
            resent,
            order("o3", "c2", "cancelled", "17.50", 30, hour=23),
            {**resent, **meta(1, minute=5)},  # the resend: an exact copy, a later arrival
        ],
        "order_items": [
            item("i1", "o1", "p1", 2, "10.00", None),  # null discount: recovered as 0.00
            item("i2", "o1", "p2", 2, "5.00", "0.00"),
            item("i3", "o2", "p2", 3, "5.00", "0.00"),
            item("i4", "o3", "p1", 1, "10.00", "0.00"),
            item("i5", "o3", "p4", 1, "7.50", "0.00"),
            item("i6", "o9", "p4", 1, "7.50", "0.00"),  # its order never arrived: dropped
        ],
    }


def _render(query: CubeQuery, values: Mapping[Key, Mapping[str, Value]]) -> dict[str, Any]:
    """A ``/load`` answer as Cube 0.33 over Postgres gives it: numbers as strings."""
    data = []
    for key, measures in values.items():
        row: dict[str, Any] = dict(zip(query.columns, key, strict=True))
        if query.day:
            row[query.day] = row[f"{query.day}.day"]
        row.update({m: None if v is None else str(v) for m, v in measures.items()})
        data.append(row)
    return {"query": query.body(), "data": data}


PRODUCTS = CubeQuery(
    ("Products.count", "Products.units_sold", "Products.revenue", "Products.average_price"),
    ("Products.category",),
)
ORDERS = CubeQuery(
    ("Orders.count", "Orders.total_revenue", "Orders.average_order_value"), ("Orders.region",)
)
CUSTOMERS = CubeQuery(
    ("Customers.count", "Customers.lifetime_value", "Customers.average_order_value"),
    ("Customers.segment",),
)
ITEMS = CubeQuery(
    ("OrderItems.count", "OrderItems.units", "OrderItems.discount"),
    ("OrderItems.category",),
    day="OrderItems.order_date",
)


def test_the_tiny_raw_layer_gives_the_hand_computed_answers() -> None:
    """The cleaning rules on the tiny raw layer, checked by hand."""
    rows = cube_rows(_raw())
    assert expected_answer(PRODUCTS, rows) == {
        ("tools",): {
            "Products.count": 2,
            "Products.units_sold": 4,  # p1: 2 + 1, p4: 1 (i6's order never arrived)
            "Products.revenue": Decimal("37.50"),
            "Products.average_price": Decimal("9.3750000000000000"),
        },
        ("toys",): {
            "Products.count": 2,
            "Products.units_sold": 5,
            "Products.revenue": Decimal("25.00"),
            "Products.average_price": Decimal("5.0000000000000000"),
        },
    }
    assert expected_answer(ORDERS, rows) == {
        ("NA",): {
            "Orders.count": 2,  # o2's resend counts once
            "Orders.total_revenue": Decimal("45.00"),
            "Orders.average_order_value": Decimal("22.5000000000000000"),
        },
        ("EMEA",): {
            "Orders.count": 1,
            "Orders.total_revenue": Decimal("17.50"),
            "Orders.average_order_value": Decimal("17.5000000000000000"),
        },
    }
    # c1: 2 orders, last one on the reference day → R5, F2 → "new"; c2: 1 order, R5 → "new"
    assert expected_answer(CUSTOMERS, rows) == {
        ("new",): {
            "Customers.count": 2,
            "Customers.lifetime_value": Decimal("62.50"),
            "Customers.average_order_value": Decimal("20.8333333333333333"),
        },
        ("prospect",): {
            "Customers.count": 1,
            "Customers.lifetime_value": Decimal("0"),
            "Customers.average_order_value": None,  # 0 / NULLIF(0, 0)
        },
    }
    assert expected_answer(ITEMS, rows)[("tools", "2026-11-30T00:00:00.000")] == {
        "OrderItems.count": 3,
        "OrderItems.units": 4,
        "OrderItems.discount": Decimal("0.00"),
    }


@pytest.mark.parametrize("query", [PRODUCTS, ORDERS, CUSTOMERS, ITEMS], ids=lambda q: q.cube)
def test_a_faithful_answer_passes(query: CubeQuery) -> None:
    rows = cube_rows(_raw())
    answer = _render(query, expected_answer(query, rows))
    assert assert_same(query, answer, rows) == len(answer["data"])


def test_revenue_as_max_instead_of_sum_fails() -> None:
    """Products.revenue declared ``type: max``: the tools category has two sold products."""
    rows = cube_rows(_raw())
    values = copy.deepcopy(expected_answer(PRODUCTS, rows))
    for (category,), measures in values.items():
        measures["Products.revenue"] = max(
            r["revenue"] for r in rows["Products"] if r["Products.category"] == category
        )
    with pytest.raises(AssertionError) as failed:
        assert_same(PRODUCTS, _render(PRODUCTS, values), rows)
    assert str(failed.value) == (
        "Cube's Products.count, Products.units_sold, Products.revenue, Products.average_price"
        " by Products.category differs from the raw data in 1 place(s):\n"
        "  ('tools',): Products.revenue is 30.00 in Cube, expected 37.50"
    )


def test_units_sold_as_count_fails() -> None:
    """Products.units_sold declared ``type: count``: Cube answers the number of products."""
    rows = cube_rows(_raw())
    counted = {**rows, "Products": [{**r, "units_sold": 1} for r in rows["Products"]]}
    with pytest.raises(AssertionError) as failed:
        assert_same(PRODUCTS, _render(PRODUCTS, expected_answer(PRODUCTS, counted)), rows)
    assert str(failed.value) == (
        "Cube's Products.count, Products.units_sold, Products.revenue, Products.average_price"
        " by Products.category differs from the raw data in 4 place(s):\n"
        "  ('tools',): Products.units_sold is 2 in Cube, expected 4\n"
        "  ('tools',): Products.average_price is 18.7500000000000000 in Cube, "
        "expected 9.3750000000000000\n"
        "  ('toys',): Products.units_sold is 2 in Cube, expected 5\n"
        "  ('toys',): Products.average_price is 12.5000000000000000 in Cube, "
        "expected 5.0000000000000000"
    )


def test_region_as_a_constant_fails() -> None:
    """Orders.region with ``sql: "'NA'"``: every order lands in one region."""
    rows = cube_rows(_raw())
    constant = {**rows, "Orders": [{**r, "Orders.region": "NA"} for r in rows["Orders"]]}
    with pytest.raises(AssertionError) as failed:
        assert_same(ORDERS, _render(ORDERS, expected_answer(ORDERS, constant)), rows)
    assert str(failed.value) == (
        "Cube's Orders.count, Orders.total_revenue, Orders.average_order_value by Orders.region"
        " differs from the raw data in 4 place(s):\n"
        "  ('EMEA',): missing from Cube's answer (expected Orders.count=1, "
        "Orders.total_revenue=17.50, Orders.average_order_value=17.5000000000000000)\n"
        "  ('NA',): Orders.count is 3 in Cube, expected 2\n"
        "  ('NA',): Orders.total_revenue is 62.50 in Cube, expected 45.00\n"
        "  ('NA',): Orders.average_order_value is 20.8333333333333333 in Cube, "
        "expected 22.5000000000000000"
    )


def test_an_average_rounded_to_cents_fails() -> None:
    """An average that Cube (or a changed SQL) rounds differently is not "close enough"."""
    rows = cube_rows(_raw())
    values = copy.deepcopy(expected_answer(CUSTOMERS, rows))
    values[("new",)]["Customers.average_order_value"] = Decimal("20.83")
    with pytest.raises(AssertionError) as failed:
        assert_same(CUSTOMERS, _render(CUSTOMERS, values), rows)
    assert str(failed.value).endswith(
        "  ('new',): Customers.average_order_value is 20.83 in Cube, expected 20.8333333333333333"
    )


def test_a_float_in_the_answer_is_refused() -> None:
    rows = cube_rows(_raw())
    answer = _render(ORDERS, expected_answer(ORDERS, rows))
    answer["data"][0]["Orders.total_revenue"] = 45.0
    with pytest.raises(AssertionError, match=r"Cube answered the float 45\.0 where a numeric"):
        assert_same(ORDERS, answer, rows)


def test_every_measure_of_the_model_has_a_rule() -> None:
    """The measures in demo/cube/model/*.yml, read from the YAML, all have an aggregation rule
    here (a measure added to the model without one would go unchecked)."""
    import yaml

    model = Path(__file__).parents[1] / "demo" / "cube" / "model"
    declared = {
        f"{cube['name']}.{measure['name']}": measure["type"]
        for path in sorted(model.glob("*.yml"))
        for cube in yaml.safe_load(path.read_text(encoding="utf-8"))["cubes"]
        for measure in cube.get("measures", [])
    }
    assert {name: MEASURES[name].kind for name in declared if name in MEASURES} == {
        name: {"number": "ratio"}.get(kind, kind) for name, kind in declared.items()
    }


# -- the rounding rule, against a real PostgreSQL -----------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with throwaway_postgres("floe-e2e-expected-") as server:
        yield server


def _money(rng: random.Random, top: int) -> Decimal:
    return Decimal(rng.randrange(0, top * 100)) / 100


def test_numeric_division_rounds_like_postgres(postgres: PostgresServer) -> None:
    """``pg_numeric_div`` returns Postgres's own text, digit for digit, over divisions of the
    shapes the Cube measures make: money / count, money / integer sum, integer / money."""
    rng = random.Random(14)
    cases: list[tuple[Decimal, Decimal]] = [
        (Decimal("1"), Decimal("3")),
        (Decimal("2"), Decimal("3")),
        (Decimal("-2"), Decimal("3")),
        (Decimal("0.00"), Decimal("7")),
        (Decimal("1.00"), Decimal("8")),
        (Decimal("9999.99"), Decimal("9999")),
        (Decimal("10000.00"), Decimal("9999")),
        (Decimal("0.05"), Decimal("3")),
        (Decimal("123456789.01"), Decimal("7")),
        (Decimal("5"), Decimal("0.03")),
    ]
    for top, den in ((10, 10), (1000, 1000), (100_000, 30), (10_000_000, 100_000)):
        for _ in range(60):
            cases.append((_money(rng, top), Decimal(rng.randrange(1, den + 1))))
    for _ in range(40):
        cases.append((Decimal(rng.randrange(0, 10_000)), _money(rng, 500) + Decimal("0.01")))
    values = ", ".join(f"({i}, '{n}'::numeric, '{d}'::numeric)" for i, (n, d) in enumerate(cases))
    out = postgres.execute(f"SELECT (n / d)::text FROM (VALUES {values}) AS v(i, n, d) ORDER BY i")
    got = out.splitlines()
    want = [format(pg_numeric_div(n, d), "f") for n, d in cases]
    assert [(str(c[0]), str(c[1]), g) for c, g in zip(cases, got, strict=True)] == [
        (str(c[0]), str(c[1]), w) for c, w in zip(cases, want, strict=True)
    ]


def test_avg_and_ratio_measures_equal_postgres_aggregates(postgres: PostgresServer) -> None:
    """``avg(money)`` and ``sum(money) / NULLIF(sum(bigint), 0)`` over groups that mix money
    with coalesced integer zeros (like the marts), against the same aggregates in Postgres."""
    rng = random.Random(2026)
    rows: list[Row] = []
    for group in range(40):
        for _ in range(rng.randrange(1, 30)):
            zero = rng.random() < 0.2 or group == 0  # group 0: only zeros → NULL ratio
            rows.append(
                {
                    "g": group,
                    "v": Decimal(0) if zero else _money(rng, 2000),
                    "n": 0 if zero else rng.randrange(1, 9),
                }
            )
    values = ", ".join(f"({r['g']}, '{r['v']}'::numeric, {r['n']}::bigint)" for r in rows)
    out = postgres.execute(
        f"SELECT g, avg(v)::text, (sum(v) / NULLIF(sum(n), 0))::text "
        f"FROM (VALUES {values}) AS t(g, v, n) GROUP BY g ORDER BY g"
    )
    got = [tuple(line.split("|")) for line in out.splitlines()]
    avg, ratio = Measure("avg", "v"), Measure("ratio", "v", "n")
    want = []
    for group in range(40):
        members = [r for r in rows if r["g"] == group]
        a, q = avg.aggregate(members), ratio.aggregate(members)
        want.append((str(group), _text(a), _text(q)))
    assert got == want


def _text(value: Value) -> str:
    """psql -tA's text of a numeric (NULL is empty)."""
    return "" if value is None else format(value, "f")


# -- the same computation through a REST catalog with OAuth2 -------------------------------


def test_expectations_read_through_a_rest_catalog_equal_the_sql_catalog(
    tmp_path: Path,
) -> None:
    """The e2e expectations take only the stack's catalog settings: the same batches written
    to SeaweedFS's Iceberg REST catalog (OAuth2 client credentials, S3 files) and to a SQL
    catalog give the same rows behind every cube."""
    from floe_demo.generators import EcommerceConfig, generate_batch, plan_batch
    from floe_demo.iceberg_loader import IcebergLoader
    from floe_demo.settings import DemoSettings

    from tests.preflight.local_servers import iceberg_rest_server

    def fill(env: dict[str, str]) -> dict[str, str]:
        settings = DemoSettings.from_env(env)
        loader = IcebergLoader.from_settings(settings)
        for index in range(2):
            batch = generate_batch(EcommerceConfig(seed=7), plan_batch(7, index, batch_orders=60))
            loader.append_batch(
                batch.tables(), batch_id=batch.spec.batch_id, batch_index=index, seed=7
            )
        return settings.iceberg_properties()

    namespace = f"e2e_{secrets.token_hex(4)}"
    sql_props = fill({"FLOE_DEMO_HOME": str(tmp_path / "sql"), "FLOE_DEMO_NAMESPACE": namespace})
    (tmp_path / "rest").mkdir()
    with iceberg_rest_server(tmp_path / "rest") as server:
        rest_props = fill(
            {
                "FLOE_DEMO_HOME": str(tmp_path / "rest-home"),
                "FLOE_DEMO_NAMESPACE": namespace,
                "FLOE_DEMO_CATALOG_TYPE": "rest",
                "POLARIS_URI": server.uri,
                "POLARIS_CLIENT_ID": server.client_id,
                "POLARIS_CLIENT_SECRET": server.client_secret,
                "POLARIS_WAREHOUSE": server.warehouse,
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
        )
        assert rest_props["type"] == "rest"
        via_rest = cube_rows(read_raw(load_catalog(rest_props), namespace))
    via_sql = cube_rows(read_raw(load_catalog(sql_props), namespace))
    assert sorted(via_sql) == ["Customers", "OrderItems", "Orders", "Products"]
    assert len(via_sql["Orders"]) > 100
    for cube in via_sql:
        assert sorted(map(repr, via_rest[cube])) == sorted(map(repr, via_sql[cube])), cube


@pytest.mark.parametrize(
    ("provider", "catalog", "reason"),
    [
        ("local", {"type": "sql", "uri": "sqlite:///c.db", "warehouse": "file:///w"}, None),
        ("existing", {"type": "rest", "uri": "https://c", "credential": "id:s"}, None),
        (
            "kind",
            {},
            "the kind stack names no Iceberg catalog (StackEndpoints.catalog is empty), so "
            "the raw layer the expectations come from cannot be read",
        ),
        (
            "existing",
            {"type": "rest", "uri": "https://c", "warehouse": "w"},
            "the existing stack's REST catalog settings carry no OAuth2 credential "
            "(StackEndpoints.catalog has no 'credential' or 'token'), so the raw tables "
            "cannot be read",
        ),
    ],
)
def test_expectations_skip_only_where_no_catalog_can_be_read(
    provider: str, catalog: dict[str, str], reason: str | None
) -> None:
    """Any catalog the endpoints fully describe is read (SQL or REST alike); a skip names
    what the stack's endpoints lack."""
    from pydantic import SecretStr

    from e2e.conftest import catalog_skip_reason
    from floe_checks.stack.base import StackEndpoints

    stack = StackEndpoints(
        provider=provider,
        cube_url="http://127.0.0.1:1",
        cube_api_secret=SecretStr("x"),
        dagster_url="http://127.0.0.1:2",
        catalog=catalog,
    )
    assert catalog_skip_reason(stack) == reason
