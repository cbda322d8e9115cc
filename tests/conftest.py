"""Fixtures every test package shares."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from floe_checks.config import Section, validate_environment


@pytest.fixture
def load_section(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Section]:
    """Build one floe.yaml section of environment ``test`` the way users write it: secrets as
    ``${VAR}`` references whose values are set here. Returns ``load(service, raw, **env)``."""

    def load(service: str, raw: dict[str, object], **env: str) -> Section:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        environment = validate_environment("floe.yaml", "test", {service: raw})
        return environment.sections()[service]

    return load


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (its hook has no order of its own)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the local control plane runs in one xdist group.

    One control plane per run, not one per worker: a plane is three Go servers, etcd and kwok
    (about 1 GB of memory and a core while it settles), and on our 2-core machines a second one
    slows every other test more than the cluster tests gain by running in parallel. The group
    takes effect with ``--dist loadgroup`` (scripts/test.sh passes it); the other tests are
    still spread over all workers.
    """
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.xdist_group("floe-cluster"))
