"""ArgoCD and Flux examples resolve against this repository (007-FR-011, FR-012, FR-013).

The checks are the plain functions of :mod:`floe_checks.examples`; the negative tests run
them on broken copies to prove they can fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from floe_checks.examples import (
    API_VERSIONS,
    ENVIRONMENTS,
    REPO_URL,
    Problem,
    api_version_problems,
    applicationset_problems,
    argocd_problems,
    flux_problems,
    kustomization_dirs,
    kustomize_build,
    load_documents,
    yaml_files,
    yaml_problems,
)

pytestmark = [pytest.mark.charts, pytest.mark.evidence("rendered")]

EXPECTED_KINDS = {
    ("argoproj.io/v1alpha1", "Application"),
    ("argoproj.io/v1alpha1", "ApplicationSet"),
    ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
    ("external-secrets.io/v1", "ClusterSecretStore"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("bitnami.com/v1alpha1", "SealedSecret"),
}


def _docs(path: Path) -> list[dict[str, Any]]:
    return load_documents(path)


@pytest.mark.requirement("007-FR-011", "007-FR-012", "007-FR-013", "007-FR-014")
def test_every_example_yaml_parses(repo_root: Path) -> None:
    examples = repo_root / "examples"
    assert yaml_problems(examples, repo_root) == []
    kinds = {
        (doc.get("apiVersion"), doc.get("kind"))
        for path in yaml_files(examples)
        for doc in _docs(path)
        if "kind" in doc
    }
    assert kinds >= EXPECTED_KINDS


# The current apiVersion of each kind (ArgoCD 2.x/3.x, Flux 2.3+, External Secrets 0.17+,
# Sealed Secrets); floe_checks.examples.API_VERSIONS must say exactly this.
CURRENT_API_VERSIONS = {
    "Application": {"argoproj.io/v1alpha1"},
    "ApplicationSet": {"argoproj.io/v1alpha1"},
    "AppProject": {"argoproj.io/v1alpha1"},
    "GitRepository": {"source.toolkit.fluxcd.io/v1"},
    "HelmRepository": {"source.toolkit.fluxcd.io/v1"},
    "OCIRepository": {"source.toolkit.fluxcd.io/v1"},
    "HelmRelease": {"helm.toolkit.fluxcd.io/v2"},
    "Kustomization": {"kustomize.toolkit.fluxcd.io/v1", "kustomize.config.k8s.io/v1beta1"},
    "ClusterSecretStore": {"external-secrets.io/v1"},
    "SecretStore": {"external-secrets.io/v1"},
    "ExternalSecret": {"external-secrets.io/v1"},
    "SealedSecret": {"bitnami.com/v1alpha1"},
}


@pytest.mark.requirement("007-FR-011", "007-FR-012", "007-FR-014")
def test_api_versions_are_the_current_ones(repo_root: Path) -> None:
    assert {kind: set(versions) for kind, versions in API_VERSIONS.items()} == (
        CURRENT_API_VERSIONS
    )
    assert api_version_problems(repo_root / "examples", repo_root) == []


@pytest.mark.requirement("007-FR-012", "007-FR-014")
def test_retired_api_versions_are_reported(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "old.yaml").write_text(
        "apiVersion: helm.toolkit.fluxcd.io/v2beta2\nkind: HelmRelease\nmetadata: {name: a}\n"
        "---\napiVersion: external-secrets.io/v1beta1\nkind: ExternalSecret\nmetadata: {name: b}\n"
        "---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: c}\n"
    )
    problems = api_version_problems(tmp_path, repo_root)
    assert [p.message for p in problems] == [
        "HelmRelease uses apiVersion helm.toolkit.fluxcd.io/v2beta2; the current one is "
        "helm.toolkit.fluxcd.io/v2",
        "ExternalSecret uses apiVersion external-secrets.io/v1beta1; the current one is "
        "external-secrets.io/v1",
        "Rollout (argoproj.io/v1alpha1) is not a kind the examples know",
    ]


@pytest.mark.requirement("007-FR-011")
def test_argocd_examples_resolve_in_this_repository(repo_root: Path) -> None:
    assert argocd_problems(repo_root / "examples" / "gitops" / "argocd", repo_root) == []


@pytest.mark.requirement("007-FR-011")
def test_argocd_application_deploys_the_umbrella_chart_with_prod_values(repo_root: Path) -> None:
    apps = {
        d["metadata"]["name"]: d
        for d in _docs(repo_root / "examples/gitops/argocd/application.yaml")
    }
    source = apps["floe-runtime-prod"]["spec"]["source"]
    assert (source["repoURL"], source["path"]) == (REPO_URL, "charts/floe-runtime")
    assert source["helm"]["valueFiles"] == [
        "values.yaml",
        "../../examples/environments/prod/values.yaml",
    ]
    sync = apps["floe-runtime-prod"]["spec"]["syncPolicy"]
    assert sync["automated"] == {"prune": True, "selfHeal": True}
    assert sync["retry"]["backoff"] == {"duration": "10s", "factor": 2, "maxDuration": "5m"}
    assert apps["floe-runtime-prod-secrets"]["spec"]["source"]["path"] == (
        "examples/secrets/external-secrets/aws"
    )


@pytest.mark.requirement("007-FR-011", "007-FR-013")
def test_applicationset_generates_one_application_per_environment(repo_root: Path) -> None:
    (appset,) = _docs(repo_root / "examples/gitops/argocd/applicationset.yaml")
    problems, apps = applicationset_problems(appset, "applicationset.yaml", repo_root)
    assert problems == []
    generated = sorted(
        (
            app["metadata"]["name"],
            app["spec"]["destination"]["namespace"],
            app["spec"]["source"]["helm"]["valueFiles"][1],
        )
        for app in apps
    )
    assert generated == sorted(
        (f"floe-runtime-{env}", f"floe-{env}", f"../../examples/environments/{env}/values.yaml")
        for env in ENVIRONMENTS
    )


@pytest.mark.requirement("007-FR-011")
def test_application_pointing_to_a_missing_path_is_reported(
    tmp_path: Path, repo_root: Path
) -> None:
    source = repo_root / "examples/gitops/argocd/application.yaml"
    broken = tmp_path / "application.yaml"
    broken.write_text(
        source.read_text().replace("path: charts/floe-runtime", "path: charts/floe-runtme")
    )
    assert argocd_problems(tmp_path, repo_root) == [
        Problem(
            str(broken),
            "Application floe-runtime-prod source.path 'charts/floe-runtme' does not exist",
        )
    ]


@pytest.mark.requirement("007-FR-011", "007-FR-013")
def test_application_with_a_missing_values_file_is_reported(
    tmp_path: Path, repo_root: Path
) -> None:
    source = repo_root / "examples/gitops/argocd/applicationset.yaml"
    (tmp_path / "applicationset.yaml").write_text(
        source.read_text().replace("/values.yaml", "/values-typo.yaml")
    )
    problems = argocd_problems(tmp_path, repo_root)
    assert sorted(p.message for p in problems) == sorted(
        f"Application floe-runtime-{env} helm.valueFiles entry "
        f"'../../examples/environments/{env}/values-typo.yaml' does not exist"
        for env in ENVIRONMENTS
    )


@pytest.mark.requirement("007-FR-012")
def test_flux_examples_resolve_in_this_repository(repo_root: Path) -> None:
    examples = repo_root / "examples"
    assert flux_problems(examples, repo_root) == []


@pytest.mark.requirement("007-FR-012", "007-FR-013")
def test_flux_promotes_dev_then_staging_then_prod(repo_root: Path) -> None:
    docs = _docs(repo_root / "examples/gitops/flux/kustomizations.yaml")
    depends = {
        d["metadata"]["name"]: [dep["name"] for dep in d["spec"].get("dependsOn", [])] for d in docs
    }
    assert depends == {
        "floe-secret-stores": [],
        "floe-dev": ["floe-secret-stores"],
        "floe-staging": ["floe-secret-stores", "floe-dev"],
        "floe-prod": ["floe-secret-stores", "floe-staging"],
    }
    paths = {d["metadata"]["name"]: d["spec"]["path"] for d in docs}
    assert [paths[f"floe-{env}"] for env in ENVIRONMENTS] == [
        f"./examples/environments/{env}" for env in ENVIRONMENTS
    ]
    decryption = {d["metadata"]["name"]: d["spec"].get("decryption") for d in docs}
    for env in ENVIRONMENTS:
        assert decryption[f"floe-{env}"] == {"provider": "sops", "secretRef": {"name": "sops-age"}}


@pytest.mark.requirement("007-FR-012")
def test_flux_helmrelease_remediates_and_reads_values_from_a_secret(repo_root: Path) -> None:
    (release,) = _docs(repo_root / "examples/gitops/flux/release/helmrelease.yaml")
    spec = release["spec"]
    assert spec["chart"]["spec"]["chart"] == "./charts/floe-runtime"
    assert spec["install"]["remediation"] == {"retries": 3}
    assert spec["upgrade"]["remediation"] == {
        "retries": 3,
        "remediateLastFailure": True,
        "strategy": "rollback",
    }
    assert spec["valuesFrom"] == [
        {"kind": "Secret", "name": "floe-runtime-private-values", "valuesKey": "values.yaml"}
    ]


@pytest.mark.requirement("007-FR-012", "007-FR-013")
def test_flux_broken_references_are_reported(tmp_path: Path, repo_root: Path) -> None:
    shutil.copytree(repo_root / "examples/gitops/flux", tmp_path / "flux")
    kfile = tmp_path / "flux/kustomizations.yaml"
    kfile.write_text(
        kfile.read_text()
        .replace("- name: floe-staging", "- name: floe-qa")
        .replace("path: ./examples/environments/dev", "path: ./examples/environments/develop")
    )
    rfile = tmp_path / "flux/release/helmrelease.yaml"
    rfile.write_text(rfile.read_text().replace("name: floe-checks", "name: floe-checkz"))
    messages = sorted(p.message for p in flux_problems(tmp_path, repo_root))
    assert messages == [
        "HelmRelease floe-runtime sourceRef GitRepository flux-system/floe-checkz is not "
        "defined in the examples",
        "Kustomization floe-dev path './examples/environments/develop' missing",
        "Kustomization floe-prod dependsOn 'floe-qa', which is not defined",
    ]


@pytest.mark.requirement("007-FR-012", "007-FR-013", "007-FR-014")
def test_every_kustomization_builds(repo_root: Path, kubectl: str) -> None:
    dirs = kustomization_dirs(repo_root / "examples")
    assert {d.relative_to(repo_root).as_posix() for d in dirs} >= {
        "examples/gitops/flux",
        "examples/gitops/flux/release",
        *(f"examples/environments/{env}" for env in ENVIRONMENTS),
        "examples/secrets/external-secrets/cluster-secret-stores",
        "examples/secrets/external-secrets/aws",
        "examples/secrets/external-secrets/vault",
        "examples/secrets/sealed-secrets",
        "examples/secrets/sops",
    }
    failures = {}
    for directory in dirs:
        try:
            kustomize_build(directory, kubectl)
        except RuntimeError as exc:
            failures[directory.relative_to(repo_root).as_posix()] = str(exc)
    assert failures == {}


@pytest.mark.requirement("007-FR-012", "007-FR-013")
def test_each_environment_release_gets_its_namespace_and_values(
    environment_builds: dict[str, list[dict[str, Any]]], repo_root: Path
) -> None:
    for env, objects in environment_builds.items():
        releases = [o for o in objects if o["kind"] == "HelmRelease"]
        assert [(r["metadata"]["name"], r["metadata"]["namespace"]) for r in releases] == [
            ("floe-runtime", f"floe-{env}")
        ]
        values_files = releases[0]["spec"]["chart"]["spec"]["valuesFiles"]
        assert values_files == [
            "charts/floe-runtime/values.yaml",
            f"examples/environments/{env}/values.yaml",
        ]
        assert all((repo_root / f).is_file() for f in values_files)


@pytest.mark.requirement("007-FR-012")
def test_paths_the_gitrepository_ignores_are_reported(tmp_path: Path, repo_root: Path) -> None:
    shutil.copytree(repo_root / "examples/gitops/flux", tmp_path / "flux")
    source = tmp_path / "flux/gitrepository.yaml"
    source.write_text(source.read_text().replace("    !/charts/\n", ""))
    messages = [p.message for p in flux_problems(tmp_path, repo_root)]
    assert messages == [
        "HelmRelease floe-runtime path './charts/floe-runtime' is excluded by GitRepository "
        "floe-checks's spec.ignore"
    ]


@pytest.mark.requirement("007-FR-011", "007-FR-014")
def test_argocd_sops_route_reads_the_encrypted_values_through_helm_secrets(
    repo_root: Path,
) -> None:
    (app,) = _docs(repo_root / "examples/gitops/argocd/application-helm-secrets.yaml")
    value_files = app["spec"]["source"]["helm"]["valueFiles"]
    assert value_files[-1] == "secrets://../../examples/secrets/sops/values.enc.yaml"
    encrypted = repo_root / "charts/floe-runtime" / value_files[-1].removeprefix("secrets://")
    assert encrypted.resolve() == (repo_root / "examples/secrets/sops/values.enc.yaml")
    assert "sops" in load_documents(encrypted)[0]
