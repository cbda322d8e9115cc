"""floe-dagster against the published Dagster chart's behaviour (issue 11).

Rendered through the air-gapped mirror path with the stand-in chart, which reproduces the
published chart on each point below (tests/charts/dagster_standin/README.md):

1. run pods reference only objects the release creates — the run launcher and the code
   location's container context keep only the ``name`` of each env ConfigMap/Secret;
2. one registry setting: every image of a floe-runtime release under ``global.imageRegistry``;
3. the chart's ``values.schema.json`` refers to a remote document: rendering needs the mirror's
   local copy (``schemas/``), which the mirror path inlines;
4. names typed again under ``dagster:`` follow ``compiledArtifacts.*`` / ``demo.*``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts import objects as k8s
from floe_checks.charts.helm import REPO_ROOT, Helm
from floe_checks.charts.render import ChartWorkspace, prepare_workspace
from floe_checks.charts.schemas import archive_remote_documents, local_copy, remote_refs
from floe_checks.charts.wiring import (
    check_run_pod_references,
    run_pod_images,
    run_pod_references,
)
from floe_checks.errors import ChartError
from tests.charts.conftest import (
    DAGSTER_VARIANTS,
    K8S_DEFINITIONS_URL,
    NO_INTERNET,
    STANDIN,
    Variant,
    documented_secrets_for,
    image_refs,
    rendered,
)

pytestmark = [
    pytest.mark.charts,
    pytest.mark.requirement("007-FR-005"),
    pytest.mark.evidence("rendered"),
]

ENVIRONMENTS = REPO_ROOT / "examples" / "environments"
ENVIRONMENT_FILES = sorted(ENVIRONMENTS.glob("*/values.yaml"))
REGISTRY = "registry.floe.example.com"
OTHER_REGISTRY = "mirror.corp.test/floe"
# What the run pods of floe's code location reference, from launcher config and container context.
EXPECTED_RUN_POD_REFS = [
    ("ConfigMap", "floe-compiled-artifacts"),
    ("ConfigMap", "floe-dagster-pipeline-env"),
    ("ConfigMap", "floe-dagster-user-deployments-floe-demo-user-env"),
    ("ConfigMap", "floe-demo-env"),
    ("Secret", "floe-warehouse"),
]


def _env_id(path: Path) -> str:
    return f"examples/environments/{path.parent.name}"


# --- 1. run pods ------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", DAGSTER_VARIANTS, ids=lambda v: v.id)
def test_run_pods_reference_only_what_the_release_renders(
    standin_workspace: ChartWorkspace, variant: Variant
) -> None:
    objs = rendered(standin_workspace, variant)
    refs = run_pod_references(objs)
    instance = yaml.safe_load(
        k8s.by_kind(objs, "ConfigMap")["floe-dagster-instance"]["data"]["dagster.yaml"]
    )
    if instance["run_launcher"]["class"] == "K8sRunLauncher":
        # Not vacuous: the run pods of the one code location really name these.
        location = refs["floe-dagster-user-deployments-floe-demo"]
        assert sorted({(kind, name) for kind, name, _ in location}) == EXPECTED_RUN_POD_REFS
    else:
        assert refs == {}  # the demo's DefaultRunLauncher runs inside the code server
    assert check_run_pod_references(objs, documented_secrets_for(variant)) == []


@pytest.mark.parametrize("values", ENVIRONMENT_FILES, ids=_env_id)
def test_run_pods_of_every_environment_reference_only_what_it_renders(
    standin_workspace: ChartWorkspace, values: Path
) -> None:
    objs = standin_workspace.render("floe-runtime", [values])
    refs = run_pod_references(objs)["floe-dagster-user-deployments-floe-demo"]
    assert sorted({(kind, name) for kind, name, _ in refs}) == EXPECTED_RUN_POD_REFS
    assert check_run_pod_references(objs, documented_secrets_for(Variant("floe-runtime", ()))) == []


def test_the_demo_env_configmap_exists_and_is_empty_without_the_demo(
    standin_workspace: ChartWorkspace,
) -> None:
    off = k8s.by_kind(rendered(standin_workspace, Variant("floe-dagster", ())), "ConfigMap")
    on = k8s.by_kind(
        rendered(standin_workspace, Variant("floe-dagster", ("values-demo.yaml",))), "ConfigMap"
    )
    assert off["floe-demo-env"]["data"] == {}
    assert on["floe-demo-env"]["data"]["FLOE_DEMO_RATE"] == "burst"


def test_the_standin_keeps_only_names_for_run_pods(standin_workspace: ChartWorkspace) -> None:
    """The published behaviour the defect came from: `optional` is dropped on the way."""
    objs = standin_workspace.render(
        "floe-dagster",
        set_values=[
            "dagster.runLauncher.config.k8sRunLauncher.envConfigMaps[0].name=floe-demo-env",
            "dagster.runLauncher.config.k8sRunLauncher.envConfigMaps[0].optional=true",
        ],
    )
    launcher = yaml.safe_load(
        k8s.by_kind(objs, "ConfigMap")["floe-dagster-instance"]["data"]["dagster.yaml"]
    )["run_launcher"]["config"]
    assert launcher["env_config_maps"] == [
        {"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"},
        "floe-demo-env",
    ]
    user_code = next(w for w in k8s.workloads(objs) if w.name.endswith("-floe-demo"))
    env = {e["name"]: e.get("value") for e in user_code.containers[0].env}
    context = json.loads(env["DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT"])["k8s"]
    assert context["env_config_maps"] == [
        "floe-dagster-user-deployments-floe-demo-user-env",
        "floe-demo-env",
    ]
    assert context["env_secrets"] == ["floe-warehouse"]


def test_a_configmap_run_pods_need_but_nobody_renders_is_reported() -> None:
    """What non-demo releases rendered before the fix (floe-demo-env referenced, not rendered)."""
    instance = {
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": {"env_config_maps": ["floe-demo-env"], "env_secrets": ["floe-warehouse"]},
        }
    }
    objs: list[dict[str, Any]] = [
        {
            "kind": "ConfigMap",
            "metadata": {"name": "floe-dagster-instance"},
            "data": {"dagster.yaml": yaml.safe_dump(instance)},
        }
    ]
    assert check_run_pod_references(objs, {"floe-warehouse"}) == [
        "run pods of (no code location): ConfigMap 'floe-demo-env' (run launcher "
        "env_config_maps) is not rendered; dagster-k8s references it without `optional`, so "
        "every run pod fails"
    ]


# --- 2. one registry --------------------------------------------------------------------------


def _all_images(objs: list[dict[str, Any]]) -> list[str]:
    return [c.image for w in k8s.workloads(objs) for c in w.containers] + run_pod_images(objs)


def test_prod_places_every_image_under_the_registry(standin_workspace: ChartWorkspace) -> None:
    objs = rendered(standin_workspace, Variant("floe-runtime", ("values-prod.yaml",)))
    images = _all_images(objs)
    assert sorted(set(images)) == [
        f"{REGISTRY}/cubejs/cubestore:v1.7.43",
        f"{REGISTRY}/floe/floe-cube:0.1.0",
        f"{REGISTRY}/floe/floe-dagster:0.1.0",
        f"{REGISTRY}/library/busybox:1.28",
        f"{REGISTRY}/library/postgres:14.6",
    ]
    # run pods (K8sRunLauncher, no job_image: the code location's image) are in the list
    assert run_pod_images(objs) == [f"{REGISTRY}/floe/floe-dagster:0.1.0"]
    # and every other image reference (DAGSTER_CURRENT_IMAGE, DAGSTER_K8S_PIPELINE_RUN_IMAGE)
    assert [r for r in image_refs(objs) if not r[1].startswith(f"{REGISTRY}/")] == []


def test_a_run_launcher_image_is_held_to_the_registry_too(
    standin_workspace: ChartWorkspace,
) -> None:
    key = "floe-dagster.dagster.runLauncher.config.k8sRunLauncher.image"
    prod = [REPO_ROOT / "charts/floe-runtime/values-prod.yaml"]
    pinned = {f"{key}.tag": "0.1.0", f"{key}.pullPolicy": "IfNotPresent"}
    objs = standin_workspace.render(
        "floe-runtime", prod, {f"{key}.repository": f"{REGISTRY}/floe/floe-runs", **pinned}
    )
    # rendered as the launcher's job_image; run pods still take the code location's image
    assert ("ConfigMap/floe-dagster-instance job_image", f"{REGISTRY}/floe/floe-runs:0.1.0") in (
        image_refs(objs)
    )
    assert run_pod_images(objs) == [f"{REGISTRY}/floe/floe-dagster:0.1.0"]
    with pytest.raises(ChartError) as err:
        standin_workspace.render(
            "floe-runtime", prod, {f"{key}.repository": "docker.io/floe/floe-runs", **pinned}
        )
    assert (
        "- dagster.runLauncher.config.k8sRunLauncher.image.repository is "
        f'"docker.io/floe/floe-runs", must start with {REGISTRY}/ (global.imageRegistry)'
    ) in err.value.message


def test_prod_places_every_image_under_the_registry_with_the_official_chart(
    dagster_workspace: ChartWorkspace,
) -> None:
    """Only with FLOE_HELM_MIRROR: checks the stand-in's image rules against the real chart."""
    objs = rendered(dagster_workspace, Variant("floe-runtime", ("values-prod.yaml",)))
    images = _all_images(objs)
    assert [i for i in images if not i.startswith(f"{REGISTRY}/")] == []
    assert check_run_pod_references(objs, documented_secrets_for(Variant("floe-runtime", ()))) == []


def test_a_registry_the_dagster_values_do_not_follow_fails_the_render(
    standin_workspace: ChartWorkspace,
) -> None:
    """global.imageRegistry alone cannot reach the Dagster chart: the render says what to set."""
    with pytest.raises(ChartError) as err:
        standin_workspace.render("floe-runtime", set_values={"global.imageRegistry": "mirror.corp"})
    message = err.value.message
    for line in (
        '- dagster.dagsterWebserver.image.repository is "floe/floe-dagster", must start with '
        "mirror.corp/ (global.imageRegistry)",
        '- dagster.dagsterDaemon.image.repository is "floe/floe-dagster", must start with '
        "mirror.corp/",
        "- dagster.dagster-user-deployments.deployments[0].image.repository is "
        '"floe/floe-dagster", must start with mirror.corp/',
        '- dagster.busybox.image.repository is "docker.io/library/busybox", must start with '
        "mirror.corp/",
        '- dagster.postgresql.image.registry is "docker.io", must be mirror.corp',
    ):
        assert line in message


# --- 3. the schema's remote $ref ---------------------------------------------------------------


def test_the_standin_schema_refers_to_the_same_remote_document_as_the_published_one(
    standin_mirror: Path,
) -> None:
    schema = json.loads((STANDIN / "values.schema.json").read_text())
    assert {r.split("#")[0] for r in remote_refs(schema)} == {K8S_DEFINITIONS_URL}
    assert archive_remote_documents(standin_mirror / "dagster-1.13.27.tgz") == [K8S_DEFINITIONS_URL]


def test_without_the_schema_copy_helm_fails_offline(helm: Helm, tmp_path: Path) -> None:
    """The published behaviour: helm fetches the $ref at every render and fails offline."""
    proc = helm.run(["template", "x", str(STANDIN)], check=False)
    assert proc.returncode == 1
    assert (
        f'Get "{K8S_DEFINITIONS_URL}": proxyconnect tcp: dial tcp 127.0.0.1:9: connect: '
        "connection refused"
    ) in proc.stderr


def test_the_mirror_path_names_a_missing_schema_copy(
    helm: Helm, standin_mirror: Path, tmp_path: Path
) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(standin_mirror, mirror, ignore=shutil.ignore_patterns("schemas"))
    with pytest.raises(ChartError) as err:
        prepare_workspace(tmp_path / "charts", helm=helm, mirror=mirror, charts=["floe-dagster"])
    copy = mirror / "schemas/raw.githubusercontent.com/yannh/kubernetes-json-schema/master"
    assert err.value.message == (
        f"dagster/values.schema.json refers to {K8S_DEFINITIONS_URL}, which helm would fetch "
        f"from the internet, and {copy}/v1.19.0/_definitions.json is missing"
    )
    assert err.value.remediation.startswith("on a machine with internet access: curl -fL")


def test_the_mirror_path_inlines_the_schema_and_keeps_it_strict(
    standin_workspace: ChartWorkspace,
) -> None:
    archive = standin_workspace.root / "floe-dagster" / "charts" / "dagster-1.13.27.tgz"
    with tarfile.open(archive) as tar:
        member = tar.extractfile("dagster/values.schema.json")
        assert member is not None
        schema = json.loads(member.read())
    assert remote_refs(schema) == set()
    assert schema["definitions"]["io.k8s.api.core.v1.Probe"]["properties"]["exec"] == {
        "$ref": "#/definitions/io.k8s.api.core.v1.ExecAction",
        "description": "Exec specifies the action to take.",
    }
    # Still validated, offline: a Kubernetes type error in the Dagster section is refused.
    with pytest.raises(ChartError, match=re.escape("dagsterWebserver.resources")):
        standin_workspace.render(
            "floe-dagster", set_values=["dagster.dagsterWebserver.resources=5"]
        )


def _doc_commands(heading: str) -> list[str]:
    """The commands of the first bash block after ``heading`` in docs/charts.md."""
    text = (REPO_ROOT / "docs" / "charts.md").read_text()
    block = text.split(heading, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _shim(bindir: Path, name: str, body: str) -> None:
    (bindir / name).write_text("#!/bin/bash\nset -euo pipefail\n" + body)
    (bindir / name).chmod(0o755)


def test_the_documented_air_gapped_install_works(
    helm: Helm, standin_mirror: Path, tmp_path: Path
) -> None:
    """docs/charts.md's air-gapped commands, run as written, with no internet.

    Both blocks run in a copy of the charts. The connected side's two downloads are replaced by
    shims (nothing here reaches the internet): `helm pull` copies the stand-in archive,
    `curl -o PATH URL` copies the local definitions document; everything else — the mirror
    layout, `helm repo index`, `schema-documents`, the `schemas/<host>/<path>` paths — is real.
    On the air-gapped side everything runs as written except `helm install` (needs a cluster).
    """
    connected = _doc_commands("#### On a machine with internet access")
    air_gapped = _doc_commands("#### On the air-gapped machine")
    assert connected[0] == "export MIRROR=/srv/helm-mirror"
    assert air_gapped[-2].startswith("helm install floe charts/floe-runtime")
    work = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "charts", work / "charts", ignore=shutil.ignore_patterns("*.tgz"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # a wrapper, not a symlink: a symlinked venv python would not find its venv
    _shim(bindir, "python", f'exec "{sys.executable}" "$@"\n')
    archive = standin_mirror / "dagster-1.13.27.tgz"
    _shim(
        bindir,
        "helm",
        f'if [ "$1" = pull ]; then cp "{archive}" "${{@: -1}}/"; exit 0; fi\n'
        f'exec "{helm.binary}" "$@"\n',
    )
    definitions = local_copy(standin_mirror / "schemas", K8S_DEFINITIONS_URL)
    _shim(
        bindir,
        "curl",
        'while [ "$1" != -o ]; do shift; done\n'
        f'mkdir -p "$(dirname "$2")"; cp "{definitions}" "$2"\n',
    )
    mirror = tmp_path / "helm-mirror"
    env = {
        **os.environ,
        **NO_INTERNET,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "HELM_CONFIG_HOME": str(tmp_path / "helm/config"),
        "HELM_CACHE_HOME": str(tmp_path / "helm/cache"),
        "HELM_DATA_HOME": str(tmp_path / "helm/data"),
    }
    # The user's MIRROR, carried over: here the same directory on both sides.
    connected[0] = f"export MIRROR={mirror}"
    # The user's registry: not the one values-prod.yaml spells, so the overlay must move all.
    assert air_gapped[0] == f"export REGISTRY={REGISTRY}"
    air_gapped[0] = f"export REGISTRY={OTHER_REGISTRY}"
    script = "\n".join(["set -euo pipefail", *connected, *air_gapped[:-2]])
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        mirror / "schemas/raw.githubusercontent.com/yannh/kubernetes-json-schema/master/"
        "v1.19.0/_definitions.json"
    ).read_bytes() == definitions.read_bytes()
    vendored = work / "charts/floe-dagster/charts/dagster-1.13.27.tgz"
    assert "vendored charts/floe-dagster/charts/dagster-1.13.27.tgz (schema $refs local)\n" in (
        proc.stdout
    )
    assert archive_remote_documents(vendored) == []
    # `helm template` wrote the release: prod, every image from the user's registry.
    objs = [o for o in yaml.safe_load_all((work / "floe-prod.yaml").read_text()) if o]
    assert "Deployment/floe-dagster-user-deployments-floe-demo" in {k8s.ref(o) for o in objs}
    assert [r for r in image_refs(objs) if not r[1].startswith(f"{OTHER_REGISTRY}/")] == []
    assert sorted(set(_all_images(objs))) == [
        f"{OTHER_REGISTRY}/cubejs/cubestore:v1.7.43",
        f"{OTHER_REGISTRY}/floe/floe-cube:0.1.0",
        f"{OTHER_REGISTRY}/floe/floe-dagster:0.1.0",
        f"{OTHER_REGISTRY}/library/busybox:1.28",
        f"{OTHER_REGISTRY}/library/postgres:14.6",
    ]
    # the documented grep lists the same images
    lines = proc.stdout.splitlines()
    listed = sorted({ln.split(": ", 1)[1].strip('"') for ln in lines if ln.startswith("image: ")})
    assert listed == sorted(set(_all_images(objs)))


def test_the_schema_documents_command_lists_what_to_download(standin_mirror: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "floe_checks.charts",
            "schema-documents",
            str(standin_mirror / "dagster-1.13.27.tgz"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, K8S_DEFINITIONS_URL + "\n", "")


# --- 4. names typed twice --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (
            {"compiledArtifacts.configMapName": "platform-artifacts"},
            [
                "dagster.dagster-user-deployments.deployments[0] (floe-demo).volumes: no volume "
                'of ConfigMap "platform-artifacts" (compiledArtifacts.configMapName)',
                "dagster.runLauncher.config.k8sRunLauncher.volumes: no volume of ConfigMap "
                '"platform-artifacts" (compiledArtifacts.configMapName)',
            ],
        ),
        (
            {"compiledArtifacts.mountPath": "/srv/floe"},
            [
                "dagster.dagster-user-deployments.deployments[0] (floe-demo).volumeMounts: "
                'volume "compiled-artifacts" is not mounted at /srv/floe '
                "(compiledArtifacts.mountPath)",
                "dagster.dagster-user-deployments.deployments[0] (floe-demo).env: "
                'FLOE_COMPILED_ARTIFACTS is "/etc/floe/compiled/CompiledArtifacts.json", must be '
                '"/srv/floe/CompiledArtifacts.json" (compiledArtifacts.mountPath)',
                "dagster.runLauncher.config.k8sRunLauncher.volumeMounts: volume "
                '"compiled-artifacts" is not mounted at /srv/floe (compiledArtifacts.mountPath)',
            ],
        ),
        (
            {"demo.envConfigMapName": "demo-settings"},
            [
                "dagster.dagster-user-deployments.deployments[0] (floe-demo).envConfigMaps: "
                'lists [floe-demo-env], not "demo-settings" (demo.envConfigMapName)',
                "dagster.runLauncher.config.k8sRunLauncher.envConfigMaps: lists "
                '[floe-demo-env], not "demo-settings" (demo.envConfigMapName)',
            ],
        ),
    ],
)
def test_names_under_dagster_must_follow_floes_own(
    standin_workspace: ChartWorkspace, sets: dict[str, str], expected: list[str]
) -> None:
    with pytest.raises(ChartError) as err:
        standin_workspace.render("floe-dagster", set_values=sets)
    problems = [
        ln.strip()[2:] for ln in err.value.message.splitlines() if ln.strip().startswith("- ")
    ]
    assert problems == expected


def test_vendor_dagster_without_the_chart_in_the_mirror_says_what_to_do(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "index.yaml").write_text("apiVersion: v1\nentries: {}\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "floe_checks.charts",
            "vendor-dagster",
            str(tmp_path),
            "--mirror",
            str(mirror),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **NO_INTERNET},
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        f"error: chart mirror {mirror} has no dagster 1.13.27 (index.yaml entry and archive)\n"
        "fix: helm pull dagster --repo https://dagster-io.github.io/helm --version 1.13.27 into "
        "it, then `helm repo index` it (docs/charts.md)\n"
    )
