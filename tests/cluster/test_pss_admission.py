"""The offline Pod Security check agrees with the real API server's PodSecurity admission.

Every fixture of tests/charts/pss_fixtures.py (a bad Pod per rule, good Pods for the allowed
values) is sent with ``kubectl create --dry-run=server`` into a namespace that enforces
``restricted``: the admission plugin of kube-apiserver v1.37 judges it, nothing is stored. Its
verdict (and the rule it names) must equal :func:`floe_checks.charts.pss.check_pod_security`'s.

A few fixtures are not valid Pods for the API server at all (its validation rejects them before
admission runs); those are listed exactly, with the reason the server gives.
"""

from __future__ import annotations

import json
import re

import pytest

from floe_checks.charts.pss import check_pod_security
from tests.charts.pss_fixtures import BAD, GOOD, mutated
from tests.cluster.conftest import Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.requirement("007-FR-006", "007-FR-010")]

NAMESPACE = "pss-restricted"

# Fixtures the API server's validation refuses before PodSecurity admission sees them: the
# offline check still judges them (users render such objects), but no admission verdict exists.
INVALID_FOR_THE_API_SERVER = {
    # ephemeral containers are added through the pods/ephemeralcontainers subresource only
    "ephemeral-container": "spec.ephemeralContainers: Forbidden",
    # a HostProcess pod must be a Windows pod on the host network with every container HostProcess
    "host-process-pod": "hostNetwork",
    "host-process-container": "hostNetwork",
}

# The admission names a failed check by its own title; our rules map onto them.
ADMISSION_TITLES = {
    "pss-baseline/host-process": "hostProcess",
    "pss-baseline/host-namespaces": "host namespaces",
    "pss-baseline/privileged": "privileged",
    "pss-baseline/capabilities": "non-default capabilities",
    "pss-baseline/host-path-volumes": "hostPath volumes",
    "pss-baseline/host-ports": "hostPort",
    "pss-baseline/apparmor": "forbidden AppArmor profile",
    "pss-baseline/selinux": "seLinuxOptions",
    "pss-baseline/proc-mount": "procMount",
    "pss-baseline/seccomp": "seccompProfile",
    "pss-baseline/sysctls": "forbidden sysctls",
    "pss-restricted/volume-types": "restricted volume types",
    "pss-restricted/privilege-escalation": "allowPrivilegeEscalation != false",
    "pss-restricted/running-as-non-root": "runAsNonRoot != true",
    "pss-restricted/running-as-non-root-user": "runAsUser=0",
    "pss-restricted/seccomp": "seccompProfile",
    "pss-restricted/capabilities": "unrestricted capabilities",
}


@pytest.fixture(scope="module")
def restricted_namespace(kubectl: Kubectl) -> str:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    kubectl("apply", "-f", "-", stdin=json.dumps(namespace))
    return NAMESPACE


def admission(kubectl: Kubectl, namespace: str, pod: dict[str, object]) -> tuple[str, str]:
    """``("admitted" | "forbidden" | "invalid", server message)`` for one Pod, stored nowhere."""
    result = kubectl(
        "create", "--dry-run=server", "-n", namespace, "-f", "-",
        stdin=json.dumps(pod), check=False,
    )  # fmt: skip
    if result.returncode == 0:
        return "admitted", result.stdout.strip()
    if "violates PodSecurity" in result.stderr:
        return "forbidden", result.stderr.strip()
    return "invalid", result.stderr.strip()


@pytest.fixture(scope="module")
def cases() -> dict[str, dict[str, object]]:
    """Every fixture as a Pod: the bad ones by rule, the good ones prefixed ``good:``."""
    pods = {name: mutated(mutate) for name, (mutate, _) in BAD.items()}
    return pods | {f"good:{name}": mutated(mutate) for name, mutate in GOOD.items()}


@pytest.fixture(scope="module")
def verdicts(
    kubectl: Kubectl, restricted_namespace: str, cases: dict[str, dict[str, object]]
) -> dict[str, tuple[str, str]]:
    """The admission's verdict and message for every fixture, each sent once."""
    return {name: admission(kubectl, restricted_namespace, pod) for name, pod in cases.items()}


def test_offline_verdicts_equal_the_admissions(
    cases: dict[str, dict[str, object]], verdicts: dict[str, tuple[str, str]]
) -> None:
    invalid = {
        name: message for name, (verdict, message) in verdicts.items() if verdict == "invalid"
    }
    assert sorted(invalid) == sorted(INVALID_FOR_THE_API_SERVER), "\n".join(
        f"{k}: {v}" for k, v in invalid.items()
    )
    for name, fragment in INVALID_FOR_THE_API_SERVER.items():
        assert fragment in invalid[name], invalid[name]

    offline = {
        name: "forbidden" if check_pod_security([pod]) else "admitted"
        for name, pod in cases.items()
        if name not in invalid
    }
    online = {name: verdicts[name][0] for name in offline}
    assert online == offline


def test_the_admission_names_the_rule_we_report(
    cases: dict[str, dict[str, object]], verdicts: dict[str, tuple[str, str]]
) -> None:
    """For each bad fixture the server forbids, its message names the check our rule maps to."""
    mismatched = {}
    for name in BAD:
        if name in INVALID_FOR_THE_API_SERVER:
            continue
        verdict, message = verdicts[name]
        rules = {v.rule for v in check_pod_security([cases[name]])}
        titles = re.findall(
            r'(?:^|, |: )([^,:()"]+?) \(', message.split("restricted:latest", 1)[-1]
        )
        expected = {ADMISSION_TITLES[rule] for rule in rules}
        if verdict != "forbidden" or not all(
            any(title.strip().startswith(e) for title in titles) for e in expected
        ):
            mismatched[name] = (sorted(expected), message)
    assert mismatched == {}
