"""floe-runtime's ``helm test`` hook (issue 17 point 4, FC-007), rendered offline.

The hook is a ConfigMap with a floe.yaml the chart renders from its values and a Pod running
``floe preflight`` on it. These tests render it with ``helm template`` *without*
``--skip-tests`` (``ChartWorkspace.render(tests=True)``) and check that

* it is a test hook, and only a test hook: release renders (``--skip-tests``, what ``helm
  install`` creates) never contain it;
* the Pod passes the Pod Security Standard ``restricted`` and our own hardening policy, and is
  valid Kubernetes (kubernetes-validate, strict);
* its floe.yaml passes our own config loader (``floe_checks.config.load_environment``) with the
  exact sections and endpoints the values give — every URL pointing at a Service the release
  renders, on a port that Service has — and each ``${VAR}`` is fed from the same Secret and key
  the workload that uses the credential reads.

With Dagster (the stand-in workspace: the air-gapped mirror path, see tests/charts/conftest.py)
the floe.yaml has postgres, cube and dagster; without it (the offline workspace) only cube.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from floe_checks.charts import objects as k8s
from floe_checks.charts.hardening import check_hardening
from floe_checks.charts.pss import check_pod_security
from floe_checks.charts.render import ChartWorkspace
from floe_checks.charts.validate import validate_objects
from floe_checks.config import (
    CubeSection,
    DagsterSection,
    Environment,
    PostgresSection,
    S3Storage,
    load_environment,
)
from floe_checks.errors import ChartError
from tests.charts.conftest import CHARTS

pytestmark = [
    pytest.mark.charts,
    pytest.mark.evidence("rendered"),
    pytest.mark.requirement("FC-007"),
]

CHART = "floe-runtime"
RELEASE = "floe"  # ChartWorkspace.render's default release and namespace
NAMESPACE = "floe"
HOOK = "floe-floe-preflight"
ENV = "in-cluster"
# Throwaway values for the ${VAR}s of the rendered floe.yaml, only to load it here.
PG_PASSWORD = "hook-test-pg"  # pragma: allowlist secret
CUBE_SECRET = "hook-test-cube"  # pragma: allowlist secret
SUFFIX = f"{NAMESPACE}.svc.cluster.local"


def _files(*names: str) -> list[Path]:
    return [CHARTS / CHART / name for name in names]


def hook_objects(
    ws: ChartWorkspace, files: list[Path], sets: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hook's ConfigMap and Pod; fails unless those two are the only test hooks."""
    objs = ws.render(CHART, files, sets, tests=True)
    hooks = [
        o for o in objs if (o["metadata"].get("annotations") or {}).get("helm.sh/hook") == "test"
    ]
    assert sorted(k8s.ref(o) for o in hooks) == [f"ConfigMap/{HOOK}", f"Pod/{HOOK}"]
    by_kind = {o["kind"]: o for o in hooks}
    return by_kind["ConfigMap"], by_kind["Pod"]


def load_floe_yaml(
    configmap: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Environment:
    """The ConfigMap's floe.yaml through our own loader, as ``floe preflight`` reads it."""
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", PG_PASSWORD)
    monkeypatch.setenv("CUBEJS_API_SECRET", CUBE_SECRET)
    path = tmp_path / "floe.yaml"
    path.write_text(configmap["data"]["floe.yaml"], encoding="utf-8")
    return load_environment(path, ENV)


def _env_ref(container: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [e for e in container.get("env", []) if e["name"] == name]
    return dict(entry["valueFrom"])


def _workload_env_ref(objs: list[dict[str, Any]], workload: str, name: str) -> dict[str, Any]:
    (w,) = [w for w in k8s.workloads(objs) if w.ref == workload]
    (container,) = [c for c in w.containers if not c.init]
    (entry,) = [e for e in container.env if e["name"] == name]
    return dict(entry["valueFrom"])


def _service_port(objs: list[dict[str, Any]], url_host: str) -> list[int]:
    """The ports of the rendered Service a URL's host names (``<svc>.<ns>.svc.<domain>``)."""
    service, rest = url_host.split(".", 1)
    assert rest == SUFFIX
    (svc,) = [s for s in k8s.services(objs) if s.name == service]
    return [port for port, _ in svc.ports]


# (values files, expected postgres user): floe-dagster's default user, the demo's superuser
DAGSTER_PROFILES = [
    ((), "dagster"),
    (("values-dev.yaml",), "dagster"),
    (("values-prod.yaml",), "dagster"),
    (("values-demo.yaml",), "postgres"),
]


@pytest.mark.parametrize(
    ("values", "pg_user"),
    DAGSTER_PROFILES,
    ids=[v[0][0] if v[0] else "default" for v in DAGSTER_PROFILES],
)
def test_rendered_floe_yaml_passes_our_validation_with_the_release_endpoints(
    standin_workspace: ChartWorkspace,
    values: tuple[str, ...],
    pg_user: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = _files(*values)
    configmap, pod = hook_objects(standin_workspace, files)
    env = load_floe_yaml(configmap, tmp_path, monkeypatch)

    assert list(env.sections()) == ["postgres", "cube", "dagster"]
    pg, cube, dagster = env.postgres, env.cube, env.dagster
    assert isinstance(pg, PostgresSection)
    assert isinstance(cube, CubeSection)
    assert isinstance(dagster, DagsterSection)
    assert (pg.host, pg.port, pg.user, pg.database) == ("floe-postgresql", 5432, pg_user, "dagster")
    assert isinstance(pg.password, SecretStr)
    assert pg.password.get_secret_value() == PG_PASSWORD
    assert cube.url == f"http://floe-cube.{SUFFIX}:4000"
    assert cube.api_secret.get_secret_value() == CUBE_SECRET
    assert dagster.url == f"http://floe-dagster-webserver.{SUFFIX}:3000"

    # every endpoint is a Service of the release itself, on a port it has
    release = standin_workspace.render(CHART, files)
    assert _service_port(release, f"floe-cube.{SUFFIX}") == [4000]
    assert _service_port(release, f"floe-dagster-webserver.{SUFFIX}") == [3000]
    if "values-demo.yaml" in values:
        assert [s.name for s in k8s.services(release) if s.name == "floe-postgresql"] == [
            "floe-postgresql"
        ]

    # each secret comes from the Secret and key the workload using it reads
    (container,) = pod["spec"]["containers"]
    assert _env_ref(container, "DAGSTER_PG_PASSWORD") == _workload_env_ref(
        release, "Deployment/floe-dagster-webserver", "DAGSTER_PG_PASSWORD"
    )
    assert _env_ref(container, "DAGSTER_PG_PASSWORD") == {
        "secretKeyRef": {"name": "floe-postgresql", "key": "postgresql-password"}
    }
    assert _env_ref(container, "CUBEJS_API_SECRET") == _workload_env_ref(
        release, "Deployment/floe-cube-api", "CUBEJS_API_SECRET"
    )
    # the only literal values are the two settings for the read-only root filesystem
    literals = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert literals == {"HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}
    # the Dagster chart's ServiceAccount (<release>-dagster)
    assert pod["spec"]["serviceAccountName"] == "floe-dagster"


@pytest.mark.parametrize("values", [(), ("values-dev.yaml",), ("values-prod.yaml",)])
def test_without_dagster_only_cube_is_checked(
    offline_workspace: ChartWorkspace,
    values: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configmap, pod = hook_objects(offline_workspace, _files(*values))
    env = load_floe_yaml(configmap, tmp_path, monkeypatch)
    assert list(env.sections()) == ["cube"]
    assert isinstance(env.cube, CubeSection)
    assert env.cube.url == f"http://floe-cube.{SUFFIX}:4000"
    (container,) = pod["spec"]["containers"]
    assert [e["name"] for e in container["env"]] == [
        "HOME",
        "PYTHONDONTWRITEBYTECODE",
        "CUBEJS_API_SECRET",
    ]
    # no Dagster ServiceAccount without Dagster: the namespace's own
    assert pod["spec"]["serviceAccountName"] == "default"


@pytest.mark.requirement("SC-004")
@pytest.mark.parametrize(
    "values", [(), ("values-dev.yaml",), ("values-prod.yaml",), ("values-demo.yaml",)]
)
def test_hook_is_a_hardened_test_pod(
    standin_workspace: ChartWorkspace, values: tuple[str, ...]
) -> None:
    configmap, pod = hook_objects(standin_workspace, _files(*values))
    for obj in (configmap, pod):
        assert obj["metadata"]["annotations"]["helm.sh/hook"] == "test"
        assert obj["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == (
            "before-hook-creation"
        )
    # the ConfigMap exists before the Pod that mounts it
    assert configmap["metadata"]["annotations"]["helm.sh/hook-weight"] == "-1"
    assert pod["metadata"]["annotations"]["helm.sh/hook-weight"] == "0"
    assert check_pod_security([pod], "restricted") == []
    assert check_hardening([pod]) == []
    assert validate_objects([configmap, pod]) == []

    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    (container,) = spec["containers"]
    registry = "registry.floe.example.com/" if "values-prod.yaml" in values else ""
    assert container["image"] == f"{registry}floe/floe-dagster:0.1.0"
    assert container["command"] == [
        "floe", "preflight", "--config", "/etc/floe/preflight/floe.yaml",
        "--env", ENV, "--timeout", "30",
    ]  # fmt: skip
    assert container["volumeMounts"] == [
        {"name": "floe-yaml", "mountPath": "/etc/floe/preflight", "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    assert spec["volumes"][0] == {"name": "floe-yaml", "configMap": {"name": HOOK}}


@pytest.mark.parametrize(
    "values", [(), ("values-dev.yaml",), ("values-prod.yaml",), ("values-demo.yaml",)]
)
def test_release_renders_leave_the_hook_out(
    standin_workspace: ChartWorkspace, values: tuple[str, ...]
) -> None:
    """``helm install`` (and every release render of the suite, ``--skip-tests``) creates no
    hook object: it exists only while ``helm test`` runs."""
    names = {k8s.ref(o) for o in standin_workspace.render(CHART, _files(*values))}
    assert {f"ConfigMap/{HOOK}", f"Pod/{HOOK}"} & names == set()


def test_disabled_hook_renders_nothing(offline_workspace: ChartWorkspace) -> None:
    objs = offline_workspace.render(CHART, [], ["preflightTest.enabled=false"], tests=True)
    assert [k8s.ref(o) for o in objs if o["metadata"]["name"] == HOOK] == []


def test_extra_sections_and_their_secrets(
    offline_workspace: ChartWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = tmp_path / "extra.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "preflightTest": {
                    "extraSections": {
                        "storage": {
                            "type": "s3",
                            "bucket": "floe-lake",
                            "access_key_id": "${AWS_ACCESS_KEY_ID}",
                            "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
                        }
                    },
                    "extraEnv": [
                        {
                            "name": name,
                            "valueFrom": {"secretKeyRef": {"name": "floe-s3", "key": name}},
                        }
                        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
                    ],
                    "podLabels": {"floe.example.com/egress": "platform"},
                }
            }
        ),
        encoding="utf-8",
    )
    configmap, pod = hook_objects(offline_workspace, [values])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "hook-test-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hook-test-key")  # pragma: allowlist secret
    env = load_floe_yaml(configmap, tmp_path, monkeypatch)
    assert list(env.sections()) == ["storage", "cube"]
    assert isinstance(env.storage, S3Storage)
    assert (env.storage.type, env.storage.bucket) == ("s3", "floe-lake")
    (container,) = pod["spec"]["containers"]
    assert [e["name"] for e in container["env"]][-2:] == [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    assert _env_ref(container, "AWS_SECRET_ACCESS_KEY") == {
        "secretKeyRef": {"name": "floe-s3", "key": "AWS_SECRET_ACCESS_KEY"}
    }
    assert pod["metadata"]["labels"]["floe.example.com/egress"] == "platform"
    assert check_hardening([pod]) == []


SCHEMA_ERROR = "values don't meet the specifications of the schema(s) in the following chart(s)"


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        (
            # a credential written into the values is refused: only valueFrom
            ["preflightTest.extraEnv[0].name=X", "preflightTest.extraEnv[0].value=literal"],
            "floe-runtime:\n- preflightTest.extraEnv.0: valueFrom is required\n"
            "- preflightTest.extraEnv.0: Additional property value is not allowed",
        ),
        (
            ["preflightTest.extraSections.postgres.host=db"],
            'floe-runtime:\n- preflightTest.extraSections: Property name of "postgres" does not '
            "match\n- preflightTest.extraSections: preflightTest.extraSections must be one of "
            'the following: "compute", "storage", "catalog"',
        ),
        (
            ["preflightTest.timeout=3"],
            "floe-runtime:\n- preflightTest.timeout: Must be greater than or equal to 5",
        ),
    ],
    ids=["literal-env", "unknown-section", "timeout"],
)
def test_bad_hook_values_fail_the_render(
    offline_workspace: ChartWorkspace, sets: list[str], expected: str
) -> None:
    with pytest.raises(ChartError) as err:
        offline_workspace.render(CHART, [], sets, tests=True)
    assert SCHEMA_ERROR in str(err.value)
    assert expected in str(err.value)


def test_nothing_to_check_renders_no_hook(offline_workspace: ChartWorkspace) -> None:
    """floe-dagster alone without its Dagster subchart (007-FR-010: any part alone) has no
    endpoint for preflight: the release still renders, without a hook."""
    objs = offline_workspace.render(CHART, [], ["floe-cube.enabled=false"], tests=True)
    assert [k8s.ref(o) for o in objs if o["metadata"]["name"] == HOOK] == []
    assert "ConfigMap/floe-compiled-artifacts" in {k8s.ref(o) for o in objs}


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_example_environment_renders_a_valid_hook(
    standin_workspace: ChartWorkspace,
    environment: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The values of examples/environments/* (what GitOps installs): the hook's floe.yaml
    validates and every URL in it is a Service of that release, on a port it has."""
    files = [CHARTS.parent / "examples" / "environments" / environment / "values.yaml"]
    configmap, pod = hook_objects(standin_workspace, files)
    env = load_floe_yaml(configmap, tmp_path, monkeypatch)
    assert list(env.sections()) == ["postgres", "cube", "dagster"]
    release = standin_workspace.render(CHART, files)
    for section in (env.cube, env.dagster):
        assert isinstance(section, CubeSection | DagsterSection)
        host_port = section.url.removeprefix("http://")
        host, port = host_port.rsplit(":", 1)
        assert _service_port(release, host) == [int(port)]
    assert check_hardening([pod]) == []


@pytest.mark.parametrize(
    ("sets", "expected"),
    [
        ([], "floe-dagster"),
        # the Dagster chart's dagster.serviceAccountName: global, then serviceAccount.name
        (["global.serviceAccountName=platform"], "platform"),
        (["floe-dagster.dagster.serviceAccount.name=dagster-runner"], "dagster-runner"),
        (["preflightTest.serviceAccountName=preflight"], "preflight"),
    ],
    ids=["dagster-default", "global", "dagster-serviceaccount-name", "own"],
)
def test_the_pod_runs_as_the_releases_service_account(
    standin_workspace: ChartWorkspace, sets: list[str], expected: str
) -> None:
    _, pod = hook_objects(standin_workspace, [], sets)
    assert pod["spec"]["serviceAccountName"] == expected


@pytest.mark.parametrize(
    ("workspace", "values", "sets", "expected"),
    [
        # Dagster on: the webserver's image, so a promoted tag reaches the hook too
        (
            "standin",
            (),
            ["floe-dagster.dagster.dagsterWebserver.image.tag=0.2.0"],
            "floe/floe-dagster:0.2.0",
        ),
        # ... and the registry overlay, which rewrites the Dagster image fields
        ("standin", ("values-prod.yaml",), [], "registry.floe.example.com/floe/floe-dagster:0.1.0"),
        # Dagster off: ours, at the chart's appVersion, under global.imageRegistry
        ("offline", ("values-prod.yaml",), [], "registry.floe.example.com/floe/floe-dagster:0.1.0"),
        ("offline", (), [], "floe/floe-dagster:0.1.0"),
        # set explicitly: under global.imageRegistry as every image floe-runtime renders itself
        (
            "standin",
            ("values-prod.yaml",),
            ["preflightTest.image.repository=floe/preflight", "preflightTest.image.tag=1.2.3"],
            "registry.floe.example.com/floe/preflight:1.2.3",
        ),
    ],
    ids=["promoted-tag", "prod-dagster", "prod-no-dagster", "default-no-dagster", "explicit"],
)
def test_the_hook_image_follows_the_releases_dagster_image(
    request: pytest.FixtureRequest,
    workspace: str,
    values: tuple[str, ...],
    sets: list[str],
    expected: str,
) -> None:
    ws = request.getfixturevalue(f"{workspace}_workspace")
    _, pod = hook_objects(ws, _files(*values), sets)
    assert pod["spec"]["containers"][0]["image"] == expected
