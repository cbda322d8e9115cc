"""The demo's settings, read once from environment variables.

The variable names are a contract with the end-to-end helper, the charts and docs/demo.md:
rename none of them. Every path is resolved to an absolute one here, so a dbt subprocess or a
Dagster run worker started elsewhere sees the same catalog (see :meth:`DemoSettings.dbt_env`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from floe_checks.errors import FloeError

CatalogType = Literal["sql", "rest"]
Rate = Literal["burst", "realistic"]
DbtTarget = Literal["duckdb", "postgres", "trino", "snowflake", "bigquery"]

CATALOG_NAME = "floe"  # the pyiceberg catalog name, also in demo/profiles.yml
DEMO_DIR = Path(__file__).resolve().parent.parent  # demo/: the dbt project and the Cube model


class SettingsError(FloeError, ValueError):
    """A FLOE_DEMO_* (or related) environment variable holds a value the demo cannot use.

    A :class:`~floe_checks.errors.FloeError` (the demo ships with floe-checks, in one
    distribution and one image), and still a ValueError for callers that catch that.
    """

    remediation = "set the variable the message names as docs/demo.md describes, or unset it"


class DemoSettings(BaseModel):
    """Everything the demo pipeline is configured by. Build it with :meth:`from_env`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Field(description="FLOE_DEMO_HOME: local state (catalog, warehouse, duckdb)")
    catalog_type: CatalogType = "sql"
    catalog_uri: str
    warehouse: str
    catalog_properties: dict[str, str] = Field(default_factory=dict)
    polaris_uri: str | None = None
    polaris_client_id: str | None = None
    polaris_client_secret: SecretStr | None = None
    polaris_warehouse: str | None = None
    polaris_scope: str = "PRINCIPAL_ROLE:ALL"
    polaris_oauth2_server_uri: str | None = None
    namespace: str = "raw"
    seed: int = 42
    batch_orders: int = Field(200, ge=1)
    customers_per_batch: int = Field(25, ge=1)
    products: int = Field(60, ge=1)
    rate: Rate = "burst"
    window_minutes: float = Field(5.0, gt=0)
    schedule: str = "*/5 * * * *"
    null_rate: float = Field(0.02, ge=0, le=1)
    duplicate_rate: float = Field(0.01, ge=0, le=1)
    late_rate: float = Field(0.05, ge=0, le=1)
    late_days: float = Field(7.0, gt=0)
    dbt_target: DbtTarget = "duckdb"
    dbt_project_dir: Path = DEMO_DIR
    warehouse_host: str = "127.0.0.1"
    warehouse_port: int = 5432
    warehouse_user: str = "postgres"
    warehouse_password: SecretStr = SecretStr("")
    warehouse_db: str = "postgres"
    warehouse_schema: str = "analytics"
    openlineage_url: str | None = None
    openlineage_file: Path | None = None
    otel_endpoint: str | None = None
    otel_file: Path | None = None

    @field_validator("schedule")
    @classmethod
    def _five_field_cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a five-field cron expression")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DemoSettings:
        """Read the settings from ``environ`` (default ``os.environ``).

        Raises:
            SettingsError: a variable is set to something unusable; the message names it.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        home = Path(get("FLOE_DEMO_HOME") or ".floe-demo").expanduser().resolve()
        raw: dict[str, object] = {
            "home": home,
            "catalog_uri": get("FLOE_DEMO_CATALOG_URI") or f"sqlite:///{home}/catalog.db",
            "warehouse": get("FLOE_DEMO_WAREHOUSE") or f"file://{home}/warehouse",
        }
        names = {
            "catalog_type": "FLOE_DEMO_CATALOG_TYPE",
            "polaris_uri": "POLARIS_URI",
            "polaris_client_id": "POLARIS_CLIENT_ID",
            "polaris_client_secret": "POLARIS_CLIENT_SECRET",
            "polaris_warehouse": "POLARIS_WAREHOUSE",
            "polaris_scope": "POLARIS_SCOPE",
            "polaris_oauth2_server_uri": "POLARIS_OAUTH2_SERVER_URI",
            "namespace": "FLOE_DEMO_NAMESPACE",
            "seed": "FLOE_DEMO_SEED",
            "batch_orders": "FLOE_DEMO_BATCH_ORDERS",
            "customers_per_batch": "FLOE_DEMO_BATCH_CUSTOMERS",
            "products": "FLOE_DEMO_PRODUCTS",
            "rate": "FLOE_DEMO_RATE",
            "window_minutes": "FLOE_DEMO_WINDOW_MINUTES",
            "schedule": "FLOE_DEMO_SCHEDULE",
            "null_rate": "FLOE_DEMO_NULL_RATE",
            "duplicate_rate": "FLOE_DEMO_DUPLICATE_RATE",
            "late_rate": "FLOE_DEMO_LATE_RATE",
            "late_days": "FLOE_DEMO_LATE_DAYS",
            "dbt_target": "FLOE_DEMO_DBT_TARGET",
            "dbt_project_dir": "FLOE_DEMO_DBT_PROJECT_DIR",
            "warehouse_host": "FLOE_WAREHOUSE_HOST",
            "warehouse_port": "FLOE_WAREHOUSE_PORT",
            "warehouse_user": "FLOE_WAREHOUSE_USER",
            "warehouse_password": "FLOE_WAREHOUSE_PASSWORD",
            "warehouse_db": "FLOE_WAREHOUSE_DB",
            "warehouse_schema": "FLOE_WAREHOUSE_SCHEMA",
            "openlineage_url": "OPENLINEAGE_URL",
            "openlineage_file": "FLOE_DEMO_OPENLINEAGE_FILE",
            "otel_endpoint": "OTEL_EXPORTER_OTLP_ENDPOINT",
            "otel_file": "FLOE_DEMO_OTEL_FILE",
        }
        for field, var in names.items():
            value = get(var)
            if value is not None:
                raw[field] = value
        props = get("FLOE_DEMO_CATALOG_PROPERTIES")
        if props is not None:
            try:
                parsed = json.loads(props)
            except json.JSONDecodeError as exc:
                raise SettingsError(
                    f"FLOE_DEMO_CATALOG_PROPERTIES is not a JSON object: {exc}"
                ) from None
            if not isinstance(parsed, dict):
                raise SettingsError("FLOE_DEMO_CATALOG_PROPERTIES must be a JSON object")
            raw["catalog_properties"] = {str(k): str(v) for k, v in parsed.items()}
        try:
            settings = cls.model_validate(raw)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else "?"
                var = names.get(field, field)
                problems.append(f"{var}: {err['msg']}")
            raise SettingsError("invalid demo settings: " + "; ".join(problems)) from None
        if settings.catalog_type == "rest":
            missing = [
                var
                for var, value in (
                    ("POLARIS_URI", settings.polaris_uri),
                    ("POLARIS_CLIENT_ID", settings.polaris_client_id),
                    ("POLARIS_CLIENT_SECRET", settings.polaris_client_secret),
                )
                if not value
            ]
            if missing:
                raise SettingsError(
                    "FLOE_DEMO_CATALOG_TYPE=rest needs " + ", ".join(missing) + " to be set"
                )
        return settings

    # -- derived values -------------------------------------------------------------------

    @property
    def duckdb_path(self) -> Path:
        """The DuckDB database file of the ``duckdb`` dbt target."""
        return self.home / "demo.duckdb"

    @property
    def dbt_target_path(self) -> Path:
        """Where dbt writes manifest.json and run artifacts (outside the source tree)."""
        return self.home / "dbt" / self.dbt_target / "target"

    def iceberg_properties(self) -> dict[str, str]:
        """pyiceberg catalog properties (``load_catalog(name, **props)``); contains secrets."""
        if self.catalog_type == "rest":
            assert self.polaris_client_secret is not None  # checked in from_env
            props = {
                "type": "rest",
                "uri": str(self.polaris_uri),
                "credential": (
                    f"{self.polaris_client_id}:{self.polaris_client_secret.get_secret_value()}"
                ),
                "scope": self.polaris_scope,
                "oauth2-server-uri": self.oauth2_server_uri,
            }
            if self.polaris_warehouse:
                props["warehouse"] = self.polaris_warehouse
        else:
            props = {"type": "sql", "uri": self.catalog_uri, "warehouse": self.warehouse}
        return {**props, **self.catalog_properties}

    @property
    def oauth2_server_uri(self) -> str:
        """The OAuth2 token endpoint: POLARIS_OAUTH2_SERVER_URI, else the catalog's own."""
        if self.polaris_oauth2_server_uri:
            return self.polaris_oauth2_server_uri
        return f"{str(self.polaris_uri).rstrip('/')}/v1/oauth/tokens"

    def warehouse_dsn(self) -> str:
        """libpq connection string of the Postgres warehouse (contains the password)."""
        return (
            f"host={self.warehouse_host} port={self.warehouse_port} "
            f"user={self.warehouse_user} dbname={self.warehouse_db} "
            f"password={self.warehouse_password.get_secret_value()}"
        )

    def dbt_env(self) -> dict[str, str]:
        """The environment variables that demo/profiles.yml reads, fully resolved.

        Set them for every dbt invocation so dbt and the loader agree on the catalog even
        when the defaults were used.
        """
        env = {
            "FLOE_DEMO_HOME": str(self.home),
            "FLOE_DEMO_CATALOG_TYPE": self.catalog_type,
            "FLOE_DEMO_CATALOG_URI": (
                str(self.polaris_uri) if self.catalog_type == "rest" else self.catalog_uri
            ),
            "FLOE_DEMO_WAREHOUSE": (
                self.polaris_warehouse or "" if self.catalog_type == "rest" else self.warehouse
            ),
            "FLOE_DEMO_NAMESPACE": self.namespace,
            "FLOE_DEMO_DUCKDB_PATH": str(self.duckdb_path),
            "FLOE_WAREHOUSE_HOST": self.warehouse_host,
            "FLOE_WAREHOUSE_PORT": str(self.warehouse_port),
            "FLOE_WAREHOUSE_USER": self.warehouse_user,
            "FLOE_WAREHOUSE_PASSWORD": self.warehouse_password.get_secret_value(),
            "FLOE_WAREHOUSE_DB": self.warehouse_db,
            "FLOE_WAREHOUSE_SCHEMA": self.warehouse_schema,
        }
        if self.catalog_type == "rest":
            assert self.polaris_client_secret is not None
            env["POLARIS_CLIENT_ID"] = str(self.polaris_client_id)
            env["POLARIS_CLIENT_SECRET"] = self.polaris_client_secret.get_secret_value()
            env["POLARIS_SCOPE"] = self.polaris_scope
            env["POLARIS_OAUTH2_SERVER_URI"] = self.oauth2_server_uri
        # Extra catalog properties (S3/GCS endpoints, keys) reach dbt-duckdb's iceberg plugin
        # through pyiceberg's own PYICEBERG_CATALOG__<name>__<property> variables.
        for key, value in self.catalog_properties.items():
            var = key.replace(".", "__").replace("-", "_").upper()
            env[f"PYICEBERG_CATALOG__{CATALOG_NAME.upper()}__{var}"] = value
        return env
