"""One registry setting for a whole release (issue 11): ``registry-values --registry R``.

Every chart variant and every ``examples/environments/*`` file is rendered (stand-in Dagster
chart, through the mirror path) with the overlay the command writes as the last ``-f``; every
image reference of the release must start with ``R/``: containers and init containers, the
``DAGSTER_CURRENT_IMAGE`` the user-code container passes to its run pods, the run launcher's
``job_image``, the images run pods get (``wiring.run_pod_images``) and the chart's
``DAGSTER_K8S_PIPELINE_RUN_IMAGE``. The overlay must move images only: the same image paths and
tags as without it.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts.helm import REPO_ROOT
from floe_checks.charts.registry import (
    RegistryError,
    load_values,
    merge_values,
    registry_overlay,
    under_registry,
)
from floe_checks.charts.render import ChartWorkspace
from floe_checks.charts.wiring import run_pod_images
from floe_checks.errors import ChartError
from tests.charts.conftest import CHARTS, VARIANTS, Variant, image_refs, rendered

pytestmark = [
    pytest.mark.charts,
    pytest.mark.requirement("007-FR-005"),
    pytest.mark.evidence("rendered"),
]

R = "mirror.corp.test/platform"
PROD_REGISTRY = "registry.floe.example.com"
ENVIRONMENT_FILES = sorted((REPO_ROOT / "examples" / "environments").glob("*/values.yaml"))


def _path(image: str) -> str:
    """The image without its registry host: what the overlay must keep."""
    first, _, rest = image.partition("/")
    return rest if rest and ("." in first or ":" in first or first == "localhost") else image


def _write_overlay(tmp_path: Path, chart: str, files: list[Path]) -> Path:
    path = tmp_path / "registry-values.yaml"
    path.write_text(yaml.safe_dump(registry_overlay(R, CHARTS / chart, files)))
    return path


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_one_setting_places_every_image_under_the_registry(
    standin_workspace: ChartWorkspace, variant: Variant, tmp_path: Path
) -> None:
    files = variant.files()
    before = image_refs(rendered(standin_workspace, variant))
    overlay = _write_overlay(tmp_path, variant.chart, files)
    after = image_refs(standin_workspace.render(variant.chart, [*files, overlay]))
    assert [(where, image) for where, image in after if not image.startswith(f"{R}/")] == []
    # only the registry moved: same references, same image paths and tags
    assert Counter((w, _path(i).removeprefix("platform/")) for w, i in after) == Counter(
        (w, _path(i)) for w, i in before
    )


DAGSTER = f"{R}/floe/floe-dagster:0.1.0"
POSTGRES = f"{R}/library/postgres:14.6"
BUSYBOX = f"{R}/library/busybox:1.28"
# The Dagster part of a floe-runtime release: every place an image is named.
DAGSTER_REFS = [
    ("ConfigMap/floe-dagster-daemon-env DAGSTER_K8S_PIPELINE_RUN_IMAGE", DAGSTER),
    ("ConfigMap/floe-dagster-pipeline-env DAGSTER_K8S_PIPELINE_RUN_IMAGE", DAGSTER),
    ("ConfigMap/floe-dagster-webserver-env DAGSTER_K8S_PIPELINE_RUN_IMAGE", DAGSTER),
    ("Deployment/floe-dagster-daemon/check-db-ready", POSTGRES),
    ("Deployment/floe-dagster-daemon/dagster", DAGSTER),
    ("Deployment/floe-dagster-daemon/init-user-deployment-floe-demo", BUSYBOX),
    ("Deployment/floe-dagster-user-deployments-floe-demo/floe-demo", DAGSTER),
    (
        "Deployment/floe-dagster-user-deployments-floe-demo/floe-demo env DAGSTER_CURRENT_IMAGE",
        DAGSTER,
    ),
    ("Deployment/floe-dagster-webserver/check-db-ready", POSTGRES),
    ("Deployment/floe-dagster-webserver/dagster", DAGSTER),
    ("Deployment/floe-dagster-webserver/init-user-deployment-floe-demo", BUSYBOX),
    ("run pods", DAGSTER),
]


def test_every_image_of_a_default_floe_runtime_release(
    standin_workspace: ChartWorkspace, tmp_path: Path
) -> None:
    overlay = _write_overlay(tmp_path, "floe-runtime", [])
    refs = image_refs(standin_workspace.render("floe-runtime", [overlay]))
    cube = [
        ("Deployment/floe-cube-api/api", f"{R}/floe/floe-cube:0.1.0"),
        ("Deployment/floe-cube-refresh-worker/refresh-worker", f"{R}/floe/floe-cube:0.1.0"),
        ("StatefulSet/floe-cube-cubestore-router/router", f"{R}/cubejs/cubestore:v1.7.43"),
        ("StatefulSet/floe-cube-cubestore-worker/worker", f"{R}/cubejs/cubestore:v1.7.43"),
    ]
    assert sorted(refs) == sorted(DAGSTER_REFS + cube)


def test_a_run_launcher_image_moves_too(standin_workspace: ChartWorkspace, tmp_path: Path) -> None:
    runs = tmp_path / "runs.yaml"
    runs.write_text(
        yaml.safe_dump(
            {
                "floe-dagster": {
                    "dagster": {
                        "runLauncher": {
                            "config": {
                                "k8sRunLauncher": {
                                    "image": {
                                        "repository": "docker.io/floe/floe-runs",
                                        "tag": "0.1.0",
                                        "pullPolicy": "IfNotPresent",
                                    }
                                }
                            }
                        }
                    }
                }
            }
        )
    )
    overlay = _write_overlay(tmp_path, "floe-runtime", [runs])
    objs = standin_workspace.render("floe-runtime", [runs, overlay])
    assert ("ConfigMap/floe-dagster-instance job_image", f"{R}/floe/floe-runs:0.1.0") in (
        image_refs(objs)
    )
    # dagster-k8s prefers the code location's image; job_image serves locations without one
    assert run_pod_images(objs) == [f"{R}/floe/floe-dagster:0.1.0"]


def _launcher_and_location(job_image: str | None, current_image: str | None) -> list[Any]:
    config: dict[str, Any] = {"env_config_maps": []}
    if job_image:
        config["job_image"] = job_image
    instance = {
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}
    }
    env = [{"name": "DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT", "value": '{"k8s": {}}'}]
    if current_image:
        env.append({"name": "DAGSTER_CURRENT_IMAGE", "value": current_image})
    container = {"name": "code", "image": current_image or "code:1", "env": env}
    return [
        {
            "kind": "ConfigMap",
            "metadata": {"name": "x-instance"},
            "data": {"dagster.yaml": yaml.safe_dump(instance)},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "code"},
            "spec": {"template": {"spec": {"containers": [container]}}},
        },
    ]


@pytest.mark.parametrize(
    ("job_image", "current_image", "expected"),
    [
        ("runs:1", "code:2", ["code:2"]),  # the origin's image wins (dagster-k8s launcher)
        ("runs:1", None, ["runs:1"]),  # a location without an image: job_image
        (None, "code:2", ["code:2"]),
    ],
)
def test_run_pod_images_follow_dagster_k8s(
    job_image: str | None, current_image: str | None, expected: list[str]
) -> None:
    assert run_pod_images(_launcher_and_location(job_image, current_image)) == expected


@pytest.mark.parametrize("values", ENVIRONMENT_FILES, ids=lambda p: p.parent.name)
def test_every_environment_with_one_registry_setting(
    standin_workspace: ChartWorkspace, values: Path, tmp_path: Path
) -> None:
    overlay = _write_overlay(tmp_path, "floe-runtime", [values])
    refs = image_refs(standin_workspace.render("floe-runtime", [values, overlay]))
    tag = yaml.safe_load(values.read_text())["floe-dagster"]["dagster"]["dagsterWebserver"]
    ours = f"{R}/floe/floe-dagster:{tag['image']['tag']}"
    assert sorted(r for r in refs if "floe-dagster" in r[0] or r[0] == "run pods") == [
        (where, ours if image == DAGSTER else image) for where, image in DAGSTER_REFS
    ]
    assert [(where, image) for where, image in refs if not image.startswith(f"{R}/")] == []


SOPS_VALUES = REPO_ROOT / "examples" / "secrets" / "sops" / "values.enc.yaml"


def _private_values(tmp_path: Path) -> Path:
    """The SOPS private values every environment reads (valuesFrom), decrypted: its keys with
    the registry R as value (the ciphertext cannot be opened here)."""
    encrypted = yaml.safe_load(SOPS_VALUES.read_text())
    del encrypted["sops"]
    assert encrypted == {"global": {"imageRegistry": encrypted["global"]["imageRegistry"]}}
    path = tmp_path / "private-values.yaml"
    path.write_text(yaml.safe_dump({"global": {"imageRegistry": R}}))
    return path


@pytest.mark.parametrize("values", ENVIRONMENT_FILES, ids=lambda p: p.parent.name)
def test_an_environment_with_the_private_registry_needs_the_overlay(
    standin_workspace: ChartWorkspace, values: Path, tmp_path: Path
) -> None:
    """Every environment's private values set global.imageRegistry alone: with the Dagster
    chart that render fails (the guard), and the overlay for the same registry fixes it."""
    private = _private_values(tmp_path)
    with pytest.raises(ChartError) as err:
        standin_workspace.render("floe-runtime", [values, private])
    assert f"To put every image under {R}, pass the overlay" in err.value.message
    overlay = _write_overlay(tmp_path, "floe-runtime", [values, private])
    refs = image_refs(standin_workspace.render("floe-runtime", [values, private, overlay]))
    assert [(where, image) for where, image in refs if not image.startswith(f"{R}/")] == []


def test_without_the_overlay_a_registry_fails_the_render_naming_each_field(
    standin_workspace: ChartWorkspace,
) -> None:
    """The guard: global.imageRegistry alone cannot reach the Dagster chart."""
    with pytest.raises(ChartError) as err:
        standin_workspace.render("floe-runtime", set_values={"global.imageRegistry": R})
    problems = [
        ln.strip()[2:] for ln in err.value.message.splitlines() if ln.strip().startswith("- ")
    ]
    assert problems == [
        f'dagster.dagsterWebserver.image.repository is "floe/floe-dagster", must start with {R}/ '
        "(global.imageRegistry)",
        f'dagster.dagsterDaemon.image.repository is "floe/floe-dagster", must start with {R}/ '
        "(global.imageRegistry)",
        f'dagster.pipelineRun.image.repository is "floe/floe-dagster", must start with {R}/ '
        "(global.imageRegistry)",
        "dagster.dagster-user-deployments.deployments[0].image.repository is "
        f'"floe/floe-dagster", must start with {R}/ (global.imageRegistry)',
        'dagster.busybox.image.repository is "docker.io/library/busybox", must start with '
        f"{R}/ (global.imageRegistry)",
        f'dagster.postgresql.image.registry is "docker.io", must be {R} (global.imageRegistry)',
    ]
    assert (
        f"To put every image under {R}, pass the overlay `python -m floe_checks.charts "
        f"registry-values --registry {R} -f <your values files>` writes as the last -f"
    ) in err.value.message


def test_values_prod_is_what_the_command_writes() -> None:
    """values-prod.yaml spells its registry in every Dagster image field; the overlay for the
    same registry changes nothing, so the example cannot drift from the command."""
    chart = CHARTS / "floe-runtime"
    prod = [chart / "values-prod.yaml"]
    values = load_values(chart, prod)
    overlay = registry_overlay(PROD_REGISTRY, chart, prod)
    assert merge_values(values, overlay) == values


def test_the_overlay_of_a_default_floe_dagster_release() -> None:
    overlay = registry_overlay(R, CHARTS / "floe-dagster")
    dagster = overlay["dagster"]
    assert overlay["global"] == {"imageRegistry": R}
    assert {k: v["image"] for k, v in dagster.items() if k != "dagster-user-deployments"} == {
        "dagsterWebserver": {"repository": f"{R}/floe/floe-dagster"},
        "dagsterDaemon": {"repository": f"{R}/floe/floe-dagster"},
        "pipelineRun": {"repository": f"{R}/floe/floe-dagster"},
        "busybox": {"repository": f"{R}/library/busybox"},
        "postgresql": {"registry": R, "repository": "library/postgres"},
    }
    (deployment,) = dagster["dagster-user-deployments"]["deployments"]
    defaults = load_values(CHARTS / "floe-dagster")["dagster"]["dagster-user-deployments"]
    expected = {**defaults["deployments"][0]}
    expected["image"] = {**expected["image"], "repository": f"{R}/floe/floe-dagster"}
    assert deployment == expected  # the whole entry, since Helm replaces lists


def test_the_overlay_of_floe_cube_is_the_global_setting() -> None:
    assert registry_overlay(R, CHARTS / "floe-cube") == {"global": {"imageRegistry": R}}


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        ("floe/floe-dagster", f"{R}/floe/floe-dagster"),
        ("docker.io/library/busybox", f"{R}/library/busybox"),
        ("busybox", f"{R}/busybox"),
        ("registry.floe.example.com/floe/floe-dagster", f"{R}/floe/floe-dagster"),
        ("localhost:5000/floe/x", f"{R}/floe/x"),
        ("localhost/floe/x", f"{R}/floe/x"),
    ],
)
def test_under_registry(repository: str, expected: str) -> None:
    assert under_registry(repository, R) == expected


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floe_checks.charts", "registry-values", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO_ROOT,
    )


def test_the_command_writes_the_overlay() -> None:
    prod = "charts/floe-runtime/values-prod.yaml"
    proc = _cli("--registry", R, "-f", prod)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout.startswith(
        "# Generated by: python -m floe_checks.charts registry-values "
        f"--registry {R} --chart charts/floe-runtime -f {prod}\n"
    )
    assert yaml.safe_load(proc.stdout) == registry_overlay(
        R, CHARTS / "floe-runtime", [REPO_ROOT / prod]
    )


def test_the_command_names_a_missing_image_field(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text("dagster:\n  dagsterDaemon:\n    image: null\n")
    proc = _cli("--registry", R, "--chart", "charts/floe-dagster", "-f", str(values))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        "error: dagster.dagsterDaemon.image.repository is not set\n"
        f"fix: {RegistryError.remediation}\n"
    )


def test_the_command_refuses_a_url_as_registry() -> None:
    proc = _cli("--registry", "https://mirror.corp.test")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        "error: registry 'https://mirror.corp.test' is not a registry host[/path] "
        "(e.g. registry.example.com)\nfix: pass --registry HOST[/PATH], without a scheme\n"
    )


def test_check_accepts_a_fresh_overlay_and_names_a_stale_one(tmp_path: Path) -> None:
    prod = "charts/floe-runtime/values-prod.yaml"
    overlay = tmp_path / "registry-values.yaml"
    overlay.write_text(_cli("--registry", R, "-f", prod).stdout)
    fresh = _cli("--registry", R, "-f", prod, "--check", str(overlay))
    assert (fresh.returncode, fresh.stdout, fresh.stderr) == (0, "", "")
    # the user's values changed after the overlay was written: another user deployment
    mine = tmp_path / "mine.yaml"
    values = load_values(CHARTS / "floe-runtime", [REPO_ROOT / prod])
    deployments = values["floe-dagster"]["dagster"]["dagster-user-deployments"]["deployments"]
    extra = {**deployments[0], "name": "sales"}
    mine.write_text(
        yaml.safe_dump(
            {
                "floe-dagster": {
                    "dagster": {"dagster-user-deployments": {"deployments": [*deployments, extra]}}
                }
            }
        )
    )
    stale = _cli("--registry", R, "-f", prod, "-f", str(mine), "--check", str(overlay))
    assert (stale.returncode, stale.stdout) == (1, "")
    assert stale.stderr == (
        f"error: {overlay} is not what registry-values writes for these values files now\n"
        "fix: regenerate it: python -m floe_checks.charts registry-values "
        f"--registry {R} --chart charts/floe-runtime -f {prod} -f {mine} > {overlay}\n"
    )


def test_the_command_names_a_missing_values_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    proc = _cli("--registry", R, "-f", str(missing))
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        f"error: {missing}: cannot read it (No such file or directory)\n"
        "fix: pass the chart directory (--chart) and the release's values files (-f) as helm "
        "gets them\n"
    )
