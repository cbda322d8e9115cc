"""The requirement registry (``requirements.yaml``): every SPEC ID with a short title."""

from __future__ import annotations

import functools
from importlib import resources

import yaml


@functools.cache
def registry() -> dict[str, str]:
    """All requirement IDs of SPEC.md, in SPEC order, mapped to their titles."""
    text = resources.files("floe_checks").joinpath("requirements.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    return {str(key): str(value) for key, value in data.items()}


def unknown_ids(ids: list[str]) -> list[str]:
    """The IDs that the registry does not know, in the order given."""
    known = registry()
    return [rid for rid in ids if rid not in known]
