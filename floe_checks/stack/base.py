"""What every end-to-end stack provider hands the tests, and the protocol they implement.

Providers (one module each, like pytest-xdist's schedulers): ``local`` (processes on this
machine), ``kind`` (a kind cluster with our charts), ``existing`` (a deployment named by
``--floe-env``). The tests only ever see :class:`StackEndpoints`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import SecretStr

if TYPE_CHECKING:
    from floe_checks.config import Environment


@dataclass(frozen=True)
class WarehouseEndpoint:
    """The database the marts live in and Cube reads (Postgres for local and kind)."""

    host: str
    port: int
    user: str
    password: SecretStr
    database: str
    schema: str = "public"


@dataclass(frozen=True)
class StackEndpoints:
    """Where the running stack answers. Serialisable so xdist workers can share one stack."""

    provider: str
    cube_url: str
    cube_api_secret: SecretStr
    dagster_url: str
    warehouse: WarehouseEndpoint | None = None
    # A token signed with Cube's CUBEJS_PLAYGROUND_AUTH_SECRET sees usedPreAggregations.
    cube_playground_secret: SecretStr | None = None
    # Iceberg catalog settings as the demo loader takes them (type, uri, warehouse, …).
    catalog: dict[str, str] = field(default_factory=dict)
    # Free-form facts a provider wants to show (log dir, lineage file, …).
    extras: dict[str, str] = field(default_factory=dict)
    # PEM files trusting Cube's and Dagster's certificates (their sections' ca_bundle).
    cube_ca_bundle: str | None = None
    dagster_ca_bundle: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict *including* secrets: only for the 0600 state file of a local run."""
        data = asdict(self)
        data["cube_api_secret"] = self.cube_api_secret.get_secret_value()
        if self.cube_playground_secret is not None:
            data["cube_playground_secret"] = self.cube_playground_secret.get_secret_value()
        if self.warehouse is not None:
            data["warehouse"]["password"] = self.warehouse.password.get_secret_value()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackEndpoints:
        """The inverse of :meth:`to_json`."""
        wh = data.get("warehouse")
        warehouse = None
        if wh:
            warehouse = WarehouseEndpoint(**{**wh, "password": SecretStr(wh["password"])})
        return cls(
            provider=data["provider"],
            cube_url=data["cube_url"],
            cube_api_secret=SecretStr(data["cube_api_secret"]),
            dagster_url=data["dagster_url"],
            warehouse=warehouse,
            cube_playground_secret=(
                SecretStr(data["cube_playground_secret"])
                if data.get("cube_playground_secret")
                else None
            ),
            catalog=dict(data.get("catalog") or {}),
            extras=dict(data.get("extras") or {}),
            cube_ca_bundle=data.get("cube_ca_bundle"),
            dagster_ca_bundle=data.get("dagster_ca_bundle"),
        )


class StackProvider(Protocol):
    """One way of getting a running floe stack.

    ``start`` brings the stack up (or finds it) and returns its endpoints; ``stop`` tears down
    whatever ``start`` created and nothing else; ``diagnostics`` returns report sections
    (title → text) for a failing test: log tails, or events/describe/pod logs on kind.
    """

    name: str

    @classmethod
    def create(cls, environment: Environment | None) -> StackProvider:
        """The one constructor the plugin calls, with the selected environment (or None)."""
        ...

    def start(self, workdir: Path) -> StackEndpoints: ...

    def stop(self) -> None: ...

    def diagnostics(self) -> dict[str, str]: ...


@runtime_checkable
class RestorableProvider(Protocol):
    """A provider another process can stop or diagnose (xdist: the last worker tears down).

    ``state`` is JSON-able and goes into the 0600 state file; ``restore`` rebuilds a provider
    from it whose ``stop`` and ``diagnostics`` work without the objects ``start`` created.
    A provider without these is stopped by the process that started it.
    """

    name: str

    def state(self) -> dict[str, Any]: ...

    def stop(self) -> None: ...

    def diagnostics(self) -> dict[str, str]: ...
