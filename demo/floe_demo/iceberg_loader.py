"""Append generated batches to Iceberg tables: append only (FR-028), concurrent-safe.

* The catalog comes from :class:`~floe_demo.settings.DemoSettings`: a SQL catalog with a file
  warehouse by default, the REST catalog (Polaris, OAuth2 client credentials) with
  ``FLOE_DEMO_CATALOG_TYPE=rest``; S3/GCS warehouses take their properties from
  ``FLOE_DEMO_CATALOG_PROPERTIES``.
* Tables are created idempotently (a racing creator simply loads the winner's table);
  ``orders`` and ``usage_events`` are partitioned by day of their event time.
* Every row gets ``_ingested_at`` (wall clock of the append); every snapshot records the
  batch in its summary (``floe.batch-id``, ``floe.batch-index``, ``floe.seed``), which makes
  appends idempotent per (table, batch) and lets the next batch index be found from
  metadata alone.
* A commit that loses a race (``CommitFailedException``, or SQLite's "database is locked")
  is retried on fresh metadata with exponential backoff, so two writers lose nothing.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from floe_demo.generators import ecommerce, saas
from floe_demo.generators.batches import utc_now
from floe_demo.generators.columns import TIMESTAMP
from floe_demo.settings import CATALOG_NAME, DemoSettings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.schema import Schema
    from pyiceberg.table import Table

INGESTED_AT = "_ingested_at"
BATCH_ID = "_batch_id"
SUMMARY_BATCH_ID = "floe.batch-id"
SUMMARY_BATCH_INDEX = "floe.batch-index"
SUMMARY_SEED = "floe.seed"

# Every raw table the demo writes, as generated (without _ingested_at).
RAW_SCHEMAS: dict[str, pa.Schema] = {**ecommerce.SCHEMAS, **saas.SCHEMAS}
# Tables partitioned by the day of this column (event time, where queries filter).
DAY_PARTITIONS: dict[str, str] = {"orders": "order_date", "usage_events": "occurred_at"}
# Every commit writes a new metadata file listing all snapshots; keep only the latest ones
# (snapshots and data files stay: this prunes superseded metadata, not history).
TABLE_PROPERTIES = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


def load_catalog(settings: DemoSettings) -> Catalog:
    """The pyiceberg catalog the settings describe (local folders are created)."""
    from pyiceberg.catalog import load_catalog as _load

    if settings.catalog_type == "sql":
        settings.home.mkdir(parents=True, exist_ok=True)
        if settings.warehouse.startswith("file://"):
            Path(settings.warehouse.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    return _load(CATALOG_NAME, **settings.iceberg_properties())


def table_schema(name: str) -> pa.Schema:
    """The Arrow schema of raw table ``name`` as stored (with ``_ingested_at``)."""
    return RAW_SCHEMAS[name].append(pa.field(INGESTED_AT, TIMESTAMP, nullable=False))


def iceberg_schema(schema: pa.Schema) -> Schema:
    """A flat Arrow schema as an Iceberg schema with field ids 1..n in column order."""
    from pyiceberg.schema import Schema
    from pyiceberg.types import (
        BooleanType,
        DecimalType,
        DoubleType,
        IcebergType,
        IntegerType,
        LongType,
        NestedField,
        StringType,
        TimestampType,
    )

    def convert(kind: pa.DataType) -> IcebergType:
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return StringType()
        if pa.types.is_int32(kind):
            return IntegerType()
        if pa.types.is_int64(kind):
            return LongType()
        if pa.types.is_float64(kind):
            return DoubleType()
        if pa.types.is_boolean(kind):
            return BooleanType()
        if pa.types.is_decimal(kind):
            return DecimalType(kind.precision, kind.scale)
        if pa.types.is_timestamp(kind) and kind.tz is None:
            return TimestampType()
        raise TypeError(f"no Iceberg type for Arrow {kind}")

    return Schema(
        *[
            NestedField(i + 1, f.name, convert(f.type), required=not f.nullable)
            for i, f in enumerate(schema)
        ]
    )


@dataclass(frozen=True)
class AppendResult:
    """What one append did. ``skipped``: the table already had this batch."""

    table: str
    batch_id: str
    rows: int
    snapshot_id: int | None
    attempts: int
    skipped: bool = False


class IcebergLoader:
    """Creates the raw tables and appends batches to them.

    Args:
        catalog: a pyiceberg catalog.
        namespace: the Iceberg namespace of the raw tables (``FLOE_DEMO_NAMESPACE``).
        max_attempts: commits tried before giving up on a conflict.
        base_delay: first backoff in seconds (doubled per retry, with jitter).
    """

    def __init__(
        self,
        catalog: Catalog,
        namespace: str = "raw",
        *,
        max_attempts: int = 12,
        base_delay: float = 0.05,
    ) -> None:
        self.catalog = catalog
        self.namespace = namespace
        self.max_attempts = max_attempts
        self.base_delay = base_delay

    @classmethod
    def from_settings(cls, settings: DemoSettings) -> IcebergLoader:
        return cls(load_catalog(settings), settings.namespace)

    def identifier(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def ensure_namespace(self) -> None:
        from pyiceberg.exceptions import NamespaceAlreadyExistsError

        with contextlib.suppress(NamespaceAlreadyExistsError):  # a racing creator won
            self.catalog.create_namespace_if_not_exists(self.namespace)

    def ensure_table(self, name: str) -> Table:
        """Load raw table ``name``, creating it (and the namespace) first if needed."""
        from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
        from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField
        from pyiceberg.partitioning import PartitionSpec as Spec
        from pyiceberg.transforms import DayTransform

        ident = self.identifier(name)
        try:
            return self.catalog.load_table(ident)
        except NoSuchTableError:
            pass
        self.ensure_namespace()
        arrow_schema = table_schema(name)
        schema = iceberg_schema(arrow_schema)
        spec = UNPARTITIONED_PARTITION_SPEC
        if name in DAY_PARTITIONS and _can_write_day_partitions():
            column = DAY_PARTITIONS[name]
            spec = Spec(
                PartitionField(
                    source_id=arrow_schema.get_field_index(column) + 1,
                    field_id=1000,
                    transform=DayTransform(),
                    name=f"{column}_day",
                )
            )
        try:
            return self.catalog.create_table(
                ident, schema=schema, partition_spec=spec, properties=TABLE_PROPERTIES
            )
        except TableAlreadyExistsError:
            return self.catalog.load_table(ident)

    def ensure_tables(self, names: list[str] | None = None) -> None:
        """Create every raw table (or those named) that does not exist yet."""
        for name in names or list(RAW_SCHEMAS):
            self.ensure_table(name)

    @staticmethod
    def batch_summaries(table: Table) -> list[Mapping[str, str]]:
        """The snapshot summaries of ``table`` that record a demo batch, oldest first."""
        found: list[Mapping[str, str]] = []
        for snapshot in table.metadata.snapshots:
            props = snapshot.summary.additional_properties if snapshot.summary else {}
            if SUMMARY_BATCH_ID in props:
                found.append(props)
        return found

    def batch_ids(self, name: str) -> set[str]:
        """Every batch id appended to raw table ``name`` (from metadata only)."""
        return {s[SUMMARY_BATCH_ID] for s in self.batch_summaries(self.ensure_table(name))}

    def next_batch_index(self, seed: int, table: str = "orders") -> int:
        """The first batch index of ``seed`` not yet in ``table`` (the last one appended).

        Orders are appended last, so a batch interrupted half-way is generated again with
        the same index, and its already-appended tables are skipped.
        """
        indices = [
            int(s[SUMMARY_BATCH_INDEX])
            for s in self.batch_summaries(self.ensure_table(table))
            if s.get(SUMMARY_SEED) == str(seed)
        ]
        return max(indices) + 1 if indices else 0

    def append(
        self,
        name: str,
        data: pa.Table,
        *,
        batch_id: str,
        batch_index: int,
        seed: int,
        ingested_at: datetime | None = None,
    ) -> AppendResult:
        """Append ``data`` (one batch of raw table ``name``); never overwrites.

        Idempotent per (table, batch): a batch already recorded in a snapshot is skipped.
        Conflicting commits are retried on refreshed metadata with exponential backoff.
        """
        from pyiceberg.exceptions import CommitFailedException

        if data.num_rows == 0:
            return AppendResult(name, batch_id, 0, None, 0, skipped=True)
        stamp = ingested_at or utc_now()
        stamped = data.append_column(
            pa.field(INGESTED_AT, TIMESTAMP, nullable=False),
            pa.repeat(pa.scalar(stamp, TIMESTAMP), data.num_rows),
        ).cast(table_schema(name))
        props = {
            SUMMARY_BATCH_ID: batch_id,
            SUMMARY_BATCH_INDEX: str(batch_index),
            SUMMARY_SEED: str(seed),
        }
        table = self.ensure_table(name)
        for attempt in range(1, self.max_attempts + 1):
            if any(s[SUMMARY_BATCH_ID] == batch_id for s in self.batch_summaries(table)):
                return AppendResult(name, batch_id, 0, None, attempt, skipped=True)
            try:
                table.append(stamped, snapshot_properties=props)
            except (CommitFailedException, _sqlite_locked()) as exc:
                if attempt == self.max_attempts:
                    raise CommitFailedException(
                        f"appending batch {batch_id} to {self.identifier(name)} still "
                        f"conflicted after {attempt} attempts: {exc}"
                    ) from exc
                delay = self.base_delay * 2 ** (attempt - 1)
                time.sleep(delay * (0.5 + random.random()))
                table = self.catalog.load_table(self.identifier(name))
                continue
            snapshot = table.current_snapshot()
            return AppendResult(
                name, batch_id, data.num_rows, snapshot.snapshot_id if snapshot else None, attempt
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def append_batch(
        self,
        tables: Mapping[str, pa.Table],
        *,
        batch_id: str,
        batch_index: int,
        seed: int,
    ) -> list[AppendResult]:
        """Append each table of one batch, in the given order (orders last)."""
        stamp = utc_now()
        return [
            self.append(
                name,
                data,
                batch_id=batch_id,
                batch_index=batch_index,
                seed=seed,
                ingested_at=stamp,
            )
            for name, data in tables.items()
        ]

    def read(self, name: str, **scan: Any) -> pa.Table:
        """The whole raw table ``name`` (or a filtered scan) as Arrow."""
        return self.ensure_table(name).scan(**scan).to_arrow()


def _can_write_day_partitions() -> bool:
    """pyiceberg writes transformed partitions only with its Rust core (pyiceberg-core)."""
    import importlib.util

    return importlib.util.find_spec("pyiceberg_core") is not None


def _sqlite_locked() -> type[Exception]:
    """SQLAlchemy's OperationalError (SQLite 'database is locked' under concurrent writers)."""
    try:
        from sqlalchemy.exc import OperationalError
    except ImportError:  # REST catalogs do not need SQLAlchemy
        return CommitConflictNever
    return OperationalError


class CommitConflictNever(Exception):
    """Stands in for SQLAlchemy's error class when SQLAlchemy is not installed."""
