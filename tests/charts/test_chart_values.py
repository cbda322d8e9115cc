"""Values contracts: bad values fail `helm template` naming the problem; no credential in any
values file; CompiledArtifacts.json and the demo settings reach the user code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts.plaintext import check_values_file, plaintext_credentials
from floe_checks.charts.render import ChartWorkspace
from floe_checks.charts.wiring import check_configmap_mounted
from floe_checks.errors import ChartError
from tests.charts.conftest import BAD_VALUES, CHARTS, Variant, rendered

pytestmark = [pytest.mark.charts, pytest.mark.evidence("rendered")]

SCHEMA_ERROR = "values don't meet the specifications of the schema(s) in the following chart(s)"


@pytest.mark.requirement("SC-006")
@pytest.mark.parametrize(
    ("chart", "bad_file", "expected_line"),
    [
        (
            "floe-cube",
            "cube-replicacount-three.yaml",
            "floe-cube:\n- api.replicaCount: Invalid type. Expected: integer, given: string",
        ),
        (
            "floe-runtime",
            "runtime-replicacount-three.yaml",
            "floe-cube:\n- api.replicaCount: Invalid type. Expected: integer, given: string",
        ),
        (
            "floe-dagster",
            "dagster-unknown-floe-key.yaml",
            "floe-dagster:\n- demo: Additional property batchSize is not allowed",
        ),
        (
            "floe-dagster",
            "dagster-latest-tag.yaml",
            "floe-dagster:\n- dagster.dagsterWebserver.image.tag: Must not validate the schema",
        ),
    ],
)
def test_bad_values_fail_helm_template_naming_the_key(
    offline_workspace: ChartWorkspace, chart: str, bad_file: str, expected_line: str
) -> None:
    with pytest.raises(ChartError) as info:
        offline_workspace.render(chart, [BAD_VALUES / bad_file])
    assert SCHEMA_ERROR in str(info.value)
    assert expected_line in str(info.value)


@pytest.mark.requirement("SC-004", "007-FR-008")
@pytest.mark.parametrize(
    ("chart", "bad_file", "expected_line", "plaintext_key"),
    [
        (
            "floe-dagster",
            "dagster-plaintext-password.yaml",
            "- dagster.postgresql.postgresqlPassword: "
            "String length must be less than or equal to 0",
            "dagster.postgresql.postgresqlPassword",
        ),
        (
            "floe-cube",
            "cube-plaintext-api-secret.yaml",
            "- apiSecret: Invalid type. Expected: object, given: string",
            "apiSecret",
        ),
    ],
)
def test_plaintext_credentials_are_impossible(
    offline_workspace: ChartWorkspace,
    chart: str,
    bad_file: str,
    expected_line: str,
    plaintext_key: str,
) -> None:
    """The schema refuses them at `helm template`, and the values scan names the key."""
    with pytest.raises(ChartError) as info:
        offline_workspace.render(chart, [BAD_VALUES / bad_file])
    assert expected_line in str(info.value)
    problems = check_values_file(BAD_VALUES / bad_file)
    assert problems == [
        f"{BAD_VALUES / bad_file}: {plaintext_key} holds a plaintext credential; reference a "
        "Secret (existingSecret / ExternalSecret) instead"
    ]


def _values_files() -> list[Path]:
    return sorted(
        p for p in CHARTS.rglob("*.yaml") if p.name.startswith("values") or p.parent.name == "ci"
    )


@pytest.mark.requirement("SC-004")
def test_no_values_file_holds_a_credential() -> None:
    files = _values_files()
    # 4 per chart (values, dev, prod, demo) and the two secrets variants of floe-dagster.
    assert len(files) == 14, [str(f) for f in files]
    assert [p for f in files for p in check_values_file(f)] == []


def test_plaintext_scan_tells_references_from_credentials() -> None:
    values = {
        "database": {
            "existingSecret": "db",  # pragma: allowlist secret
            "passwordKey": "PASS",
            "password": "s3cret",  # pragma: allowlist secret
        },
        "apiSecret": {
            "existingSecret": "cube",  # pragma: allowlist secret
            "key": "CUBEJS_API_SECRET",  # pragma: allowlist secret
        },
        "items": [{"token": "abc"}, {"token": ""}],
        "global": {"postgresqlSecretName": "pg"},  # pragma: allowlist secret
    }
    assert plaintext_credentials(values) == ["database.password", "items[0].token"]


def _merged(chart: str, *files: str) -> dict[str, Any]:
    """Values as helm merges them (maps merge, lists and scalars replace), for value checks."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    values: dict[str, Any] = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())
    for f in files:
        values = merge(values, yaml.safe_load((CHARTS / chart / f).read_text()) or {})
    return values


@pytest.mark.requirement("007-FR-007")
@pytest.mark.parametrize(
    "files", [(), ("values-dev.yaml",), ("values-prod.yaml",), ("values-demo.yaml",)]
)
def test_compiled_artifacts_configmap_is_mounted_where_dagster_reads_it(
    files: tuple[str, ...],
) -> None:
    """In every variant's values: the user code and run pods mount the ConfigMap at mountPath
    and FLOE_COMPILED_ARTIFACTS names the file (the rendered form is checked below)."""
    values = _merged("floe-dagster", *files)
    art = values["compiledArtifacts"]
    expected_file = f"{art['mountPath']}/CompiledArtifacts.json"
    deployment = values["dagster"]["dagster-user-deployments"]["deployments"][0]
    launcher = values["dagster"]["runLauncher"]["config"]["k8sRunLauncher"]
    for where in (deployment, launcher):
        volume = next(
            v["name"]
            for v in where["volumes"]
            if v.get("configMap", {}).get("name") == art["configMapName"]
        )
        mounts = {m["mountPath"]: m["name"] for m in where["volumeMounts"]}
        assert mounts[art["mountPath"]] == volume
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["FLOE_COMPILED_ARTIFACTS"] == expected_file


@pytest.mark.requirement("007-FR-007")
def test_set_file_compiled_artifacts_lands_verbatim_and_mounted(
    standin_workspace: ChartWorkspace, tmp_path: Path
) -> None:
    artifacts = {"version": "1.0", "compute": {"target": "duckdb"}, "assets": ["orders"]}
    source = tmp_path / "CompiledArtifacts.json"
    source.write_text(json.dumps(artifacts, indent=2))
    objs = standin_workspace.render("floe-dagster", set_files={"compiledArtifacts.json": source})
    cm = next(
        o
        for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "floe-compiled-artifacts"
    )
    assert json.loads(cm["data"]["CompiledArtifacts.json"]) == artifacts
    assert (
        check_configmap_mounted(
            objs,
            "floe-compiled-artifacts",
            "/etc/floe/compiled",
            ["floe-dagster-user-deployments-floe-demo"],
        )
        == []
    )
    # and the check does fail when the mount is elsewhere
    assert check_configmap_mounted(
        objs, "floe-compiled-artifacts", "/elsewhere", ["floe-dagster-user-deployments-floe-demo"]
    ) == [
        "Deployment/floe-dagster-user-deployments-floe-demo: ConfigMap "
        "'floe-compiled-artifacts' is not mounted at /elsewhere"
    ]


@pytest.mark.requirement("007-FR-007")
def test_invalid_compiled_artifacts_json_fails_naming_it(
    offline_workspace: ChartWorkspace, tmp_path: Path
) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(ChartError, match=r"compiledArtifacts\.json is not valid JSON"):
        offline_workspace.render("floe-dagster", set_files={"compiledArtifacts.json": bad})


@pytest.mark.requirement("007-FR-025")
@pytest.mark.parametrize(
    ("chart", "prefix"), [("floe-dagster", ()), ("floe-runtime", ("floe-dagster",))]
)
def test_demo_values_reach_the_user_code_environment(
    standin_workspace: ChartWorkspace, chart: str, prefix: tuple[str, ...]
) -> None:
    demo_values = yaml.safe_load((CHARTS / chart / "values-demo.yaml").read_text())
    for key in prefix:
        demo_values = demo_values[key]
    demo = demo_values["demo"]
    expected = {
        "FLOE_DEMO_SCHEDULE": demo["schedule"],
        "FLOE_DEMO_BATCH_ORDERS": str(demo["batchOrders"]),
        "FLOE_DEMO_RATE": demo["rate"],
        "FLOE_DEMO_NULL_RATE": str(demo["nullRate"]),
        "FLOE_DEMO_DUPLICATE_RATE": str(demo["duplicateRate"]),
        "FLOE_DEMO_LATE_RATE": str(demo["lateRate"]),
        "FLOE_DEMO_DBT_TARGET": demo["dbtTarget"],
        "OPENLINEAGE_URL": demo["openlineageUrl"],
        "OTEL_EXPORTER_OTLP_ENDPOINT": demo["otlpEndpoint"],
    }
    objs = rendered(standin_workspace, Variant(chart, ("values-demo.yaml",)))
    cm = next(
        o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "floe-demo-env"
    )
    assert cm["data"] == expected
    user_code = next(
        o
        for o in objs
        if o["kind"] == "Deployment"
        and o["metadata"]["name"] == "floe-dagster-user-deployments-floe-demo"
    )
    container = user_code["spec"]["template"]["spec"]["containers"][0]
    assert {"configMapRef": {"name": "floe-demo-env"}} in container["envFrom"]
    assert {"secretRef": {"name": "floe-warehouse"}} in container["envFrom"]
    assert expected["FLOE_DEMO_SCHEDULE"] == "*/5 * * * *"


@pytest.mark.requirement("007-FR-008")
def test_external_secrets_variant_renders_the_targets(offline_workspace: ChartWorkspace) -> None:
    variant = Variant("floe-dagster", ("ci/external-secrets-values.yaml",))
    objs = rendered(offline_workspace, variant)
    targets = {
        o["spec"]["target"]["name"]: [d["secretKey"] for d in o["spec"]["data"]]
        for o in objs
        if o["kind"] == "ExternalSecret"
    }
    assert targets == {
        "floe-postgresql": ["postgresql-password"],
        "floe-warehouse": [
            "FLOE_WAREHOUSE_HOST",
            "FLOE_WAREHOUSE_PORT",
            "FLOE_WAREHOUSE_USER",
            "FLOE_WAREHOUSE_PASSWORD",
            "FLOE_WAREHOUSE_DB",
        ],
    }


@pytest.mark.requirement("SC-004", "007-FR-008")
def test_every_documented_secret_is_in_the_docs() -> None:
    from tests.charts.conftest import DOCUMENTED_SECRETS

    docs = (CHARTS.parent / "docs" / "charts.md").read_text()
    assert [s for s in sorted(DOCUMENTED_SECRETS) if f"`{s}`" not in docs] == []


@pytest.mark.requirement("007-FR-010")
@pytest.mark.parametrize(
    ("switch", "absent_prefix", "present"),
    [
        ("floe-cube.enabled=false", "floe-cube", "ConfigMap/floe-compiled-artifacts"),
        ("floe-dagster.enabled=false", "floe-compiled-artifacts", "Deployment/floe-cube-api"),
    ],
)
def test_umbrella_deploys_any_part_alone(
    offline_workspace: ChartWorkspace, switch: str, absent_prefix: str, present: str
) -> None:
    objs = offline_workspace.render("floe-runtime", set_values=[switch])
    names = {f"{o['kind']}/{o['metadata']['name']}" for o in objs}
    assert present in names
    assert [n for n in names if n.split("/", 1)[1].startswith(absent_prefix)] == []


# Credentials that do not sit under a credential-named key: detect-secrets finds them by shape.
# Written at test time (not committed), so no credential-shaped string lives in Git (SC-004).
LEAKED = (
    "database:\n"
    "  url: postgres://admin:{password}@db.example.com/floe\n"
    "backup:\n"
    "  accessKeyId: {key_id}\n"
)


@pytest.mark.requirement("SC-004")
def test_no_secret_shaped_string_in_charts_or_images(tmp_path: Path) -> None:
    from floe_checks.charts.plaintext import scan_for_secrets

    root = CHARTS.parent
    files = [p for d in ("charts", "docker") for p in (root / d).rglob("*") if p.is_file()]
    files += [root / "docker" / ".env.example"]
    assert scan_for_secrets(files) == []
    leak = tmp_path / "leaked-credentials.yaml"
    leak.write_text(
        LEAKED.format(
            password="Zx9vQ2" + "LmP7wR4tY8",  # pragma: allowlist secret
            key_id="AKIA" + "IOSFODNN7EXAMPLE",
        ),
        encoding="utf-8",
    )
    assert scan_for_secrets([leak]) == [
        f"{leak}:2: Basic Auth Credentials",
        f"{leak}:4: AWS Access Key",
    ]
