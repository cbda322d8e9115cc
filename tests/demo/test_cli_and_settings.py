"""``floe demo generate`` (FR-026a, FR-030) and the FLOE_DEMO_* settings contract."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from floe_demo.iceberg_loader import IcebergLoader
from floe_demo.settings import DemoSettings, SettingsError

from floe_checks.cli import main

pytestmark = pytest.mark.evidence("static")


@pytest.mark.requirement("007-FR-026a", "007-FR-030", "007-FR-028")
def test_floe_demo_generate_appends_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOE_DEMO_HOME", str(home))
    monkeypatch.delenv("FLOE_DEMO_DBT_TARGET", raising=False)
    assert main(["demo", "generate", "--batches", "2", "--rate", "burst", "--orders", "30"]) == 0
    assert main(["demo", "generate", "--batches", "1", "--orders", "30", "--seed", "9"]) == 0
    out = capsys.readouterr().out
    assert "appended batch s42-b000000: products 60, customers 25, order_items " in out
    assert "appended batch s42-b000001: products 0, customers 25," in out
    assert "appended batch s9-b000000:" in out

    loader = IcebergLoader.from_settings(DemoSettings.from_env({"FLOE_DEMO_HOME": str(home)}))
    orders = loader.read("orders")
    per_batch = orders.group_by("_batch_id").aggregate([("order_id", "count_distinct")])
    assert {r["_batch_id"]: r["order_id_count_distinct"] for r in per_batch.to_pylist()} == {
        "s42-b000000": 30,
        "s42-b000001": 30,
        "s9-b000000": 30,
    }
    lines = [line for line in out.splitlines() if line.startswith("appended batch s")]
    printed = sum(int(line.split("orders ")[-1].split(" ")[0]) for line in lines)
    assert printed == orders.num_rows  # what it printed is what is in the lake


@pytest.mark.requirement("007-FR-030")
def test_floe_demo_generate_realistic_windows_end_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("FLOE_DEMO_HOME", str(home))
    monkeypatch.setenv("FLOE_DEMO_LATE_RATE", "0")
    assert main(["demo", "generate", "--batches", "3", "--rate", "realistic"]) == 0
    loader = IcebergLoader.from_settings(DemoSettings.from_env({"FLOE_DEMO_HOME": str(home)}))
    orders = loader.read("orders").to_pylist()
    windows = sorted({o["_window_start"] for o in orders})
    assert len(windows) == 3
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(windows)] == [
        300.0,
        300.0,
    ]
    for order in orders:
        assert order["_window_start"] <= order["order_date"]
        assert (order["order_date"] - order["_window_start"]).total_seconds() < 300


def test_floe_demo_generate_rejects_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLOE_DEMO_NULL_RATE", "2")
    assert main(["demo", "generate"]) == 2
    assert "FLOE_DEMO_NULL_RATE" in capsys.readouterr().err


def test_settings_defaults_follow_floe_demo_home(tmp_path: Path) -> None:
    settings = DemoSettings.from_env({"FLOE_DEMO_HOME": str(tmp_path)})
    assert settings.catalog_uri == f"sqlite:///{tmp_path}/catalog.db"
    assert settings.warehouse == f"file://{tmp_path}/warehouse"
    assert (settings.namespace, settings.seed, settings.batch_orders) == ("raw", 42, 200)
    assert (settings.rate, settings.schedule, settings.dbt_target) == (
        "burst",
        "*/5 * * * *",
        "duckdb",
    )
    assert (settings.null_rate, settings.duplicate_rate, settings.late_rate) == (
        0.02,
        0.01,
        0.05,
    )
    assert settings.late_days == 7
    assert settings.warehouse_schema == "analytics"


def test_secrets_stay_hidden_and_rest_needs_credentials(tmp_path: Path) -> None:
    env = {
        "FLOE_DEMO_HOME": str(tmp_path),
        "FLOE_DEMO_CATALOG_TYPE": "rest",
        "POLARIS_URI": "http://127.0.0.1:1/api/catalog",
        "POLARIS_CLIENT_ID": "client",
        "POLARIS_CLIENT_SECRET": "s3cr3t-value",  # pragma: allowlist secret
        "FLOE_WAREHOUSE_PASSWORD": "pg-pass-value",  # pragma: allowlist secret
    }
    settings = DemoSettings.from_env(env)
    assert "s3cr3t-value" not in repr(settings)
    assert "pg-pass-value" not in repr(settings)
    assert settings.iceberg_properties()["credential"] == "client:s3cr3t-value"
    assert settings.iceberg_properties()["type"] == "rest"
    missing = {k: v for k, v in env.items() if k != "POLARIS_CLIENT_SECRET"}
    with pytest.raises(SettingsError, match="POLARIS_CLIENT_SECRET"):
        DemoSettings.from_env(missing)
    with pytest.raises(SettingsError, match="FLOE_DEMO_SCHEDULE"):
        DemoSettings.from_env({"FLOE_DEMO_HOME": str(tmp_path), "FLOE_DEMO_SCHEDULE": "often"})
