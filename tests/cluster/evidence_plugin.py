"""Evidence on failure for cluster tests: events, describe and component logs in the report.

Register it in a test module with ``pytest_plugins = ["tests.cluster.evidence_plugin"]`` and
request the ``cluster_evidence`` fixture; ``cluster_evidence.watch(namespace)`` names the
namespaces whose evidence a failure of that test shows. When the test's setup or call fails,
the hook below collects :mod:`floe_checks.cluster.evidence` for each watched namespace (while
the cluster is still up: reports are made before fixtures are torn down) and adds one report
section per namespace, titled ``cluster evidence: <namespace>``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import pytest

from floe_checks.cluster.binaries import ClusterBinaries
from floe_checks.cluster.controlplane import ControlPlane
from floe_checks.cluster.evidence import EvidenceCollector, format_sections
from floe_checks.errors import PrerequisiteMissing

SECTION_PREFIX = "cluster evidence: "


@dataclass
class EvidenceWatch:
    """The namespaces whose evidence a failing test's report gets."""

    collector: EvidenceCollector
    namespaces: list[str] = field(default_factory=list)

    def watch(self, namespace: str) -> str:
        """Add ``namespace`` (returned, for chaining into the test's own calls)."""
        if namespace not in self.namespaces:
            self.namespaces.append(namespace)
        return namespace


_WATCH = pytest.StashKey[EvidenceWatch]()


@pytest.fixture
def cluster_evidence(
    request: pytest.FixtureRequest, floe_cluster: ControlPlane, cluster_binaries: ClusterBinaries
) -> EvidenceWatch:
    try:
        kubectl = cluster_binaries.require_kubectl()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc} — {exc.remediation}")
    watch = EvidenceWatch(
        EvidenceCollector(kubectl, floe_cluster.kubeconfig_path, log_dir=floe_cluster.log_dir)
    )
    request.node.stash[_WATCH] = watch
    return watch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    watch = item.stash.get(_WATCH, None)
    if watch is not None and report.failed and report.when in ("setup", "call"):
        for namespace in watch.namespaces:
            try:
                text = format_sections(watch.collector.collect(namespace))
            except Exception as exc:  # evidence never replaces the failure
                text = f"unavailable: {type(exc).__name__}: {exc}"
            report.sections.append((f"{SECTION_PREFIX}{namespace}", text))
    return report
