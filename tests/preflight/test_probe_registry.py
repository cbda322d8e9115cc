"""Every registered probe module fits the Probe protocol that load_probe promises."""

from __future__ import annotations

import inspect

import pytest

from floe_checks.probes import PROBES, load_probe
from floe_checks.results import Service

pytestmark = pytest.mark.evidence("static")


@pytest.mark.parametrize(("service", "backend"), sorted(PROBES))
def test_each_probe_has_its_service_and_a_check(service: str, backend: str) -> None:
    probe = load_probe(service, backend)
    assert probe.SERVICE is Service(service)
    assert list(inspect.signature(probe.check).parameters) == ["section", "timeout"]
