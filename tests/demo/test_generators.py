"""Properties of the synthetic data generators (FR-027, FR-027a, FR-027b, FR-030)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from floe_demo.generators import (
    DefectRates,
    EcommerceConfig,
    SaasConfig,
    generate_batch,
    generate_saas_batch,
    plan_batch,
)
from floe_demo.generators.batches import BatchSpec, to_micros
from floe_demo.generators.defects import NONE
from floe_demo.generators.ecommerce import REGIONS, SCHEMAS, STATUSES
from floe_demo.generators.intraday import MINUTE_CURVE

pytestmark = pytest.mark.evidence("static")

DAY = datetime(2026, 3, 2)  # a Monday, midnight UTC


def within_binomial(observed: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """|observed - n p| within ``sigmas`` standard deviations of Binomial(n, p) (plus one
    for rounding): at 5 sigma a correct generator fails about once in 1.7 million seeds."""
    return abs(observed - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def day_batch(orders: int, defects: DefectRates = NONE, seed: int = 11) -> BatchSpec:
    return BatchSpec(seed, 0, DAY, DAY + timedelta(days=1), orders=orders)


@pytest.mark.requirement("007-FR-027", "007-FR-027a")
def test_batch_has_exact_order_count_and_fixed_schemas() -> None:
    config = EcommerceConfig(seed=3, customers_per_batch=17, products=40, defects=NONE)
    batch = generate_batch(config, plan_batch(3, 0, batch_orders=321))
    assert batch.orders.num_rows == 321
    assert len(set(batch.orders.column("order_id").to_pylist())) == 321
    assert batch.customers.num_rows == 17
    assert batch.products.num_rows == 40
    for name, table in batch.tables().items():
        assert table.schema == SCHEMAS[name]
    later = generate_batch(config, plan_batch(3, 1, batch_orders=321))
    assert later.products.num_rows == 0  # the catalogue comes with batch 0 only
    assert later.customers.num_rows == 17


@pytest.mark.requirement("007-FR-027")
def test_batches_are_deterministic_for_seed_and_index() -> None:
    config = EcommerceConfig(seed=5)
    first = generate_batch(config, plan_batch(5, 4))
    again = generate_batch(config, plan_batch(5, 4))
    for name in SCHEMAS:
        assert first.tables()[name].equals(again.tables()[name]), name
    other_seed = generate_batch(EcommerceConfig(seed=6), plan_batch(6, 4))
    assert other_seed.orders.column("order_id") != first.orders.column("order_id")
    other_index = generate_batch(config, plan_batch(5, 5))
    assert other_index.orders.column("order_id") != first.orders.column("order_id")


@pytest.mark.requirement("007-FR-027", "007-FR-027a")
def test_subtotal_formula_and_order_totals_are_exact() -> None:
    config = EcommerceConfig(seed=9, defects=NONE)
    batch = generate_batch(config, plan_batch(9, 0, batch_orders=2000))
    items = batch.order_items.to_pylist()
    for item in items:
        assert item["subtotal"] == item["quantity"] * item["unit_price"] - item["discount"]
    totals: dict[str, Decimal] = {}
    for item in items:
        totals[item["order_id"]] = totals.get(item["order_id"], Decimal(0)) + item["subtotal"]
    assert {o["order_id"]: o["total_amount"] for o in batch.orders.to_pylist()} == totals
    # Some items really are discounted, and every price is an x.99 price.
    assert sum(1 for i in items if i["discount"] > 0) > len(items) // 10
    assert {p % 1 for p in batch.products.column("price").to_pylist()} == {Decimal("0.99")}


@pytest.mark.requirement("007-FR-027", "007-FR-027a")
def test_clean_rows_are_referentially_intact_across_batches() -> None:
    config = EcommerceConfig(seed=21, customers_per_batch=10, defects=NONE)
    batches = [generate_batch(config, plan_batch(21, i, batch_orders=300)) for i in range(4)]
    products = set(batches[0].products.column("product_id").to_pylist())
    customers: set[str] = set()
    reused = 0
    for batch in batches:
        new = set(batch.customers.column("customer_id").to_pylist())
        customers |= new
        ordered = set(batch.orders.column("customer_id").to_pylist())
        assert ordered <= customers  # only customers registered so far
        reused += len(ordered - new)
        orders = set(batch.orders.column("order_id").to_pylist())
        assert set(batch.order_items.column("order_id").to_pylist()) == orders
        assert set(batch.order_items.column("product_id").to_pylist()) <= products
    assert reused > 0  # customers come back in later batches


@pytest.mark.requirement("007-FR-027")
def test_regions_and_statuses_follow_their_weights() -> None:
    config = EcommerceConfig(seed=4, customers_per_batch=20_000, defects=NONE)
    batch = generate_batch(config, day_batch(20_000, seed=4))
    regions = batch.customers.column("region").to_pylist()
    for region, weight in zip(REGIONS, (0.40, 0.30, 0.20, 0.10), strict=True):
        assert within_binomial(regions.count(region), len(regions), weight), region
    statuses = batch.orders.column("status").to_pylist()
    for status, weight in zip(STATUSES, (0.10, 0.15, 0.25, 0.45, 0.05), strict=True):
        assert within_binomial(statuses.count(status), len(statuses), weight), status
    # Only shipped and delivered orders carry a ship date (no defects here).
    for order in batch.orders.to_pylist():
        assert (order["shipped_date"] is not None) == (order["status"] in {"shipped", "delivered"})


@pytest.mark.requirement("007-FR-027")
def test_intraday_curve_has_morning_peak_lunch_dip_evening_surge() -> None:
    n = 200_000
    batch = generate_batch(EcommerceConfig(seed=8, defects=NONE), day_batch(n, seed=8))
    micros = batch.orders.column("order_date").cast(pa.int64()).to_numpy()
    hours = ((micros - to_micros(DAY)) // 3_600_000_000).astype(np.int64)
    counts = np.bincount(hours, minlength=24)
    assert counts.sum() == n
    expected = MINUTE_CURVE.reshape(24, 60).sum(axis=1) / MINUTE_CURVE.sum()
    for hour in range(24):
        assert within_binomial(int(counts[hour]), n, float(expected[hour])), hour
    morning, lunch, evening, night = counts[10], counts[13], counts[20], counts[3]
    assert morning > lunch < evening
    assert evening > morning > night


@pytest.mark.requirement("007-FR-027b")
def test_defect_rates_are_within_binomial_tolerance() -> None:
    rates = DefectRates(null_rate=0.03, duplicate_rate=0.02, late_rate=0.06, late_days=7)
    config = EcommerceConfig(seed=12, customers_per_batch=20_000, defects=rates)
    spec = day_batch(20_000, seed=12)
    batch = generate_batch(config, spec)
    clean = generate_batch(EcommerceConfig(seed=12, customers_per_batch=20_000, defects=NONE), spec)

    emails = batch.customers.column("email")
    assert within_binomial(emails.null_count, len(emails), 0.03)

    orders = batch.orders
    n = clean.orders.num_rows
    duplicates = orders.num_rows - n
    assert within_binomial(duplicates, n, 0.02)
    # A duplicate is an exact copy of a row of the same batch.
    originals = {r["order_id"]: r for r in orders.slice(0, n).to_pylist()}
    for row in orders.slice(n).to_pylist():
        assert row == originals[row["order_id"]]

    items = batch.order_items
    m = clean.order_items.num_rows
    assert within_binomial(items.num_rows - m, m, 0.02)
    assert within_binomial(items.slice(0, m).column("discount").null_count, m, 0.03)

    first = orders.slice(0, n)
    late = pc.less(first.column("order_date"), first.column("_window_start"))
    assert within_binomial(pc.sum(late).as_py(), n, 0.06)
    oldest = pc.min(first.column("order_date")).as_py()
    assert spec.window_start - timedelta(days=7) <= oldest < spec.window_start

    shipped = [r for r in first.to_pylist() if r["status"] in {"shipped", "delivered"}]
    missing = sum(1 for r in shipped if r["shipped_date"] is None)
    assert within_binomial(missing, len(shipped), 0.03)

    # Defects never change the clean data: same ids, same amounts.
    assert first.column("order_id").equals(clean.orders.column("order_id"))
    assert first.column("total_amount").equals(clean.orders.column("total_amount"))


@pytest.mark.requirement("007-FR-027b")
def test_zero_rates_mean_no_defects() -> None:
    batch = generate_batch(
        EcommerceConfig(seed=1, defects=NONE), plan_batch(1, 0, batch_orders=5000)
    )
    assert batch.orders.num_rows == 5000
    assert batch.customers.column("email").null_count == 0
    assert batch.order_items.column("discount").null_count == 0
    assert (
        pc.sum(
            pc.less(batch.orders.column("order_date"), batch.orders.column("_window_start"))
        ).as_py()
        == 0
    )


@pytest.mark.requirement("007-FR-030")
def test_burst_and_realistic_rates_size_batches_differently() -> None:
    burst = plan_batch(2, 3, rate="burst", batch_orders=1000)
    assert burst.orders == 1000
    # ~1000 records/s: 1000 orders stand for ~3500 records, so a 3.5 s window.
    assert burst.window_end - burst.window_start == timedelta(seconds=3.5)

    evening_end = datetime(2026, 3, 2, 20, 5)
    night_end = datetime(2026, 3, 2, 3, 5)
    config = EcommerceConfig(seed=2, defects=NONE)
    evening = [
        generate_batch(config, plan_batch(2, i, rate="realistic", window_end=evening_end))
        for i in range(20)
    ]
    night = [
        generate_batch(config, plan_batch(2, i, rate="realistic", window_end=night_end))
        for i in range(20)
    ]
    for batch in evening + night:
        assert batch.spec.window_end - batch.spec.window_start == timedelta(minutes=5)
    # Window-sized batches follow the curve: Poisson(200 x share of the window).
    evening_mean = np.mean([b.orders.num_rows for b in evening])
    night_mean = np.mean([b.orders.num_rows for b in night])
    start = MINUTE_CURVE[20 * 60 : 20 * 60 + 5].mean() * 200
    quiet = MINUTE_CURVE[3 * 60 : 3 * 60 + 5].mean() * 200
    assert abs(evening_mean - start) <= 5 * math.sqrt(start / 20)
    assert abs(night_mean - quiet) <= 5 * math.sqrt(quiet / 20)


@pytest.mark.requirement("007-FR-027")
def test_saas_batch_is_consistent() -> None:
    config = SaasConfig(seed=3, accounts_per_batch=6, defects=NONE)
    batches = [generate_saas_batch(config, plan_batch(3, i, batch_orders=100)) for i in range(3)]
    accounts: set[str] = set()
    for batch in batches:
        assert batch.accounts.num_rows == 6
        assert batch.subscriptions.column("account_id").equals(batch.accounts.column("account_id"))
        accounts |= set(batch.accounts.column("account_id").to_pylist())
        assert set(batch.usage_events.column("account_id").to_pylist()) <= accounts
        assert batch.usage_events.num_rows == 500
    cancelled = [
        s for b in batches for s in b.subscriptions.to_pylist() if s["status"] == "cancelled"
    ]
    assert all(s["cancelled_at"] is not None for s in cancelled)
