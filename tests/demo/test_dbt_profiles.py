"""demo/profiles.yml: five targets, every credential from env_var() (SC-004, FR-027c)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.evidence("static")

PROFILES = Path(__file__).resolve().parents[2] / "demo" / "profiles.yml"
CREDENTIAL_KEYS = {"password", "user", "keyfile", "account", "credential", "role", "host"}


@pytest.mark.requirement("007-FR-027c", "SC-004")
def test_profiles_take_every_credential_from_env_var() -> None:
    profile = yaml.safe_load(PROFILES.read_text(encoding="utf-8"))["floe_demo"]
    outputs = profile["outputs"]
    assert sorted(outputs) == ["bigquery", "duckdb", "postgres", "snowflake", "trino"]
    assert profile["target"] == "{{ env_var('FLOE_DEMO_DBT_TARGET', 'duckdb') }}"
    checked = []
    for name, output in outputs.items():
        settings = dict(output)
        for plugin in output.get("plugins", []):
            settings.update(plugin["config"])
        for key, value in settings.items():
            if key in CREDENTIAL_KEYS:
                assert isinstance(value, str), (name, key)
                assert value.startswith("{{ env_var("), (name, key, value)
                checked.append((name, key))
    # The password of every target with one, and the Polaris credential, were checked.
    assert {("postgres", "password"), ("trino", "password"), ("snowflake", "password")} <= set(
        checked
    )
    assert ("duckdb", "credential") in checked
    assert ("bigquery", "keyfile") in checked
