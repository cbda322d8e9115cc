"""Pod fixtures for the Pod Security Standards, one bad case per rule and good cases for the
allowed values, written from the PSS documentation.

Shared by the offline check's tests (tests/charts/test_pss.py) and the cross-check against the
real API server's PodSecurity admission (tests/cluster/test_pss_admission.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Mutation = Callable[[dict[str, Any]], None]


def good_pod() -> dict[str, Any]:
    """The smallest Pod the restricted profile admits."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "c",
                    "image": "app:1",
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }


def spec(pod: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = pod["spec"]
    return result


def pod_sc(pod: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = pod["spec"]["securityContext"]
    return result


def sc(pod: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = pod["spec"]["containers"][0]["securityContext"]
    return result


def container(pod: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = pod["spec"]["containers"][0]
    return result


def mutated(*mutations: Mutation) -> dict[str, Any]:
    pod = good_pod()
    for mutate in mutations:
        mutate(pod)
    return pod


C = "Pod/p container c"
BAD: dict[str, tuple[Mutation, list[str]]] = {
    "host-process-pod": (
        lambda p: pod_sc(p).update(windowsOptions={"hostProcess": True}),
        ["Pod/p: pod sets hostProcess=true [pss-baseline/host-process]"],
    ),
    "host-process-container": (
        lambda p: sc(p).update(windowsOptions={"hostProcess": True}),
        [f"{C}: hostProcess=true [pss-baseline/host-process]"],
    ),
    "host-network": (
        lambda p: spec(p).update(hostNetwork=True),
        ["Pod/p: hostNetwork=true [pss-baseline/host-namespaces]"],
    ),
    "host-pid": (
        lambda p: spec(p).update(hostPID=True),
        ["Pod/p: hostPID=true [pss-baseline/host-namespaces]"],
    ),
    "host-ipc": (
        lambda p: spec(p).update(hostIPC=True),
        ["Pod/p: hostIPC=true [pss-baseline/host-namespaces]"],
    ),
    # the API server refuses privileged with allowPrivilegeEscalation false: both rules fire
    "privileged": (
        lambda p: sc(p).update(privileged=True, allowPrivilegeEscalation=True),
        [
            f"{C}: privileged=true [pss-baseline/privileged]",
            f"{C}: allowPrivilegeEscalation is not false [pss-restricted/privilege-escalation]",
        ],
    ),
    "capabilities-add": (
        lambda p: sc(p)["capabilities"].update(add=["SYS_ADMIN"]),
        [
            f"{C}: adds capabilities ['SYS_ADMIN']; only NET_BIND_SERVICE is allowed "
            "[pss-restricted/capabilities]"
        ],
    ),
    "capabilities-drop": (
        lambda p: sc(p).pop("capabilities"),
        [f"{C}: capabilities.drop does not contain ALL [pss-restricted/capabilities]"],
    ),
    "host-path": (
        lambda p: spec(p).update(volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
        ["Pod/p: volume 'h' has type hostPath [pss-restricted/volume-types]"],
    ),
    "nfs-volume": (
        lambda p: spec(p).update(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]),
        ["Pod/p: volume 'n' has type nfs [pss-restricted/volume-types]"],
    ),
    "host-port": (
        lambda p: container(p).update(ports=[{"containerPort": 80, "hostPort": 8080}]),
        [f"{C}: hostPort 8080 [pss-baseline/host-ports]"],
    ),
    "apparmor-annotation": (
        lambda p: p["metadata"].update(
            annotations={"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}
        ),
        [
            "Pod/p: annotation container.apparmor.security.beta.kubernetes.io/c='unconfined' "
            "is not allowed [pss-baseline/apparmor]"
        ],
    ),
    "apparmor-pod-field": (
        lambda p: pod_sc(p).update(appArmorProfile={"type": "Unconfined"}),
        ["Pod/p: pod appArmorProfile.type is Unconfined [pss-baseline/apparmor]"],
    ),
    "apparmor-container-field": (
        lambda p: sc(p).update(appArmorProfile={"type": "Unconfined"}),
        [f"{C}: container appArmorProfile.type is Unconfined [pss-baseline/apparmor]"],
    ),
    "selinux-type": (
        lambda p: sc(p).update(seLinuxOptions={"type": "spc_t"}),
        [f"{C}: container seLinuxOptions.type is spc_t [pss-baseline/selinux]"],
    ),
    "selinux-user": (
        lambda p: pod_sc(p).update(seLinuxOptions={"user": "system_u"}),
        ["Pod/p: pod seLinuxOptions.user is set [pss-baseline/selinux]"],
    ),
    "selinux-role": (
        lambda p: sc(p).update(seLinuxOptions={"role": "sysadm_r"}),
        [f"{C}: container seLinuxOptions.role is set [pss-baseline/selinux]"],
    ),
    "proc-mount": (
        # the API server accepts Unmasked only in a user namespace (hostUsers: false)
        lambda p: (spec(p).update(hostUsers=False), sc(p).update(procMount="Unmasked")),
        [f"{C}: procMount=Unmasked [pss-baseline/proc-mount]"],
    ),
    "seccomp-container-unconfined-under-pod-default": (
        lambda p: sc(p).update(seccompProfile={"type": "Unconfined"}),
        [f"{C}: seccompProfile.type Unconfined [pss-restricted/seccomp]"],
    ),
    "seccomp-unset-everywhere": (
        lambda p: pod_sc(p).pop("seccompProfile"),
        [
            f"{C}: no seccompProfile.type here or at pod level (RuntimeDefault or Localhost) "
            "[pss-restricted/seccomp]"
        ],
    ),
    "seccomp-pod-null": (
        lambda p: pod_sc(p).update(seccompProfile=None),
        [
            f"{C}: no seccompProfile.type here or at pod level (RuntimeDefault or Localhost) "
            "[pss-restricted/seccomp]"
        ],
    ),
    "sysctl": (
        lambda p: pod_sc(p).update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
        ["Pod/p: sysctl 'kernel.msgmax' is not safe [pss-baseline/sysctls]"],
    ),
    "privilege-escalation-unset": (
        lambda p: sc(p).pop("allowPrivilegeEscalation"),
        [f"{C}: allowPrivilegeEscalation is not false [pss-restricted/privilege-escalation]"],
    ),
    "privilege-escalation-true": (
        lambda p: sc(p).update(allowPrivilegeEscalation=True),
        [f"{C}: allowPrivilegeEscalation is not false [pss-restricted/privilege-escalation]"],
    ),
    "run-as-non-root-unset": (
        lambda p: pod_sc(p).pop("runAsNonRoot"),
        [
            f"{C}: runAsNonRoot is not true (here or at pod level) "
            "[pss-restricted/running-as-non-root]"
        ],
    ),
    "run-as-non-root-container-false": (
        lambda p: sc(p).update(runAsNonRoot=False),
        [
            f"{C}: runAsNonRoot is not true (here or at pod level) "
            "[pss-restricted/running-as-non-root]"
        ],
    ),
    "run-as-non-root-pod-false": (
        lambda p: (pod_sc(p).update(runAsNonRoot=False), sc(p).update(runAsNonRoot=True)),
        ["Pod/p: pod runAsNonRoot=false [pss-restricted/running-as-non-root]"],
    ),
    "run-as-user-0-pod": (
        lambda p: pod_sc(p).update(runAsUser=0),
        ["Pod/p: pod runAsUser=0 [pss-restricted/running-as-non-root-user]"],
    ),
    "run-as-user-0-container": (
        lambda p: sc(p).update(runAsUser=0),
        [f"{C}: runAsUser=0 [pss-restricted/running-as-non-root-user]"],
    ),
    "init-container": (
        lambda p: spec(p).update(initContainers=[{"name": "i", "image": "app:1"}]),
        [
            "Pod/p init container i: allowPrivilegeEscalation is not false "
            "[pss-restricted/privilege-escalation]",
            "Pod/p init container i: capabilities.drop does not contain ALL "
            "[pss-restricted/capabilities]",
        ],
    ),
    "ephemeral-container": (
        lambda p: spec(p).update(
            ephemeralContainers=[
                {"name": "e", "image": "busybox:1", "securityContext": {"privileged": True}}
            ]
        ),
        [
            "Pod/p ephemeral e: privileged=true [pss-baseline/privileged]",
            "Pod/p ephemeral e: allowPrivilegeEscalation is not false "
            "[pss-restricted/privilege-escalation]",
            "Pod/p ephemeral e: capabilities.drop does not contain ALL "
            "[pss-restricted/capabilities]",
        ],
    ),
}

GOOD: dict[str, Mutation] = {
    "as-is": lambda p: None,
    "add-net-bind-service": lambda p: sc(p)["capabilities"].update(add=["NET_BIND_SERVICE"]),
    "host-port-0": lambda p: container(p).update(ports=[{"containerPort": 80, "hostPort": 0}]),
    "host-network-false": lambda p: spec(p).update(hostNetwork=False, hostPID=False),
    "apparmor-runtime-default": lambda p: p["metadata"].update(
        annotations={"container.apparmor.security.beta.kubernetes.io/c": "runtime/default"}
    ),
    "apparmor-localhost": lambda p: sc(p).update(
        appArmorProfile={"type": "Localhost", "localhostProfile": "k8s-apparmor-example"}
    ),
    "selinux-container-t": lambda p: sc(p).update(seLinuxOptions={"type": "container_t"}),
    "selinux-level-only": lambda p: pod_sc(p).update(seLinuxOptions={"level": "s0:c123,c456"}),
    "proc-mount-default": lambda p: sc(p).update(procMount="Default"),
    "safe-sysctls": lambda p: pod_sc(p).update(
        sysctls=[
            {"name": "net.ipv4.tcp_keepalive_time", "value": "60"},
            {"name": "kernel.shm_rmid_forced", "value": "1"},
        ]
    ),
    "allowed-volumes": lambda p: spec(p).update(
        volumes=[
            {"name": "a", "configMap": {"name": "x"}},
            {"name": "b", "secret": {"secretName": "x"}},
            {"name": "c", "emptyDir": {}},
            {"name": "d", "projected": {"sources": []}},
            {"name": "e", "persistentVolumeClaim": {"claimName": "x"}},
            {"name": "f", "downwardAPI": {"items": []}},
            {"name": "g", "csi": {"driver": "x"}},
            {
                "name": "h",
                "ephemeral": {
                    "volumeClaimTemplate": {
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        }
                    }
                },
            },
        ]
    ),
    "seccomp-on-every-container-only": lambda p: (
        pod_sc(p).pop("seccompProfile"),
        sc(p).update(seccompProfile={"type": "Localhost", "localhostProfile": "x.json"}),
    ),
    "run-as-non-root-on-container-only": lambda p: (
        pod_sc(p).pop("runAsNonRoot"),
        sc(p).update(runAsNonRoot=True),
    ),
    # PSS treats null as unset: the pod-level true applies
    "run-as-non-root-container-null": lambda p: sc(p).update(runAsNonRoot=None),
    "run-as-user-non-zero": lambda p: sc(p).update(runAsUser=1000),
    # Linux-only rules do not apply to Windows pods (1.25+)
    "windows-pod": lambda p: (
        spec(p).update(os={"name": "windows"}),
        pod_sc(p).pop("seccompProfile"),
        sc(p).clear(),
    ),
}
