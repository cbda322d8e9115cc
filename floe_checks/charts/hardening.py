"""Pod hardening checks over rendered objects: the Pod Security Standard plus our own policy.

Every problem names its rule, so users can tell the two apart:

- ``pss-baseline/*`` and ``pss-restricted/*``: the Pod Security Standard ``restricted``, rule for
  rule as the API server's PodSecurity admission enforces it (:mod:`floe_checks.charts.pss`).
  A workload without such a problem is admitted to a namespace labelled
  ``pod-security.kubernetes.io/enforce: restricted``.
- ``floe/*``: what we demand beyond the standard (issue 6, SC-004): an explicit non-zero
  ``runAsUser`` (the standard only forbids 0), the seccomp profile at pod level, no added
  capability at all (the standard allows NET_BIND_SERVICE), a read-only root filesystem unless
  the program needs to write to it (an explicit, documented exemption), CPU and memory requests
  and limits, liveness and readiness probes on every main container of a long-running pod (a pod
  that runs to completion — ``restartPolicy`` Never or OnFailure: a Job's, a ``helm test``
  hook — has no state to probe: it ends with an exit code), and an image pinned by a tag other
  than ``latest`` or by digest.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from floe_checks.charts.objects import (
    Container,
    Workload,
    as_dict,
    as_list,
    pod_template,
    workloads,
)
from floe_checks.charts.pss import Violation, check_pod_security


def _effective(container: Container, workload: Workload, key: str) -> Any:
    """A container's security setting, else the pod's: ``null`` counts as unset, as in PSS."""
    value = container.security_context.get(key)
    if value is not None:
        return value
    return workload.pod_security_context.get(key)


def image_problems(container: Container, where: str) -> list[str]:
    """The image has an explicit tag (or digest) that is not ``latest``."""
    image = container.image
    if "@sha256:" in image:
        return []
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return [f"{where}: image {image!r} has no tag [floe/image-tag]"]
    if tag == "latest":
        return [f"{where}: image {image!r} uses the latest tag [floe/image-tag]"]
    return []


def runs_to_completion(workload: Workload) -> bool:
    """The pod ends with an exit code instead of serving: ``restartPolicy`` Never or OnFailure
    (every Job's pod, a ``helm test`` hook). Kubernetes' default, Always, is a long-running pod."""
    spec = as_dict(as_dict(pod_template(workload.raw)).get("spec"))
    return spec.get("restartPolicy") in ("Never", "OnFailure")


def container_problems(
    container: Container,
    workload: Workload,
    *,
    writable_root_ok: bool = False,
) -> list[str]:
    """Our own policy's problems (``floe/*``) with one container of ``workload``.

    The Pod Security Standard's rules are not repeated here: :func:`check_hardening` adds them.
    """
    where = f"{workload.ref} container {container.name}"
    problems = image_problems(container, where)
    if _effective(container, workload, "runAsUser") is None:
        problems.append(f"{where}: runAsUser is not set, need a non-zero UID [floe/run-as-user]")
    sc = container.security_context
    added = [str(c) for c in as_list(as_dict(sc.get("capabilities")).get("add"))]
    if added == ["NET_BIND_SERVICE"]:
        # anything else is a PSS problem already; this one only our policy forbids
        problems.append(f"{where}: adds capabilities {added} [floe/no-added-capabilities]")
    if not writable_root_ok and sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem is not true [floe/read-only-root]")
    for kind in ("requests", "limits"):
        have = as_dict(container.resources.get(kind))
        for resource in ("cpu", "memory"):
            if resource not in have:
                problems.append(f"{where}: resources.{kind}.{resource} is not set [floe/resources]")
    if not container.init and not runs_to_completion(workload):
        if container.liveness is None:
            problems.append(f"{where}: no livenessProbe [floe/probes]")
        if container.readiness is None:
            problems.append(f"{where}: no readinessProbe [floe/probes]")
    return problems


def policy_problems(
    objects: Iterable[dict[str, Any]], *, writable_root: Collection[str] = ()
) -> list[str]:
    """Our own policy's problems (``floe/*``) with every workload, in input order."""
    problems: list[str] = []
    for workload in workloads(objects):
        seccomp = as_dict(workload.pod_security_context.get("seccompProfile")).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(
                f"{workload.ref}: pod seccompProfile is not RuntimeDefault [floe/pod-seccomp]"
            )
        for container in workload.containers:
            exempt = f"{workload.ref}:{container.name}" in writable_root
            problems += container_problems(container, workload, writable_root_ok=exempt)
    return problems


def check_hardening(
    objects: Iterable[dict[str, Any]],
    *,
    writable_root: Collection[str] = (),
) -> list[str]:
    """Every hardening problem of every workload: the PSS ``restricted`` rules, then ours.

    Args:
        objects: rendered objects.
        writable_root: ``"Kind/name:container"`` entries allowed a writable root filesystem
            (the program writes outside its mounted volumes); everything else must be read-only.

    Returns:
        One line per problem, ``"<Kind/name [container c]>: <what> [<rule>]"``; empty when the
        objects are hardened.
    """
    objects = list(objects)
    violations: list[Violation] = check_pod_security(objects, "restricted")
    return [str(v) for v in violations] + policy_problems(objects, writable_root=writable_root)
