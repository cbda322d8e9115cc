"""Copy the raw Iceberg tables into Postgres, where dbt-postgres builds the marts Cube reads.

Cube 0.33 (the version that runs locally) has no DuckDB driver, so for
``FLOE_DEMO_DBT_TARGET=postgres`` the raw layer is mirrored into Postgres schema
``FLOE_DEMO_NAMESPACE`` (``raw``), **incrementally by batch id**:

* the batches in the lake are read from Iceberg snapshot summaries (metadata only);
* the batches already in Postgres are listed in ``raw._floe_published_batches``;
* the missing ones are scanned from Iceberg with ``_batch_id IN (...)`` (each data file
  holds one batch, so the scan prunes to exactly those files) and ``COPY``-ed in;
* all of it in one transaction under an advisory lock, so two publishers never copy a batch
  twice and a failed publish leaves nothing half-done.

Iceberg stays the system of record: the Postgres copy can be dropped and rebuilt at any time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from floe_demo.generators import ecommerce
from floe_demo.iceberg_loader import BATCH_ID, IcebergLoader, table_schema
from floe_demo.settings import DemoSettings

if TYPE_CHECKING:
    from psycopg2.extensions import cursor as Cursor

BOOKKEEPING = "_floe_published_batches"
_LOCK_KEY = 0x0F10E_DE30  # the one advisory lock all publishers take
ECOMMERCE_TABLES = tuple(ecommerce.SCHEMAS)  # append order: orders last


@dataclass(frozen=True)
class PublishResult:
    """Rows and batches copied into one Postgres raw table by one publish."""

    table: str
    batches: int
    rows: int


# Column types of the raw tables per warehouse dialect: the publish step uses the Postgres
# one; the backend tests load the same tables into Trino and the Snowflake and BigQuery
# emulators.
_SQL_TYPES: dict[str, dict[str, str]] = {
    "postgres": {
        "string": "text", "int32": "integer", "int64": "bigint", "decimal": "numeric({p},{s})",
        "timestamp": "timestamp", "boolean": "boolean", "float64": "double precision",
    },
    "snowflake": {
        "string": "VARCHAR", "int32": "INTEGER", "int64": "INTEGER", "decimal": "NUMBER({p},{s})",
        "timestamp": "TIMESTAMP_NTZ", "boolean": "BOOLEAN", "float64": "FLOAT",
    },
    "trino": {
        "string": "varchar", "int32": "integer", "int64": "bigint", "decimal": "decimal({p},{s})",
        "timestamp": "timestamp(6)",  # the lake's microseconds (Trino's default keeps 3 digits)
        "boolean": "boolean", "float64": "double",
    },
    "bigquery": {
        "string": "STRING", "int32": "INT64", "int64": "INT64", "decimal": "NUMERIC",
        "timestamp": "DATETIME",  # naive UTC, like the lake
        "boolean": "BOOL", "float64": "FLOAT64",
    },
}  # fmt: skip


def _type_family(kind: pa.DataType) -> str | None:
    checks = (
        ("string", pa.types.is_string(kind) or pa.types.is_large_string(kind)),
        ("int32", pa.types.is_int32(kind)),
        ("int64", pa.types.is_int64(kind)),
        ("decimal", pa.types.is_decimal(kind)),
        ("timestamp", pa.types.is_timestamp(kind)),
        ("boolean", pa.types.is_boolean(kind)),
        ("float64", pa.types.is_float64(kind)),
    )
    return next((family for family, matches in checks if matches), None)


def sql_type(kind: pa.DataType, dialect: str = "postgres") -> str:
    """The column type, in ``dialect`` (postgres, trino, snowflake, bigquery), of an Arrow type used
    by the raw tables.

    Raises:
        TypeError: the raw tables use no such Arrow type.
    """
    family = _type_family(kind)
    if family is None:
        raise TypeError(f"no {dialect} type for Arrow {kind}")
    template = _SQL_TYPES[dialect][family]
    if family == "decimal":
        return template.format(p=kind.precision, s=kind.scale)
    return template


def _quote(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def create_table_sql(schema_name: str, table: str) -> str:
    columns = ", ".join(
        f"{_quote(f.name)} {sql_type(f.type)}{'' if f.nullable else ' NOT NULL'}"
        for f in table_schema(table)
    )
    return f"CREATE TABLE IF NOT EXISTS {_quote(schema_name)}.{_quote(table)} ({columns})"


def _copy(cur: Cursor, schema_name: str, table: str, data: pa.Table) -> None:
    """COPY ``data`` into the table as CSV (nulls are unquoted empty fields)."""
    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    pacsv.write_csv(data, buffer, pacsv.WriteOptions(include_header=False))
    buffer.seek(0)
    columns = ", ".join(_quote(name) for name in data.column_names)
    cur.copy_expert(
        f"COPY {_quote(schema_name)}.{_quote(table)} ({columns}) FROM STDIN WITH (FORMAT csv)",
        buffer,
    )


def publish_to_postgres(
    settings: DemoSettings,
    loader: IcebergLoader | None = None,
    tables: tuple[str, ...] = ECOMMERCE_TABLES,
) -> list[PublishResult]:
    """Copy every batch that is in Iceberg but not yet in Postgres; returns what was copied."""
    import psycopg2
    from pyiceberg.expressions import In

    loader = loader or IcebergLoader.from_settings(settings)
    schema_name = settings.namespace
    results = []
    conn = psycopg2.connect(settings.warehouse_dsn(), connect_timeout=10)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema_name)}")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {_quote(schema_name)}.{BOOKKEEPING} ("
                "table_name text NOT NULL, batch_id text NOT NULL, row_count bigint NOT NULL, "
                "published_at timestamptz NOT NULL DEFAULT now(), "
                "PRIMARY KEY (table_name, batch_id))"
            )
            for table in tables:
                cur.execute(create_table_sql(schema_name, table))
                cur.execute(
                    f"SELECT batch_id FROM {_quote(schema_name)}.{BOOKKEEPING} "
                    "WHERE table_name = %s",
                    (table,),
                )
                done = {row[0] for row in cur.fetchall()}
                missing = sorted(loader.batch_ids(table) - done)
                if not missing:
                    results.append(PublishResult(table, 0, 0))
                    continue
                data = loader.read(table, row_filter=In(BATCH_ID, missing))  # type: ignore[misc,call-arg,arg-type]
                data = data.select([f.name for f in table_schema(table)])
                _copy(cur, schema_name, table, data)
                counts = data.group_by(BATCH_ID).aggregate([([], "count_all")]).to_pylist()
                per_batch = {row[BATCH_ID]: row["count_all"] for row in counts}
                cur.executemany(
                    f"INSERT INTO {_quote(schema_name)}.{BOOKKEEPING} "
                    "(table_name, batch_id, row_count) VALUES (%s, %s, %s)",
                    [(table, b, per_batch.get(b, 0)) for b in missing],
                )
                results.append(PublishResult(table, len(missing), data.num_rows))
    finally:
        conn.close()
    return results
