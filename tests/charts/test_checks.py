"""The hardening, wiring and validation checks catch what they claim to (exact problem lists)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from floe_checks.charts.hardening import check_hardening
from floe_checks.charts.validate import validate_objects
from floe_checks.charts.wiring import (
    check_ingress_backends,
    check_pdb_selectors,
    check_probes,
    check_secret_references,
    check_service_ports,
)

pytestmark = [pytest.mark.charts, pytest.mark.evidence("static")]

GOOD_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": "floe/floe-cube:0.1.0",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "capabilities": {"drop": ["ALL"]},
    },
    "resources": {
        "requests": {"cpu": "10m", "memory": "1Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    },
    "ports": [{"name": "http", "containerPort": 4000}],
    "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
    "livenessProbe": {"httpGet": {"path": "/livez", "port": "http"}},
    "env": [{"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "p"}}}],
}


def deployment(container: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 1000,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container or copy.deepcopy(GOOD_CONTAINER)],
                },
            },
        },
    }


def service(target: int | str = "http", selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "selector": selector or {"app": "web"},
            "ports": [{"port": 80, "targetPort": target}],
        },
    }


def test_good_objects_have_no_problems() -> None:
    objs = [deployment(), service()]
    assert check_hardening(objs) == []
    assert check_secret_references(objs, {"db"}) == []
    assert check_service_ports(objs) == []
    assert check_probes(objs, {"floe-cube": {"/readyz", "/livez"}}) == []
    assert validate_objects(objs) == []


def test_hardening_names_each_violation() -> None:
    bad = copy.deepcopy(GOOD_CONTAINER)
    bad["image"] = "cubejs/cube:latest"
    bad["securityContext"] = {"runAsUser": 0}
    del bad["resources"]["limits"]
    del bad["livenessProbe"]
    w = "Deployment/web container app"
    # the Pod Security Standard's rules first, then our own policy; each names its rule
    assert check_hardening([deployment(bad)]) == [
        f"{w}: allowPrivilegeEscalation is not false [pss-restricted/privilege-escalation]",
        f"{w}: runAsUser=0 [pss-restricted/running-as-non-root-user]",
        f"{w}: capabilities.drop does not contain ALL [pss-restricted/capabilities]",
        f"{w}: image 'cubejs/cube:latest' uses the latest tag [floe/image-tag]",
        f"{w}: readOnlyRootFilesystem is not true [floe/read-only-root]",
        f"{w}: resources.limits.cpu is not set [floe/resources]",
        f"{w}: resources.limits.memory is not set [floe/resources]",
        f"{w}: no livenessProbe [floe/probes]",
    ]
    unset = copy.deepcopy(GOOD_CONTAINER)
    del unset["securityContext"]["runAsUser"]
    no_uid = deployment(unset)
    del no_uid["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert check_hardening([no_uid]) == [
        f"{w}: runAsUser is not set, need a non-zero UID [floe/run-as-user]"
    ]
    net_bind = copy.deepcopy(GOOD_CONTAINER)
    net_bind["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    assert check_hardening([deployment(net_bind)]) == [
        f"{w}: adds capabilities ['NET_BIND_SERVICE'] [floe/no-added-capabilities]"
    ]


@pytest.mark.parametrize(
    ("restart_policy", "expected"),
    [
        # a pod that ends with an exit code (a Job's, a `helm test` hook) has nothing to probe
        ("Never", []),
        ("OnFailure", []),
        (
            "Always",
            [
                "Pod/web container app: no livenessProbe [floe/probes]",
                "Pod/web container app: no readinessProbe [floe/probes]",
            ],
        ),
        (
            None,  # Kubernetes' default is Always: a long-running pod
            [
                "Pod/web container app: no livenessProbe [floe/probes]",
                "Pod/web container app: no readinessProbe [floe/probes]",
            ],
        ),
    ],
)
def test_probes_are_required_only_of_long_running_pods(
    restart_policy: str | None, expected: list[str]
) -> None:
    container = copy.deepcopy(GOOD_CONTAINER)
    del container["livenessProbe"], container["readinessProbe"]
    template = deployment(container)["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, **template}
    pod["metadata"] = {"name": "web"}
    if restart_policy is not None:
        pod["spec"]["restartPolicy"] = restart_policy
    assert check_hardening([pod]) == expected


def test_wiring_names_each_broken_reference() -> None:
    objs = [deployment(), service(target=8080)]
    assert check_secret_references(objs) == [
        "Deployment/web container app env PASS: Secret 'db' is neither rendered, an "
        "ExternalSecret target, nor a documented existingSecret"
    ]
    external = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "x"},
        "spec": {"target": {"name": "db"}},
    }
    assert check_secret_references([*objs, external]) == []
    assert check_service_ports(objs) == [
        "Service/web: port 80 targets 8080, which no container of Deployment/web declares"
    ]
    assert check_service_ports([deployment(), service(selector={"app": "other"})]) == [
        "Service/web: selector {'app': 'other'} matches no pod template"
    ]
    assert check_probes(objs, {"floe-cube": {"/healthz"}}) == [
        "Deployment/web container app livenessProbe: path '/livez' is not one of ['/healthz'] "
        "that floe-cube serves",
        "Deployment/web container app readinessProbe: path '/readyz' is not one of ['/healthz'] "
        "that floe-cube serves",
    ]


def test_ingress_and_pdb_must_point_at_something() -> None:
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "i"},
        "spec": {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 81}}},
                            }
                        ]
                    }
                }
            ]
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "p"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "gone"}}},
    }
    objs = [deployment(), service(), ingress, pdb]
    assert check_ingress_backends(objs) == ["Ingress/i: Service web has no port 81"]
    assert check_pdb_selectors(objs) == [
        "PodDisruptionBudget/p: selector {'app': 'gone'} matches no pod template"
    ]


def test_validation_rejects_unknown_fields_and_unknown_schemas() -> None:
    typo = deployment()
    typo["spec"]["replica"] = 2
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    bad_external = {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": {"name": "e"},
        "spec": {"target": {"name": "t"}},
    }
    problems = validate_objects([typo, unknown, bad_external], versions=("1.29.0",))
    assert problems == [
        "Deployment/web (k8s 1.29.0): spec: Additional properties are not allowed "
        "('replica' was unexpected)",
        "Widget/w: Couldn't find schema for kind Widget with api version example.com/v1 for "
        "kubernetes version 1.29",
        "ExternalSecret/e: required field spec.secretStoreRef.name is missing",
        "ExternalSecret/e: spec.data and spec.dataFrom are both empty",
    ]
