"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and a kwok controller with fake nodes. No Docker, no kubelet.

Everything is generated at start: the PKI (:mod:`floe_checks.cluster.pki`), free loopback ports,
one kubeconfig per component and an admin kubeconfig for kubectl and helm. Each process runs in
its own process group (:class:`floe_checks.servers.process.ManagedProcess`), logs to
``<workdir>/logs/<component>.log`` and is stopped by its PID, in reverse start order, on
:meth:`ControlPlane.stop` — also when start-up fails half-way or is interrupted with Ctrl-C.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe_checks.cluster.binaries import ClusterBinaries, find_binaries
from floe_checks.cluster.pki import Pki, generate
from floe_checks.errors import StackError
from floe_checks.ports import free_port
from floe_checks.servers.process import (
    ManagedProcess,
    http_ok,
    raise_if_one_died,
    stop_newest_first,
)

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# what kwok marks the nodes it manages with, and what it selects them by
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_VALUE = "fake"


def kubeconfig(server: str, ca: Path, cert: Path, key: Path, user: str) -> dict[str, Any]:
    """A one-context kubeconfig with the certificates embedded (self-contained file)."""

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode("ascii")

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "floe", "cluster": {"server": server, "certificate-authority-data": b64(ca)}}
        ],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": b64(cert), "client-key-data": b64(key)},
            }
        ],
        "contexts": [{"name": "floe", "context": {"cluster": "floe", "user": user}}],
        "current-context": "floe",
    }


def fake_node(name: str) -> dict[str, Any]:
    """A Node object that kwok takes over: it sets the conditions and heartbeats it.

    No taint: with no real node in this cluster, pods must not need a toleration to land.
    """
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {
                KWOK_NODE_ANNOTATION: KWOK_NODE_VALUE,
                "node.alpha.kubernetes.io/ttl": "0",
            },
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    }


@dataclass
class ControlPlane:
    """Start with :meth:`start` (or ``with ControlPlane(dir) as cp:``); stop with :meth:`stop`.

    Args:
        workdir: certificates, kubeconfigs, etcd's data and the component logs live here.
        nodes: how many kwok fake nodes to create.
        binaries: the executables; found in the build cache when omitted.
        extra_args: more flags per component name (e.g. ``{"kube-apiserver": [...]}``).
    """

    workdir: Path
    nodes: int = 2
    binaries: ClusterBinaries | None = None
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    pki: Pki | None = None

    # -- paths -------------------------------------------------------------------------------
    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    @property
    def kubeconfig_path(self) -> Path:
        """The admin kubeconfig (group system:masters) for kubectl, helm and the tests."""
        return self.workdir / "kubeconfig"

    @property
    def pids_path(self) -> Path:
        """JSON {component: PID} of every started process."""
        return self.workdir / "pids.json"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['kube-apiserver']}"

    def node_names(self) -> list[str]:
        return [f"kwok-node-{i}" for i in range(self.nodes)]

    # -- API access --------------------------------------------------------------------------
    def _ssl(self, component: str = "admin") -> ssl.SSLContext:
        assert self.pki is not None
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        ctx.load_cert_chain(self.pki.client_cert(component), self.pki.client_key(component))
        return ctx

    def api(
        self, method: str, path: str, body: Any = None, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """One request to the API server as the admin; returns (status, decoded JSON or text)."""
        conn = http.client.HTTPSConnection(
            "127.0.0.1", self.ports["kube-apiserver"], context=self._ssl(), timeout=timeout
        )
        try:
            headers = {"Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read().decode("utf-8", errors="replace")
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ControlPlane:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 90.0) -> ControlPlane:
        """Start every component and wait until the cluster can run a Deployment.

        Ready means: etcd healthy, the API server's /readyz ok, the controller manager and
        scheduler answer /healthz, the ``default`` ServiceAccount exists (pods are admitted)
        and every fake node is Ready.

        Raises:
            PrerequisiteMissing: a binary is not built (names the setup step).
            StackError: a component exited or was not ready in time; the message holds its log
                tail. Everything already started is stopped first.
        """
        binaries = self.binaries or find_binaries()
        self.binaries = binaries
        t0 = time.monotonic()
        try:
            self._start(binaries, t0, timeout)
        except BaseException:
            # also KeyboardInterrupt: nothing may outlive a failed or interrupted start
            self.stop()
            raise
        self.timings["ready"] = time.monotonic() - t0
        return self

    def _mark(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.monotonic() - t0, 2)

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        argv = [*argv, *self.extra_args.get(name, [])]
        proc = ManagedProcess(name=name, argv=argv, log_path=self.log_dir / f"{name}.log")
        self.processes.append(proc)
        proc.start()
        # for stopping them from another process (floe_checks.servers.process.stop_group)
        self.pids_path.write_text(
            json.dumps({p.name: p.pid for p in self.processes}, indent=1), encoding="utf-8"
        )
        return proc

    def _left(self, deadline: float) -> float:
        return max(deadline - time.monotonic(), 1.0)

    def _start(self, b: ClusterBinaries, t0: float, timeout: float) -> None:
        deadline = t0 + timeout
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(exist_ok=True)
        self.pki = pki = generate(self.workdir / "pki")
        self._mark("pki", t0)
        for name in (
            "etcd",
            "etcd-peer",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
        ):
            self.ports[name] = free_port()

        # etcd: one member, loopback only; fsync off because the data is thrown away
        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        peer_url = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        etcd = self._spawn(
            "etcd",
            [
                str(b.etcd),
                "--name=floe",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=floe={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        etcd.wait_ready(lambda: http_ok(f"{etcd_url}/health"), self._left(deadline))
        self._mark("etcd", t0)

        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(b.kube_apiserver),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.ports['kube-apiserver']}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                # PodSecurity is in the default set; named so a changed default cannot drop it
                "--enable-admission-plugins=PodSecurity",
                # a privileged pod must reach PodSecurity (under test), not be refused before
                "--allow-privileged=true",
                # the `kubernetes` Service's endpoint may not be a loopback address
                "--endpoint-reconciler-type=none",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                "--profiling=false",
            ],
        )
        apiserver.wait_ready(self._readyz, self._left(deadline))
        self._mark("kube-apiserver", t0)

        for component in ("kube-controller-manager", "kube-scheduler", "kwok"):
            path = self.workdir / f"{component}.kubeconfig"
            user = component
            path.write_text(
                json.dumps(
                    kubeconfig(
                        self.server,
                        pki.ca_cert,
                        pki.client_cert(component),
                        pki.client_key(component),
                        user,
                    )
                ),
                encoding="utf-8",
            )
        self.kubeconfig_path.write_text(
            json.dumps(
                kubeconfig(
                    self.server,
                    pki.ca_cert,
                    pki.client_cert("admin"),
                    pki.client_key("admin"),
                    "admin",
                )
            ),
            encoding="utf-8",
        )
        self.kubeconfig_path.chmod(0o600)

        def kcfg(component: str) -> list[str]:
            path = self.workdir / f"{component}.kubeconfig"
            return [
                f"--kubeconfig={path}",
                f"--authentication-kubeconfig={path}",
                f"--authorization-kubeconfig={path}",
            ]

        cm = self._spawn(
            "kube-controller-manager",
            [
                str(b.kube_controller_manager),
                *kcfg("kube-controller-manager"),
                "--bind-address=127.0.0.1",
                f"--secure-port={self.ports['kube-controller-manager']}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                f"--cluster-signing-cert-file={pki.ca_cert}",
                f"--cluster-signing-key-file={pki.ca_key}",
                "--use-service-account-credentials=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--leader-elect=false",
                "--profiling=false",
                # kwok renews the nodes' leases; on a loaded 2-core machine a renewal came late
                # and the default 50 s grace marked every node NotReady mid-test (pods unready,
                # rollouts stuck: seen in CI). Five minutes: these nodes never really die.
                "--node-monitor-grace-period=5m",
            ],
        )
        scheduler = self._spawn(
            "kube-scheduler",
            [
                str(b.kube_scheduler),
                *kcfg("kube-scheduler"),
                "--bind-address=127.0.0.1",
                f"--secure-port={self.ports['kube-scheduler']}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                "--leader-elect=false",
                "--profiling=false",
            ],
        )
        kwok = self._spawn(
            "kwok",
            [
                str(b.kwok),
                # kwok's own default stages (the build step copies them from its module)
                f"--config={b.kwok_stages}",
                f"--kubeconfig={self.workdir / 'kwok.kubeconfig'}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_VALUE}",
                f"--server-address=127.0.0.1:{self.ports['kwok']}",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
            ],
        )
        for name in self.node_names():
            status, body = self.api("POST", "/api/v1/nodes", fake_node(name))
            if status not in (201, 409):  # 409: already there (a restarted kwok on kept etcd data)
                raise StackError(f"kube-apiserver refused fake node {name}: {status} {body}")

        cm.wait_ready(
            lambda: _https_ok(self.ports["kube-controller-manager"]), self._left(deadline)
        )
        scheduler.wait_ready(lambda: _https_ok(self.ports["kube-scheduler"]), self._left(deadline))
        self._mark("controllers", t0)
        # the ServiceAccount admission plugin refuses pods until the namespace's default SA exists
        cm.wait_ready(
            lambda: self.api("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            self._left(deadline),
        )
        kwok.wait_ready(self._nodes_ready, self._left(deadline))
        self._mark("nodes", t0)

    def _readyz(self) -> bool:
        status, _ = self.api("GET", "/readyz", timeout=2.0)
        return status == 200

    def _nodes_ready(self) -> bool:
        status, body = self.api("GET", "/api/v1/nodes", timeout=2.0)
        if status != 200:
            return False
        ready = {
            item["metadata"]["name"]
            for item in body.get("items", [])
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in item.get("status", {}).get("conditions", [])
            )
        }
        return ready >= set(self.node_names())

    def check_alive(self) -> None:
        """Raise StackError with the log tail of the first component that has died."""
        raise_if_one_died(self.processes, "of the control plane")

    def stop(self) -> None:
        """Stop every started process by PID, newest first. Safe to call twice."""
        stop_newest_first(self.processes)


def _https_ok(port: int) -> bool:
    """/healthz of a component serving a self-signed certificate (always-allowed path)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=2.0)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    finally:
        conn.close()
