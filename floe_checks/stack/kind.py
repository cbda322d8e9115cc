"""The ``kind`` stack provider: our charts installed for real on a throwaway kind cluster.

Sequence (see :meth:`KindProvider.plan`): create the cluster (pinned node image, the Dagster
and Cube NodePorts mapped to free loopback ports), ``docker build`` both images, ``kind load``
them, create the demo Secrets with generated passwords, ``helm dependency build`` the charts,
``helm install`` floe-runtime with ``values-demo.yaml --wait --timeout``, then wait until Dagster
and Cube answer on their NodePorts. ``stop`` deletes the cluster unless ``keep``.

The cluster is driven by pytest-kind's ``KindCluster`` pointed at the ``kind`` on PATH (its own
download of kind is never triggered) and the ``kubernetes`` client. pytest-helm-charts is not
used: its plugin and pytest-kind's both register ``--kubeconfig``; the small wait helpers below
replace its waits (docs/kind.md).

Nothing here runs on our own machines (no Docker daemon, no kind, no node image): ``start``
checks every prerequisite first and raises :class:`PrerequisiteMissing` naming the first one
missing, before touching anything.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import SecretStr

from floe_checks.errors import PrerequisiteMissing, StackError
from floe_checks.ports import free_port
from floe_checks.stack.base import StackEndpoints

REPO_ROOT = Path(__file__).resolve().parents[2]
# kind's node image for Kubernetes 1.31 (inside our supported 1.29-1.33); override with
# FLOE_KIND_NODE_IMAGE (a digest-pinned reference from kind's release notes is best).
NODE_IMAGE = "kindest/node:v1.31.6"
CLUSTER_NAME = "floe-e2e"
NAMESPACE = "floe"
RELEASE = "floe"
DAGSTER_IMAGE = "floe/floe-dagster:0.1.0"
CUBE_IMAGE = "floe/floe-cube:0.1.0"
# The NodePorts charts/floe-runtime/values-demo.yaml fixes.
DAGSTER_NODE_PORT = 30080
CUBE_NODE_PORT = 30400
HELM_TIMEOUT = "15m"


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
    proc = subprocess.run(
        list(argv), capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise StackError(
            f"`{' '.join(argv[:3])} …` failed ({proc.returncode}): {proc.stderr.strip()[-800:]}"
        )
    return proc.stdout


@dataclass(frozen=True)
class Step:
    """One step of bringing the stack up: a command line, or an in-process action."""

    title: str
    argv: tuple[str, ...] = ()
    action: str = "command"  # "command", "kind-create", "kind-load", "secrets", "wait"


@dataclass
class KindProvider:
    """StackProvider for ``--floe-stack=kind``.

    Args:
        keep: leave the cluster running after the session (``--floe-keep-stack``).
        repo_root: the checkout holding ``charts/`` and ``docker/``.
        cluster_name: kind cluster name.
        node_image: pinned kind node image (``$FLOE_KIND_NODE_IMAGE`` overrides).
        helm_timeout: ``helm install --timeout``.
        runner: how commands run (tests pass a recorder; never a Kubernetes double).
        which: how binaries are found on PATH.
    """

    name: str = field(default="kind", init=False)
    keep: bool = False
    repo_root: Path = REPO_ROOT
    cluster_name: str = CLUSTER_NAME
    node_image: str = field(
        default_factory=lambda: os.environ.get("FLOE_KIND_NODE_IMAGE", NODE_IMAGE)
    )
    helm_timeout: str = HELM_TIMEOUT
    runner: CommandRunner = run_command
    which: Callable[[str], str | None] = shutil.which
    _cluster: Any = field(default=None, init=False, repr=False)
    _workdir: Path | None = field(default=None, init=False, repr=False)

    # -- prerequisites -------------------------------------------------------------------

    def check_prerequisites(self) -> None:
        """Raise :class:`PrerequisiteMissing` naming the first missing prerequisite."""
        docker = self.which("docker")
        if docker is None:
            raise PrerequisiteMissing(
                "kind stack: Docker CLI (docker) not found on PATH",
                remediation="install Docker (Debian: apt-get install docker.io) and start it",
            )
        try:
            self.runner([docker, "info", "--format", "{{.ServerVersion}}"], timeout=30)
        except (StackError, subprocess.TimeoutExpired) as exc:
            raise PrerequisiteMissing(
                f"kind stack: Docker daemon is not reachable ({str(exc)[-200:]})",
                remediation="start the Docker daemon (dockerd) and make its socket usable",
            ) from None
        if self.which("kind") is None:
            raise PrerequisiteMissing(
                "kind stack: kind binary not found on PATH",
                remediation="install kind (https://kind.sigs.k8s.io) on PATH; floe-checks never "
                "downloads it at run time",
            )
        try:
            self.runner(
                [docker, "image", "inspect", "--format", "{{.Id}}", self.node_image], timeout=30
            )
        except StackError:
            raise PrerequisiteMissing(
                f"kind stack: node image {self.node_image} is not in the local Docker image store",
                remediation=f"`docker pull {self.node_image}` where a registry is reachable (or "
                "`docker load` it); set FLOE_KIND_NODE_IMAGE to use another",
            ) from None
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
            raise PrerequisiteMissing(
                f"kind stack: the official dagster chart {DAGSTER_CHART_VERSION} is not "
                "available (no FLOE_HELM_MIRROR with it, nothing vendored)",
                remediation="run `helm dependency build charts/floe-dagster` where "
                "dagster-io.github.io is reachable, or set FLOE_HELM_MIRROR (docs/charts.md)",
            )

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

    def plan(self, workdir: Path, charts_dir: Path) -> list[Step]:
        """Every step :meth:`start` takes, in order (commands spelled out as they run)."""
        kubeconfig = str(workdir / "kubeconfig")
        kind = self.which("kind") or "kind"
        docker = self.which("docker") or "docker"
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
                "kind-create",
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
            ),
            Step(
                "build Cube image",
                (docker, "build", "-f", f"{root}/docker/Dockerfile.cube", "-t", CUBE_IMAGE, root),
            ),
            Step(
                "load Dagster image",
                (kind, "load", "docker-image", "--name", self.cluster_name, DAGSTER_IMAGE),
                "kind-load",
            ),
            Step(
                "load Cube image",
                (kind, "load", "docker-image", "--name", self.cluster_name, CUBE_IMAGE),
                "kind-load",
            ),
            Step("create namespace and demo Secrets", (), "secrets"),
            Step(
                "helm dependency build",
                ("helm", "dependency", "build", "--skip-refresh", str(charts_dir / "floe-runtime")),
            ),
            Step(
                "helm install floe-runtime",
                (
                    "helm",
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
            ),
            Step("wait for Dagster and Cube on their NodePorts", (), "wait"),
        ]

    # -- running it ------------------------------------------------------------------------

    def start(self, workdir: Path) -> StackEndpoints:
        """Bring the stack up; every prerequisite is checked before anything is created."""
        self.check_prerequisites()
        from floe_checks.charts.helm import Helm, find_helm
        from floe_checks.charts.render import prepare_workspace

        workdir.mkdir(parents=True, exist_ok=True)
        self._workdir = workdir
        dagster_port, cube_port = free_port(), free_port()
        (workdir / "kind-config.yaml").write_text(
            yaml.safe_dump(self.kind_config(dagster_port, cube_port), sort_keys=False)
        )
        helm = Helm(find_helm(), home=workdir / "helm-home")
        # prepare_workspace is the `helm dependency build` step (mirror-aware).
        workspace = prepare_workspace(workdir / "charts", helm=helm)
        api_secret = secrets.token_urlsafe(32)
        try:
            for step in self.plan(workdir, workspace.root):
                self._execute(step, helm, api_secret, dagster_port, cube_port)
        except Exception as exc:
            diagnostics = self.diagnostics()
            detail = "\n".join(f"== {k}\n{v[-2000:]}" for k, v in diagnostics.items())
            raise StackError(
                f"kind stack failed: {exc}\n{detail}",
                remediation="see the events, describe and logs above",
            ) from exc
        return StackEndpoints(
            provider="kind",
            cube_url=f"http://127.0.0.1:{cube_port}",
            cube_api_secret=SecretStr(api_secret),
            dagster_url=f"http://127.0.0.1:{dagster_port}",
            extras={
                "kubeconfig": str(workdir / "kubeconfig"),
                "namespace": NAMESPACE,
                "cluster": self.cluster_name,
            },
        )

    def _execute(
        self, step: Step, helm: Any, api_secret: str, dagster_port: int, cube_port: int
    ) -> None:
        assert self._workdir is not None
        if step.action == "kind-create":
            from pytest_kind import KindCluster

            # KindCluster keeps state in ./.pytest-kind: keep it inside our workdir.
            with contextlib.chdir(self._workdir):
                self._cluster = KindCluster(
                    self.cluster_name,
                    kubeconfig=self._workdir / "kubeconfig",
                    image=self.node_image,
                    kind_path=Path(step.argv[0]),
                    kubectl_path=Path(self.which("kubectl") or "kubectl"),
                )
            self._cluster.create(config_file=self._workdir / "kind-config.yaml")
        elif step.action == "kind-load":
            self._cluster.load_docker_image(step.argv[-1])
        elif step.action == "secrets":
            self._create_secrets(api_secret)
        elif step.action == "wait":
            wait_for_http(f"http://127.0.0.1:{dagster_port}/server_info", timeout=600)
            wait_for_http(f"http://127.0.0.1:{cube_port}/readyz", timeout=600)
        elif step.argv[0] == "helm":
            helm.run(list(step.argv[1:]), timeout=1200)
        else:
            self.runner(step.argv, timeout=1800)

    def _core_api(self) -> Any:
        from kubernetes import client, config

        assert self._workdir is not None
        kubeconfig = str(self._workdir / "kubeconfig")
        api_client = config.new_client_from_config(kubeconfig)  # type: ignore[no-untyped-call]
        return client.CoreV1Api(api_client)

    def _create_secrets(self, api_secret: str) -> None:
        """The Secrets values-demo.yaml names, with fresh random passwords (never logged)."""
        from kubernetes import client

        core = self._core_api()
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        password = secrets.token_urlsafe(24)
        data = {
            "floe-postgresql": {"postgresql-password": password},
            "floe-warehouse": {
                "FLOE_WAREHOUSE_HOST": "floe-postgresql",
                "FLOE_WAREHOUSE_PORT": "5432",
                "FLOE_WAREHOUSE_USER": "postgres",
                "FLOE_WAREHOUSE_PASSWORD": password,
                "FLOE_WAREHOUSE_DB": "floe",
            },
            "floe-cube-api": {"CUBEJS_API_SECRET": api_secret},
        }
        for name, values in data.items():
            core.create_namespaced_secret(
                NAMESPACE,
                client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=values),
            )

    def stop(self) -> None:
        """Delete the cluster this provider created, unless ``keep``."""
        if self._cluster is not None and not self.keep:
            self._cluster.delete()
            self._cluster = None

    def diagnostics(self) -> dict[str, str]:
        """Events, describe and pod logs of the release namespace (empty before a cluster)."""
        if self._cluster is None:
            return {}
        sections: dict[str, str] = {}
        kubectl = self.which("kubectl")
        if kubectl:
            for title, args in (
                ("events", ("get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp")),
                ("describe pods", ("describe", "pods", "-n", NAMESPACE)),
            ):
                try:
                    sections[title] = self._cluster.kubectl(*args)
                except Exception as exc:  # diagnostics must never hide the real failure
                    sections[title] = f"unavailable: {exc}"
        try:
            core = self._core_api()
            if not kubectl:
                events = core.list_namespaced_event(NAMESPACE).items
                sections["events"] = "\n".join(
                    f"{e.last_timestamp} {e.type} {e.involved_object.kind}/"
                    f"{e.involved_object.name}: {e.reason} {e.message}"
                    for e in events
                )
            for pod in core.list_namespaced_pod(NAMESPACE).items:
                for container in pod.spec.containers:
                    sections[f"logs {pod.metadata.name}/{container.name}"] = (
                        core.read_namespaced_pod_log(
                            pod.metadata.name, NAMESPACE, container=container.name, tail_lines=200
                        )
                    )
        except Exception as exc:
            sections["pod logs"] = f"unavailable: {exc}"
        return sections


def wait_for_http(url: str, *, timeout: float, interval: float = 2.0) -> None:
    """Poll ``url`` until it answers 200, with bounded backoff; StackError on timeout."""
    deadline = time.monotonic() + timeout
    delay = interval
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - our own URL
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(delay)
        delay = min(delay * 1.5, 15.0)
    raise StackError(f"{url} did not answer 200 within {timeout:.0f} s (last: {last})")


def wait_for_rollout(core_apps: Any, namespace: str, *, timeout: float) -> None:
    """Wait until every Deployment and StatefulSet in ``namespace`` has all replicas ready.

    ``helm install --wait`` already does this; the helper is for re-checks after an upgrade.
    """
    deadline = time.monotonic() + timeout
    pending: list[str] = []
    while time.monotonic() < deadline:
        pending = []
        for d in core_apps.list_namespaced_deployment(namespace).items:
            if (d.status.ready_replicas or 0) < (d.spec.replicas or 0):
                pending.append(f"Deployment/{d.metadata.name}")
        for s in core_apps.list_namespaced_stateful_set(namespace).items:
            if (s.status.ready_replicas or 0) < (s.spec.replicas or 0):
                pending.append(f"StatefulSet/{s.metadata.name}")
        if not pending:
            return
        time.sleep(3)
    raise StackError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
