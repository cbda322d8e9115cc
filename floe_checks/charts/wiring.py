"""Wiring checks over rendered objects: do the pieces point at each other correctly?

Each function returns a list of problems (empty = fine), so the chart tests and the examples'
environment checks share them: Secrets and ConfigMaps that are referenced exist (or are an
ExternalSecret target, or a documented pre-existing Secret), Services select pods and target
ports those pods declare, probes target declared ports and real health paths, Ingress backends
and PodDisruptionBudgets point at something, and a ConfigMap is mounted where it must be.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from floe_checks.charts.objects import Workload, by_kind, ref, services, workloads


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def secret_names(objects: Iterable[dict[str, Any]]) -> set[str]:
    """Secrets the render provides: Secret objects, ExternalSecret and SealedSecret targets."""
    names: set[str] = set()
    for obj in objects:
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        if kind == "Secret":
            names.add(str(meta.get("name")))
        elif kind == "ExternalSecret":
            names.add(str((spec.get("target") or {}).get("name") or meta.get("name")))
        elif kind == "SealedSecret":
            names.add(
                str(
                    ((spec.get("template") or {}).get("metadata") or {}).get("name")
                    or meta.get("name")
                )
            )
    return names


def _referenced(workload: Workload, kind: str) -> list[tuple[str, bool, str]]:
    """(name, optional, where) of every Secret/ConfigMap a workload references."""
    key_ref = "secretKeyRef" if kind == "Secret" else "configMapKeyRef"
    env_ref = "secretRef" if kind == "Secret" else "configMapRef"
    refs: list[tuple[str, bool, str]] = []
    for c in workload.containers:
        where = f"{workload.ref} container {c.name}"
        for env in c.env:
            src = (env.get("valueFrom") or {}).get(key_ref)
            if src:
                refs.append(
                    (str(src["name"]), bool(src.get("optional")), f"{where} env {env['name']}")
                )
        for env_from in c.env_from:
            src = env_from.get(env_ref)
            if src:
                refs.append((str(src["name"]), bool(src.get("optional")), f"{where} envFrom"))
    for vname, volume in workload.volumes.items():
        sources = [volume]
        sources += [s for s in (volume.get("projected") or {}).get("sources") or []]
        for src in sources:
            if kind == "Secret" and "secret" in src:
                name = src["secret"].get("secretName") or src["secret"].get("name")
                refs.append(
                    (
                        str(name),
                        bool(src["secret"].get("optional")),
                        f"{workload.ref} volume {vname}",
                    )
                )
            if kind == "ConfigMap" and "configMap" in src:
                refs.append(
                    (
                        str(src["configMap"]["name"]),
                        bool(src["configMap"].get("optional")),
                        f"{workload.ref} volume {vname}",
                    )
                )
    return refs


def check_secret_references(
    objects: Iterable[dict[str, Any]], documented_existing: Collection[str] = ()
) -> list[str]:
    """Every Secret a workload or Ingress uses is rendered, an ExternalSecret/SealedSecret
    target, or one of ``documented_existing`` (Secrets the docs tell the user to create)."""
    objects = list(objects)
    available = secret_names(objects) | set(documented_existing)
    problems = []
    for workload in workloads(objects):
        for name, optional, where in _referenced(workload, "Secret"):
            if not optional and name not in available:
                problems.append(
                    f"{where}: Secret {name!r} is neither rendered, an "
                    "ExternalSecret target, nor a documented existingSecret"
                )
    for ing in by_kind(objects, "Ingress").values():
        for tls in (ing.get("spec") or {}).get("tls") or []:
            name = tls.get("secretName")
            if name and name not in available:
                problems.append(f"{ref(ing)}: TLS Secret {name!r} is not provided")
    return problems


def check_configmap_references(
    objects: Iterable[dict[str, Any]], documented_existing: Collection[str] = ()
) -> list[str]:
    """Every ConfigMap a workload uses is rendered or documented as pre-existing."""
    objects = list(objects)
    available = set(by_kind(objects, "ConfigMap")) | set(documented_existing)
    return [
        f"{where}: ConfigMap {name!r} is not rendered"
        for workload in workloads(objects)
        for name, optional, where in _referenced(workload, "ConfigMap")
        if not optional and name not in available
    ]


def check_service_ports(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Each Service selects at least one pod template and each targetPort is a declared port."""
    objects = list(objects)
    loads = workloads(objects)
    problems = []
    for svc in services(objects):
        if not svc.selector:
            continue  # selector-less Services are wired by hand (Endpoints), not ours to judge
        matched = [w for w in loads if _selects(svc.selector, w.pod_labels)]
        if not matched:
            problems.append(f"Service/{svc.name}: selector {svc.selector} matches no pod template")
            continue
        for port, target in svc.ports:
            if not any(
                c.port_number(target) is not None
                for w in matched
                for c in w.containers
                if not c.init
            ):
                names = ", ".join(w.ref for w in matched)
                problems.append(
                    f"Service/{svc.name}: port {port} targets {target!r}, which no "
                    f"container of {names} declares"
                )
    return problems


def _repository(image: str) -> str:
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name.rsplit("/", 1)[-1]


def check_probes(
    objects: Iterable[dict[str, Any]], health_paths: Mapping[str, Collection[str]]
) -> list[str]:
    """Probes target a declared container port; HTTP probes hit a known health path.

    Args:
        objects: rendered objects.
        health_paths: image repository name (last path segment, e.g. ``cube``) → the HTTP paths
            that program really serves for health. An HTTP probe on an image not listed is a
            problem: nobody vouched for its path.
    """
    problems = []
    for workload in workloads(objects):
        for c in workload.containers:
            for label, probe in (("liveness", c.liveness), ("readiness", c.readiness)):
                if probe is None or probe.kind not in ("httpGet", "tcpSocket", "grpc"):
                    continue
                where = f"{workload.ref} container {c.name} {label}Probe"
                if c.port_number(probe.port) is None:
                    problems.append(f"{where}: port {probe.port!r} is not a declared containerPort")
                if probe.kind == "httpGet":
                    known = health_paths.get(_repository(c.image))
                    if known is None:
                        problems.append(f"{where}: no known health paths for image {c.image!r}")
                    elif probe.path not in known:
                        problems.append(
                            f"{where}: path {probe.path!r} is not one of "
                            f"{sorted(known)} that {_repository(c.image)} serves"
                        )
    return problems


def check_ingress_backends(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Every Ingress backend names a rendered Service and one of its ports."""
    objects = list(objects)
    svcs = {s.name: s for s in services(objects)}
    problems = []
    for ing in by_kind(objects, "Ingress").values():
        spec = ing.get("spec") or {}
        backends = [spec["defaultBackend"]] if spec.get("defaultBackend") else []
        for rule in spec.get("rules") or []:
            backends += [p["backend"] for p in (rule.get("http") or {}).get("paths") or []]
        for backend in backends:
            service = backend.get("service") or {}
            svc = svcs.get(str(service.get("name")))
            if svc is None:
                problems.append(f"{ref(ing)}: backend Service {service.get('name')!r} not rendered")
                continue
            port = service.get("port") or {}
            if "number" in port and all(p != port["number"] for p, _ in svc.ports):
                problems.append(f"{ref(ing)}: Service {svc.name} has no port {port['number']}")
    return problems


def check_pdb_selectors(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Every PodDisruptionBudget selects at least one rendered pod template."""
    objects = list(objects)
    loads = workloads(objects)
    problems = []
    for pdb in by_kind(objects, "PodDisruptionBudget").values():
        selector = ((pdb.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not any(_selects(selector, w.pod_labels) for w in loads):
            problems.append(f"{ref(pdb)}: selector {selector} matches no pod template")
    return problems


def check_configmap_mounted(
    objects: Iterable[dict[str, Any]],
    configmap: str,
    mount_path: str,
    workload_names: Collection[str],
) -> list[str]:
    """``configmap`` is mounted at ``mount_path`` in a main container of each named workload."""
    objects = list(objects)
    found = {w.name: w for w in workloads(objects)}
    problems = []
    for name in workload_names:
        workload = found.get(name)
        if workload is None:
            problems.append(f"workload {name!r} is not rendered")
            continue
        ok = False
        for c in workload.containers:
            volume = workload.volumes.get(c.mounts.get(mount_path, ""), {})
            if not c.init and (volume.get("configMap") or {}).get("name") == configmap:
                ok = True
        if not ok:
            problems.append(
                f"{workload.ref}: ConfigMap {configmap!r} is not mounted at {mount_path}"
            )
    return problems


# --- Dagster run pods -------------------------------------------------------------------------
# Run pods are created at run time by dagster-k8s, not rendered by Helm; what they will reference
# is rendered, though: the run launcher's config in the instance ConfigMap (`dagster.yaml`) and
# each code location's container context (an env var of the user-code container). dagster-k8s
# turns every env_config_maps / env_secrets name into a required configMapRef / secretRef.

_CONTEXT_VARS = ("DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT", "DAGSTER_CONTAINER_CONTEXT")


def _k8s_run_launcher(objects: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The K8sRunLauncher config of the rendered instance ConfigMap, if that is the launcher."""
    import yaml

    for cm in by_kind(objects, "ConfigMap").values():
        text = (cm.get("data") or {}).get("dagster.yaml")
        if not text:
            continue
        launcher = (yaml.safe_load(text) or {}).get("run_launcher") or {}
        if launcher.get("class") == "K8sRunLauncher":
            config: dict[str, Any] = launcher.get("config") or {}
            return config
    return None


def _configmap_env_value(objects: list[dict[str, Any]], key: str) -> str | None:
    for cm in by_kind(objects, "ConfigMap").values():
        value = (cm.get("data") or {}).get(key)
        if value:
            return str(value)
    return None


def _code_locations(objects: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(workload name, DAGSTER_CURRENT_IMAGE, k8s container context) of each code location."""
    import json

    found = []
    for workload in workloads(objects):
        for c in workload.containers:
            env = {str(e.get("name")): e.get("value") for e in c.env}
            for var in _CONTEXT_VARS:
                if env.get(var):
                    context = (json.loads(str(env[var])) or {}).get("k8s") or {}
                    found.append(
                        (workload.name, str(env.get("DAGSTER_CURRENT_IMAGE", "")), context)
                    )
    return found


def _volume_refs(volumes: list[dict[str, Any]], source: str) -> list[tuple[str, str, str]]:
    refs = []
    for volume in volumes or []:
        if "configMap" in volume:
            refs.append(("ConfigMap", str(volume["configMap"].get("name")), source))
        if "secret" in volume:
            refs.append(("Secret", str(volume["secret"].get("secretName")), source))
    return refs


def run_pod_references(objects: Iterable[dict[str, Any]]) -> dict[str, list[tuple[str, str, str]]]:
    """What the run pods of each code location will reference: location → (kind, name, source).

    Empty when the release does not launch run pods (no K8sRunLauncher).
    """
    objects = list(objects)
    launcher = _k8s_run_launcher(objects)
    if launcher is None:
        return {}
    base: list[tuple[str, str, str]] = []
    for entry in launcher.get("env_config_maps") or []:
        if isinstance(entry, dict) and "env" in entry:
            # Resolved by dagster-k8s from the env var, which the chart sets in its env ConfigMaps.
            var = str(entry["env"])
            name = _configmap_env_value(objects, var) or f"<${var}: set by no rendered ConfigMap>"
            base.append(("ConfigMap", name, f"run launcher env_config_maps (${var})"))
        else:
            base.append(("ConfigMap", str(entry), "run launcher env_config_maps"))
    for name in launcher.get("env_secrets") or []:
        base.append(("Secret", str(name), "run launcher env_secrets"))
    base += _volume_refs(launcher.get("volumes") or [], "run launcher volumes")
    result: dict[str, list[tuple[str, str, str]]] = {}
    locations = _code_locations(objects) or [("(no code location)", "", {})]
    for location, _image, context in locations:
        refs = list(base)
        for name in context.get("env_config_maps") or []:
            refs.append(("ConfigMap", str(name), "container context env_config_maps"))
        for name in context.get("env_secrets") or []:
            refs.append(("Secret", str(name), "container context env_secrets"))
        refs += _volume_refs(context.get("volumes") or [], "container context volumes")
        result[location] = refs
    return result


def check_run_pod_references(
    objects: Iterable[dict[str, Any]], documented_existing: Collection[str] = ()
) -> list[str]:
    """Every ConfigMap and Secret a Dagster run pod will reference is rendered (or, for Secrets,
    an ExternalSecret target or documented); run pods cannot mark any of them optional."""
    objects = list(objects)
    configmaps = set(by_kind(objects, "ConfigMap"))
    secrets = secret_names(objects) | set(documented_existing)
    problems = []
    for location, refs in run_pod_references(objects).items():
        for kind, name, source in refs:
            available = configmaps if kind == "ConfigMap" else secrets
            if name not in available:
                problems.append(
                    f"run pods of {location}: {kind} {name!r} ({source}) is not rendered; "
                    "dagster-k8s references it without `optional`, so every run pod fails"
                )
    return problems


def run_pod_images(objects: Iterable[dict[str, Any]]) -> list[str]:
    """The images Dagster run pods will use: each code location's own image
    (``DAGSTER_CURRENT_IMAGE``, which the run's origin carries), else the launcher's
    ``job_image``. Empty without a K8sRunLauncher.

    dagster-k8s's K8sRunLauncher takes the origin's container image first and falls back to
    ``job_image`` only for a location without one (the published chart's values.yaml says so of
    ``runLauncher.config.k8sRunLauncher.image``: ignored when user code deployments are on).
    """
    objects = list(objects)
    launcher = _k8s_run_launcher(objects)
    if launcher is None:
        return []
    fallback = str(launcher.get("job_image") or "")
    locations = [image or fallback for _, image, _ in _code_locations(objects)]
    if not locations and fallback:
        return [fallback]
    return [image for image in locations if image]


# --- Cube -------------------------------------------------------------------------------------


def check_cube_refresh(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Cube serves rollups only if the refresh worker shares state with the API.

    With the in-memory cache and queue driver (no Cube Store) an API process that does not run
    the refresh worker itself never sees the rollups a separate worker builds, and several API
    replicas each build and cache on their own. So with that driver: exactly one Cube workload,
    one replica, refresh worker on.
    """
    objects = list(objects)
    cube: list[tuple[str, dict[str, Any], int]] = []
    for workload in workloads(objects):
        for c in workload.containers:
            env = {str(e.get("name")): e.get("value") for e in c.env}
            if "CUBEJS_DB_TYPE" in env:
                replicas = int((workload.raw.get("spec") or {}).get("replicas", 1))
                cube.append((workload.ref, env, replicas))
    problems = []
    memory = [w for w in cube if w[1].get("CUBEJS_CACHE_AND_QUEUE_DRIVER") == "memory"]
    if memory and len(cube) > 1:
        names = ", ".join(ref for ref, _, _ in cube)
        problems.append(
            f"{names}: separate Cube processes with the in-memory cache and queue share "
            "nothing; the API never serves the refresh worker's rollups"
        )
    for ref_, env, replicas in memory:
        if env.get("CUBEJS_REFRESH_WORKER") != "true":
            problems.append(f"{ref_}: in-memory cache and queue without CUBEJS_REFRESH_WORKER=true")
        if replicas != 1:
            problems.append(f"{ref_}: {replicas} replicas with the in-memory cache and queue")
    return problems
