"""The marts computed independently of dbt, in plain Python, from the raw Arrow tables.

It applies the rules docs/demo.md states (not the SQL): keep the latest arrival per key
(customers: latest updated_at first), recover a null discount as
quantity * unit_price - subtotal, region from the customer, late = order_date before the
batch window, RFM thresholds from dbt_project.yml's vars. Tests compare dbt's marts with it
row by row, exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

RECENCY_DAYS = (1, 3, 7, 30)
FREQUENCY_ORDERS = (8, 5, 3, 2)
MONETARY_VALUE = (1000, 500, 250, 100)

Row = dict[str, Any]


def latest(rows: list[Row], key: str, *order: str) -> dict[str, Row]:
    """One row per ``key``: the greatest by ``order`` columns (then later position)."""
    best: dict[str, tuple[tuple[Any, ...], Row]] = {}
    for row in rows:
        rank = tuple(row[c] for c in order)
        current = best.get(row[key])
        if current is None or rank >= current[0]:
            best[row[key]] = (rank, row)
    return {k: v[1] for k, v in best.items()}


def _score_upper(value: int, bounds: tuple[int, ...]) -> int:
    """5 for value <= bounds[0], 4 for <= bounds[1], … else 1."""
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if value <= bound:
            return score
    return 1


def _score_lower(value: Decimal | int, bounds: tuple[int, ...]) -> int:
    """5 for value >= bounds[0], 4 for >= bounds[1], … else 1."""
    for score, bound in zip((5, 4, 3, 2), bounds, strict=True):
        if value >= bound:
            return score
    return 1


def segment(order_count: int, r: int, f: int) -> str:
    if order_count == 0:
        return "prospect"
    if r >= 4 and f >= 4:
        return "champion"
    if r >= 3 and f >= 3:
        return "loyal"
    if r >= 4:
        return "new"
    if r <= 2 and f >= 3:
        return "at_risk"
    return "hibernating"


def period_start(moment: datetime, grain: str) -> date:
    day = moment.date()
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    return day.replace(day=1)


@dataclass
class ExpectedMarts:
    orders: dict[str, Row]
    revenue: set[tuple[Any, ...]]
    customer_segments: dict[str, Row]
    products: dict[str, Row]
    items: dict[str, Row]


def compute(raw: dict[str, pa.Table]) -> ExpectedMarts:
    """Every mart from the raw tables (as appended, duplicates and nulls included)."""
    customers = latest(
        raw["customers"].to_pylist(), "customer_id", "updated_at", "_ingested_at", "_batch_id"
    )
    products = latest(raw["products"].to_pylist(), "product_id", "_ingested_at", "_batch_id")
    orders = latest(raw["orders"].to_pylist(), "order_id", "_ingested_at", "_batch_id")
    items = latest(raw["order_items"].to_pylist(), "order_item_id", "_ingested_at", "_batch_id")
    for item in items.values():
        if item["discount"] is None:
            item["discount"] = item["quantity"] * item["unit_price"] - item["subtotal"]

    per_order_items: dict[str, list[Row]] = defaultdict(list)
    for item in items.values():
        per_order_items[item["order_id"]].append(item)
    mart_orders = {}
    for oid, order in orders.items():
        its = per_order_items.get(oid, [])
        mart_orders[oid] = {
            "order_id": oid,
            "customer_id": order["customer_id"],
            "region": customers[order["customer_id"]]["region"],
            "status": order["status"],
            "order_date": order["order_date"],
            "total_amount": order["total_amount"],
            "item_count": len(its),
            "units": sum(i["quantity"] for i in its),
            "is_late_arrival": order["order_date"] < order["_window_start"],
        }

    groups: dict[tuple[str, date, str], list[Row]] = defaultdict(list)
    for order in mart_orders.values():
        for grain in ("day", "week", "month"):
            key = (grain, period_start(order["order_date"], grain), order["region"])
            groups[key].append(order)
    revenue = {
        (
            grain,
            start,
            region,
            len(rows),
            len({r["customer_id"] for r in rows}),
            sum(r["total_amount"] for r in rows),
            sum(r["total_amount"] for r in rows if r["status"] != "cancelled"),
            sum(1 for r in rows if r["status"] == "cancelled"),
            sum(1 for r in rows if r["is_late_arrival"]),
            sum(r["units"] for r in rows),
        )
        for (grain, start, region), rows in groups.items()
    }

    reference = max(o["order_date"] for o in mart_orders.values())
    per_customer: dict[str, list[Row]] = defaultdict(list)
    for order in mart_orders.values():
        per_customer[order["customer_id"]].append(order)
    segments = {}
    for cid, customer in customers.items():
        mine = per_customer.get(cid, [])
        count = len(mine)
        ltv = sum((o["total_amount"] for o in mine), Decimal(0))
        recency = (
            (reference.date() - max(o["order_date"] for o in mine).date()).days if mine else None
        )
        r = _score_upper(recency, RECENCY_DAYS) if recency is not None else 0
        f = _score_lower(count, FREQUENCY_ORDERS) if count else 0
        m = _score_lower(ltv, MONETARY_VALUE) if count else 0
        segments[cid] = {
            "customer_id": cid,
            "email": (customer["email"] or "unknown@example.invalid").lower(),
            "region": customer["region"],
            "order_count": count,
            "lifetime_value": ltv,
            "recency_days": recency,
            "recency_score": r,
            "frequency_score": f,
            "monetary_score": m,
            "segment": segment(count, r, f),
        }

    per_product: dict[str, list[Row]] = defaultdict(list)
    for item in items.values():
        if item["order_id"] in orders:
            per_product[item["product_id"]].append(item)
    product_rows = {}
    for pid, product in products.items():
        its = per_product.get(pid, [])
        product_rows[pid] = {
            "product_id": pid,
            "category": product["category"],
            "price": product["price"],
            "item_count": len(its),
            "order_count": len({i["order_id"] for i in its}),
            "units_sold": sum(i["quantity"] for i in its),
            "revenue": sum((i["subtotal"] for i in its), Decimal(0)),
            "discount_total": sum((i["discount"] for i in its), Decimal(0)),
        }
    for row in product_rows.values():
        row["revenue_rank"] = 1 + sum(
            1 for other in product_rows.values() if other["revenue"] > row["revenue"]
        )
    return ExpectedMarts(mart_orders, revenue, segments, product_rows, items)
