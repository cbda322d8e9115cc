"""Synthetic e-commerce data: customers, products, orders and order items (FR-027, FR-027a).

Facts (orders, order items) are drawn column-wise with numpy; Faker only names the few
customers a batch brings. Entities carry stable ids (see :func:`columns.stable_uuids`), so a
batch refers to customers and products of earlier batches without reading anything back:

* batch 0 carries the whole product catalogue (``products`` rows, fixed per seed);
* batch ``b`` registers customers ``b*C … (b+1)*C-1`` (``C = customers_per_batch``);
* its orders go to those new customers (25 %) or to any earlier one, older customers
  ordering more often; each order has 1 to 8 items.

Defects (nulls, duplicates, late orders) come from separate random streams: see
:mod:`floe_demo.generators.defects` and docs/demo.md for the exact rules.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from floe_demo.generators.batches import BatchSpec
from floe_demo.generators.columns import (
    MONEY,
    TIMESTAMP,
    money,
    pick,
    random_uuids,
    stable_uuids,
    timestamps,
    with_nulls,
)
from floe_demo.generators.defects import DefectRates, bernoulli, duplicate_rows
from floe_demo.generators.intraday import sample_times

REGIONS: tuple[str, ...] = ("NA", "EMEA", "APAC", "LATAM")
REGION_WEIGHTS: tuple[float, ...] = (0.40, 0.30, 0.20, 0.10)
STATUSES: tuple[str, ...] = ("pending", "processing", "shipped", "delivered", "cancelled")
STATUS_WEIGHTS: tuple[float, ...] = (0.10, 0.15, 0.25, 0.45, 0.05)
SHIPPED_STATUSES = frozenset({"shipped", "delivered"})
QUANTITY_WEIGHTS: tuple[float, ...] = (0.60, 0.20, 0.10, 0.06, 0.04)  # quantity 1..5
DISCOUNT_SHARE = 0.25  # items with a discount
DISCOUNT_PERCENTS = np.array([5, 10, 15, 20], dtype=np.int64)
NEW_CUSTOMER_SHARE = 0.25
MAX_ITEMS = 8

# category → (median price in dollars, nouns)
CATEGORIES: dict[str, tuple[float, tuple[str, ...]]] = {
    "Electronics": (149.0, ("Headphones", "Speaker", "Monitor", "Keyboard", "Charger")),
    "Home & Kitchen": (45.0, ("Kettle", "Pan", "Blender", "Lamp", "Knife Set")),
    "Books": (18.0, ("Cookbook", "Novel", "Atlas", "Field Guide", "Anthology")),
    "Clothing": (35.0, ("Jacket", "Sweater", "Sneakers", "Scarf", "Jeans")),
    "Sports & Outdoors": (55.0, ("Tent", "Yoga Mat", "Bottle", "Backpack", "Racket")),
    "Beauty": (22.0, ("Serum", "Shampoo", "Lotion", "Perfume", "Brush")),
    "Toys & Games": (29.0, ("Puzzle", "Board Game", "Robot Kit", "Plush", "Blocks")),
    "Grocery": (9.0, ("Coffee", "Tea", "Olive Oil", "Granola", "Chocolate")),
}
ADJECTIVES = ("Classic", "Smart", "Eco", "Pro", "Compact", "Deluxe", "Essential", "Urban")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example")

# Random streams: each table and each table's defects draw from their own.
_STREAM_PRODUCTS, _STREAM_CUSTOMERS, _STREAM_ORDERS = 1, 2, 3
_STREAM_CUSTOMER_DEFECTS, _STREAM_ORDER_DEFECTS, _STREAM_ITEM_DEFECTS = 11, 12, 13

_REQ = {"nullable": False}
CUSTOMERS_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), **_REQ),
        pa.field("email", pa.string()),
        pa.field("name", pa.string(), **_REQ),
        pa.field("region", pa.string(), **_REQ),
        pa.field("created_at", TIMESTAMP, **_REQ),
        pa.field("updated_at", TIMESTAMP, **_REQ),
        pa.field("_batch_id", pa.string(), **_REQ),
    ]
)
PRODUCTS_SCHEMA = pa.schema(
    [
        pa.field("product_id", pa.string(), **_REQ),
        pa.field("name", pa.string(), **_REQ),
        pa.field("category", pa.string(), **_REQ),
        pa.field("price", MONEY, **_REQ),
        pa.field("created_at", TIMESTAMP, **_REQ),
        pa.field("_batch_id", pa.string(), **_REQ),
    ]
)
ORDERS_SCHEMA = pa.schema(
    [
        pa.field("order_id", pa.string(), **_REQ),
        pa.field("customer_id", pa.string(), **_REQ),
        pa.field("status", pa.string(), **_REQ),
        pa.field("total_amount", MONEY, **_REQ),
        pa.field("order_date", TIMESTAMP, **_REQ),
        pa.field("shipped_date", TIMESTAMP),
        pa.field("_batch_id", pa.string(), **_REQ),
        pa.field("_window_start", TIMESTAMP, **_REQ),
    ]
)
ORDER_ITEMS_SCHEMA = pa.schema(
    [
        pa.field("order_item_id", pa.string(), **_REQ),
        pa.field("order_id", pa.string(), **_REQ),
        pa.field("product_id", pa.string(), **_REQ),
        pa.field("quantity", pa.int32(), **_REQ),
        pa.field("unit_price", MONEY, **_REQ),
        pa.field("discount", MONEY),
        pa.field("subtotal", MONEY, **_REQ),
        pa.field("_batch_id", pa.string(), **_REQ),
    ]
)
# Append order: orders last, so an order never lands without its items and customers and a
# batch whose orders are in the table is complete (see loader.next_batch_index).
SCHEMAS: dict[str, pa.Schema] = {
    "products": PRODUCTS_SCHEMA,
    "customers": CUSTOMERS_SCHEMA,
    "order_items": ORDER_ITEMS_SCHEMA,
    "orders": ORDERS_SCHEMA,
}

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class EcommerceConfig:
    """Shape of the generated data (see the module docstring)."""

    seed: int = 42
    customers_per_batch: int = 25
    products: int = 60
    window_minutes: float = 5.0
    defects: DefectRates = field(default_factory=DefectRates)


@dataclass(frozen=True)
class EcommerceBatch:
    """One generated batch: four Arrow tables with the schemas of :data:`SCHEMAS`."""

    spec: BatchSpec
    customers: pa.Table
    products: pa.Table
    orders: pa.Table
    order_items: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        """Table name → data, in append order."""
        return {name: getattr(self, name) for name in SCHEMAS}

    @property
    def row_count(self) -> int:
        return sum(t.num_rows for t in self.tables().values())


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed & 0xFFFFFFFF, *stream]))


@dataclass(frozen=True)
class ProductCatalogue:
    """The products of one seed, as plain arrays (index = product number)."""

    names: tuple[str, ...]
    categories: tuple[str, ...]
    price_cents: npt.NDArray[np.int64]
    popularity: npt.NDArray[np.float64]  # probability that an item is this product


@functools.lru_cache(maxsize=32)
def product_catalogue(seed: int, count: int) -> ProductCatalogue:
    """The fixed product catalogue of ``seed``: names, categories, prices, popularity."""
    rng = _rng(seed, _STREAM_PRODUCTS)
    cats = list(CATEGORIES)
    cat_idx = rng.integers(0, len(cats), size=count)
    categories = tuple(cats[i] for i in cat_idx)
    names = []
    for i, cat in enumerate(categories):
        nouns = CATEGORIES[cat][1]
        adjective = ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]
        noun = nouns[int(rng.integers(len(nouns)))]
        names.append(f"{adjective} {noun} {chr(65 + i % 26)}{100 + i}")
    medians = np.array([CATEGORIES[c][0] for c in categories])
    dollars = np.maximum(1.0, np.round(medians * rng.lognormal(0.0, 0.45, count)))
    price_cents = (dollars * 100 - 1).astype(np.int64)  # x.99 pricing
    # Zipf-like popularity over a random ranking of the catalogue.
    rank = rng.permutation(count)
    weight = 1.0 / (rank + 1.0) ** 0.9
    return ProductCatalogue(tuple(names), categories, price_cents, weight / weight.sum())


def generate_products(config: EcommerceConfig, spec: BatchSpec) -> pa.Table:
    """The product catalogue in batch 0; an empty table in every other batch."""
    if spec.index != 0:
        return PRODUCTS_SCHEMA.empty_table()
    cat = product_catalogue(config.seed, config.products)
    n = config.products
    rng = _rng(config.seed, _STREAM_PRODUCTS, 1)
    created = spec.start_us - (rng.uniform(30, 720, n) * DAY_US).astype(np.int64)
    return pa.Table.from_arrays(
        [
            stable_uuids(config.seed, "product", np.arange(n, dtype=np.int64)),
            pa.array(cat.names, pa.string()),
            pa.array(cat.categories, pa.string()),
            money(cat.price_cents),
            timestamps(created),
            pa.repeat(pa.scalar(spec.batch_id), n),
        ],
        schema=PRODUCTS_SCHEMA,
    )


@functools.lru_cache(maxsize=1)
def _faker() -> object:
    from faker import Faker  # only for the few customer names a batch brings

    return Faker("en_US")


def generate_customers(config: EcommerceConfig, spec: BatchSpec) -> pa.Table:
    """The ``customers_per_batch`` customers that register in this batch."""
    n = config.customers_per_batch
    first = spec.index * n
    index = np.arange(first, first + n, dtype=np.int64)
    rng = _rng(config.seed, _STREAM_CUSTOMERS, spec.index)
    fake = _faker()
    fake.seed_instance(int(rng.integers(2**31)))  # type: ignore[attr-defined]
    names, emails = [], []
    for i in index:
        first_name = fake.first_name()  # type: ignore[attr-defined]
        last_name = fake.last_name()  # type: ignore[attr-defined]
        names.append(f"{first_name} {last_name}")
        domain = EMAIL_DOMAINS[int(i) % len(EMAIL_DOMAINS)]
        emails.append(f"{first_name}.{last_name}.{i}@{domain}".lower().replace(" ", ""))
    region, _ = pick(rng, REGIONS, REGION_WEIGHTS, n)
    max_age_days = 365.0 if spec.index == 0 else 30.0
    created = spec.start_us - (rng.uniform(0.0, max_age_days, n) * DAY_US).astype(np.int64)
    updated = created + ((spec.start_us - created) * rng.random(n)).astype(np.int64)
    defects = _rng(config.seed, _STREAM_CUSTOMER_DEFECTS, spec.index)
    email_null = bernoulli(defects, n, config.defects.null_rate)
    return pa.Table.from_arrays(
        [
            stable_uuids(config.seed, "customer", index),
            with_nulls(pa.array(emails, pa.string()), email_null),
            pa.array(names, pa.string()),
            region,
            timestamps(created),
            timestamps(updated),
            pa.repeat(pa.scalar(spec.batch_id), n),
        ],
        schema=CUSTOMERS_SCHEMA,
    )


def generate_orders_and_items(
    config: EcommerceConfig, spec: BatchSpec
) -> tuple[pa.Table, pa.Table]:
    """The batch's orders and their items, defects included."""
    rng = _rng(config.seed, _STREAM_ORDERS, spec.index)
    n = spec.order_count(rng, config.window_minutes)
    per_batch = config.customers_per_batch
    known = (spec.index + 1) * per_batch
    # Customers: a quarter are this batch's new ones; the rest skew towards older customers.
    is_new = rng.random(n) < NEW_CUSTOMER_SHARE
    new_pick = spec.index * per_batch + rng.integers(0, per_batch, n)
    old_pick = np.minimum((known * rng.random(n) ** 1.6).astype(np.int64), known - 1)
    customer_idx = np.where(is_new, new_pick, old_pick).astype(np.int64)
    order_us = sample_times(rng, n, spec.start_us, spec.end_us)
    status, status_code = pick(rng, STATUSES, STATUS_WEIGHTS, n)
    shipped_codes = [STATUSES.index(s) for s in sorted(SHIPPED_STATUSES)]
    has_shipped = np.isin(status_code, shipped_codes)
    ship_us = order_us + (rng.uniform(2, 72, n) * HOUR_US).astype(np.int64)
    order_ids = random_uuids(rng, n)

    # Items, grouped by order.
    counts = 1 + np.minimum(rng.poisson(1.5, n), MAX_ITEMS - 1)
    m = int(counts.sum())
    order_pos = np.repeat(np.arange(n), counts)
    catalogue = product_catalogue(config.seed, config.products)
    product_idx = rng.choice(config.products, size=m, p=catalogue.popularity)
    quantity = 1 + rng.choice(len(QUANTITY_WEIGHTS), size=m, p=QUANTITY_WEIGHTS)
    unit_cents = catalogue.price_cents[product_idx]
    gross = quantity * unit_cents
    discounted = rng.random(m) < DISCOUNT_SHARE
    percent = DISCOUNT_PERCENTS[rng.integers(0, len(DISCOUNT_PERCENTS), m)]
    discount_cents = np.where(discounted, (gross * percent + 50) // 100, 0).astype(np.int64)
    subtotal_cents = gross - discount_cents
    starts = np.cumsum(counts) - counts
    total_cents = np.add.reduceat(subtotal_cents, starts) if n else np.empty(0, dtype=np.int64)
    item_ids = random_uuids(rng, m)

    # Defects, from their own stream.
    defects = _rng(config.seed, _STREAM_ORDER_DEFECTS, spec.index)
    rates = config.defects
    late = bernoulli(defects, n, rates.late_rate)
    late_to = spec.start_us - (defects.uniform(1e-6, rates.late_days, n) * DAY_US).astype(np.int64)
    shift = np.where(late, late_to - order_us, 0)
    order_us = order_us + shift
    ship_us = ship_us + shift
    shipped_null = bernoulli(defects, n, rates.null_rate) & has_shipped
    order_dups = duplicate_rows(defects, n, rates.duplicate_rate)
    item_defects = _rng(config.seed, _STREAM_ITEM_DEFECTS, spec.index)
    discount_null = bernoulli(item_defects, m, rates.null_rate)
    item_dups = duplicate_rows(item_defects, m, rates.duplicate_rate)

    orders = pa.Table.from_arrays(
        [
            order_ids,
            stable_uuids(config.seed, "customer", customer_idx),
            status,
            money(total_cents),
            timestamps(order_us),
            with_nulls(timestamps(ship_us), ~has_shipped | shipped_null),
            pa.repeat(pa.scalar(spec.batch_id), n),
            timestamps(np.full(n, spec.start_us, dtype=np.int64)),
        ],
        schema=ORDERS_SCHEMA,
    )
    items = pa.Table.from_arrays(
        [
            item_ids,
            order_ids.take(pa.array(order_pos)),
            stable_uuids(config.seed, "product", product_idx.astype(np.int64)),
            pa.array(quantity.astype(np.int32)),
            money(unit_cents),
            with_nulls(money(discount_cents), discount_null),
            money(subtotal_cents),
            pa.repeat(pa.scalar(spec.batch_id), m),
        ],
        schema=ORDER_ITEMS_SCHEMA,
    )
    return _with_duplicates(orders, order_dups), _with_duplicates(items, item_dups)


def _with_duplicates(table: pa.Table, rows: npt.NDArray[np.int64]) -> pa.Table:
    """``table`` followed by exact copies of ``rows`` (an at-least-once sender's resends)."""
    if len(rows) == 0:
        return table
    return pa.concat_tables([table, table.take(pa.array(rows))])


def generate_batch(config: EcommerceConfig, spec: BatchSpec) -> EcommerceBatch:
    """Every table of one e-commerce batch; deterministic for (config, spec)."""
    if spec.seed != config.seed:
        raise ValueError(f"batch seed {spec.seed} differs from the generator's {config.seed}")
    orders, items = generate_orders_and_items(config, spec)
    return EcommerceBatch(
        spec=spec,
        customers=generate_customers(config, spec),
        products=generate_products(config, spec),
        orders=orders,
        order_items=items,
    )
