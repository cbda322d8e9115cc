"""Every chart, every values variant: lint, render, validate for Kubernetes 1.29-1.37, and the
hardening and wiring rules, in both dependency modes available here (offline, and full through
the mirror with the Dagster stand-in)."""

from __future__ import annotations

from typing import Any

import pytest

from floe_checks.charts import objects as k8s
from floe_checks.charts.hardening import check_hardening
from floe_checks.charts.render import ChartWorkspace
from floe_checks.charts.validate import K8S_VERSIONS, validate_objects
from floe_checks.charts.wiring import (
    check_configmap_mounted,
    check_configmap_references,
    check_cube_refresh,
    check_ingress_backends,
    check_pdb_selectors,
    check_probes,
    check_run_pod_references,
    check_secret_references,
    check_service_ports,
)
from tests.charts.conftest import (
    DAGSTER_VARIANTS,
    HEALTH_PATHS,
    VARIANTS,
    Variant,
    documented_secrets_for,
    rendered,
)

pytestmark = [
    pytest.mark.charts,
    pytest.mark.requirement("SC-006"),
    pytest.mark.evidence("rendered"),
]


def variant_id(variant: Variant) -> str:
    return variant.id


def _wiring(objs: list[dict[str, Any]], variant: Variant) -> list[str]:
    return (
        check_secret_references(objs, documented_secrets_for(variant))
        + check_configmap_references(objs)
        + check_service_ports(objs)
        + check_probes(objs, HEALTH_PATHS)
        + check_ingress_backends(objs)
        + check_pdb_selectors(objs)
        + check_run_pod_references(objs, documented_secrets_for(variant))
        + check_cube_refresh(objs)
    )


def _assert_every_container_hardened(objs: list[dict[str, Any]]) -> int:
    """The typed, explicit form of the rule the issue states; returns the containers seen."""
    seen = 0
    for workload in k8s.workloads(objs):
        for c in workload.containers:
            seen += 1
            pod_uid = workload.pod_security_context.get("runAsUser")
            uid = c.security_context.get("runAsUser", pod_uid)
            assert uid not in (None, 0), f"{workload.ref}/{c.name} runs as root"
            assert c.security_context.get("allowPrivilegeEscalation") is False
            for kind in ("requests", "limits"):
                assert set(c.resources.get(kind, {})) >= {"cpu", "memory"}, (workload.ref, c.name)
            if not c.init:
                assert c.liveness is not None, f"{workload.ref}/{c.name} has no livenessProbe"
                assert c.readiness is not None, f"{workload.ref}/{c.name} has no readinessProbe"
    return seen


@pytest.mark.requirement("007-FR-009", "007-FR-010")
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_lint_strict(offline_workspace: ChartWorkspace, variant: Variant) -> None:
    out = offline_workspace.lint(variant.chart, variant.files())
    assert "1 chart(s) linted, 0 chart(s) failed" in out


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_offline_render_is_valid_kubernetes(
    offline_workspace: ChartWorkspace, variant: Variant
) -> None:
    objs = rendered(offline_workspace, variant)
    assert validate_objects(objs, K8S_VERSIONS, strict=True) == []


@pytest.mark.requirement("SC-004")
@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_offline_render_is_hardened_and_wired(
    offline_workspace: ChartWorkspace, variant: Variant
) -> None:
    objs = rendered(offline_workspace, variant)
    assert check_hardening(objs) == []
    _assert_every_container_hardened(objs)
    assert _wiring(objs, variant) == []


@pytest.mark.requirement("007-FR-005", "007-FR-007", "007-FR-009")
@pytest.mark.parametrize("variant", DAGSTER_VARIANTS, ids=variant_id)
def test_full_render_with_dagster_standin(
    standin_workspace: ChartWorkspace, variant: Variant
) -> None:
    """Through the mirror path: floe-dagster with its dependency, all checks on all objects."""
    assert "1 chart(s) linted, 0 chart(s) failed" in standin_workspace.lint(
        variant.chart, variant.files()
    )
    objs = rendered(standin_workspace, variant)
    names = {k8s.ref(o) for o in objs}
    assert {
        "Deployment/floe-dagster-webserver",
        "Deployment/floe-dagster-daemon",
        "Deployment/floe-dagster-user-deployments-floe-demo",
    } <= names
    assert validate_objects(objs) == []
    assert check_hardening(objs) == []
    # webserver + daemon (2 init + 1 main each) and the user code: at least 7 containers.
    assert _assert_every_container_hardened(objs) >= 7
    assert _wiring(objs, variant) == []
    # FR-007: where Dagster's code runs, the CompiledArtifacts ConfigMap is mounted.
    assert (
        check_configmap_mounted(
            objs,
            "floe-compiled-artifacts",
            "/etc/floe/compiled",
            ["floe-dagster-user-deployments-floe-demo"],
        )
        == []
    )


@pytest.mark.requirement("007-FR-005")
@pytest.mark.parametrize("variant", DAGSTER_VARIANTS, ids=variant_id)
def test_full_render_with_official_dagster_chart(
    dagster_workspace: ChartWorkspace, variant: Variant
) -> None:
    """Only with FLOE_HELM_MIRROR: the official chart's own schema accepts our overrides."""
    dagster_workspace.lint(variant.chart, variant.files())
    objs = rendered(dagster_workspace, variant)
    assert validate_objects(objs) == []
    assert check_hardening(objs) == []
    assert _wiring(objs, variant) == []
    user_code = [
        w.name
        for w in k8s.workloads(objs)
        if w.kind == "Deployment" and w.name.endswith("floe-demo")
    ]
    assert len(user_code) == 1, user_code
    assert (
        check_configmap_mounted(objs, "floe-compiled-artifacts", "/etc/floe/compiled", user_code)
        == []
    )


def test_offline_mode_names_its_reason(offline_workspace: ChartWorkspace) -> None:
    assert offline_workspace.dagster_mode == "offline"
    assert offline_workspace.reason == (
        "official dagster chart 1.13.27 is not reachable here (offline rendering requested); "
        "rendering with dagster.enabled=false"
    )
