"""Pod hardening checks over rendered objects; each returns a list of problems (empty = fine).

Rules (issue 6, SC-004): every container runs as a non-root UID, cannot escalate privileges,
drops ALL capabilities, has a read-only root filesystem unless the program needs to write to it
(an explicit, documented exemption), has CPU and memory requests and limits, and every main
container has liveness and readiness probes. No image runs by the ``latest`` tag or untagged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from floe_checks.charts.objects import Container, Workload, workloads


def _effective(container: Container, workload: Workload, key: str) -> Any:
    if key in container.security_context:
        return container.security_context[key]
    return workload.pod_security_context.get(key)


def image_problems(container: Container, where: str) -> list[str]:
    """The image has an explicit tag (or digest) that is not ``latest``."""
    image = container.image
    if "@sha256:" in image:
        return []
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return [f"{where}: image {image!r} has no tag"]
    if tag == "latest":
        return [f"{where}: image {image!r} uses the latest tag"]
    return []


def container_problems(
    container: Container,
    workload: Workload,
    *,
    writable_root_ok: bool = False,
) -> list[str]:
    """Hardening problems of one container of ``workload``."""
    where = f"{workload.ref} container {container.name}"
    problems = image_problems(container, where)
    if _effective(container, workload, "runAsNonRoot") is not True:
        problems.append(f"{where}: runAsNonRoot is not true")
    uid = _effective(container, workload, "runAsUser")
    if uid is None or int(uid) == 0:
        problems.append(f"{where}: runAsUser is {uid!r}, need a non-zero UID")
    sc = container.security_context
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation is not false")
    if sc.get("privileged") is True:
        problems.append(f"{where}: runs privileged")
    dropped = {str(c) for c in (sc.get("capabilities") or {}).get("drop") or []}
    if "ALL" not in dropped:
        problems.append(f"{where}: capabilities.drop does not contain ALL")
    if (sc.get("capabilities") or {}).get("add"):
        problems.append(f"{where}: adds capabilities {sc['capabilities']['add']}")
    if not writable_root_ok and sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{where}: readOnlyRootFilesystem is not true")
    for kind in ("requests", "limits"):
        have = container.resources.get(kind) or {}
        for resource in ("cpu", "memory"):
            if resource not in have:
                problems.append(f"{where}: resources.{kind}.{resource} is not set")
    if not container.init:
        if container.liveness is None:
            problems.append(f"{where}: no livenessProbe")
        if container.readiness is None:
            problems.append(f"{where}: no readinessProbe")
    return problems


def check_hardening(
    objects: Iterable[dict[str, Any]],
    *,
    writable_root: Collection[str] = (),
) -> list[str]:
    """Hardening problems of every container of every workload.

    Args:
        objects: rendered objects.
        writable_root: ``"Kind/name:container"`` entries allowed a writable root filesystem
            (the program writes outside its mounted volumes); everything else must be read-only.
    """
    problems: list[str] = []
    for workload in workloads(objects):
        if workload.pod_security_context.get("seccompProfile", {}).get("type") not in (
            "RuntimeDefault",
            "Localhost",
        ):
            problems.append(f"{workload.ref}: pod seccompProfile is not RuntimeDefault")
        for container in workload.containers:
            exempt = f"{workload.ref}:{container.name}" in writable_root
            problems += container_problems(container, workload, writable_root_ok=exempt)
    return problems
