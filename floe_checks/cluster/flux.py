"""Flux's source-controller, kustomize-controller and helm-controller against a control plane.

The three binaries are built by scripts/build-flux.sh (tools/flux/go.mod: the control plane's
module plus the controllers as tools, so the k8s.io packages compile once) into
``${XDG_CACHE_HOME:-$HOME/.cache}/floe-checks/<controller>/<version>/bin``, with the CRDs of the
same module version beside them in ``.../crds`` (the controllers refuse to start without every
kind they watch, e.g. HelmChart, OCIRepository, Bucket, ExternalArtifact).

Each controller runs in its own process group, binds only 127.0.0.1 (metrics, health probes and
source-controller's artifact server on free ports), has leader election off, watches every
namespace, logs to ``<workdir>/logs/<controller>.log`` and is stopped by its PID.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from floe_checks.cluster.binaries import cache_root
from floe_checks.errors import SetupStepMissing
from floe_checks.ports import free_port
from floe_checks.servers.process import (
    ManagedProcess,
    http_ok,
    raise_if_one_died,
    stop_newest_first,
)

# The Flux 2.9 set: the newest releases the Go module proxy serves here that build with Go 1.26
# (docs/gitops.md, "Reconciled for real"). Must match scripts/build-flux.sh.
CONTROLLER_VERSIONS = {
    "source-controller": "v1.9.6",
    "kustomize-controller": "v1.9.6",
    "helm-controller": "v1.6.4",
}
# The commands the SOPS test encrypts with, built in the same go build (scripts/build-flux.sh):
# command → (cache folder, version), the versions kustomize-controller links.
TOOL_VERSIONS = {
    "sops": ("sops", "v3.13.2"),
    "age-keygen": ("age", "v1.3.1"),
}
SETUP_STEP = "scripts/build-flux.sh"
# Where the controllers record events and hold their leases; the examples use it too.
NAMESPACE = "flux-system"


def controller_dir(name: str, root: Path | None = None) -> Path:
    """``<cache>/<controller>/<version>``: ``bin/<controller>`` and ``crds/*.yaml`` inside."""
    return (root or cache_root()) / name / CONTROLLER_VERSIONS[name]


def find_controllers(root: Path | None = None) -> dict[str, Path]:
    """Each controller's binary (name → path).

    Raises:
        PrerequisiteMissing: naming each missing binary, its expected path and the setup step.
    """
    paths = {name: controller_dir(name, root) / "bin" / name for name in CONTROLLER_VERSIONS}
    missing = [f"{name} ({path})" for name, path in paths.items() if not os.access(path, os.X_OK)]
    if missing:
        raise SetupStepMissing(
            "Flux controllers not built: " + ", ".join(missing),
            step=SETUP_STEP,
            why="builds them from the Go module proxy, cached; scripts/setup.sh runs it",
        )
    return paths


def find_tools(root: Path | None = None) -> dict[str, Path]:
    """The ``sops`` and ``age-keygen`` binaries (name → path).

    Raises:
        PrerequisiteMissing: naming each missing binary, its expected path and the setup step.
    """
    base = root or cache_root()
    paths = {
        name: base / folder / version / "bin" / name
        for name, (folder, version) in TOOL_VERSIONS.items()
    }
    missing = [f"{name} ({path})" for name, path in paths.items() if not os.access(path, os.X_OK)]
    if missing:
        raise SetupStepMissing(
            "SOPS tools not built: " + ", ".join(missing),
            step=SETUP_STEP,
            why="builds them with the Flux controllers, cached",
        )
    return paths


def crd_files(root: Path | None = None) -> list[Path]:
    """Every CRD file of the three controllers at the built versions, sorted by path."""
    files = sorted(
        path
        for name in CONTROLLER_VERSIONS
        for path in (controller_dir(name, root) / "crds").glob("*.yaml")
    )
    if not files:
        raise SetupStepMissing(
            f"Flux CRDs not found under {controller_dir('source-controller', root) / 'crds'}",
            step=SETUP_STEP,
            why="it copies them from the controllers' Go modules",
        )
    return files


@dataclass
class FluxControllers:
    """Start with :meth:`start` (or ``with FluxControllers(...)``); stop with :meth:`stop`.

    The CRDs (:func:`crd_files`) and the ``flux-system`` namespace must exist before start.

    Args:
        workdir: logs, source-controller's artifact storage and ``pids.json`` live here.
        kubeconfig: an admin kubeconfig of the control plane.
        binaries: controller name → binary; found in the build cache when omitted.
    """

    workdir: Path
    kubeconfig: Path
    binaries: dict[str, Path] | None = None
    processes: list[ManagedProcess] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def storage_address(self) -> str:
        """host:port of source-controller's artifact server (what the others download from)."""
        return f"127.0.0.1:{self.ports['source-controller storage']}"

    def __enter__(self) -> FluxControllers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> FluxControllers:
        """Start the three controllers; return when each answers its readiness probe.

        Raises:
            PrerequisiteMissing: a controller is not built (names the setup step).
            StackError: a controller exited or was not ready in time; holds its log tail.
        """
        binaries = self.binaries or find_controllers()
        self.binaries = binaries
        t0 = time.monotonic()
        try:
            self._start(binaries, t0 + timeout)
        except BaseException:
            # also KeyboardInterrupt: nothing may outlive a failed or interrupted start
            self.stop()
            raise
        self.timings["ready"] = round(time.monotonic() - t0, 2)
        return self

    def _start(self, binaries: dict[str, Path], deadline: float) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        storage = self.workdir / "storage"
        storage.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "RUNTIME_NAMESPACE": NAMESPACE,
        }
        for name in CONTROLLER_VERSIONS:
            self.ports[f"{name} metrics"] = free_port()
            self.ports[f"{name} health"] = free_port()
        self.ports["source-controller storage"] = free_port()
        common = [
            "--watch-all-namespaces",
            "--enable-leader-election=false",
            "--log-encoding=console",
        ]
        extra = {
            "source-controller": [
                f"--storage-path={storage}",
                f"--storage-addr={self.storage_address}",
                f"--storage-adv-addr={self.storage_address}",
            ],
            "kustomize-controller": [],
            "helm-controller": [],
        }
        for name in CONTROLLER_VERSIONS:
            argv = [
                str(binaries[name]),
                f"--metrics-addr=127.0.0.1:{self.ports[f'{name} metrics']}",
                f"--health-addr=127.0.0.1:{self.ports[f'{name} health']}",
                *common,
                *extra[name],
            ]
            proc = ManagedProcess(
                name=name, argv=argv, log_path=self.log_dir / f"{name}.log", env=env
            )
            self.processes.append(proc)
            proc.start()
            (self.workdir / "pids.json").write_text(
                json.dumps({p.name: p.pid for p in self.processes}, indent=1), encoding="utf-8"
            )
        for proc in self.processes:
            url = f"http://127.0.0.1:{self.ports[f'{proc.name} health']}/readyz"
            proc.wait_ready(partial(http_ok, url), timeout=max(deadline - time.monotonic(), 1.0))

    def check_alive(self) -> None:
        """Raise StackError with the log tail of the first controller that has died."""
        raise_if_one_died(self.processes, "of Flux")

    def stop(self) -> None:
        """Stop every started controller by PID, newest first. Safe to call twice."""
        stop_newest_first(self.processes)
