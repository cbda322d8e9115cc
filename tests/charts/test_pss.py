"""The offline Pod Security Standards check, rule for rule, written from the PSS documentation.

Every rule has a bad fixture (exactly one violation, with its rule ID) and good fixtures for the
values the documentation allows; inheritance between pod and container follows the admission
plugin (``null`` is unset; a container's explicit value wins). Two inputs that crashed the old
checker (a pod-level ``seccompProfile: null``, a port without ``containerPort``) are reported,
not raised. The same fixtures go to a real API server under ``enforce: restricted`` in
tests/cluster/test_pss_admission.py, which asserts that both verdicts agree.
"""

from __future__ import annotations

import copy

import pytest

from floe_checks.charts.hardening import check_hardening
from floe_checks.charts.pss import check_pod_security
from tests.charts.pss_fixtures import BAD, GOOD, C, container, mutated, pod_sc, sc, spec

pytestmark = [
    pytest.mark.charts,
    pytest.mark.requirement("007-FR-006", "007-FR-010"),
    pytest.mark.evidence("rendered"),
]


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_restricted_rule_names_its_violation(case: str) -> None:
    mutate, expected = BAD[case]
    assert [str(v) for v in check_pod_security([mutated(mutate)])] == expected


@pytest.mark.parametrize("case", sorted(GOOD))
def test_allowed_values_pass_restricted(case: str) -> None:
    assert check_pod_security([mutated(GOOD[case])]) == []


def test_baseline_admits_the_default_pod_and_names_its_own_rules() -> None:
    bare = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    assert check_pod_security([bare], "baseline") == []
    assert [str(v) for v in check_pod_security([bare])] == [
        f"{C}: allowPrivilegeEscalation is not false [pss-restricted/privilege-escalation]",
        f"{C}: runAsNonRoot is not true (here or at pod level) "
        "[pss-restricted/running-as-non-root]",
        f"{C}: no seccompProfile.type here or at pod level (RuntimeDefault or Localhost) "
        "[pss-restricted/seccomp]",
        f"{C}: capabilities.drop does not contain ALL [pss-restricted/capabilities]",
    ]
    hostile = mutated(
        lambda p: spec(p).update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
        lambda p: sc(p).update(seccompProfile={"type": "Unconfined"}),
        lambda p: sc(p)["capabilities"].update(add=["SYS_ADMIN", "CHOWN"]),
    )
    assert [str(v) for v in check_pod_security([hostile], "baseline")] == [
        "Pod/p: volume 'h' is a hostPath volume [pss-baseline/host-path-volumes]",
        f"{C}: adds capabilities beyond the default ['SYS_ADMIN'] [pss-baseline/capabilities]",
        f"{C}: seccompProfile.type is Unconfined [pss-baseline/seccomp]",
    ]


def test_workload_kinds_are_read_through_their_pod_template() -> None:
    template = mutated(lambda p: spec(p).update(hostPID=True))
    template.pop("apiVersion")
    template.pop("kind")
    cron = {
        "kind": "CronJob",
        "metadata": {"name": "nightly"},
        "spec": {"jobTemplate": {"spec": {"template": copy.deepcopy(template)}}},
    }
    deploy = {"kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": template}}
    assert [str(v) for v in check_pod_security([cron, deploy, {"kind": "Service"}])] == [
        "CronJob/nightly: hostPID=true [pss-baseline/host-namespaces]",
        "Deployment/web: hostPID=true [pss-baseline/host-namespaces]",
    ]


def test_inputs_that_crashed_the_old_checker_are_reported() -> None:
    """A pod-level ``seccompProfile: null`` and a port without ``containerPort``."""
    pod = mutated(
        lambda p: pod_sc(p).update(seccompProfile=None, runAsUser=1000),
        lambda p: container(p).update(ports=[{"name": "http"}]),
    )
    problems = check_hardening([pod], writable_root={"Pod/p:c"})
    assert [p for p in problems if "[pss-" in p] == [
        f"{C}: no seccompProfile.type here or at pod level (RuntimeDefault or Localhost) "
        "[pss-restricted/seccomp]"
    ]
    assert [p for p in problems if "[floe/pod-seccomp]" in p] == [
        "Pod/p: pod seccompProfile is not RuntimeDefault [floe/pod-seccomp]"
    ]


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found: list[tuple[object, ...]] = []
    items: list[tuple[object, object]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key))
    return found


def _replaced(obj: dict[str, object], path: tuple[object, ...], new: object) -> dict[str, object]:
    copied = copy.deepcopy(obj)
    parent: object = copied
    for key in path[:-1]:
        parent = parent[key]  # type: ignore[index]
    parent[path[-1]] = new  # type: ignore[index]
    return copied


def test_no_malformed_field_crashes_the_checkers() -> None:
    """Helm renders unset values as null and users make typos: every field of a full workload,
    replaced in turn by null, a list, a string and a number, gives problems, never an exception."""
    base = mutated(
        lambda p: spec(p).update(
            volumes=[{"name": "v", "emptyDir": {}}],
            initContainers=[{"name": "i", "image": "app:1", "securityContext": {}}],
        ),
        lambda p: container(p).update(
            ports=[{"name": "http", "containerPort": 80}],
            volumeMounts=[{"name": "v", "mountPath": "/tmp"}],
            resources={"limits": {"cpu": "1"}},
            livenessProbe={"httpGet": {"path": "/", "port": "http"}},
        ),
        lambda p: p["metadata"].update(annotations={"a": "b"}),
    )
    deploy = {
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"metadata": base["metadata"], "spec": base["spec"]}},
    }
    crashes = []
    for path in _paths(deploy):
        for new in (None, [], "x", 0, {}):
            broken = _replaced(deploy, path, new)
            try:
                check_hardening([broken])
                check_pod_security([broken], "baseline")
            except Exception as exc:  # the test collects every crash
                crashes.append(f"{'.'.join(map(str, path))}={new!r}: {type(exc).__name__}: {exc}")
    assert crashes == [], "\n".join(crashes)
