"""Fixtures of the demo tests: settings on temporary folders, a generated lake, Postgres.

* ``make_settings(**env)`` — :class:`DemoSettings` whose FLOE_DEMO_HOME is a fresh temp dir.
* ``lake`` — one temp lake per xdist worker with :data:`LAKE_BATCHES` batches appended (and
  the batches themselves, for independent computations).
* ``postgres_server`` — a throwaway PostgreSQL cluster on a free port, stopped at the end.
* ``iceberg_rest_server`` — SeaweedFS's Iceberg REST catalog with OAuth2 and S3 (the real
  server the preflight tests use; Polaris itself cannot run here).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# floe_demo needs the demo extra (numpy, pyarrow, pyiceberg): without it (the charts CI job)
# the demo tests are skipped at collection instead of breaking it
pytest.importorskip(
    "floe_demo.generators", reason="the demo tests need the demo extra: pip install -e '.[demo]'"
)
from floe_demo.generators import EcommerceBatch, generate_batch, plan_batch
from floe_demo.iceberg_loader import IcebergLoader
from floe_demo.pipeline import ecommerce_config
from floe_demo.settings import DemoSettings

from floe_checks.servers.postgres import PostgresServer, throwaway_postgres
from tests.preflight import local_servers
from tests.preflight.local_servers import IcebergRestServer

LAKE_BATCHES = 3
LAKE_ENV = {
    "FLOE_DEMO_SEED": "7",
    "FLOE_DEMO_BATCH_ORDERS": "150",
    # Few customers per batch, so customers come back and RFM scores spread out.
    "FLOE_DEMO_BATCH_CUSTOMERS": "12",
    # Defects well above the defaults, so every dedupe and coalesce rule is exercised.
    "FLOE_DEMO_NULL_RATE": "0.1",
    "FLOE_DEMO_DUPLICATE_RATE": "0.08",
    "FLOE_DEMO_LATE_RATE": "0.2",
}


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., DemoSettings]:
    """Settings on a fresh FLOE_DEMO_HOME under tmp_path; keyword args are more variables."""
    count = iter(range(1000))

    def make(**env: str) -> DemoSettings:
        home = tmp_path / f"home{next(count)}"
        return DemoSettings.from_env({"FLOE_DEMO_HOME": str(home), **env})

    return make


@dataclass(frozen=True)
class Lake:
    """A temp Iceberg lake holding ``batches`` (appended in order)."""

    root: Path
    env: dict[str, str]
    batches: list[EcommerceBatch]

    def settings(self, **env: str) -> DemoSettings:
        return DemoSettings.from_env({**self.env, **env})


@pytest.fixture(scope="session")
def lake() -> Iterator[Lake]:
    root = Path(tempfile.mkdtemp(prefix="floe-demo-lake-"))
    env = {"FLOE_DEMO_HOME": str(root / "home"), **LAKE_ENV}
    settings = DemoSettings.from_env(env)
    loader = IcebergLoader.from_settings(settings)
    config = ecommerce_config(settings)
    batches = []
    for index in range(LAKE_BATCHES):
        batch = generate_batch(config, plan_batch(config.seed, index, batch_orders=150))
        loader.append_batch(
            batch.tables(), batch_id=batch.spec.batch_id, batch_index=index, seed=config.seed
        )
        batches.append(batch)
    try:
        yield Lake(root, env, batches)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster with scram password auth on a free loopback port."""
    with throwaway_postgres("floe-demo-pg-") as server:
        yield server


@pytest.fixture(scope="session")
def iceberg_rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IcebergRestServer]:
    """SeaweedFS ``weed mini``: S3 plus an Iceberg REST catalog with OAuth2, loopback only."""
    with local_servers.iceberg_rest_server(tmp_path_factory.mktemp("iceberg-rest")) as server:
        yield server
