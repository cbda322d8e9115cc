"""The existing stack hands the cube and dagster sections' ``ca_bundle`` to the e2e clients,
and the endpoints keep it through the state file xdist workers share."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe_checks.config import validate_environment
from floe_checks.servers.tls import self_signed
from floe_checks.stack.base import StackEndpoints
from floe_checks.stack.existing import ExistingProvider

pytestmark = [pytest.mark.requirement("007-FR-029"), pytest.mark.evidence("static")]


def test_existing_stack_passes_each_ca_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cube_ca = self_signed(tmp_path / "cube").ca_bundle
    dagster_ca = self_signed(tmp_path / "dagster").ca_bundle
    monkeypatch.setenv("CUBEJS_API_SECRET", "cube-api-secret-for-tests")  # pragma: allowlist secret
    env = validate_environment(
        "floe.yaml",
        "prod",
        {
            "cube": {
                "url": "https://cube.example.internal",
                "api_secret": "${CUBEJS_API_SECRET}",
                "ca_bundle": str(cube_ca),
            },
            "dagster": {"url": "https://dagster.example.internal", "ca_bundle": str(dagster_ca)},
        },
    )
    endpoints = ExistingProvider(env).start(tmp_path)
    assert (endpoints.cube_ca_bundle, endpoints.dagster_ca_bundle) == (
        str(cube_ca),
        str(dagster_ca),
    )
    again = StackEndpoints.from_json(endpoints.to_json())
    assert (again.cube_ca_bundle, again.dagster_ca_bundle) == (str(cube_ca), str(dagster_ca))


def test_without_ca_bundle_the_clients_use_the_system_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUBEJS_API_SECRET", "cube-api-secret-for-tests")  # pragma: allowlist secret
    env = validate_environment(
        "floe.yaml",
        "prod",
        {
            "cube": {"url": "https://cube.example.internal", "api_secret": "${CUBEJS_API_SECRET}"},
            "dagster": {"url": "https://dagster.example.internal"},
        },
    )
    endpoints = ExistingProvider(env).start(tmp_path)
    assert (endpoints.cube_ca_bundle, endpoints.dagster_ca_bundle) == (None, None)
