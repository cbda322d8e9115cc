"""What the backend test modules share: a small demo lake, ``floe preflight`` run as users run
it, and the check that dbt's marts equal the independent computation of
:mod:`tests.demo.expected_marts`.

Every backend gets the same generated batches, so their marts must agree row for row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from floe_checks.results import Report

FLOE = Path(sys.executable).parent / "floe"
DBT = Path(sys.executable).parent / "dbt"
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
TABLES = ("products", "customers", "order_items", "orders")
BATCHES = 2
LAKE_ENV = {
    "FLOE_DEMO_SEED": "11",
    "FLOE_DEMO_BATCH_ORDERS": "40",
    "FLOE_DEMO_BATCH_CUSTOMERS": "8",
    "FLOE_DEMO_PRODUCTS": "12",
    # Defects well above the defaults, so the dedupe and coalesce rules run on every backend.
    "FLOE_DEMO_NULL_RATE": "0.1",
    "FLOE_DEMO_DUPLICATE_RATE": "0.08",
    "FLOE_DEMO_LATE_RATE": "0.2",
}
CENT = Decimal("0.01")

Query = Callable[[str], list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Lake:
    """A temp Iceberg lake: ``env`` selects it (FLOE_DEMO_HOME and the generator settings),
    ``raw`` holds its tables as appended (duplicates included), as Arrow tables."""

    root: Path
    env: dict[str, str]
    raw: dict[str, Any]

    def settings(self, **env: str) -> Any:
        """:class:`floe_demo.settings.DemoSettings` of this lake plus ``env``."""
        from floe_demo.settings import DemoSettings

        return DemoSettings.from_env({**self.env, **env})


def make_lake(root: Path) -> Lake:
    """Generate :data:`BATCHES` batches into a new SQLite Iceberg catalog under ``root``."""
    from floe_demo.generators import generate_batch, plan_batch
    from floe_demo.iceberg_loader import IcebergLoader
    from floe_demo.pipeline import ecommerce_config
    from floe_demo.settings import DemoSettings

    env = {"FLOE_DEMO_HOME": str(root / "home"), **LAKE_ENV}
    settings = DemoSettings.from_env(env)
    loader = IcebergLoader.from_settings(settings)
    config = ecommerce_config(settings)
    for index in range(BATCHES):
        spec = plan_batch(config.seed, index, batch_orders=settings.batch_orders)
        batch = generate_batch(config, spec)
        loader.append_batch(
            batch.tables(), batch_id=spec.batch_id, batch_index=index, seed=config.seed
        )
    return Lake(root, env, {name: loader.read(name) for name in TABLES})


def run_preflight(
    directory: Path,
    name: str,
    sections: Mapping[str, Any],
    secrets: Mapping[str, str],
    args: Sequence[str] = (),
) -> Report:
    """Write a floe.yaml with environment ``name`` and run ``floe preflight --json`` on it,
    with ``args`` (e.g. ``--check-compute``) after the options.

    Secrets go to the subprocess as environment variables only (the file says ``${VAR}``).
    Asserts exit 0 and that no secret value appears in the output; returns the report.
    """
    config = directory / "floe.yaml"
    config.write_text(json.dumps({"environments": {name: dict(sections)}}), encoding="utf-8")
    done = subprocess.run(
        [str(FLOE), "preflight", "--env", name, "--config", str(config), "--json", *args],
        env={**os.environ, **secrets},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    for variable, value in secrets.items():
        assert value not in done.stdout + done.stderr, f"${variable} leaked into the output"
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return Report.model_validate_json(done.stdout)


def run_dbt(
    args: list[str], *, profiles_dir: Path, target: str, work_dir: Path, env: Mapping[str, str]
) -> str:
    """``dbt <args>`` on the demo project with ``profiles_dir``; target and logs under
    ``work_dir``. Returns stdout; raises AssertionError with dbt's tail when it fails."""
    argv = [
        str(DBT),
        *args,
        "--project-dir",
        str(DEMO_DIR),
        "--profiles-dir",
        str(profiles_dir),
        "--target",
        target,
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    done = subprocess.run(
        argv,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise AssertionError(f"dbt {' '.join(args)} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


def expected_orders(raw: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """mart_orders computed without dbt: order_id → (customer, region, status, total, items,
    units)."""
    from tests.demo.expected_marts import compute

    marts = compute(dict(raw))
    return {
        oid: (
            o["customer_id"],
            o["region"],
            o["status"],
            _money(o["total_amount"]),
            int(o["item_count"]),
            int(o["units"]),
        )
        for oid, o in marts.orders.items()
    }


def expected_segments(raw: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    """mart_customer_segments without dbt: customer_id → (order count, segment)."""
    from tests.demo.expected_marts import compute

    marts = compute(dict(raw))
    return {
        cid: (int(s["order_count"]), s["segment"]) for cid, s in marts.customer_segments.items()
    }


def check_marts(query: Query, raw: Mapping[str, Any]) -> None:
    """The raw copies hold every appended row and the marts equal the independent ones."""
    for name in TABLES:
        assert query(f"select count(*) from raw.{name}") == [(raw[name].num_rows,)], name
    orders = query(
        "select order_id, customer_id, region, status, total_amount, item_count, units"
        " from analytics.mart_orders"
    )
    got = {r[0]: (r[1], r[2], r[3], _money(r[4]), int(r[5]), int(r[6])) for r in orders}
    assert len(orders) == len(got)  # one row per order
    assert got == expected_orders(raw)
    segments = query(
        "select customer_id, order_count, segment from analytics.mart_customer_segments"
    )
    assert {r[0]: (int(r[1]), r[2]) for r in segments} == expected_segments(raw)
