"""Settings resolved like pytest-django does: command-line option > environment variable > ini
> default, remembering which one won so the report header can say so."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Setting:
    """A resolved setting and where its value came from."""

    value: str | None
    source: str

    def describe(self) -> str:
        return f"{self.value} (from {self.source})"


@dataclass(frozen=True)
class SettingSpec:
    option: str  # e.g. "--floe-env"
    env: str  # e.g. "FLOE_ENV"
    ini: str  # e.g. "floe_env"
    default: str | None = None

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")


FLOE_ENV = SettingSpec("--floe-env", "FLOE_ENV", "floe_env")
FLOE_CONFIG = SettingSpec("--floe-config", "FLOE_CONFIG", "floe_config", "floe.yaml")
FLOE_STACK = SettingSpec("--floe-stack", "FLOE_STACK", "floe_stack", "local")


def resolve(config: pytest.Config, spec: SettingSpec) -> Setting:
    """Resolve one setting in the order option > environment variable > ini > default."""
    value: Any = config.getoption(spec.dest, default=None)
    if value:
        return Setting(str(value), spec.option)
    if os.environ.get(spec.env):
        return Setting(os.environ[spec.env], f"${spec.env}")
    ini_value = config.getini(spec.ini)
    if ini_value:
        return Setting(str(ini_value), f"ini {spec.ini}")
    return Setting(spec.default, "default")
