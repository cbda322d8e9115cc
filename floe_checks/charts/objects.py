"""Typed views of rendered Kubernetes objects, so checks read fields instead of dict paths.

Like Dagster's own chart tests, we load ``helm template`` output into typed models and assert
on fields. The views keep the raw dict (``raw``) for anything they do not model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else ``{}``: Helm renders unset values as ``null``, and a
    typo can put a string where a mapping belongs; the checks report, they never crash."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a list, else ``[]`` (see :func:`as_dict`)."""
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")


@dataclass(frozen=True)
class Probe:
    """One liveness/readiness/startup probe."""

    kind: str  # "httpGet", "tcpSocket", "exec", "grpc"
    path: str | None
    port: int | str | None

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> Probe | None:
        if not raw or not isinstance(raw, dict):
            return None
        for kind in ("httpGet", "tcpSocket", "grpc"):
            if kind in raw:
                spec = as_dict(raw[kind])
                return cls(kind, spec.get("path"), spec.get("port"))
        if "exec" in raw:
            return cls("exec", None, None)
        return None


@dataclass(frozen=True)
class Container:
    """A container (or init container) of a workload's pod template."""

    name: str
    image: str
    init: bool
    security_context: dict[str, Any]
    resources: dict[str, Any]
    liveness: Probe | None
    readiness: Probe | None
    ports: dict[str, int]  # name (or str(number)) → containerPort
    mounts: dict[str, str]  # mountPath → volume name
    env: list[dict[str, Any]]
    env_from: list[dict[str, Any]]

    @classmethod
    def parse(cls, raw: dict[str, Any], *, init: bool) -> Container:
        ports: dict[str, int] = {}
        for port in as_list(raw.get("ports")):
            # schema validation reports a port without (or with a malformed) containerPort
            number = _int(as_dict(port).get("containerPort"))
            if number is None:
                continue
            ports[str(number)] = number
            if port.get("name"):
                ports[str(port["name"])] = number
        return cls(
            name=str(raw.get("name")),
            image=str(raw.get("image", "")),
            init=init,
            security_context=dict(as_dict(raw.get("securityContext"))),
            resources=dict(as_dict(raw.get("resources"))),
            liveness=Probe.parse(raw.get("livenessProbe")),
            readiness=Probe.parse(raw.get("readinessProbe")),
            ports=ports,
            mounts={
                str(m["mountPath"]): str(m.get("name"))
                for m in map(as_dict, as_list(raw.get("volumeMounts")))
                if "mountPath" in m
            },
            env=[e for e in as_list(raw.get("env")) if isinstance(e, dict)],
            env_from=[e for e in as_list(raw.get("envFrom")) if isinstance(e, dict)],
        )

    def port_number(self, port: int | str | None) -> int | None:
        """Resolve a probe or Service target port (number or name) against this container."""
        if port is None:
            return None
        return self.ports.get(str(port))


@dataclass(frozen=True)
class Workload:
    """A Deployment, StatefulSet, Job, … reduced to its pod template."""

    kind: str
    name: str
    pod_labels: dict[str, str]
    pod_security_context: dict[str, Any]
    containers: list[Container]
    volumes: dict[str, dict[str, Any]]  # volume name → volume source
    raw: dict[str, Any] = field(repr=False)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    def all_containers(self) -> Iterator[Container]:
        yield from self.containers


@dataclass(frozen=True)
class Service:
    """A Service: its selector and (port, targetPort) pairs."""

    name: str
    selector: dict[str, str]
    ports: list[tuple[int, int | str]]
    type: str


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template of a workload (a Pod's own metadata and spec), else ``None``."""
    kind = obj.get("kind")
    spec = as_dict(obj.get("spec"))
    template: Any = None
    if kind == "Pod":
        template = {"metadata": as_dict(obj.get("metadata")), "spec": spec}
    elif kind == "CronJob":
        template = as_dict(as_dict(spec.get("jobTemplate")).get("spec")).get("template")
    elif kind in WORKLOAD_KINDS:
        template = spec.get("template")
    return template if isinstance(template, dict) else None


def workloads(objects: Iterable[dict[str, Any]]) -> list[Workload]:
    """Every object with a pod template, as :class:`Workload`."""
    result = []
    for obj in objects:
        template = pod_template(obj)
        if template is None:
            continue
        pod = as_dict(template.get("spec"))
        containers = [
            Container.parse(c, init=True)
            for c in as_list(pod.get("initContainers"))
            if isinstance(c, dict)
        ]
        containers += [
            Container.parse(c, init=False)
            for c in as_list(pod.get("containers"))
            if isinstance(c, dict)
        ]
        result.append(
            Workload(
                kind=str(obj["kind"]),
                name=str(as_dict(obj.get("metadata")).get("name")),
                pod_labels=dict(as_dict(as_dict(template.get("metadata")).get("labels"))),
                pod_security_context=dict(as_dict(pod.get("securityContext"))),
                containers=containers,
                volumes={str(v.get("name")): v for v in map(as_dict, as_list(pod.get("volumes")))},
                raw=obj,
            )
        )
    return result


def services(objects: Iterable[dict[str, Any]]) -> list[Service]:
    """Every Service, as :class:`Service`."""
    result = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        spec = obj.get("spec") or {}
        ports = [(int(p["port"]), p.get("targetPort", p["port"])) for p in spec.get("ports") or []]
        result.append(
            Service(
                name=str(obj["metadata"]["name"]),
                selector=dict(spec.get("selector") or {}),
                ports=ports,
                type=str(spec.get("type", "ClusterIP")),
            )
        )
    return result


def by_kind(objects: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Objects of one kind, by name."""
    return {str(o["metadata"]["name"]): o for o in objects if o.get("kind") == kind}


def ref(obj: dict[str, Any]) -> str:
    """``Kind/name`` of a rendered object, for messages."""
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
