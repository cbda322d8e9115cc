"""Fixtures every test package shares."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

from floe_checks.config import Section, validate_environment

# Fixtures of more than one test package, registered here once instead of imported into each
# test module: the cloud emulators (fakesnow, bqemulator, gcp-storage-emulator, Azurite) serve
# tests/preflight and tests/backends. Only the root conftest may name plugins (pytest refuses
# pytest_plugins in a conftest it finds during collection).
# The run's one secured Trino (``trino``) serves tests/trino and tests/preflight.
pytest_plugins = ["tests.preflight.cloud_emulators", "tests.trino.shared"]

# pytest-kind and pytest-helm-charts (both in the e2e extra) register --kubeconfig, so a pytest
# that loads both refuses to start. Our pytest.ini blocks pytest-kind's plugin; every pytest this
# suite starts in a scratch repository (pytester, user-repository venvs) reads that repository's
# ini instead, so it gets the block through PYTEST_ADDOPTS, as docs/kind.md tells users to do.
# tests/plugin/test_kubeconfig_plugins.py clears it and checks both the clash and the fix.
BLOCK_PYTEST_KIND = "-p no:pytest-kind"


def _with_block(addopts: str | None) -> str:
    return (
        addopts
        if addopts and BLOCK_PYTEST_KIND in addopts
        else f"{addopts or ''} {BLOCK_PYTEST_KIND}".strip()
    )


def pytest_configure(config: pytest.Config) -> None:
    os.environ["PYTEST_ADDOPTS"] = _with_block(os.environ.get("PYTEST_ADDOPTS"))


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, whose runs block pytest-kind's plugin (pytester clears PYTEST_ADDOPTS)."""
    monkeypatch.setenv("PYTEST_ADDOPTS", BLOCK_PYTEST_KIND)
    return pytester


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


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Names the cluster and kubeconfig the cluster tests use (tests/cluster/conftest.py)."""
    from tests.cluster.conftest import cluster_report_header

    return cluster_report_header(config)


# test folders whose tests run in one pytest-xdist worker each (scripts/test.sh: --dist loadgroup)
# tests/node/ builds and runs the same images (and its own plane): with tests/images, not beside
XDIST_GROUPS = {
    "tests/cluster/": "floe-cluster",
    "tests/images/": "floe-images",
    "tests/node/": "floe-images",
    # one live demo (a whole local stack) for the module, its tests in file order
    "tests/demo/test_live_demo.py": "floe-live-demo",
}


@pytest.hookimpl(optionalhook=True)  # a run with -p no:xdist has no such hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadgroup``, every test of a folder in ``XDIST_GROUPS`` runs in one worker.

    One control plane per run, not one per worker: a plane is three Go servers, etcd and kwok
    (about 1 GB of memory and a core while it settles), and on our 2-core machines a second one
    slows every other test more than the cluster tests gain by running in parallel. The same
    holds for the image builds (podman). The other tests are still spread over all workers.

    Why not ``@pytest.mark.xdist_group``: pytest-xdist 3.8.0 (the newest) groups by appending
    ``@group`` to ``item._nodeid``, which pytest 9.2 no longer reads (``Node.nodeid`` comes from
    ``_id``), so the marker silently does nothing and grouped tests are spread over every worker
    (checked: a module of six grouped tests ran on gw0 and gw1). Grouping by folder in the
    controller's own scheduler does not depend on that.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FolderGroups(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            for prefix, group in XDIST_GROUPS.items():
                if nodeid.startswith(prefix):
                    return group
            return str(super()._split_scope(nodeid))

    return FolderGroups(config, log)
