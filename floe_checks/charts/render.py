"""Render and lint our charts offline, from a private copy with dependencies resolved.

Our charts are never rendered in place: :func:`prepare_workspace` copies ``charts/floe-*`` into
a work directory and resolves dependencies there, so a render never writes ``charts/*.tgz`` into
the repository and parallel test workers never race.

The official Dagster chart (a dependency of floe-dagster) is in no registry our machines
reach. It is resolved, in this order, from

1. an archive already vendored in ``charts/floe-dagster/charts/`` (after an online
   ``helm dependency build``),
2. an air-gapped mirror directory named by ``$FLOE_HELM_MIRROR`` (see :mod:`.mirror`),

and otherwise the copy of floe-dagster drops the dependency and renders with
``dagster.enabled=false`` — the :attr:`DependencyMode.OFFLINE` mode, which still renders and
checks every template of our own.
"""

from __future__ import annotations

import enum
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from floe_checks.charts.helm import REPO_ROOT, Helm, find_helm
from floe_checks.charts.mirror import mirror_for, mirror_has
from floe_checks.charts.schemas import localize_chart_archive
from floe_checks.errors import ChartError, CheckoutRequired, DuplicateManifestKey, MirrorLacksChart

CHARTS_DIR = REPO_ROOT / "charts"
OUR_CHARTS = ("floe-dagster", "floe-cube", "floe-runtime")
DAGSTER_REPO_NAME = "dagster"
DAGSTER_REPO_URL = "https://dagster-io.github.io/helm"
DAGSTER_CHART_VERSION = "1.13.27"
DEFAULT_RELEASE = "floe"
DEFAULT_NAMESPACE = "floe"

# Where each chart finds the switch of the Dagster subchart.
_DAGSTER_SWITCH = {
    "floe-dagster": "dagster.enabled",
    "floe-runtime": "floe-dagster.dagster.enabled",
}


class DependencyMode(enum.StrEnum):
    """How the official Dagster chart dependency was resolved for a workspace."""

    FULL = "full"
    OFFLINE = "offline"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping which repeats a key (PyYAML keeps the last one)."""


def _refuse_duplicate_keys(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise _DuplicateKey(str(key), key_node.start_mark.line)
        seen.add(key)
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _refuse_duplicate_keys,
)


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


def parse_manifests(out: str, *, chart: str) -> list[dict[str, Any]]:
    """Every object of ``helm template`` output, refusing a repeated key.

    helm itself accepts a manifest that writes a key twice (a template including two label
    helpers that both emit ``app.kubernetes.io/name``: the last one wins), but Flux's
    helm-controller, kustomize and strict YAML parsers refuse it (``mapping key … already
    defined``), so a release that installs with helm fails under GitOps. Found by Flux on our own
    floe-cube chart (tests/cluster/test_flux_on_cluster.py).

    Raises:
        ChartError: naming the template (helm's ``# Source:`` line) and the key.
    """
    try:
        docs = list(yaml.load_all(out, Loader=_UniqueKeyLoader))
    except _DuplicateKey as dup:
        lines = out.splitlines()
        source = next(
            (
                line.removeprefix("# Source: ")
                for line in reversed(lines[: dup.line + 1])
                if line.startswith("# Source: ")
            ),
            "the rendered manifest",
        )
        raise DuplicateManifestKey(
            f"{chart}: {source} writes the key {dup.key!r} twice in one mapping (line "
            f"{dup.line + 1} of the rendered output); helm keeps the last value, but Flux, "
            "kustomize and strict YAML parsers refuse the manifest"
        ) from None
    return [doc for doc in docs if isinstance(doc, dict)]


@dataclass
class ChartWorkspace:
    """A private copy of our charts, dependencies resolved, ready for ``helm template``.

    Attributes:
        helm: the helm that renders (its homes may hold a seeded mirror repository).
        root: the directory holding the copied ``floe-*`` chart directories.
        dagster_mode: FULL when the Dagster chart is vendored into floe-dagster, else OFFLINE.
        reason: why that mode (shown in skip reasons and report headers).
    """

    helm: Helm
    root: Path
    dagster_mode: DependencyMode
    reason: str
    _extra_sets: dict[str, list[str]] = field(default_factory=dict)

    def chart_path(self, chart: str) -> Path:
        """The copied chart directory of ``chart`` (``floe-dagster``, …)."""
        path = self.root / chart
        if not path.is_dir():
            raise ChartError(f"no chart {chart!r} in {self.root}")
        return path

    def _mode_sets(self, chart: str) -> list[str]:
        if self.dagster_mode is DependencyMode.OFFLINE and chart in _DAGSTER_SWITCH:
            return [f"{_DAGSTER_SWITCH[chart]}=false"]
        return []

    def value_args(
        self,
        chart: str,
        values_files: Sequence[Path | str] = (),
        set_values: Mapping[str, str] | Sequence[str] | None = None,
    ) -> list[str]:
        """The ``-f``/``--set`` arguments a ``helm template``/``install`` of ``chart`` needs here
        (including the switch that turns the Dagster subchart off in offline mode)."""
        return self._value_args(chart, values_files, set_values, None)

    def _value_args(
        self,
        chart: str,
        values_files: Sequence[Path | str],
        set_values: Mapping[str, str] | Sequence[str] | None,
        set_files: Mapping[str, Path | str] | None,
    ) -> list[str]:
        args: list[str] = []
        for values in values_files:
            args += ["-f", str(values)]
        sets = (
            [f"{k}={v}" for k, v in set_values.items()]
            if isinstance(set_values, Mapping)
            else list(set_values or [])
        )
        for item in sets + self._mode_sets(chart):
            args += ["--set", item]
        for key, path in (set_files or {}).items():
            args += ["--set-file", f"{key}={path}"]
        return args

    def render(
        self,
        chart: str,
        values_files: Sequence[Path | str] = (),
        set_values: Mapping[str, str] | Sequence[str] | None = None,
        *,
        set_files: Mapping[str, Path | str] | None = None,
        release: str = DEFAULT_RELEASE,
        namespace: str = DEFAULT_NAMESPACE,
        tests: bool = False,
    ) -> list[dict[str, Any]]:
        """``helm template`` the chart and return every rendered object as a dict.

        Args:
            tests: also render the ``helm test`` hooks (floe-runtime's preflight pod, the
                Dagster chart's test pod). Off by default: they are not part of a release
                (``helm install`` does not create them; ``helm test`` does).

        Raises:
            ChartError: helm failed (schema violation, template error, …); the message is
                helm's, which names the chart and the offending value.
        """
        args = ["template", release, str(self.chart_path(chart)), "--namespace", namespace]
        if not tests:
            args.append("--skip-tests")
        args += self._value_args(chart, values_files, set_values, set_files)
        out = self.helm.run(args).stdout
        return parse_manifests(out, chart=chart)

    def lint(
        self,
        chart: str,
        values_files: Sequence[Path | str] = (),
        set_values: Mapping[str, str] | Sequence[str] | None = None,
        *,
        set_files: Mapping[str, Path | str] | None = None,
        strict: bool = True,
    ) -> str:
        """``helm lint [--strict]``: helm's output; :class:`ChartError` on failure."""
        args = ["lint", str(self.chart_path(chart))]
        if strict:
            args.append("--strict")
        args += self._value_args(chart, values_files, set_values, set_files)
        proc = self.helm.run(args, check=False)
        if proc.returncode != 0:
            raise ChartError(f"helm lint {chart} failed:\n{proc.stdout}\n{proc.stderr}".strip())
        return proc.stdout


def _copy_chart(src: Path, dest: Path) -> None:
    # symlinks=False: a symlinked file is copied as content, as `helm package` would.
    shutil.copytree(src, dest, symlinks=False, dirs_exist_ok=False)


def _drop_dependency(chart_dir: Path, name: str) -> None:
    chart_yaml = chart_dir / "Chart.yaml"
    meta = yaml.safe_load(chart_yaml.read_text())
    meta["dependencies"] = [d for d in meta.get("dependencies") or [] if d.get("name") != name]
    if not meta["dependencies"]:
        del meta["dependencies"]
    chart_yaml.write_text(yaml.safe_dump(meta, sort_keys=False))
    (chart_dir / "Chart.lock").unlink(missing_ok=True)


def _vendored_dagster(chart_dir: Path) -> Path | None:
    archive = chart_dir / "charts" / f"dagster-{DAGSTER_CHART_VERSION}.tgz"
    return archive if archive.is_file() else None


def vendor_dagster(chart_dir: Path, mirror: Path, *, helm: Helm | None = None) -> Path:
    """Put the Dagster chart from an air-gapped mirror into ``chart_dir/charts``, schema local.

    ``helm dependency build`` through the loopback mirror (:func:`.mirror.mirror_for`), then the
    archive's ``values.schema.json`` files get their remote ``$ref`` documents inlined from
    ``<mirror>/schemas/<host>/<path>`` (:mod:`.schemas`), so that helm validates values offline.

    Args:
        chart_dir: a floe-dagster chart directory (a copy, or the user's checkout).
        mirror: holds ``index.yaml``, ``dagster-<version>.tgz`` and ``schemas/``.
        helm: the helm to run (a fresh isolated one when omitted).

    Returns:
        The vendored archive.

    Raises:
        ChartError: the mirror lacks the chart or a schema document the chart refers to.
    """
    helm = helm or Helm(find_helm())
    if not mirror_has(mirror, DAGSTER_REPO_NAME, DAGSTER_CHART_VERSION):
        raise MirrorLacksChart(mirror, DAGSTER_REPO_NAME, DAGSTER_CHART_VERSION, DAGSTER_REPO_URL)
    with mirror_for(helm, mirror, {DAGSTER_REPO_NAME: DAGSTER_REPO_URL}):
        helm.run(["dependency", "build", "--skip-refresh", str(chart_dir)])
    archive = _vendored_dagster(chart_dir)
    if archive is None:
        raise ChartError(f"helm dependency build left no dagster archive in {chart_dir}/charts")
    localize_chart_archive(archive, mirror / "schemas")
    return archive


def prepare_workspace(
    dest: Path,
    *,
    helm: Helm | None = None,
    charts_dir: Path = CHARTS_DIR,
    mirror: Path | None = None,
    charts: Iterable[str] = OUR_CHARTS,
    offline: bool = False,
) -> ChartWorkspace:
    """Copy our charts to ``dest`` and resolve their dependencies there.

    Args:
        dest: an empty or missing directory to hold the copies.
        helm: the helm to use (a fresh isolated one when omitted).
        charts_dir: where the source charts live (the repository's ``charts/``).
        mirror: an air-gapped chart mirror; defaults to ``$FLOE_HELM_MIRROR``.
        charts: which charts to copy (floe-runtime needs both others).
        offline: ignore any vendored archive and mirror; always render with
            ``dagster.enabled=false`` (the tests check this mode everywhere).

    Returns:
        The workspace, with ``dagster_mode`` saying whether the real Dagster chart is in.
    """
    charts = list(charts)
    for name in charts:
        if not (charts_dir / name).is_dir():
            raise CheckoutRequired(
                f"rendering {name} needs the chart folder {charts_dir / name}, which is not there"
            )
    helm = helm or Helm(find_helm())
    if mirror is None and os.environ.get("FLOE_HELM_MIRROR"):
        mirror = Path(os.environ["FLOE_HELM_MIRROR"])
    dest.mkdir(parents=True, exist_ok=True)
    wanted = list(charts)
    for name in wanted:
        _copy_chart(charts_dir / name, dest / name)

    mode, reason = DependencyMode.OFFLINE, "floe-dagster not rendered"
    if "floe-dagster" in wanted:
        dagster_dir = dest / "floe-dagster"
        if offline:
            mirror = None
            shutil.rmtree(dagster_dir / "charts", ignore_errors=True)
        if _vendored_dagster(dagster_dir):
            mode, reason = DependencyMode.FULL, "dagster chart vendored in floe-dagster/charts"
        elif mirror is not None and mirror_has(mirror, DAGSTER_REPO_NAME, DAGSTER_CHART_VERSION):
            vendor_dagster(dagster_dir, mirror, helm=helm)
            mode, reason = DependencyMode.FULL, f"dagster chart from mirror {mirror}"
        else:
            _drop_dependency(dagster_dir, DAGSTER_REPO_NAME)
            where = (
                "offline rendering requested"
                if offline
                else f"mirror {mirror} lacks it"
                if mirror
                else "FLOE_HELM_MIRROR is not set"
            )
            reason = (
                f"official dagster chart {DAGSTER_CHART_VERSION} is not reachable here "
                f"({where}); rendering with dagster.enabled=false"
            )
    if "floe-runtime" in wanted:
        runtime = dest / "floe-runtime"
        shutil.rmtree(runtime / "charts", ignore_errors=True)
        helm.run(["dependency", "build", "--skip-refresh", str(runtime)])
    return ChartWorkspace(helm=helm, root=dest, dagster_mode=mode, reason=reason)


_DEFAULT: ChartWorkspace | None = None


def default_workspace() -> ChartWorkspace:
    """A per-process workspace under a temporary directory (created on first use)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = prepare_workspace(Path(tempfile.mkdtemp(prefix="floe-charts-")) / "charts")
    return _DEFAULT


def render(
    chart: str,
    values_files: Sequence[Path | str] = (),
    set_values: Mapping[str, str] | Sequence[str] | None = None,
    *,
    set_files: Mapping[str, Path | str] | None = None,
    workspace: ChartWorkspace | None = None,
) -> list[dict[str, Any]]:
    """Render one of our charts (``floe-dagster``, ``floe-cube``, ``floe-runtime``) to objects.

    Args:
        chart: chart name under ``charts/``.
        values_files: ``-f`` files, in order.
        set_values: ``--set`` pairs.
        set_files: ``--set-file`` pairs, e.g. ``{"compiledArtifacts.json": "path"}``.
        workspace: a prepared workspace; the per-process default otherwise.
    """
    ws = workspace or default_workspace()
    return ws.render(chart, values_files, set_values, set_files=set_files)


def lint(
    chart: str,
    values_files: Sequence[Path | str] = (),
    set_values: Mapping[str, str] | Sequence[str] | None = None,
    *,
    workspace: ChartWorkspace | None = None,
) -> str:
    """``helm lint --strict`` one of our charts with the given values files."""
    ws = workspace or default_workspace()
    return ws.lint(chart, values_files, set_values)
