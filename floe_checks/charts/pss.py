"""The Pod Security Standards, baseline and restricted, checked offline, rule for rule.

A rendered object passes :func:`check_pod_security` exactly when the API server's PodSecurity
admission at ``enforce: restricted`` (or ``baseline``) would admit its pod template. The rules
follow the Kubernetes documentation of the Pod Security Standards for the versions our charts
support (1.29-1.33) and the admission plugin's reading of them: a field set to ``null`` counts as
unset, container fields inherit from the pod where the admission says so, and
``initContainers`` and ``ephemeralContainers`` are checked like ``containers``.

Rules (profile, the version that introduced the rule, the fields and their allowed values):

- ``pss-baseline/host-process`` (1.23): ``windowsOptions.hostProcess`` of pod and containers:
  unset or false.
- ``pss-baseline/host-namespaces``: ``hostNetwork``, ``hostPID``, ``hostIPC``: unset or false.
- ``pss-baseline/privileged``: ``privileged``: unset or false.
- ``pss-baseline/capabilities``: ``capabilities.add``: only :data:`BASELINE_CAPABILITIES`.
- ``pss-baseline/host-path-volumes``: ``volumes[*].hostPath``: unset.
- ``pss-baseline/host-ports``: ``ports[*].hostPort``: unset or 0.
- ``pss-baseline/apparmor``: ``container.apparmor.security.beta.kubernetes.io/*`` annotations:
  unset, ``runtime/default`` or ``localhost/*``; ``appArmorProfile.type`` (1.30): unset,
  RuntimeDefault or Localhost.
- ``pss-baseline/selinux``: ``seLinuxOptions.type``: one of :data:`SELINUX_TYPES`
  (``container_engine_t`` since 1.31); ``.user`` and ``.role``: unset or "".
- ``pss-baseline/proc-mount``: ``procMount``: unset or Default.
- ``pss-baseline/seccomp`` (1.19): ``seccompProfile.type`` of pod and containers: not Unconfined.
- ``pss-baseline/sysctls``: ``securityContext.sysctls[*].name``: one of :data:`SAFE_SYSCTLS`
  (names added in 1.27 and 1.29 are marked there).
- ``pss-restricted/volume-types``: every volume one of :data:`RESTRICTED_VOLUMES`.
- ``pss-restricted/privilege-escalation`` (1.8): ``allowPrivilegeEscalation``: false (Linux pods
  only since 1.25).
- ``pss-restricted/running-as-non-root``: ``runAsNonRoot``: true at pod level or on every
  container, and never false.
- ``pss-restricted/running-as-non-root-user`` (1.23): ``runAsUser``: unset or non-zero.
- ``pss-restricted/seccomp`` (1.19): ``seccompProfile.type``: RuntimeDefault or Localhost at pod
  level, or on every container (Linux pods only since 1.25).
- ``pss-restricted/capabilities`` (1.22): ``capabilities.drop`` contains ALL;
  ``capabilities.add`` only NET_BIND_SERVICE (Linux pods only since 1.25).

As the admission does, the restricted profile replaces three baseline rules by its stricter
versions, so each problem is reported once: at ``restricted`` a hostPath volume is a
``pss-restricted/volume-types`` problem, an ``Unconfined`` seccomp profile a
``pss-restricted/seccomp`` one and any added capability a ``pss-restricted/capabilities`` one.

Not modelled: the ``image`` volume type some newer releases allow under restricted (our charts
never use it, so it is reported as a non-allowed volume type), and the pod-level
``seccomp.security.alpha.kubernetes.io`` annotations removed in 1.27.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from floe_checks.charts.objects import as_dict as _dict
from floe_checks.charts.objects import as_list as _list
from floe_checks.charts.objects import pod_template

Profile = Literal["baseline", "restricted"]

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",  # 1.27+
        "net.ipv4.tcp_keepalive_time",  # 1.29+
        "net.ipv4.tcp_fin_timeout",  # 1.29+
        "net.ipv4.tcp_keepalive_intvl",  # 1.29+
        "net.ipv4.tcp_keepalive_probes",  # 1.29+
    }
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Violation:
    """One field of one pod template that the profile forbids."""

    rule: str  # e.g. "pss-restricted/seccomp"
    where: str  # e.g. "Deployment/web container app"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message} [{self.rule}]"


@dataclass(frozen=True)
class _Pod:
    ref: str
    metadata: dict[str, Any]
    spec: dict[str, Any]

    @property
    def security_context(self) -> dict[str, Any]:
        return _dict(self.spec.get("securityContext"))

    @property
    def windows(self) -> bool:
        return _dict(self.spec.get("os")).get("name") == "windows"

    def containers(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(where, container)`` for every container of every list, in the API's order."""
        for key in CONTAINER_LISTS:
            label = {"initContainers": "init container", "ephemeralContainers": "ephemeral"}.get(
                key, "container"
            )
            for raw in _list(self.spec.get(key)):
                container = _dict(raw)
                yield f"{self.ref} {label} {container.get('name')}", container


def _sc(container: dict[str, Any]) -> dict[str, Any]:
    return _dict(container.get("securityContext"))


def _baseline(pod: _Pod, restricted: bool) -> Iterator[Violation]:
    # At restricted, the admission replaces three baseline checks by stricter versions
    # (capabilities, hostPath by volume types, seccomp): report each problem once, as it does.
    pod_sc = pod.security_context
    if _dict(pod_sc.get("windowsOptions")).get("hostProcess") is True:
        yield Violation("pss-baseline/host-process", pod.ref, "pod sets hostProcess=true")
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.spec.get(field) is True:
            yield Violation("pss-baseline/host-namespaces", pod.ref, f"{field}=true")
    for volume in [] if restricted else _list(pod.spec.get("volumes")):
        if _dict(volume).get("hostPath") is not None:
            yield Violation(
                "pss-baseline/host-path-volumes",
                pod.ref,
                f"volume {_dict(volume).get('name')!r} is a hostPath volume",
            )
    for key, value in sorted(_dict(pod.metadata.get("annotations")).items()):
        if str(key).startswith(APPARMOR_ANNOTATION) and not _apparmor_annotation_ok(value):
            yield Violation(
                "pss-baseline/apparmor", pod.ref, f"annotation {key}={value!r} is not allowed"
            )
    yield from _apparmor_profile(pod.ref, "pod", pod_sc)
    yield from _selinux(pod.ref, "pod", pod_sc)
    if not restricted and _dict(pod_sc.get("seccompProfile")).get("type") == "Unconfined":
        yield Violation("pss-baseline/seccomp", pod.ref, "pod seccompProfile.type is Unconfined")
    for sysctl in _list(pod_sc.get("sysctls")):
        name = _dict(sysctl).get("name")
        if name not in SAFE_SYSCTLS:
            yield Violation("pss-baseline/sysctls", pod.ref, f"sysctl {name!r} is not safe")
    for where, container in pod.containers():
        sc = _sc(container)
        if _dict(sc.get("windowsOptions")).get("hostProcess") is True:
            yield Violation("pss-baseline/host-process", where, "hostProcess=true")
        if sc.get("privileged") is True:
            yield Violation("pss-baseline/privileged", where, "privileged=true")
        added = [str(c) for c in _list(_dict(sc.get("capabilities")).get("add"))]
        beyond = [c for c in added if c not in BASELINE_CAPABILITIES]
        if beyond and not restricted:
            yield Violation(
                "pss-baseline/capabilities", where, f"adds capabilities beyond the default {beyond}"
            )
        for port in _list(container.get("ports")):
            host_port = _dict(port).get("hostPort")
            if host_port not in (None, 0):
                yield Violation("pss-baseline/host-ports", where, f"hostPort {host_port}")
        yield from _apparmor_profile(where, "container", sc)
        yield from _selinux(where, "container", sc)
        if sc.get("procMount") not in (None, "Default"):
            yield Violation("pss-baseline/proc-mount", where, f"procMount={sc['procMount']}")
        if not restricted and _dict(sc.get("seccompProfile")).get("type") == "Unconfined":
            yield Violation("pss-baseline/seccomp", where, "seccompProfile.type is Unconfined")


def _apparmor_annotation_ok(value: Any) -> bool:
    text = "" if value is None else str(value)
    return text in ("", "runtime/default") or text.startswith("localhost/")


def _apparmor_profile(where: str, level: str, sc: dict[str, Any]) -> Iterator[Violation]:
    kind = _dict(sc.get("appArmorProfile")).get("type")
    if kind not in (None, "RuntimeDefault", "Localhost"):
        yield Violation("pss-baseline/apparmor", where, f"{level} appArmorProfile.type is {kind}")


def _selinux(where: str, level: str, sc: dict[str, Any]) -> Iterator[Violation]:
    options = _dict(sc.get("seLinuxOptions"))
    kind = options.get("type")
    if kind is not None and kind not in SELINUX_TYPES:
        yield Violation("pss-baseline/selinux", where, f"{level} seLinuxOptions.type is {kind}")
    for field in ("user", "role"):
        if options.get(field) not in (None, ""):
            yield Violation("pss-baseline/selinux", where, f"{level} seLinuxOptions.{field} is set")


def _restricted(pod: _Pod) -> Iterator[Violation]:
    pod_sc = pod.security_context
    for volume in _list(pod.spec.get("volumes")):
        source = sorted(k for k in _dict(volume) if k != "name")
        if any(k not in RESTRICTED_VOLUMES for k in source):
            yield Violation(
                "pss-restricted/volume-types",
                pod.ref,
                f"volume {_dict(volume).get('name')!r} has type {', '.join(source)}",
            )
    pod_non_root = pod_sc.get("runAsNonRoot")
    if pod_non_root is False:
        yield Violation("pss-restricted/running-as-non-root", pod.ref, "pod runAsNonRoot=false")
    if pod_sc.get("runAsUser") == 0:
        yield Violation("pss-restricted/running-as-non-root-user", pod.ref, "pod runAsUser=0")
    pod_seccomp = _dict(pod_sc.get("seccompProfile")).get("type")
    if not pod.windows and pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        yield Violation("pss-restricted/seccomp", pod.ref, f"pod seccompProfile.type {pod_seccomp}")
    for where, container in pod.containers():
        sc = _sc(container)
        if not pod.windows and sc.get("allowPrivilegeEscalation") is not False:
            yield Violation(
                "pss-restricted/privilege-escalation",
                where,
                "allowPrivilegeEscalation is not false",
            )
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and pod_non_root is not True):
            yield Violation(
                "pss-restricted/running-as-non-root",
                where,
                "runAsNonRoot is not true (here or at pod level)",
            )
        if sc.get("runAsUser") == 0:
            yield Violation("pss-restricted/running-as-non-root-user", where, "runAsUser=0")
        if not pod.windows:
            seccomp = _dict(sc.get("seccompProfile")).get("type")
            if seccomp is None and pod_seccomp is None:
                yield Violation(
                    "pss-restricted/seccomp",
                    where,
                    "no seccompProfile.type here or at pod level (RuntimeDefault or Localhost)",
                )
            elif seccomp not in (None, "RuntimeDefault", "Localhost"):
                yield Violation("pss-restricted/seccomp", where, f"seccompProfile.type {seccomp}")
            capabilities = _dict(sc.get("capabilities"))
            if "ALL" not in [str(c) for c in _list(capabilities.get("drop"))]:
                yield Violation(
                    "pss-restricted/capabilities", where, "capabilities.drop does not contain ALL"
                )
            extra = [str(c) for c in _list(capabilities.get("add")) if c != "NET_BIND_SERVICE"]
            if extra:
                yield Violation(
                    "pss-restricted/capabilities",
                    where,
                    f"adds capabilities {extra}; only NET_BIND_SERVICE is allowed",
                )


def _pods(objects: Iterable[dict[str, Any]]) -> Iterator[_Pod]:
    for obj in objects:
        template = pod_template(obj)
        if template is None:
            continue
        metadata = _dict(obj.get("metadata"))
        yield _Pod(
            ref=f"{obj.get('kind')}/{metadata.get('name')}",
            metadata=_dict(template.get("metadata")),
            spec=_dict(template.get("spec")),
        )


def check_pod_security(
    objects: Iterable[dict[str, Any]], profile: Profile = "restricted"
) -> list[Violation]:
    """Every violation of the Pod Security Standard ``profile`` in the objects' pod templates.

    Args:
        objects: rendered Kubernetes objects (Pods and anything with a pod template).
        profile: ``"restricted"`` (which includes every baseline rule) or ``"baseline"``.

    Returns:
        The violations, per object in input order, baseline rules first; empty when the
        admission would admit every pod.
    """
    violations: list[Violation] = []
    for pod in _pods(objects):
        violations += _baseline(pod, restricted=profile == "restricted")
        if profile == "restricted":
            violations += _restricted(pod)
    return violations
