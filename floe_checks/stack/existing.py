"""The ``existing`` stack: a deployment named by ``--floe-env``; nothing is started or stopped.

Endpoints and secrets come from the selected environment's ``cube`` and ``dagster`` sections
(and ``catalog`` when present). Tests that need the local warehouse or catalog skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floe_checks.config import Environment
from floe_checks.errors import ExistingStackIncomplete, NoEnvironmentSelected
from floe_checks.stack.base import StackEndpoints


class ExistingProvider:
    """Hands out the endpoints of an already running deployment."""

    name = "existing"

    def __init__(self, environment: Environment | None) -> None:
        self.environment = environment

    @classmethod
    def create(cls, environment: Environment | None) -> ExistingProvider:
        """The provider of the selected environment's deployment."""
        return cls(environment)

    def start(self, workdir: Path) -> StackEndpoints:
        """The environment's endpoints.

        Raises:
            ConfigError: no environment is selected, or it lacks ``cube`` or ``dagster``.
        """
        env = self.environment
        if env is None:
            raise NoEnvironmentSelected("--floe-stack existing", "no floe environment is selected.")
        where = f"environments.{env.name}"
        if env.cube is None:
            raise ExistingStackIncomplete(
                "floe.yaml",
                "the existing stack needs Cube's url and api_secret.",
                field=f"{where}.cube",
                add="cube: {url: ..., api_secret: ${CUBEJS_API_SECRET}}",
            )
        if env.dagster is None:
            raise ExistingStackIncomplete(
                "floe.yaml",
                "the existing stack needs Dagster's webserver url.",
                field=f"{where}.dagster",
                add="dagster: {url: https://dagster.example.com}",
            )
        catalog: dict[str, str] = {}
        if env.catalog is not None:
            catalog = {"type": "rest", "uri": env.catalog.uri}
            if env.catalog.warehouse:
                catalog["warehouse"] = env.catalog.warehouse
            if env.catalog.namespace:
                catalog["namespace"] = env.catalog.namespace
        return StackEndpoints(
            provider=self.name,
            cube_url=env.cube.url,
            cube_api_secret=env.cube.api_secret,
            dagster_url=env.dagster.url,
            catalog=catalog,
            extras={"environment": env.name},
            cube_ca_bundle=env.cube.ca_bundle,
            dagster_ca_bundle=env.dagster.ca_bundle,
        )

    def stop(self) -> None:
        """Nothing to stop: the deployment is not ours."""

    def diagnostics(self) -> dict[str, str]:
        """No logs are reachable from here."""
        return {}

    def state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def restore(cls, state: dict[str, Any]) -> ExistingProvider:
        return cls(None)
