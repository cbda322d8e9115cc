"""One registry setting for a whole floe release: the values overlay ``registry-values`` writes.

floe's own charts prepend ``global.imageRegistry`` to their images (Cube, Cube Store, the demo
PostgreSQL). The published Dagster chart has no registry setting: its images are
``<repository>:<tag>`` (webserver, daemon, each user deployment, ``pipelineRun``, the run
launcher's ``job_image``, the ``init-user-deployment-*`` busybox) or
``<registry>/<repository>:<tag>`` (the ``check-db-ready`` PostgreSQL), and Helm cannot template
a dependency's values from the parent. Run pods take the code location's image
(``DAGSTER_CURRENT_IMAGE``, set by the chart on the user-code container and carried in the run's
origin), so a post-renderer that rewrote ``image:`` fields would move the pods Helm renders but
not the run pods Dagster starts later.

So the one setting is an input to this module: :func:`registry_overlay` reads the chart's
values as Helm would merge them (the chart's ``values.yaml``, its ``file://`` dependencies'
defaults, then the user's ``-f`` files in order) and returns a values overlay that sets
``global.imageRegistry`` and every Dagster image field under the registry. The overlay goes
last on the helm command line. floe-dagster's render-time check (``templates/_helpers.tpl``,
``floe-dagster.validate``) stays the guard: a field the overlay did not reach fails the render,
named.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from floe_checks.errors import RegistryError, RegistryInvalid, RegistryOverlayStale, ValuesFileError

__all__ = [
    "RegistryError",
    "check_overlay",
    "load_values",
    "merge_values",
    "overlay_yaml",
    "registry_overlay",
    "under_registry",
]


def _is_registry_host(component: str) -> bool:
    # Docker's rule (distribution/reference): the first path component is a registry host when
    # it holds a "." or a ":" or is "localhost"; otherwise the reference is on Docker Hub.
    return "." in component or ":" in component or component == "localhost"


def under_registry(repository: str, registry: str) -> str:
    """``repository`` moved under ``registry``: its own registry host (if any) replaced.

    ``floe/floe-dagster`` → ``R/floe/floe-dagster``; ``docker.io/library/busybox`` →
    ``R/library/busybox``; ``old.example.com/floe/x`` → ``R/floe/x``. A name without a host is
    kept as written (``busybox`` → ``R/busybox``), as floe's own templates prepend the registry.
    """
    first, _, rest = repository.partition("/")
    path = rest if rest and _is_registry_host(first) else repository
    return f"{registry}/{path}"


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of values: maps merge key by key, lists and scalars are replaced, a null
    deletes the key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValuesFileError(f"{path}: cannot read it ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ValuesFileError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValuesFileError(
            f"{path}: a values file must be a mapping, found {type(data).__name__}"
        )
    return data


def load_values(chart_dir: Path, values_files: Sequence[Path] = ()) -> dict[str, Any]:
    """The values of ``chart_dir`` as Helm computes them for a render with ``-f values_files``.

    The chart's own ``values.yaml``, each ``file://`` dependency's defaults under its name
    (the parent's values win), then each values file in order. Defaults of dependencies from a
    remote repository (the Dagster chart) are not read: floe-dagster sets every image field the
    overlay needs.
    """
    chart = _load_yaml(chart_dir / "Chart.yaml")
    merged = _load_yaml(chart_dir / "values.yaml")
    for dep in chart.get("dependencies") or []:
        repository = str(dep.get("repository", ""))
        if not repository.startswith("file://"):
            continue
        sub_dir = (chart_dir / repository.removeprefix("file://")).resolve()
        sub = load_values(sub_dir)
        name = str(dep.get("alias") or dep["name"])
        own = merged.get(name)
        merged[name] = merge_values(sub, own if isinstance(own, dict) else {})
    for path in values_files:
        merged = merge_values(merged, _load_yaml(path))
    return merged


def _dagster_path(chart_dir: Path) -> list[str]:
    """Where the Dagster chart's values sit: ``dagster`` in floe-dagster, under
    ``floe-dagster`` in a chart that depends on it."""
    chart = _load_yaml(chart_dir / "Chart.yaml")
    if chart.get("name") == "floe-dagster":
        return ["dagster"]
    for dep in chart.get("dependencies") or []:
        if dep.get("name") == "floe-dagster":
            return [str(dep.get("alias") or "floe-dagster"), "dagster"]
    return []


def _image(section: Any, where: str, *, required: bool = True) -> dict[str, Any] | None:
    image = section.get("image") if isinstance(section, dict) else None
    if isinstance(image, dict) and isinstance(image.get("repository"), str) and image["repository"]:
        return image
    if required:
        raise RegistryError(f"{where}.image.repository is not set")
    return None


def registry_overlay(
    registry: str, chart_dir: Path, values_files: Sequence[Path] = ()
) -> dict[str, Any]:
    """The values overlay that puts every image of a release of ``chart_dir`` under ``registry``.

    Args:
        registry: the registry host (and optional path), e.g. ``registry.example.com/floe``.
        chart_dir: ``charts/floe-runtime``, ``charts/floe-dagster`` or ``charts/floe-cube``.
        values_files: the ``-f`` files of the release, in helm's order; the overlay goes after
            them.

    Returns:
        ``global.imageRegistry`` (floe's own images) plus, when the chart contains Dagster, each
        Dagster image field: webserver, daemon, ``pipelineRun``, the run launcher's image (when
        set), ``postgresql.image`` (``check-db-ready``), ``busybox.image``
        (``init-user-deployment-*``) and the whole ``deployments`` list of user code with each
        image moved (Helm replaces lists, so the list is repeated from the merged values; run
        pods use that image).

    Raises:
        RegistryError: the registry is empty or has a scheme, or an image field the Dagster
            chart needs is not set in the values.
    """
    registry = registry.strip().rstrip("/")
    if not registry or "://" in registry or any(c.isspace() for c in registry):
        raise RegistryInvalid(
            f"registry {registry!r} is not a registry host[/path] (e.g. registry.example.com)"
        )
    overlay: dict[str, Any] = {"global": {"imageRegistry": registry}}
    where = _dagster_path(chart_dir)
    if not where:
        return overlay
    values = load_values(chart_dir, values_files)
    d: Any = values
    for key in where:
        d = d.get(key) if isinstance(d, dict) else None
    if not isinstance(d, dict):
        raise RegistryError(f"{'.'.join(where)} is not set")
    prefix = ".".join(where)
    out: dict[str, Any] = {}
    for component in ("dagsterWebserver", "dagsterDaemon", "pipelineRun", "busybox"):
        image = _image(d.get(component), f"{prefix}.{component}")
        assert image is not None  # required
        out[component] = {"image": {"repository": under_registry(image["repository"], registry)}}
    pg = _image(d.get("postgresql"), f"{prefix}.postgresql")
    assert pg is not None
    moved = under_registry(f"{pg.get('registry') or 'docker.io'}/{pg['repository']}", registry)
    out["postgresql"] = {
        "image": {"registry": registry, "repository": moved.removeprefix(f"{registry}/")}
    }
    launcher = d.get("runLauncher") or {}
    k8s = ((launcher.get("config") or {}).get("k8sRunLauncher") or {}) if launcher else {}
    job = _image(k8s, f"{prefix}.runLauncher.config.k8sRunLauncher", required=False)
    if job is not None:
        moved_job = under_registry(job["repository"], registry)
        out["runLauncher"] = {"config": {"k8sRunLauncher": {"image": {"repository": moved_job}}}}
    user = d.get("dagster-user-deployments") or {}
    deployments = copy.deepcopy(user.get("deployments") or [])
    for i, dep in enumerate(deployments):
        image = _image(dep, f"{prefix}.dagster-user-deployments.deployments[{i}]")
        assert image is not None
        image["repository"] = under_registry(image["repository"], registry)
    if deployments:
        out["dagster-user-deployments"] = {"deployments": deployments}
    node = overlay
    for key in where[:-1]:
        node = node.setdefault(key, {})
    node[where[-1]] = out
    return overlay


def overlay_yaml(registry: str, chart_dir: Path, values_files: Sequence[Path], command: str) -> str:
    """:func:`registry_overlay` as a values file, headed by the command that regenerates it."""
    overlay = registry_overlay(registry, chart_dir, values_files)
    header = (
        f"# Generated by: {command}\n"
        "# Every image of the release under one registry. Pass it LAST (after the -f files it was\n"
        "# generated from) and generate it again whenever those files change: it repeats the\n"
        '# user deployments list (Helm replaces lists). docs/charts.md, "One image registry".\n'
    )
    return header + yaml.safe_dump(overlay, sort_keys=False, default_flow_style=False)


def check_overlay(
    path: Path, registry: str, chart_dir: Path, values_files: Sequence[Path], command: str
) -> None:
    """Raise :class:`RegistryError` when the overlay at ``path`` is not what ``command`` writes
    now (a stale overlay, passed last, would silently replace newer user deployments)."""
    if _load_yaml(path) != registry_overlay(registry, chart_dir, values_files):
        raise RegistryOverlayStale(
            f"{path} is not what registry-values writes for these values files now",
            command=command,
            path=path,
        )
