"""Fixtures of the plugin tests."""

from __future__ import annotations

import pytest

from tests.plugin.wheel import WheelVenv, build_wheel_venv


@pytest.fixture(scope="session")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    """floe-checks installed from a freshly built wheel into a venv of its own (about 10 s,
    once per session and xdist worker)."""
    return build_wheel_venv(tmp_path_factory.mktemp("wheel"))
