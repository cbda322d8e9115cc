"""Probes: one plain-Python module per backend, no pytest import.

Each module ``floe_checks/probes/<backend>.py`` exposes:

* ``SERVICE``: the :class:`~floe_checks.results.Service` it checks;
* ``check(section, timeout) -> dict[str, object]``: performs the real, authenticated operation
  through the backend's own client, honouring ``timeout`` through that client's connect/read
  settings. It returns details for the report (never secrets; ``"message"`` is the one-line
  success summary, an optional ``"warnings"`` list turns the status into ``warning``) and
  raises a :class:`~floe_checks.errors.CheckFailure` built with
  :func:`floe_checks.failures.failure` on failure.

Modules are imported lazily (:func:`load_probe`) so that importing the plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

from floe_checks.results import Service


class Probe(Protocol):
    """What every probe module provides (see the module docstring)."""

    SERVICE: Service

    def check(self, section: Any, timeout: float) -> dict[str, object]:
        """Perform the real operation; raise :class:`~floe_checks.errors.CheckFailure`."""
        ...


# (floe.yaml section, its ``type``) -> probe module. Sections without a ``type`` use their name.
PROBES: dict[tuple[str, str], str] = {
    ("compute", "trino"): "floe_checks.probes.trino",
    ("compute", "snowflake"): "floe_checks.probes.snowflake",
    ("compute", "bigquery"): "floe_checks.probes.bigquery",
    ("compute", "duckdb"): "floe_checks.probes.duckdb",
    ("storage", "s3"): "floe_checks.probes.s3",
    ("storage", "gcs"): "floe_checks.probes.gcs",
    ("storage", "adls"): "floe_checks.probes.adls",
    ("catalog", "polaris"): "floe_checks.probes.catalog",
    ("catalog", "iceberg-rest"): "floe_checks.probes.catalog",
    ("postgres", "postgres"): "floe_checks.probes.postgres",
    ("cube", "cube"): "floe_checks.probes.cube",
    ("dagster", "dagster"): "floe_checks.probes.dagster",
}

# Backend -> the floe-checks extra that installs its client (``pip install 'floe-checks[s3]'``).
# Backends spoken over plain HTTP (catalog, cube, dagster) need only the core dependencies.
EXTRAS: dict[str, str] = {
    "trino": "trino",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "duckdb": "duckdb",
    "s3": "s3",
    "gcs": "gcs",
    "adls": "adls",
    "postgres": "postgres",
}

# Backend -> the client modules its probe imports. The runner imports them before it starts
# the clock, so that a slow import (a cloud SDK takes a second) is not reported as a slow answer.
CLIENT_MODULES: dict[str, tuple[str, ...]] = {
    "trino": ("trino.dbapi",),
    "snowflake": ("snowflake.connector",),
    "bigquery": ("google.cloud.bigquery",),
    "duckdb": ("duckdb",),
    "s3": ("boto3", "botocore.config"),
    "gcs": ("google.cloud.storage",),
    "adls": ("azure.storage.blob",),
    "postgres": ("psycopg2",),
    "polaris": ("requests",),
    "iceberg-rest": ("requests",),
    "cube": ("requests",),
    "dagster": ("requests",),
}


def backend_of(service: str, section: object) -> str:
    """The backend name of a section: its ``type`` when it has one, else the section name."""
    kind = getattr(section, "type", None)
    return str(kind) if kind else service


def load_probe(service: str, backend: str) -> Probe:
    """Import the probe module of ``(service, backend)``.

    Raises:
        KeyError: no probe is registered for that pair.
    """
    # a module satisfies the protocol structurally; tests/preflight checks every registered one
    return cast(Probe, importlib.import_module(PROBES[(service, backend)]))
