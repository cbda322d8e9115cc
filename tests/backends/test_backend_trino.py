"""Trino: the real Trino 483 of ``tests/trino/shared.py`` (the ``trino`` fixture: loopback,
https with a certificate generated at start, password authentication, a 1 GB heap), the
preflight check of a ``trino`` compute section against it, then the demo's raw tables loaded
into its ``memory`` catalog and ``dbt build`` with the ``trino`` target of demo/profiles.yml
(dbt-trino, method ``ldap`` = a password over https, ``TRINO_CA_BUNDLE`` = the server's CA).
The marts must equal the independent computation exactly, as on every other backend.

The memory connector keeps tables in the coordinator's heap and supports what dbt-trino
issues (CREATE SCHEMA, CREATE TABLE AS, INSERT, CREATE OR REPLACE VIEW, ALTER TABLE RENAME,
DROP); it is not Iceberg: that catalog is the production one and is not assembled here.

With an environment selected (``FLOE_ENV``, ``FLOE_CONFIG``), the ``*_environment`` tests run
the same two steps against that environment's ``type: trino`` compute section; its raw
tables must already be in schema ``raw`` of the section's catalog (the demo pipeline puts
them there). Run alone by ``tox -e trino``; the normal suite runs it too.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from floe_checks.config import TrinoCompute
from floe_checks.preflight.runner import DEFAULT_SLOW_MS
from floe_checks.results import Report
from floe_checks.servers.trino import TrinoServer
from floe_checks.session import selected_environment
from tests.backends.demo_build import (
    DEMO_DIR,
    FLOE,
    TABLES,
    Lake,
    check_marts,
    run_dbt,
    run_preflight,
)
from tests.trino.shared import connect

CATALOG = "memory"
NO_ENV = (
    "FLOE_ENV is not set: this test runs only against a real environment (set FLOE_ENV, and "
    "FLOE_CONFIG, to one whose compute is type: trino); test_preflight_trino and "
    "test_dbt_build_trino run the same steps on the local Trino"
)
NO_ADAPTER = "dbt-trino is not installed in this venv: `pip install -e '.[demo]'` or `tox -e trino`"


def _query(trino: TrinoServer, sql: str) -> list[tuple[Any, ...]]:
    conn = connect(trino, catalog=CATALOG)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(row) for row in cur.fetchall()]
    finally:
        conn.close()


def sql_literal(value: object) -> str:
    """``value`` (as pyarrow's ``to_pylist`` gives the raw tables' cells) as a Trino literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return f"DECIMAL '{value}'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ', timespec='microseconds')}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no Trino literal for {type(value).__name__} {value!r}")


@pytest.fixture(scope="module")
def trino_raw(trino: TrinoServer, small_lake: Lake) -> TrinoServer:
    """Schema ``raw`` of the memory catalog holding every raw table of the lake, each written
    with one INSERT of literal rows (a prepared INSERT per row takes a round trip each)."""
    from floe_demo.publish import sql_type

    _query(trino, "CREATE SCHEMA IF NOT EXISTS raw")
    for name in TABLES:
        data = small_lake.raw[name]
        columns = ", ".join(f"{f.name} {sql_type(f.type, 'trino')}" for f in data.schema)
        _query(trino, f"DROP TABLE IF EXISTS raw.{name}")
        _query(trino, f"CREATE TABLE raw.{name} ({columns})")
        rows = ", ".join(
            "(" + ", ".join(sql_literal(v) for v in row.values()) + ")" for row in data.to_pylist()
        )
        assert _query(trino, f"INSERT INTO raw.{name} VALUES {rows}") == [(data.num_rows,)]
    return trino


@pytest.mark.requirement("007-FR-015", "007-FR-016", "SC-007")
def test_preflight_trino(trino: TrinoServer, tmp_path: Path) -> None:
    """``floe preflight --check-compute`` on a floe.yaml for the local server: https with its
    CA as ``ca_bundle``, the password from a variable."""
    assert trino.security is not None
    # The first query of a fresh JVM takes seconds (classes load, C1 compiles): warm it, so the
    # check measures a round trip, not the server's start.
    assert _query(trino, "SELECT 1") == [(1,)]
    report = run_preflight(
        tmp_path,
        "backend-trino",
        {
            "compute": {
                "type": "trino",
                "host": trino.host,
                "port": trino.client_port,
                "user": trino.security.user,
                "password": "${TRINO_PASSWORD}",
                "http_scheme": "https",
                "ca_bundle": str(trino.ca_bundle),
                "catalog": "tpch",
                "schema": "tiny",
            }
        },
        {"TRINO_PASSWORD": trino.security.password.get_secret_value()},
        args=["--check-compute"],
    )
    [check] = report.checks
    # over DEFAULT_SLOW_MS (1 s) the same answer is a warning: possible on a loaded machine
    slow = check.duration_ms > DEFAULT_SLOW_MS
    assert (check.service, check.backend, check.status, check.message) == (
        "compute",
        "trino",
        "warning" if slow else "ok",
        f"SELECT 1 ok on Trino at https://127.0.0.1:{trino.client_port} as "
        f"'{trino.security.user}'.",
    )
    assert (check.details["endpoint"], check.details["auth"]) == (trino.url, "password")
    assert report.overall_status == "pass"


def _dbt_env(trino: TrinoServer) -> dict[str, str]:
    """The ``trino`` target's variables for the local server (password, its CA)."""
    security = trino.security
    assert security is not None
    return {
        "TRINO_AUTH_METHOD": "ldap",
        "TRINO_HOST": trino.host,
        "TRINO_PORT": str(trino.client_port),
        "TRINO_USER": security.user,
        "TRINO_PASSWORD": security.password.get_secret_value(),
        "TRINO_CATALOG": CATALOG,
        "TRINO_CA_BUNDLE": str(trino.ca_bundle),
        "FLOE_WAREHOUSE_SCHEMA": "analytics",
        "FLOE_DEMO_NAMESPACE": "raw",
        # requests lets these replace the profile's cert (psf/requests#3829; our machines set
        # both to the system bundle): empty, so the profile's TRINO_CA_BUNDLE is what trusts
        # the server
        "REQUESTS_CA_BUNDLE": "",
        "CURL_CA_BUNDLE": "",
    }


@pytest.mark.requirement("007-FR-027c")
def test_dbt_trino_verifies_the_certificate(trino: TrinoServer, tmp_path: Path) -> None:
    """Without TRINO_CA_BUNDLE the profile verifies against the system's CAs, which do not
    trust the server's self-signed certificate. (dbt-trino's own default, ``cert`` unset,
    sends the password without verifying the certificate at all.)"""
    if importlib.util.find_spec("dbt.adapters.trino") is None:
        pytest.skip(NO_ADAPTER)
    env = {**_dbt_env(trino), "TRINO_CA_BUNDLE": "True"}
    with pytest.raises(AssertionError, match="CERTIFICATE_VERIFY_FAILED"):
        run_dbt(
            ["show", "--inline", "select 1 as one"],
            profiles_dir=DEMO_DIR,
            target="trino",
            work_dir=tmp_path,
            env=env,
        )


@pytest.mark.requirement("007-FR-027c", "SC-007")
def test_dbt_build_trino(trino_raw: TrinoServer, small_lake: Lake, tmp_path: Path) -> None:
    if importlib.util.find_spec("dbt.adapters.trino") is None:
        pytest.skip(NO_ADAPTER)
    env = _dbt_env(trino_raw)
    output = run_dbt(["build"], profiles_dir=DEMO_DIR, target="trino", work_dir=tmp_path, env=env)
    assert "Completed successfully" in output
    check_marts(lambda sql: _query(trino_raw, sql), small_lake.raw)


def _environment(config: pytest.Config) -> tuple[str, TrinoCompute]:
    env = selected_environment(config)
    if env is None:
        pytest.skip(NO_ENV)
    compute = env.compute
    if not isinstance(compute, TrinoCompute):
        kind = "none" if compute is None else compute.type
        pytest.skip(f"environment {env.name!r} has compute type {kind}, not trino")
    return env.name, compute


@pytest.mark.evidence("environment")
@pytest.mark.requirement("007-FR-015", "007-FR-016", "SC-007")
def test_preflight_trino_environment(request: pytest.FixtureRequest) -> None:
    name, _ = _environment(request.config)
    argv = [str(FLOE), "preflight", "--env", name, "--check-compute", "--json"]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ)
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report = Report.model_validate_json(done.stdout)
    assert [(c.service, c.backend, c.status) for c in report.checks] == [("compute", "trino", "ok")]


@pytest.mark.evidence("environment")
@pytest.mark.requirement("007-FR-027c", "SC-007")
def test_dbt_build_trino_environment(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _, compute = _environment(request.config)
    if importlib.util.find_spec("dbt.adapters.trino") is None:
        pytest.skip(NO_ADAPTER)
    if not compute.catalog:
        pytest.skip(f"{compute.field_path('catalog')} is not set: dbt needs the catalog")
    password = compute.password.get_secret_value() if compute.password else ""
    env = {
        "TRINO_HOST": compute.host,
        "TRINO_PORT": str(compute.port),
        "TRINO_USER": compute.user,
        "TRINO_PASSWORD": password,
        "TRINO_CATALOG": compute.catalog,
        "TRINO_AUTH_METHOD": "ldap" if password else "none",
    }
    if compute.ca_bundle:
        env["TRINO_CA_BUNDLE"] = compute.ca_bundle
    elif not compute.verify:
        env["TRINO_CA_BUNDLE"] = "False"  # the profile's cert: False = no verification
    output = run_dbt(["build"], profiles_dir=DEMO_DIR, target="trino", work_dir=tmp_path, env=env)
    assert "Completed successfully" in output
