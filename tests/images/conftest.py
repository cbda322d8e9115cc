"""Fixtures of tests/images: podman with our cache-folder store, and container clean-up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from floe_checks import images


@pytest.fixture(scope="session")
def podman() -> images.Podman:
    try:
        return images.Podman.find()
    except images.ImageError as exc:
        pytest.skip(f"cannot build images here: {exc}")


@pytest.fixture(scope="session")
def session_label() -> str:
    return f"floe-checks.test={uuid.uuid4().hex}"


@pytest.fixture(scope="session", autouse=True)
def _remove_containers(session_label: str) -> Iterator[None]:
    """Removes, also after a failure or an interrupt, every container this session labelled."""
    yield
    try:
        podman = images.Podman.find()
    except images.ImageError:
        return
    left = podman.run("ps", "-aq", "--filter", f"label={session_label}", check=False)
    ids = left.stdout.split()
    if ids:
        podman.run("rm", "-f", *ids, check=False)
