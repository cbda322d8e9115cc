"""The examples' shared ground: where they point (the placeholder repository URL, the
environments, the umbrella chart), the current apiVersion of every GitOps kind, YAML loading,
and :class:`Problem`, the unit every check returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: The placeholder Git URL every example uses for this repository (replace it with your fork).
REPO_URL = "https://github.com/example-org/floe-checks.git"

#: Promotion order: a change reaches ``staging`` after ``dev`` and ``prod`` after ``staging``.
ENVIRONMENTS = ("dev", "staging", "prod")

#: The umbrella chart every example deploys.
UMBRELLA_CHART = "charts/floe-runtime"

#: Current apiVersion of every GitOps / secrets kind the examples may use. A kind of these API
#: groups with another apiVersion (for example Flux's retired ``helm.toolkit.fluxcd.io/v2beta2``
#: or External Secrets' ``v1beta1``) is a problem.
API_VERSIONS: Mapping[str, frozenset[str]] = {
    "Application": frozenset({"argoproj.io/v1alpha1"}),
    "ApplicationSet": frozenset({"argoproj.io/v1alpha1"}),
    "AppProject": frozenset({"argoproj.io/v1alpha1"}),
    "GitRepository": frozenset({"source.toolkit.fluxcd.io/v1"}),
    "HelmRepository": frozenset({"source.toolkit.fluxcd.io/v1"}),
    "OCIRepository": frozenset({"source.toolkit.fluxcd.io/v1"}),
    "HelmRelease": frozenset({"helm.toolkit.fluxcd.io/v2"}),
    # The Flux Kustomization and kustomize's own kustomization.yaml share a kind.
    "Kustomization": frozenset(
        {"kustomize.toolkit.fluxcd.io/v1", "kustomize.config.k8s.io/v1beta1"}
    ),
    "ClusterSecretStore": frozenset({"external-secrets.io/v1"}),
    "SecretStore": frozenset({"external-secrets.io/v1"}),
    "ExternalSecret": frozenset({"external-secrets.io/v1"}),
    "SealedSecret": frozenset({"bitnami.com/v1alpha1"}),
}

#: API groups whose objects must appear in :data:`API_VERSIONS`.
GOVERNED_GROUPS = (
    "argoproj.io",
    "fluxcd.io",
    "external-secrets.io",
    "bitnami.com",
    "kustomize.config.k8s.io",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an example or a doc.

    Attributes:
        file: the file, relative to the repository root where possible.
        message: what is wrong and, where it is not obvious, what to do about it.
    """

    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


# --- YAML ------------------------------------------------------------------------------


def yaml_files(directory: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` file below ``directory`` (dot-files such as
    ``.sops.yaml`` included), sorted."""
    return sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a file.

    Raises:
        yaml.YAMLError: the file is not valid YAML.
        ValueError: a document is not a mapping.
    """
    docs: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"a document is a {type(doc).__name__}, not a mapping")
        docs.append(doc)
    return docs


def yaml_problems(directory: Path, root: Path) -> list[Problem]:
    """Every YAML file below ``directory`` parses and each document is a mapping."""
    problems: list[Problem] = []
    for path in yaml_files(directory):
        try:
            load_documents(path)
        except (yaml.YAMLError, ValueError) as exc:
            problems.append(Problem(_rel(path, root), f"not valid YAML: {exc}"))
    return problems


def _objects(directory: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every (file, document) below ``directory`` that parses; broken files are skipped here
    because :func:`yaml_problems` reports them."""
    for path in yaml_files(directory):
        try:
            docs = load_documents(path)
        except (yaml.YAMLError, ValueError):
            continue
        for doc in docs:
            yield path, doc


def api_version_problems(directory: Path, root: Path) -> list[Problem]:
    """Every GitOps / secrets object uses the current apiVersion for its kind."""
    problems: list[Problem] = []
    for path, doc in _objects(directory):
        api, kind = doc.get("apiVersion"), doc.get("kind")
        if not isinstance(api, str) or not isinstance(kind, str):
            continue
        group = api.split("/")[0] if "/" in api else ""
        governed = any(group == g or group.endswith("." + g) for g in GOVERNED_GROUPS)
        allowed = API_VERSIONS.get(kind)
        if allowed is None:
            if governed:
                problems.append(
                    Problem(_rel(path, root), f"{kind} ({api}) is not a kind the examples know")
                )
            continue
        if api not in allowed:
            problems.append(
                Problem(
                    _rel(path, root),
                    f"{kind} uses apiVersion {api}; the current one is "
                    f"{' or '.join(sorted(allowed))}",
                )
            )
    return problems


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _repo_path(root: Path, base: str, ref: str) -> Path | None:
    """``ref`` resolved against ``base`` inside the repository, or None when it leaves it."""
    target = (root / base / ref).resolve()
    try:
        target.relative_to(root.resolve())
    except ValueError:
        return None
    return target
