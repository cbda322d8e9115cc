"""Trino: no server can run here (PLATFORM.md: it needs Java 21+ and a download), so this
module runs against the environment that ``FLOE_ENV`` (and ``FLOE_CONFIG``, default
./floe.yaml) names, and skips saying so when none is selected. With an environment selected,
the plugin also collects the bundled preflight check of every service it configures.

* :func:`test_preflight_trino` — ``floe preflight --check-compute`` on that environment; its
  compute section must be ``type: trino``.
* :func:`test_dbt_build_trino` — ``dbt build`` of the demo with the ``trino`` target of
  demo/profiles.yml, its TRINO_* variables taken from that compute section. The raw tables
  must already be in schema ``raw`` of the section's catalog (the demo pipeline puts them
  there); marts are written to schema ``FLOE_WAREHOUSE_SCHEMA`` (default ``analytics``).

The Trino probe's own checks run against a real, secured Trino 483 in
tests/trino/test_trino_real.py. Run alone by ``tox -e trino``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from floe_checks.config import TrinoCompute
from floe_checks.results import Report
from floe_checks.session import selected_environment
from tests.backends.demo_build import DEMO_DIR, FLOE, run_dbt

pytestmark = pytest.mark.evidence("environment")

NO_ENV = (
    "FLOE_ENV is not set: no Trino server can run on this machine (it needs Java 21+ and a "
    "download), so the trino backend runs only against a real environment; set FLOE_ENV (and "
    "FLOE_CONFIG) to one whose compute is type: trino"
)


def _trino(config: pytest.Config) -> tuple[str, TrinoCompute]:
    env = selected_environment(config)
    if env is None:
        pytest.skip(NO_ENV)
    compute = env.compute
    if not isinstance(compute, TrinoCompute):
        kind = "none" if compute is None else compute.type
        pytest.skip(f"environment {env.name!r} has compute type {kind}, not trino")
    return env.name, compute


@pytest.mark.requirement("007-FR-015", "007-FR-016", "SC-007")
def test_preflight_trino(request: pytest.FixtureRequest) -> None:
    name, _ = _trino(request.config)
    argv = [str(FLOE), "preflight", "--env", name, "--check-compute", "--json"]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ)
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    report = Report.model_validate_json(done.stdout)
    assert [(c.service, c.backend, c.status) for c in report.checks] == [("compute", "trino", "ok")]


@pytest.mark.requirement("007-FR-027c", "SC-007")
def test_dbt_build_trino(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    _, compute = _trino(request.config)
    if importlib.util.find_spec("dbt.adapters.trino") is None:
        pytest.skip("dbt-trino is not installed in this venv: `tox -e trino` installs it")
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
    output = run_dbt(["build"], profiles_dir=DEMO_DIR, target="trino", work_dir=tmp_path, env=env)
    assert "Completed successfully" in output
