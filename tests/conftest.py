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
