"""Secrets management wired into the examples, and no credential in Git (007-FR-014, SC-004).

Three approaches, one per environment so that one repository shows all of them: dev uses
Sealed Secrets, staging External Secrets from Vault, prod External Secrets from AWS Secrets
Manager; every environment also reads SOPS-encrypted private values.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.examples import (
    ENVIRONMENTS,
    EXAMPLE_CIPHERTEXT_FILES,
    SECRET_NAME_PATTERNS,
    Problem,
    baseline_scope_problems,
    detect_secrets_problems,
    is_age_recipient,
    kustomize_build,
    load_documents,
    plaintext_secret_problems,
    produced_secret_names,
    required_secret_names,
    sops_problems,
    store_problems,
    tracked_files,
)

pytestmark = [pytest.mark.charts, pytest.mark.evidence("rendered")]

SOPS_DIR = Path("examples/secrets/sops")
SEALED = Path("examples/secrets/sealed-secrets/sealed-secrets.yaml")

# The Secrets (name -> keys) the charts read, as their values name them.
CHART_SECRETS = {
    "floe-postgresql": {"postgresql-password"},
    "floe-warehouse": {
        "FLOE_WAREHOUSE_HOST",
        "FLOE_WAREHOUSE_PORT",
        "FLOE_WAREHOUSE_USER",
        "FLOE_WAREHOUSE_PASSWORD",
        "FLOE_WAREHOUSE_DB",
    },
    "floe-cube-api": {"CUBEJS_API_SECRET"},
}
# Cube Store on S3 runs in staging and prod only.
CUBESTORE_SECRET = {
    "floe-cubestore-s3": {"CUBESTORE_AWS_ACCESS_KEY_ID", "CUBESTORE_AWS_SECRET_ACCESS_KEY"}
}
ENV_SECRETS = {
    "dev": CHART_SECRETS,
    "staging": {**CHART_SECRETS, **CUBESTORE_SECRET},
    "prod": {**CHART_SECRETS, **CUBESTORE_SECRET},
}
PRIVATE_VALUES = "floe-runtime-private-values"


def _secret_keys(obj: dict[str, Any]) -> set[str]:
    if obj["kind"] == "ExternalSecret":
        return {d["secretKey"] for d in obj["spec"]["data"]}
    if obj["kind"] == "SealedSecret":
        return set(obj["spec"]["encryptedData"])
    return set(obj.get("data") or {}) | set(obj.get("stringData") or {})


@pytest.mark.requirement("007-FR-014", "007-FR-013")
def test_each_environment_produces_every_secret_it_reads(
    environment_builds: dict[str, list[dict[str, Any]]],
) -> None:
    expected_kind = {"dev": "SealedSecret", "staging": "ExternalSecret", "prod": "ExternalSecret"}
    for env, objects in environment_builds.items():
        produced = produced_secret_names(objects)
        assert required_secret_names(objects) == {PRIVATE_VALUES}
        assert produced == {*ENV_SECRETS[env], PRIVATE_VALUES}, env
        by_name = {
            o["metadata"]["name"]: o
            for o in objects
            if o["kind"] in {"ExternalSecret", "SealedSecret"}
        }
        for name, keys in ENV_SECRETS[env].items():
            assert by_name[name]["kind"] == expected_kind[env]
            assert _secret_keys(by_name[name]) == keys, (env, name)
            assert by_name[name]["metadata"]["namespace"] == f"floe-{env}"


@pytest.mark.requirement("007-FR-014")
def test_external_secrets_use_the_cluster_stores_the_examples_define(
    environment_builds: dict[str, list[dict[str, Any]]], repo_root: Path, kubectl: str
) -> None:
    stores = kustomize_build(
        repo_root / "examples/secrets/external-secrets/cluster-secret-stores", kubectl
    )
    store_names = {s["metadata"]["name"] for s in stores if s["kind"] == "ClusterSecretStore"}
    assert store_names == {"aws-secrets-manager", "vault"}
    assert all("namespace" not in s["metadata"] for s in stores)
    used = {}
    for env, objects in environment_builds.items():
        assert store_problems(objects, store_names, env) == []
        used[env] = sorted(
            {o["spec"]["secretStoreRef"]["name"] for o in objects if o["kind"] == "ExternalSecret"}
        )
    assert used == {"dev": [], "staging": ["vault"], "prod": ["aws-secrets-manager"]}


@pytest.mark.requirement("007-FR-014")
def test_external_secret_with_an_unknown_store_is_reported() -> None:
    obj = {
        "kind": "ExternalSecret",
        "metadata": {"name": "floe-warehouse"},
        "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "gcp-secret-manager"}},
    }
    assert store_problems([obj], {"vault"}, "x.yaml") == [
        Problem(
            "x.yaml",
            "ExternalSecret floe-warehouse refers to store ClusterSecretStore/gcp-secret-manager, "
            "which the examples do not define",
        )
    ]


@pytest.mark.requirement("007-FR-014", "SC-004")
def test_sealed_secrets_hold_ciphertext_only(repo_root: Path) -> None:
    docs = load_documents(repo_root / SEALED)
    assert sorted(d["metadata"]["name"] for d in docs) == sorted(CHART_SECRETS)
    for doc in docs:
        assert set(doc["spec"]) == {"encryptedData", "template"}
        assert set(doc["spec"]["template"]) == {"metadata", "type"}  # no data / stringData
        for value in doc["spec"]["encryptedData"].values():
            raw = base64.b64decode(value, validate=True)
            # kubeseal: 2-byte length of the RSA-4096-wrapped session key, then 512 bytes of
            # it, then the AES-GCM payload with its 16-byte tag.
            assert int.from_bytes(raw[:2], "big") == 512
            assert len(raw) > 2 + 512 + 16


@pytest.mark.requirement("007-FR-014", "SC-004")
def test_sops_file_is_encrypted_for_the_configured_age_recipient(repo_root: Path) -> None:
    assert (
        sops_problems(
            repo_root / SOPS_DIR / "values.enc.yaml", repo_root / SOPS_DIR / ".sops.yaml", repo_root
        )
        == []
    )
    config = yaml.safe_load((repo_root / SOPS_DIR / ".sops.yaml").read_text())
    (rule,) = config["creation_rules"]
    assert is_age_recipient(rule["age"])
    assert re.search(rule["path_regex"], "values.enc.yaml")


@pytest.mark.requirement("007-FR-014", "SC-004")
def test_decrypted_sops_file_is_reported(tmp_path: Path, repo_root: Path) -> None:
    decrypted = tmp_path / "values.enc.yaml"
    decrypted.write_text("global:\n  imageRegistry: registry.internal.example.com:5000\n")
    assert sops_problems(decrypted, repo_root / SOPS_DIR / ".sops.yaml", repo_root) == [
        Problem(str(decrypted), "has no sops metadata: the file is not encrypted (SC-004)")
    ]


@pytest.mark.requirement("007-FR-014", "SC-004")
def test_sops_file_with_a_plaintext_value_under_an_encrypted_key_is_reported(
    tmp_path: Path, repo_root: Path
) -> None:
    doc = yaml.safe_load((repo_root / SOPS_DIR / "values.enc.yaml").read_text())
    doc["global"]["imageRegistry"] = "registry.internal.example.com:5000"
    doc["global"]["extra_unencrypted"] = "left in plaintext on purpose"
    edited = tmp_path / "values.enc.yaml"
    edited.write_text(yaml.safe_dump(doc))
    assert sops_problems(edited, repo_root / SOPS_DIR / ".sops.yaml", repo_root) == [
        Problem(
            str(edited),
            "global.imageRegistry is not an ENC[AES256_GCM,...] value: the value is in "
            "plaintext (SC-004)",
        )
    ]


@pytest.mark.requirement("007-FR-014")
def test_sops_recipient_must_match_sops_yaml(tmp_path: Path, repo_root: Path) -> None:
    config = tmp_path / ".sops.yaml"
    # The example recipient of age's own README: a public key.
    other = (
        "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"  # pragma: allowlist secret
    )
    config.write_text(f"creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    age: {other}\n")
    ours = yaml.safe_load((repo_root / SOPS_DIR / ".sops.yaml").read_text())
    recipient = ours["creation_rules"][0]["age"]
    problems = sops_problems(repo_root / SOPS_DIR / "values.enc.yaml", config, repo_root)
    assert [p.message for p in problems] == [
        f"recipients ['{recipient}'] differ from .sops.yaml ['{other}']"
    ]


@pytest.mark.requirement("007-FR-013", "SC-004")
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_values_hold_no_literal_credential(env: str, repo_root: Path) -> None:
    values = repo_root / "examples/environments" / env / "values.yaml"
    assert plaintext_secret_problems(values, repo_root) == []


@pytest.mark.requirement("007-FR-013", "SC-004")
def test_plaintext_password_in_environment_values_is_reported(
    tmp_path: Path, repo_root: Path
) -> None:
    values = yaml.safe_load((repo_root / "examples/environments/prod/values.yaml").read_text())
    leaked_password = "Tr0ub4dor&3xyz"  # pragma: allowlist secret (the leak under test)
    values.setdefault("floe-cube", {}).setdefault("database", {})["password"] = leaked_password
    leaked = tmp_path / "values.yaml"
    leaked.write_text(yaml.safe_dump(values))
    assert plaintext_secret_problems(leaked, repo_root) == [
        Problem(
            str(leaked),
            "floe-cube.database.password holds a literal credential; reference an existing "
            "Secret instead (SC-004)",
        )
    ]
    # detect-secrets, with the repository's baseline settings, sees it too.
    (tmp_path / "baseline.json").write_text((repo_root / ".secrets.baseline").read_text())
    found = detect_secrets_problems(tmp_path, ["values.yaml"], tmp_path / "baseline.json")
    assert [p.file for p in found] == ["values.yaml"]


@pytest.mark.requirement("007-FR-013", "SC-004")
def test_literal_credential_in_an_env_list_is_reported(tmp_path: Path, repo_root: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "floe-cube:\n  extraEnv:\n    - name: CUBEJS_DB_PASS\n      value: s3cr3t\n"
        "    - name: CUBEJS_LOG_LEVEL\n      value: info\n"
        "  apiSecret:\n    existingSecret: floe-cube-api\n    key: CUBEJS_API_SECRET\n"
        "  apiKey: k-123\n"
    )
    assert plaintext_secret_problems(values, repo_root) == [
        Problem(
            str(values),
            "floe-cube.apiKey holds a literal credential; reference an existing Secret "
            "instead (SC-004)",
        ),
        Problem(
            str(values),
            "floe-cube.extraEnv: CUBEJS_DB_PASS has a literal value; use "
            "valueFrom.secretKeyRef (SC-004)",
        ),
    ]


# The harness's own tests hold throwaway credentials for local servers and negative tests; each
# must carry `# pragma: allowlist secret`, so they are scanned separately.
HARNESS_TESTS = ("tests/", "e2e/")


@pytest.mark.requirement("SC-004")
def test_detect_secrets_finds_nothing_beyond_the_baseline(repo_root: Path) -> None:
    """Every tracked file a user deploys, runs or reads: charts, examples, images, code, docs."""
    files = [f for f in tracked_files(repo_root) if not f.startswith(HARNESS_TESTS)]
    assert "examples/secrets/sops/values.enc.yaml" in files
    assert detect_secrets_problems(repo_root, files, repo_root / ".secrets.baseline") == []


@pytest.mark.requirement("SC-004")
def test_fake_credentials_in_the_harness_tests_are_marked(repo_root: Path) -> None:
    files = [f for f in tracked_files(repo_root) if f.startswith(HARNESS_TESTS)]
    assert "tests/examples/test_secrets.py" in files
    assert detect_secrets_problems(repo_root, files, repo_root / ".secrets.baseline") == []


@pytest.mark.requirement("SC-004")
def test_baseline_allow_lists_only_the_documented_example_ciphertext(repo_root: Path) -> None:
    baseline = repo_root / ".secrets.baseline"
    assert baseline_scope_problems(baseline, EXAMPLE_CIPHERTEXT_FILES) == []
    raw = json.loads(baseline.read_text())
    # Entropy detection may skip a regenerated example file, so a subset is fine.
    assert set(raw["results"]) <= set(EXAMPLE_CIPHERTEXT_FILES)
    excluded = [
        f["pattern"]
        for f in raw["filters_used"]
        if f["path"] == "detect_secrets.filters.regex.should_exclude_secret"
    ]
    assert excluded == [list(SECRET_NAME_PATTERNS)]
    # Nothing excludes whole files or lines.
    paths = [f["path"] for f in raw["filters_used"]]
    assert not [p for p in paths if p.endswith(("exclude_file", "exclude_line"))]


@pytest.mark.requirement("SC-004")
def test_baseline_entry_outside_the_examples_is_reported(tmp_path: Path, repo_root: Path) -> None:
    raw = json.loads((repo_root / ".secrets.baseline").read_text())
    raw["results"]["tests/fixtures/creds.py"] = []
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(raw))
    assert baseline_scope_problems(baseline, EXAMPLE_CIPHERTEXT_FILES) == [
        Problem(
            ".secrets.baseline",
            "allow-lists tests/fixtures/creds.py, which is not example ciphertext",
        )
    ]


@pytest.mark.requirement("007-FR-014", "007-FR-004")
def test_warehouse_secret_keys_are_variables_the_dbt_profiles_read(
    environment_builds: dict[str, list[dict[str, Any]]], repo_root: Path
) -> None:
    """floe-warehouse reaches the user code whole (envFrom), so each of its keys must be an
    environment variable dbt's profiles actually read, or it is silently ignored."""
    profiles = (repo_root / "demo/profiles.yml").read_text()
    read = set(re.findall(r"env_var\('(FLOE_WAREHOUSE_[A-Z_]+)'", profiles))
    for env, objects in environment_builds.items():
        (warehouse,) = [
            o
            for o in objects
            if o["kind"] in {"ExternalSecret", "SealedSecret"}
            and o["metadata"]["name"] == "floe-warehouse"
        ]
        keys = _secret_keys(warehouse)
        assert keys == CHART_SECRETS["floe-warehouse"]
        assert keys - read == set(), env
