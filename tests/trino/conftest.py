"""A real Trino coordinator for ``tests/trino``: one per session (per xdist worker), started
from the tree ``scripts/setup.d/60-trino.sh`` assembles, stopped by PID at the end.

Where that tree or a Java 25 runtime is missing the tests skip, naming the setup step; there is
no stand-in here (the protocol stand-in of the preflight tests lives in ``tests/preflight``).
Each server takes about 0.75 GB of RSS (``-Xmx1G``): with ``-n 2`` two of them run at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from floe_checks.config import Section, validate_environment
from floe_checks.errors import FloeError, PrerequisiteMissing
from floe_checks.servers.trino import TrinoServer, throwaway_trino


@pytest.fixture(scope="session")
def trino() -> Iterator[TrinoServer]:
    """The session's Trino 483 with the ``memory`` and ``tpch`` catalogs."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(throwaway_trino(prefix="floe-trino-test-"))
        except PrerequisiteMissing as exc:
            pytest.skip(f"real Trino not available: {exc}; {exc.remediation}")
        except FloeError as exc:
            pytest.fail(f"Trino did not start: {exc}", pytrace=False)
        yield server


@pytest.fixture
def load_section(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Section]:
    """One floe.yaml section of environment ``test``, secrets as ``${VAR}`` set here
    (as in tests/preflight/conftest.py). Returns ``load(service, raw, **env)``."""

    def load(service: str, raw: dict[str, object], **env: str) -> Section:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        environment = validate_environment("floe.yaml", "test", {service: raw})
        return environment.sections()[service]

    return load
