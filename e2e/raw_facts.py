"""What the raw data in Iceberg says, computed here, independently of dbt and Cube.

The dedupe rule is the one docs/demo.md documents for ``stg_orders``: one row per
``order_id``, the latest arrival wins (``_ingested_at`` desc, then ``_batch_id`` desc).
Revenue counts every status. Amounts are ``Decimal`` so sums are exact.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ORDERS_TABLE = "orders"
RAW_TABLES = ("customers", "products", "orders", "order_items")


def load_catalog(catalog: dict[str, str]) -> Any:
    """A pyiceberg catalog from the stack's catalog settings (``type``, ``uri``, …)."""
    from pyiceberg.catalog import load_catalog as pyiceberg_load

    props = {k: v for k, v in catalog.items() if k != "namespace"}
    return pyiceberg_load("floe", **props)


@dataclass(frozen=True)
class OrderTotals:
    """Orders count and revenue by status after dedupe, plus the raw row facts."""

    by_status: dict[str, tuple[int, Decimal]]
    order_ids: frozenset[str]
    raw_rows: int

    @property
    def count(self) -> int:
        return sum(count for count, _ in self.by_status.values())

    @property
    def revenue(self) -> Decimal:
        return sum((revenue for _, revenue in self.by_status.values()), Decimal("0"))

    def to_json(self) -> dict[str, Any]:
        return {
            "by_status": {k: [c, str(r)] for k, (c, r) in self.by_status.items()},
            "order_ids": sorted(self.order_ids),
            "raw_rows": self.raw_rows,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderTotals:
        return cls(
            by_status={k: (int(c), Decimal(r)) for k, (c, r) in data["by_status"].items()},
            order_ids=frozenset(data["order_ids"]),
            raw_rows=int(data["raw_rows"]),
        )


def order_totals(catalog: Any, namespace: str) -> OrderTotals:
    """Deduplicate raw orders by the documented rule and total them by status."""
    rows = catalog.load_table(f"{namespace}.{ORDERS_TABLE}").scan().to_arrow().to_pylist()
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        current = latest.get(row["order_id"])
        key = (row["_ingested_at"], row["_batch_id"])
        if current is None or key > (current["_ingested_at"], current["_batch_id"]):
            latest[row["order_id"]] = row
    counts: dict[str, int] = defaultdict(int)
    revenue: dict[str, Decimal] = defaultdict(lambda: Decimal("0"))
    for row in latest.values():
        counts[row["status"]] += 1
        revenue[row["status"]] += Decimal(row["total_amount"])
    return OrderTotals(
        by_status={status: (counts[status], revenue[status]) for status in counts},
        order_ids=frozenset(latest),
        raw_rows=len(rows),
    )


def snapshots(catalog: Any, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """Per raw table: its snapshots in order (id, parent, operation, added and total rows)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in RAW_TABLES:
        table = catalog.load_table(f"{namespace}.{name}")
        out[name] = [
            {
                "id": snap.snapshot_id,
                "parent": snap.parent_snapshot_id,
                "operation": str(snap.summary.operation.value) if snap.summary else None,
                "added": int((snap.summary or {}).get("added-records", 0)),
                "total": int((snap.summary or {}).get("total-records", 0)),
            }
            for snap in table.snapshots()
        ]
    return out
