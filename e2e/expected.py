"""Every cube's answer computed here from the raw Iceberg tables, independently of dbt and Cube.

The raw tables are read through the stack's own catalog (``pyiceberg.catalog.load_catalog``
with the settings in ``StackEndpoints.catalog``), cleaned by the staging rules docs/demo.md
documents (not by dbt's SQL), joined as the marts are documented, and aggregated the way the
Cube model in ``demo/cube/model`` declares each measure.

Exactness. Money is ``Decimal`` and counts are ``int`` all the way, so counts and sums are
exact. Ratios (``avg`` and the ``a / NULLIF(b, 0)`` measures) are where a rounding rule is
needed, and the rule is Postgres's own, because the source database computes them: a numeric
division is rounded half away from zero to the scale ``select_div_scale`` picks (see
:func:`pg_numeric_div`). Cube 0.33's postgres driver hands that numeric over as a string
unchanged, so an average is compared digit for digit, not within a tolerance.
``e2e/test_expected.py`` checks the rule against a real PostgreSQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

RAW_TABLES = ("customers", "products", "orders", "order_items")

# dbt_project.yml's vars (docs/demo.md, mart_customer_segments): RFM bounds.
RECENCY_DAYS = (1, 3, 7, 30)
FREQUENCY_ORDERS = (8, 5, 3, 2)

# Postgres numeric division (src/backend/utils/adt/numeric.c: select_div_scale).
NBASE_DIGITS = 4  # DEC_DIGITS: decimal digits per base-10000 digit
MIN_SIG_DIGITS = 16  # NUMERIC_MIN_SIG_DIGITS
MAX_DISPLAY_SCALE = 1000  # NUMERIC_MAX_DISPLAY_SCALE

Row = dict[str, Any]
Value = Decimal | None
Key = tuple[Any, ...]


# -- measures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """How a Cube measure aggregates: ``count`` (rows), ``sum`` of ``field``, ``avg`` of
    ``field``, or ``ratio``: sum(``field``) / NULLIF(sum(``denominator``), 0)."""

    kind: str
    field: str = ""
    denominator: str = ""

    def aggregate(self, rows: list[Row]) -> Value:
        """The measure over one group's rows, as the source database would compute it."""
        if self.kind == "count":
            return Decimal(len(rows))
        if self.kind == "sum":
            return total(row[self.field] for row in rows)
        if self.kind == "avg":
            return pg_numeric_div(total(row[self.field] for row in rows), Decimal(len(rows)))
        if self.kind == "ratio":
            return pg_numeric_div(
                total(row[self.field] for row in rows),
                total(row[self.denominator] for row in rows),
            )
        raise ValueError(f"unknown measure kind {self.kind!r}")


# The model in demo/cube/model/*.yml, measure by measure (docs/demo.md, "Cube model").
MEASURES: dict[str, Measure] = {
    "Orders.count": Measure("count"),
    "Orders.total_revenue": Measure("sum", "total_amount"),
    "Orders.average_order_value": Measure("avg", "total_amount"),
    "Customers.count": Measure("count"),
    "Customers.lifetime_value": Measure("sum", "lifetime_value"),
    "Customers.total_orders": Measure("sum", "order_count"),
    "Customers.average_order_value": Measure("ratio", "lifetime_value", "order_count"),
    "Products.count": Measure("count"),
    "Products.units_sold": Measure("sum", "units_sold"),
    "Products.revenue": Measure("sum", "revenue"),
    "Products.average_price": Measure("ratio", "revenue", "units_sold"),
    "OrderItems.count": Measure("count"),
    "OrderItems.units": Measure("sum", "quantity"),
    "OrderItems.revenue": Measure("sum", "subtotal"),
    "OrderItems.discount": Measure("sum", "discount"),
}


def total(values: Iterable[Decimal | int]) -> Decimal:
    """An exact sum as a Decimal; like a Postgres numeric sum, its scale is the largest input
    scale (a sum of ``decimal(12,2)`` keeps two decimals, a sum of integers none)."""
    out = Decimal(0)
    for value in values:
        out += Decimal(value)
    return out


def _dscale(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), f"not a finite number: {value}"
    return max(0, -exponent)


def _weight_and_first_digit(value: Decimal) -> tuple[int, int]:
    """Postgres's normalised weight (power of 10000 of the leading base-10000 digit) and that
    digit; (0, 0) for zero."""
    if value == 0:
        return 0, 0
    magnitude = abs(value)
    weight = magnitude.adjusted() // NBASE_DIGITS
    first = math.floor(Fraction(magnitude) / Fraction(10**NBASE_DIGITS) ** weight)
    return weight, first


def pg_div_scale(numerator: Decimal, denominator: Decimal) -> int:
    """The number of decimals of ``numerator / denominator`` in Postgres (select_div_scale):
    at least 16 significant digits, at least each operand's scale."""
    weight1, first1 = _weight_and_first_digit(numerator)
    weight2, first2 = _weight_and_first_digit(denominator)
    qweight = weight1 - weight2
    if first1 <= first2:
        qweight -= 1
    rscale = MIN_SIG_DIGITS - qweight * NBASE_DIGITS
    rscale = max(rscale, _dscale(numerator), _dscale(denominator), 0)
    return min(rscale, MAX_DISPLAY_SCALE)


def pg_numeric_div(numerator: Decimal, denominator: Decimal) -> Value:
    """``numerator / NULLIF(denominator, 0)`` exactly as Postgres's numeric division returns it:
    the exact quotient rounded half away from zero to :func:`pg_div_scale` decimals; None
    (SQL NULL) when the denominator is zero."""
    if denominator == 0:
        return None
    scale = pg_div_scale(numerator, denominator)
    scaled = Fraction(numerator) / Fraction(denominator) * 10**scale
    rounded = math.floor(abs(scaled) + Fraction(1, 2))
    sign = "-" if scaled < 0 else ""
    return Decimal(f"{sign}{rounded}E-{scale}")


# -- raw layer → the rows behind each cube -------------------------------------------------


def read_raw(catalog: Any, namespace: str) -> dict[str, list[Row]]:
    """Every raw table as appended (duplicates and nulls included), through the catalog."""
    return {
        name: catalog.load_table(f"{namespace}.{name}").scan().to_arrow().to_pylist()
        for name in RAW_TABLES
    }


def latest(rows: Iterable[Row], key: str, *order: str) -> dict[str, Row]:
    """One row per ``key``: the greatest by the ``order`` columns (docs/demo.md staging)."""
    best: dict[str, Row] = {}
    for row in rows:
        current = best.get(row[key])
        if current is None or tuple(row[c] for c in order) > tuple(current[c] for c in order):
            best[row[key]] = row
    return best


def _score(value: int, bounds: tuple[int, ...], *, upper: bool) -> int:
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if (value <= bound) if upper else (value >= bound):
            return score
    return 1


def segment_of(order_count: int, recency_days: int | None) -> str:
    """The RFM segment docs/demo.md defines (the monetary score picks no segment)."""
    if order_count == 0 or recency_days is None:
        return "prospect"
    r = _score(recency_days, RECENCY_DAYS, upper=True)
    f = _score(order_count, FREQUENCY_ORDERS, upper=False)
    if r >= 4 and f >= 4:
        return "champion"
    if r >= 3 and f >= 3:
        return "loyal"
    if r >= 4:
        return "new"
    if r <= 2 and f >= 3:
        return "at_risk"
    return "hibernating"


def cube_rows(raw: Mapping[str, list[Row]]) -> dict[str, list[Row]]:
    """Per cube, one row per row of the table behind it, keyed by Cube member names
    (``Orders.status``, also joined members such as ``Customers.segment``) plus the columns
    the measures aggregate."""
    customers = latest(raw["customers"], "customer_id", "updated_at", "_ingested_at", "_batch_id")
    products = latest(raw["products"], "product_id", "_ingested_at", "_batch_id")
    orders = latest(raw["orders"], "order_id", "_ingested_at", "_batch_id")
    items = latest(raw["order_items"], "order_item_id", "_ingested_at", "_batch_id")

    per_customer: dict[str, list[Row]] = defaultdict(list)
    for order in orders.values():
        per_customer[order["customer_id"]].append(order)
    reference = max(order["order_date"] for order in orders.values()).date()
    customer_rows: dict[str, Row] = {}
    for cid, customer in customers.items():
        mine = per_customer.get(cid, [])
        # recency in calendar days (dbt.datediff on Postgres: date - date)
        recency = (reference - max(o["order_date"] for o in mine).date()).days if mine else None
        customer_rows[cid] = {
            "Customers.region": customer["region"],
            "Customers.segment": segment_of(len(mine), recency),
            # coalesce(lifetime_value, 0): a customer without orders adds an integer zero
            "lifetime_value": total(o["total_amount"] for o in mine) if mine else Decimal(0),
            "order_count": len(mine),
        }

    order_rows = []
    for order in orders.values():
        # mart_orders: the customer's region (left join); Customers.segment through the join
        owner = customers.get(order["customer_id"])
        scored = customer_rows.get(order["customer_id"])
        order_rows.append(
            {
                "Orders.status": order["status"],
                "Orders.region": owner["region"] if owner else None,
                "Orders.order_date": order["order_date"],
                "Customers.segment": scored["Customers.segment"] if scored else None,
                "total_amount": order["total_amount"],
            }
        )

    item_rows = []
    per_product: dict[str, list[Row]] = defaultdict(list)
    for item in items.values():
        placed = orders.get(item["order_id"])
        if placed is None:  # int_order_items_enriched joins orders with an inner join
            continue
        product = products.get(item["product_id"])
        buyer = customers.get(placed["customer_id"])
        discount = item["discount"]
        if discount is None:  # stg_order_items: subtotal = quantity * unit_price - discount
            discount = item["quantity"] * item["unit_price"] - item["subtotal"]
        row = {
            "OrderItems.category": product["category"] if product else None,
            "OrderItems.region": buyer["region"] if buyer else None,
            "OrderItems.order_date": placed["order_date"],
            "Products.name": product["name"] if product else None,
            "quantity": item["quantity"],
            "subtotal": item["subtotal"],
            "discount": discount,
        }
        item_rows.append(row)
        per_product[item["product_id"]].append(row)

    product_rows = []
    for pid, product in products.items():
        sold = per_product.get(pid, [])
        product_rows.append(
            {
                "Products.category": product["category"],
                "Products.name": product["name"],
                # coalesce(…, 0) in mart_product_analytics for a product nobody bought
                "units_sold": sum(r["quantity"] for r in sold),
                "revenue": total(r["subtotal"] for r in sold) if sold else Decimal(0),
            }
        )
    return {
        "Orders": order_rows,
        "Customers": list(customer_rows.values()),
        "Products": product_rows,
        "OrderItems": item_rows,
    }


# -- a query, expected and answered --------------------------------------------------------


@dataclass(frozen=True)
class CubeQuery:
    """A ``/load`` query: measures of one cube by dimensions (``Cube.member``) and optionally a
    time dimension at day granularity."""

    measures: tuple[str, ...]
    dimensions: tuple[str, ...] = ()
    day: str | None = None  # a time dimension grouped by day
    limit: int = 50_000  # above Cube's default of 10 000 rows; a full answer is checked

    @property
    def cube(self) -> str:
        return self.measures[0].split(".", 1)[0]

    @property
    def columns(self) -> tuple[str, ...]:
        """The answer's grouping columns, in key order."""
        return self.dimensions + ((f"{self.day}.day",) if self.day else ())

    def body(self) -> dict[str, Any]:
        """The query as Cube's REST API takes it."""
        query: dict[str, Any] = {
            "measures": list(self.measures),
            "dimensions": list(self.dimensions),
            "limit": self.limit,
        }
        if self.day:
            query["timeDimensions"] = [{"dimension": self.day, "granularity": "day"}]
        return query

    def title(self) -> str:
        by = ", ".join(self.columns) or "(no dimension)"
        return f"{', '.join(self.measures)} by {by}"


def cube_day(moment: datetime | date) -> str:
    """How Cube 0.33 spells a day of a time dimension (UTC, naive timestamps)."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return f"{day.isoformat()}T00:00:00.000"


def expected_answer(query: CubeQuery, rows: Mapping[str, list[Row]]) -> dict[Key, dict[str, Value]]:
    """Group → measure → value, computed from :func:`cube_rows`."""
    groups: dict[Key, list[Row]] = defaultdict(list)
    for row in rows[query.cube]:
        key = tuple(row[d] for d in query.dimensions)
        if query.day:
            key += (cube_day(row[query.day]),)
        groups[key].append(row)
    return {
        key: {m: MEASURES[m].aggregate(members) for m in query.measures}
        for key, members in groups.items()
    }


def _number(value: Any) -> Value:
    if value is None:
        return None
    if isinstance(value, float):
        # Postgres numerics arrive as strings; a float would already have lost digits.
        raise AssertionError(f"Cube answered the float {value!r} where a numeric string is due")
    return Decimal(str(value))


def cube_answer(query: CubeQuery, answer: Mapping[str, Any]) -> dict[Key, dict[str, Value]]:
    """Cube's ``/load`` answer in the shape of :func:`expected_answer`."""
    data = answer["data"]
    if len(data) >= query.limit:
        raise AssertionError(f"{query.title()}: Cube returned {len(data)} rows, the limit")
    out: dict[Key, dict[str, Value]] = {}
    for row in data:
        key = tuple(row[c] for c in query.columns)
        if key in out:
            raise AssertionError(f"{query.title()}: Cube returned the group {key} twice")
        out[key] = {m: _number(row[m]) for m in query.measures}
    return out


def differences(
    query: CubeQuery, answer: Mapping[str, Any], rows: Mapping[str, list[Row]]
) -> list[str]:
    """Every way Cube's answer differs from the independent computation, one line each
    (empty when they are equal): missing or extra groups, then values, in key order."""
    got = cube_answer(query, answer)
    want = expected_answer(query, rows)
    lines: list[str] = []
    for key in sorted(want.keys() - got.keys(), key=repr):
        lines.append(f"{key}: missing from Cube's answer (expected {_show(want[key])})")
    for key in sorted(got.keys() - want.keys(), key=repr):
        lines.append(f"{key}: in Cube's answer but not expected ({_show(got[key])})")
    for key in sorted(want.keys() & got.keys(), key=repr):
        for measure in query.measures:
            if got[key][measure] != want[key][measure]:
                lines.append(
                    f"{key}: {measure} is {got[key][measure]} in Cube, "
                    f"expected {want[key][measure]}"
                )
    return lines


def _show(values: Mapping[str, Value]) -> str:
    return ", ".join(f"{m}={v}" for m, v in values.items())


def assert_same(
    query: CubeQuery, answer: Mapping[str, Any], rows: Mapping[str, list[Row]], shown: int = 10
) -> int:
    """Fail with the first ``shown`` differences; returns the number of groups compared."""
    lines = differences(query, answer, rows)
    if lines:
        more = f"\n  … and {len(lines) - shown} more" if len(lines) > shown else ""
        raise AssertionError(
            f"Cube's {query.title()} differs from the raw data in {len(lines)} place(s):\n  "
            + "\n  ".join(lines[:shown])
            + more
        )
    return len(answer["data"])
