"""Each environment's values render with the umbrella chart and pass the chart checks
(007-FR-013, SC-004, FR-010).

Renders ``charts/floe-runtime`` with ``examples/environments/<env>/values.yaml`` through the
chart library of issue 6 (:mod:`floe_checks.charts`: pinned helm, ``helm template``, the
hardening and wiring checks). Where the official Dagster chart cannot be resolved (no
registry here), that library renders with the Dagster subchart off and says so; the tests
then check every object of our own templates.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.examples import ENVIRONMENTS

pytestmark = [pytest.mark.charts, pytest.mark.evidence("rendered")]

ENV_DIR = Path("examples/environments")
_PROMOTED = re.compile(r'^\s*tag: "([^"]+)" # promoted$', re.MULTILINE)

# Secret names (and keys, where a workload names single keys) each environment's release reads.
EXPECTED_SECRETS = {
    "dev": {"floe-warehouse", "floe-cube-api"},
    "staging": {"floe-warehouse", "floe-cube-api", "floe-cubestore-s3"},
    "prod": {"floe-warehouse", "floe-cube-api", "floe-cubestore-s3"},
}


def _charts_library() -> Any:
    import importlib

    try:
        return importlib.import_module("floe_checks.charts.render")
    except ModuleNotFoundError as exc:  # pragma: no cover - only before issue 6 lands
        pytest.skip(f"floe_checks.charts (issue 6, the chart library) is missing: {exc}")


@pytest.fixture(scope="session")
def chart_workspace(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A private, dependency-resolved copy of charts/ (see floe_checks.charts.render)."""
    render = _charts_library()
    from floe_checks.errors import FloeError

    try:
        return render.prepare_workspace(tmp_path_factory.mktemp("charts") / "charts")
    except FloeError as exc:
        pytest.skip(f"cannot prepare the charts for rendering: {exc}")


@pytest.fixture(scope="session")
def rendered(chart_workspace: Any, repo_root: Path) -> dict[str, list[dict[str, Any]]]:
    """``helm template`` of the umbrella chart with each environment's values."""
    return {
        env: chart_workspace.render("floe-runtime", [repo_root / ENV_DIR / env / "values.yaml"])
        for env in ENVIRONMENTS
    }


def _promoted_tags(repo_root: Path, env: str) -> list[str]:
    return _PROMOTED.findall((repo_root / ENV_DIR / env / "values.yaml").read_text())


@pytest.mark.requirement("007-FR-013", "SC-004")
def test_each_environment_passes_the_chart_hardening_checks(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    from floe_checks.charts.hardening import check_hardening

    assert {env: check_hardening(objects) for env, objects in rendered.items()} == {
        env: [] for env in ENVIRONMENTS
    }


@pytest.mark.requirement("007-FR-013", "007-FR-014")
def test_every_secret_a_release_reads_comes_from_that_environment(
    rendered: dict[str, list[dict[str, Any]]],
    environment_builds: dict[str, list[dict[str, Any]]],
) -> None:
    from floe_checks.charts.objects import workloads
    from floe_checks.charts.wiring import check_secret_references

    for env, objects in rendered.items():
        secrets = [o for o in environment_builds[env] if o["kind"] != "HelmRelease"]
        assert check_secret_references([*objects, *secrets]) == [], env
        # Without the environment's secrets, exactly its expected Secrets are missing.
        missing = {
            m.group(1)
            for p in check_secret_references(objects)
            if (m := re.search(r"Secret '([^']+)'", p))
        }
        assert missing == EXPECTED_SECRETS[env], env
        produced_keys: dict[str, set[str]] = {}
        for obj in secrets:
            if obj["kind"] == "ExternalSecret":
                produced_keys[obj["spec"]["target"]["name"]] = {
                    d["secretKey"] for d in obj["spec"]["data"]
                }
            elif obj["kind"] == "SealedSecret":
                produced_keys[obj["metadata"]["name"]] = set(obj["spec"]["encryptedData"])
        referenced: set[str] = set()
        for workload in workloads(objects):
            for container in workload.containers:
                for entry in container.env:
                    ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        referenced.add(ref["name"])
                        assert ref["key"] in produced_keys[ref["name"]], (env, ref)
                for entry in container.env_from:
                    if entry.get("secretRef"):
                        referenced.add(entry["secretRef"]["name"])
        assert referenced == EXPECTED_SECRETS[env]


@pytest.mark.requirement("007-FR-013")
def test_promotion_is_a_change_of_image_tag(
    rendered: dict[str, list[dict[str, Any]]], repo_root: Path
) -> None:
    for env, objects in rendered.items():
        dagster_tag, cube_tag = _promoted_tags(repo_root, env)
        values = yaml.safe_load((repo_root / ENV_DIR / env / "values.yaml").read_text())
        assert values["floe-cube"]["image"]["tag"] == cube_tag
        dagster = values["floe-dagster"]["dagster"]
        images = [
            dagster["dagsterWebserver"]["image"],
            dagster["dagsterDaemon"]["image"],
            *(d["image"] for d in dagster["dagster-user-deployments"]["deployments"]),
        ]
        assert {img["tag"] for img in images} == {dagster_tag}
        cube_images = {
            c["image"]
            for o in objects
            if o["kind"] == "Deployment" and o["metadata"]["name"].startswith("floe-cube")
            for c in o["spec"]["template"]["spec"]["containers"]
        }
        assert cube_images == {f"floe/floe-cube:{cube_tag}"}


@pytest.mark.requirement("007-FR-013")
def test_prod_is_highly_available(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["prod"]
    replicas = {
        (o["kind"], o["metadata"]["name"]): o["spec"].get("replicas", 1)
        for o in objects
        if o["kind"] in {"Deployment", "StatefulSet"}
    }
    assert replicas[("Deployment", "floe-cube-api")] == 3
    assert replicas[("StatefulSet", "floe-cube-cubestore-worker")] == 3
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    covered = set()
    for pdb in pdbs:
        selector = pdb["spec"]["selector"]["matchLabels"]
        for o in objects:
            if o["kind"] == "Deployment":
                labels = o["spec"]["template"]["metadata"]["labels"]
                if all(labels.get(k) == v for k, v in selector.items()):
                    covered.add(o["metadata"]["name"])
    replicated = {name for (kind, name), n in replicas.items() if kind == "Deployment" and n > 1}
    assert replicated <= covered
    assert {p["metadata"]["name"]: p["spec"].get("minAvailable") for p in pdbs}[
        "floe-cube-api"
    ] == 2
    for o in objects:
        for c in (o.get("spec", {}).get("template", {}).get("spec", {}) or {}).get(
            "containers", []
        ):
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}, o["metadata"]["name"]


@pytest.mark.requirement("007-FR-013")
def test_dev_is_small_and_without_cube_store(rendered: dict[str, list[dict[str, Any]]]) -> None:
    kinds = {(o["kind"], o["metadata"]["name"]) for o in rendered["dev"]}
    assert not {k for k in kinds if k[0] in {"StatefulSet", "PodDisruptionBudget"}}
    api = next(
        o
        for o in rendered["dev"]
        if (o["kind"], o["metadata"]["name"]) == ("Deployment", "floe-cube-api")
    )
    assert api["spec"]["replicas"] == 1


@pytest.mark.requirement("007-FR-014", "007-FR-012")
def test_sops_private_values_are_keys_the_chart_accepts(
    chart_workspace: Any, repo_root: Path, tmp_path: Path
) -> None:
    """The SOPS file cannot be decrypted here (example ciphertext); its key structure, filled
    with stand-in values, must render with the chart, as the decrypted values would."""
    encrypted = yaml.safe_load((repo_root / "examples/secrets/sops/values.enc.yaml").read_text())
    del encrypted["sops"]

    def stand_in(tree: Any) -> Any:
        if isinstance(tree, dict):
            return {k: stand_in(v) for k, v in tree.items()}
        return "registry.stand-in.example"

    values = tmp_path / "private-values.yaml"
    values.write_text(yaml.safe_dump(stand_in(encrypted)))
    objects = chart_workspace.render(
        "floe-runtime", [repo_root / ENV_DIR / "prod" / "values.yaml", values]
    )
    (_, cube_tag) = _promoted_tags(repo_root, "prod")
    api = next(
        o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "floe-cube-api"
    )
    assert api["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"registry.stand-in.example/floe/floe-cube:{cube_tag}"
    )


@pytest.mark.requirement("007-FR-013")
def test_prod_dagster_webserver_is_replicated_behind_a_pdb(
    chart_workspace: Any, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    render = _charts_library()
    if chart_workspace.dagster_mode is not render.DependencyMode.FULL:
        pytest.skip(f"the Dagster subchart is not rendered here: {chart_workspace.reason}")
    objects = rendered["prod"]
    (webserver,) = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("dagster-webserver")
    ]
    assert webserver["spec"]["replicas"] == 2
    labels = webserver["spec"]["template"]["metadata"]["labels"]
    selectors = [
        o["spec"]["selector"]["matchLabels"] for o in objects if o["kind"] == "PodDisruptionBudget"
    ]
    assert len([s for s in selectors if all(labels.get(k) == v for k, v in s.items())]) == 1


@pytest.mark.requirement("007-FR-013")
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_restated_user_code_deployment_matches_the_chart_default(env: str, repo_root: Path) -> None:
    """Helm replaces lists whole, so each environment restates floe-dagster's user-code
    deployment to pin its image tag and size; everything else must stay the chart's default,
    or a chart change (a new env var, volume or probe) would silently not reach it."""
    chart = yaml.safe_load((repo_root / "charts/floe-dagster/values.yaml").read_text())
    values = yaml.safe_load((repo_root / ENV_DIR / env / "values.yaml").read_text())
    default = chart["dagster"]["dagster-user-deployments"]["deployments"]
    restated = values["floe-dagster"]["dagster"]["dagster-user-deployments"]["deployments"]
    sized = {"image", "resources"}
    assert [{k: v for k, v in d.items() if k not in sized} for d in restated] == [
        {k: v for k, v in d.items() if k not in sized} for d in default
    ]
    assert [d["image"]["repository"] for d in restated] == [
        d["image"]["repository"] for d in default
    ]
