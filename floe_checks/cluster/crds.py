"""The operators' CRDs in the cache, and which YAML documents under ``examples/`` are objects.

``scripts/setup.d/71-crds.sh`` copies the CRD manifests of External Secrets Operator, Sealed
Secrets, Argo CD and Flux out of each project's own Go module into
``${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/crds/<project>/<version>/``; the pins (versions,
paths inside the modules, sha256) live in ``scripts/setup.d/71-crds.pins``, which this module
reads too, so the two cannot disagree.

Plain Python (no pytest): the cluster tests use it, and so can a user's own check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe_checks.cluster.binaries import cache_root
from floe_checks.errors import SetupStepMissing

SETUP_STEP = "scripts/setup.d/71-crds.sh"
PINS_PATH = Path(__file__).resolve().parents[2] / "scripts" / "setup.d" / "71-crds.pins"

# apiVersion groups of files that configure a build tool and are never sent to an API server:
# kustomize's own `Kustomization` (kustomize.config.k8s.io) shares its kind with Flux's
# kustomize.toolkit.fluxcd.io Kustomization, which *is* an object.
BUILD_CONFIG_GROUPS = ("kustomize.config.k8s.io",)


@dataclass(frozen=True)
class CrdPin:
    """One pinned CRD file: where it comes from and the sha256 it must have."""

    project: str
    version: str
    module: str
    path: str
    sha256: str

    def cached_path(self, root: Path | None = None) -> Path:
        """Where the setup step puts this file (``<root>/crds/<project>/<version>/<name>``)."""
        root = root or cache_root()
        return root / "crds" / self.project / self.version / Path(self.path).name


def read_pins(path: Path = PINS_PATH) -> list[CrdPin]:
    """Parse the pins file: ``project version module path sha256`` per line, ``#`` comments."""
    pins: list[CrdPin] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 5:
            raise ValueError(
                f"{path}:{number}: expected 'project version module path sha256', got {line!r}"
            )
        pins.append(CrdPin(*fields))
    return pins


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_crds(root: Path | None = None, pins_path: Path = PINS_PATH) -> list[Path]:
    """Every pinned CRD file in the cache, in pin order.

    Raises:
        PrerequisiteMissing: a file is missing or not the pinned one; names each and the
            setup step that fetches them.
    """
    problems: list[str] = []
    paths: list[Path] = []
    for pin in read_pins(pins_path):
        path = pin.cached_path(root)
        if not path.is_file():
            problems.append(f"{pin.project} {pin.version} ({path})")
        elif _sha256(path) != pin.sha256:
            problems.append(f"{pin.project} {pin.version} ({path}: sha256 is not the pinned one)")
        paths.append(path)
    if problems:
        raise SetupStepMissing(
            "operator CRDs not in the cache: " + ", ".join(problems),
            step=SETUP_STEP,
            why="needs Go and the Go module proxy once",
        )
    return paths


def skip_reason(doc: Any) -> str | None:
    """Why a YAML document under ``examples/`` is not a Kubernetes object, or None if it is.

    The rule: a document is an object when it is a mapping with ``apiVersion``, ``kind`` and
    ``metadata``, is not SOPS-encrypted and is not a build tool's configuration. So Helm values
    files, SOPS creation rules (``.sops.yaml``), SOPS-encrypted files and kustomize's
    ``kustomization.yaml`` are skipped, each with its own reason.
    """
    if not isinstance(doc, dict):
        return "not a mapping"
    if isinstance(doc.get("sops"), dict):
        # Encrypted values: kustomize's secretGenerator (after Flux decrypts) or helm-secrets
        # (Argo CD) turns them into a Secret; the built kustomization carries that Secret.
        return "SOPS-encrypted data (a Secret's content once decrypted), not an object"
    if "apiVersion" not in doc or "kind" not in doc:
        return "no apiVersion/kind: Helm values or tool configuration, not an object"
    if str(doc["apiVersion"]).split("/")[0] in BUILD_CONFIG_GROUPS:
        return f"{doc['apiVersion']} {doc['kind']}: a build configuration for kustomize"
    if "metadata" not in doc:
        return "no metadata: not an object"
    return None


def example_documents(examples: Path) -> Iterator[tuple[Path, int, Any]]:
    """Every YAML document of every ``*.yaml``/``*.yml`` file below ``examples``, sorted by path.

    Yields ``(file, index of the document in the file, the parsed document)``; empty documents
    (a trailing ``---``) are left out.
    """
    import yaml  # only when walking the examples

    for path in sorted([*examples.rglob("*.yaml"), *examples.rglob("*.yml")]):
        with path.open(encoding="utf-8") as stream:
            for index, doc in enumerate(yaml.safe_load_all(stream)):
                if doc is not None:
                    yield path, index, doc
