"""BigQuery against bqemulator (tests/preflight/cloud_emulators.py: the BigQuery REST API over
DuckDB, loopback, started and stopped by PID): the demo's raw tables loaded with
google-cloud-bigquery (streaming inserts), the preflight check of a ``bigquery`` compute
section, then ``dbt build`` with dbt-bigquery (installed by ``tox -e bigquery``; the project's
own venv does not carry it), its ``api_endpoint`` pointed at the emulator.

What bqemulator does not check: credentials. It accepts any token (dbt uses method
``oauth-secrets`` with a throwaway token, so google-auth never looks for cloud metadata). Raw
timestamps are naive UTC, so they are loaded as ``DATETIME``. Run alone by ``tox -e bigquery``.
"""

from __future__ import annotations

import importlib.util
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.backends.demo_build import TABLES, Lake, check_marts, run_dbt, run_preflight
from tests.preflight.cloud_emulators import BQ_PROJECT, Emulator

pytestmark = pytest.mark.evidence("emulator")


NO_ADAPTER = (
    "dbt-bigquery is not installed in this venv (it is not a project extra): "
    "`tox -e bigquery` installs it and runs this test"
)


@dataclass(frozen=True)
class Warehouse:
    """bqemulator holding the lake's raw tables in dataset ``raw`` of :data:`BQ_PROJECT`."""

    url: str

    def client(self) -> Any:
        """An anonymous google-cloud-bigquery client of the emulator."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=BQ_PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.url},
        )

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        client = self.client()
        try:
            return [tuple(row.values()) for row in client.query(sql).result()]
        finally:
            client.close()


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)  # Decimal and datetime as BigQuery's canonical text


@pytest.fixture(scope="module")
def warehouse(bigquery_server: Emulator, small_lake: Lake) -> Warehouse:
    """Create dataset ``raw`` and stream every raw table of the lake into it."""
    from google.cloud import bigquery

    result = Warehouse(bigquery_server.url)
    from floe_demo.publish import sql_type  # pyarrow: collected without the demo extra too

    client = result.client()
    try:
        client.create_dataset("raw", exists_ok=True)
        for name in TABLES:
            data = small_lake.raw[name]
            schema = [
                bigquery.SchemaField(f.name, sql_type(f.type, "bigquery")) for f in data.schema
            ]
            table = client.create_table(
                bigquery.Table(f"{BQ_PROJECT}.raw.{name}", schema=schema), exists_ok=True
            )
            rows = [{k: _json_value(v) for k, v in row.items()} for row in data.to_pylist()]
            assert client.insert_rows_json(table, rows) == []
    finally:
        client.close()
    return result


@pytest.mark.requirement("007-FR-015", "007-FR-016", "SC-007")
def test_preflight_bigquery(warehouse: Warehouse, tmp_path: Path) -> None:
    report = run_preflight(
        tmp_path,
        "backend-bigquery",
        {
            "compute": {
                "type": "bigquery",
                "project": BQ_PROJECT,
                "anonymous": True,
                "api_endpoint": warehouse.url,
            }
        },
        {},
    )
    assert [(c.service, c.backend, c.status) for c in report.checks] == [
        ("compute", "bigquery", "ok")
    ]
    assert report.overall_status == "pass"


@pytest.mark.requirement("007-FR-027c", "SC-007")
def test_dbt_build_bigquery(
    warehouse: Warehouse, small_lake: Lake, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if importlib.util.find_spec("dbt.adapters.bigquery") is None:
        pytest.skip(NO_ADAPTER)
    work = tmp_path_factory.mktemp("dbt-bigquery")
    (work / "profiles.yml").write_text(
        "floe_demo:\n"
        "  target: bigquery\n"
        "  outputs:\n"
        "    bigquery:\n"
        "      type: bigquery\n"
        "      method: oauth-secrets\n"
        "      token: \"{{ env_var('BIGQUERY_TOKEN') }}\"\n"
        f"      project: {BQ_PROJECT}\n"
        "      dataset: analytics\n"
        f"      api_endpoint: {warehouse.url}\n"
        "      location: US\n"
        "      job_retries: 0\n"
        "      threads: 2\n",
        encoding="utf-8",
    )
    output = run_dbt(
        ["build"],
        profiles_dir=work,
        target="bigquery",
        work_dir=work,
        env={"BIGQUERY_TOKEN": secrets.token_urlsafe(18)},
    )
    assert "Completed successfully" in output
    check_marts(warehouse.query, small_lake.raw)
