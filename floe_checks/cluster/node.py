"""A real Kubernetes node beside the local control plane: containerd, runc, CNI and a kubelet.

:class:`~floe_checks.cluster.controlplane.ControlPlane` runs only kwok's fake nodes: pods are
scheduled and marked Running, but no container starts. :class:`Node` adds one real node to the
same plane: Debian's containerd 1.6.20 with runc (``scripts/setup.d/55-node.sh``) and a kubelet
built from the same ``k8s.io/kubernetes`` module as the plane (``scripts/build-control-plane.sh``).
Images come from podman's store (``podman save`` → ``ctr images import``), never a registry.

Everything the node writes lives under its workdir: containerd's root, state, socket and runc
root; the kubelet's root, certificates and pod logs; the CNI configuration and IP allocations.
What must live elsewhere, and how :meth:`Node.stop` puts it back (docs/images.md, "Stage 2"):

* cgroups: a cgroup root ``/floe-node-<id>`` in every cgroup v1 hierarchy, removed after;
* a Linux bridge ``fn<id>`` (CNI ``bridge``, no gateway address on the host, no NAT), deleted;
* six kernel settings the kubelet insists on (``vm.overcommit_memory`` …), restored;
* the kubelet's ``/var/log/containers`` symlinks and the CNI result cache in ``/var/lib/cni``;
* iptables: none. The kubelet only creates its KUBE-FIREWALL / hint chains "for the benefit of
  other components" (kube-proxy); it runs with a PATH without ``iptables``, so the host's
  firewall is never touched.

Every process (containerd, the kubelet, the containerd shims of each pod) is stopped by its
PID, every mount under the workdir is unmounted, also when start-up fails half-way.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe_checks.cluster.binaries import KUBE_VERSION, cache_root
from floe_checks.cluster.controlplane import ControlPlane, kubeconfig
from floe_checks.errors import HostCannotRunNode, NodeNotBuilt, StackError
from floe_checks.polling import wait_until
from floe_checks.ports import free_port
from floe_checks.servers.process import ManagedProcess, stop_group

if TYPE_CHECKING:
    from floe_checks.images import Podman

PAUSE_VERSION = "3.10.2"
PAUSE_IMAGE = f"localhost/floe-pause:{PAUSE_VERSION}"
SETUP_STEP = "scripts/setup.d/55-node.sh"
# The node's name. The API server reaches a kubelet (logs, exec) at one of the node's
# addresses; a kubelet may not report a loopback InternalIP, so it is reached by its Hostname
# address instead, which is this name: ``localhost`` resolves to 127.0.0.1, where it listens.
NODE_NAME = "localhost"
# The pods' addresses: one /24 on the node's bridge, allocated by CNI host-local.
POD_SUBNET = "10.244.0.0/24"
# What the kubelet sets when it starts (pkg/kubelet/cm/container_manager_linux.go,
# setupKernelTunables): it either changes them or refuses to start.
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
CGROUP_ROOT = Path("/sys/fs/cgroup")
LEGACY_LOG_DIR = Path("/var/log/containers")
CNI_CACHE = Path("/var/lib/cni")


@dataclass(frozen=True)
class NodeBinaries:
    """The executables and files a node needs."""

    kubelet: Path
    containerd: Path
    ctr: Path
    runc: Path
    cni_bin_dir: Path
    pause_tarball: Path


def expected_node_paths(root: Path | None = None) -> dict[str, Path]:
    """Where each piece is expected (name → path): the kubelet and pause image in our cache,
    containerd, ctr, runc and the CNI plugins where Debian's packages put them."""
    root = root or cache_root()
    return {
        "kubelet": root / "kube" / KUBE_VERSION / "bin" / "kubelet",
        "pause image": root / "pause" / PAUSE_VERSION / "pause.tar",
        "containerd": Path(shutil.which("containerd") or "/usr/bin/containerd"),
        "ctr": Path(shutil.which("ctr") or "/usr/bin/ctr"),
        "runc": Path(shutil.which("runc") or "/usr/sbin/runc"),
        "CNI bridge plugin": Path("/usr/lib/cni/bridge"),
        "CNI host-local plugin": Path("/usr/lib/cni/host-local"),
        "CNI loopback plugin": Path("/usr/lib/cni/loopback"),
    }


def find_node_binaries(root: Path | None = None) -> NodeBinaries:
    """Every piece of the node, or a PrerequisiteMissing naming each missing one.

    Raises:
        PrerequisiteMissing: names each missing file and the two setup steps.
    """
    paths = expected_node_paths(root)
    missing = [f"{name} ({path})" for name, path in paths.items() if not path.is_file()]
    if missing:
        raise NodeNotBuilt("node pieces missing: " + ", ".join(missing), step=SETUP_STEP)
    return NodeBinaries(
        kubelet=paths["kubelet"],
        containerd=paths["containerd"],
        ctr=paths["ctr"],
        runc=paths["runc"],
        cni_bin_dir=paths["CNI bridge plugin"].parent,
        pause_tarball=paths["pause image"],
    )


def host_problems() -> list[str]:
    """What on this host keeps a node from running (empty: it can run)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root (containerd, runc and the kubelet need root)")
    if not (CGROUP_ROOT / "memory").is_dir() and not (CGROUP_ROOT / "cgroup.controllers").is_file():
        problems.append(f"no cgroup hierarchy under {CGROUP_ROOT}")
    with open("/proc/swaps", encoding="utf-8") as fh:
        if len(fh.read().splitlines()) > 1:
            problems.append("swap is on (the kubelet refuses it by default)")
    return problems


def apiserver_args(plane_workdir: Path) -> list[str]:
    """API server flags that let it reach the node's kubelet (logs, exec).

    It authenticates with the admin client certificate the plane's PKI holds (group
    system:masters, so the kubelet's webhook authorizer allows it) and dials the node by its
    Hostname address (:data:`NODE_NAME`). Pass them as
    ``ControlPlane(extra_args={"kube-apiserver": apiserver_args(workdir)})``.
    """
    pki = plane_workdir / "pki"
    return [
        f"--kubelet-client-certificate={pki / 'admin.crt'}",
        f"--kubelet-client-key={pki / 'admin.key'}",
        "--kubelet-preferred-address-types=Hostname",
    ]


def _sign_node_cert(pki_dir: Path, out_dir: Path, node: str) -> tuple[Path, Path]:
    """A client certificate for the kubelet (``system:node:<node>`` in group ``system:nodes``),
    signed by the plane's CA. Returns (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}"),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out_dir / "kubelet-client.crt", out_dir / "kubelet-client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def containerd_config(workdir: Path, binaries: NodeBinaries) -> str:
    """containerd 1.6's config (version 2): everything under ``workdir``, CRI on, no TCP."""
    return f"""\
version = 2
root = "{workdir / "root"}"
state = "{workdir / "state"}"
# plugins that would write outside the workdir (/opt/containerd) or that cannot run here
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{workdir / "containerd.sock"}"
[ttrpc]
  address = "{workdir / "containerd.sock.ttrpc"}"
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # exec/attach/port-forward streams: loopback, a free port
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # this VM withholds CAP_SYS_RESOURCE: lowering oom_score_adj (the kubelet asks -998 for a
  # pod sandbox) fails `runc create` with "failed to update /proc/self/oom_score_adj:
  # Permission denied"; clamp every request to containerd's own score instead
  restrict_oom_score_adj = true
  # pod network namespaces under the state folder, not /var/run/netns
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{binaries.runc}"
        # runc's state: not /run/containerd/runc
        Root = "{workdir / "runc"}"
        # no systemd as PID 1: cgroups are written directly (the kubelet's cgroupDriver too)
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{binaries.cni_bin_dir}"
    conf_dir = "{workdir / "cni" / "net.d"}"
    max_conf_num = 1
"""


def cni_config(workdir: Path, network: str, bridge: str) -> dict[str, Any]:
    """The pod network: a Linux bridge without an address on the host and without NAT."""
    return {
        "cniVersion": "0.4.0",
        "name": network,
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                # no gateway address: the host is not reachable from pods, nothing is routed
                "isGateway": False,
                "ipMasq": False,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET}]],
                    "dataDir": str(workdir / "cni" / "ipam"),
                },
            }
        ],
    }


def kubelet_config(node: Node) -> dict[str, Any]:
    """KubeletConfiguration v1beta1: loopback only, cgroup v1 allowed, everything in the workdir."""
    plane = node.plane
    assert plane.pki is not None
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "127.0.0.1",
        "port": node.ports["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": node.ports["kubelet-healthz"],
        "enableProfilingHandler": False,
        "enableDebuggingHandlers": True,  # logs and exec through the API server
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(plane.pki.ca_cert)},
        },
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        "imageServiceEndpoint": f"unix://{node.socket}",
        # this VM runs cgroup v1 (hybrid); 1.35+ refuse it unless told otherwise
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{node.cgroup_name}",
        "podLogsDir": str(node.workdir / "pod-logs"),
        "failSwapOn": True,
        # no CAP_SYS_RESOURCE on this VM: the default -999 fails ("write
        # /proc/self/oom_score_adj: permission denied", logged, not fatal)
        "oomScoreAdj": 0,
        # thresholds that a busy shared disk does not cross during a test
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "registerNode": True,
        "maxPods": 20,
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "5s",
        "fileCheckFrequency": "5s",
        "shutdownGracePeriod": "0s",
        "logging": {"format": "text"},
    }


def _mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest (last mounted) first."""
    points: list[Path] = []
    prefix = str(root)
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(Path(point))
    return list(reversed(points))


def _pids_mentioning(needle: str) -> list[int]:
    """PIDs whose command line names ``needle`` (our unique workdir): containerd's shims."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry.name))
    return pids


@dataclass
class Node:
    """One real node of ``plane``. ``start()`` / ``stop()`` (or ``with Node(...) as node:``).

    Args:
        plane: a started control plane whose API server got :func:`apiserver_args`.
        workdir: containerd's and the kubelet's folders, logs and configuration. Keep the path
            short: unix socket paths are limited to 108 bytes.
        binaries: found with :func:`find_node_binaries` when omitted.
    """

    plane: ControlPlane
    workdir: Path
    binaries: NodeBinaries | None = None
    name: str = NODE_NAME
    processes: list[ManagedProcess] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    # names this node's cgroup root, bridge and CNI network: two nodes may run at once
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    _sysctls: dict[str, str] = field(default_factory=dict)
    _made_legacy_log_dir: bool = False
    _made_cni_cache: bool = False

    # -- names and paths ---------------------------------------------------------------------
    @property
    def cgroup_name(self) -> str:
        return f"floe-node-{self.run_id}"

    @property
    def bridge(self) -> str:
        return f"fn{self.run_id}"  # Linux interface names: at most 15 characters

    @property
    def network(self) -> str:
        return f"floe-node-{self.run_id}"

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Node:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 120.0) -> Node:
        """Start containerd, import the pause image, start the kubelet, wait until Ready.

        Raises:
            PrerequisiteMissing: a binary is missing or the host cannot run a node.
            StackError: containerd or the kubelet exited or was not ready in time (with the
                log tail). Everything already started is stopped and undone first.
        """
        problems = host_problems()
        if problems:
            raise HostCannotRunNode(
                "this host cannot run a Kubernetes node: " + "; ".join(problems)
            )
        self.binaries = self.binaries or find_node_binaries()
        t0 = time.monotonic()
        try:
            self._start(self.binaries, t0, timeout)
        except BaseException:
            self.stop()
            raise
        self.timings["ready"] = round(time.monotonic() - t0, 2)
        return self

    def _mark(self, name: str, t0: float) -> None:
        self.timings[name] = round(time.monotonic() - t0, 2)

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> ManagedProcess:
        proc = ManagedProcess(name=name, argv=argv, log_path=self.log_dir / f"{name}.log", env=env)
        self.processes.append(proc)
        proc.start()
        (self.workdir / "pids.json").write_text(
            json.dumps({p.name: p.pid for p in self.processes}, indent=1), encoding="utf-8"
        )
        return proc

    def _start(self, b: NodeBinaries, t0: float, timeout: float) -> None:
        deadline = t0 + timeout
        ctd = self.workdir / "containerd"
        for folder in (ctd / "cni" / "net.d", self.log_dir, self.workdir / "kubelet"):
            folder.mkdir(parents=True, exist_ok=True)
        (ctd / "config.toml").write_text(containerd_config(ctd, b), encoding="utf-8")
        (ctd / "cni" / "net.d" / "10-floe.conflist").write_text(
            json.dumps(cni_config(ctd, self.network, self.bridge), indent=1), encoding="utf-8"
        )
        containerd = self._spawn(
            "containerd", [str(b.containerd), "--config", str(ctd / "config.toml")]
        )
        containerd.wait_ready(
            lambda: self.ctr("version", check=False).returncode == 0,
            max(deadline - time.monotonic(), 1.0),
        )
        self._mark("containerd", t0)
        self.import_image(b.pause_tarball)
        self._mark("pause image", t0)

        # the kubelet's identity and its permissions (RBAC's system:node role; the plane runs
        # no Node authorizer)
        assert self.plane.pki is not None
        kdir = self.workdir / "kubelet"
        cert, key = _sign_node_cert(self.plane.pki.directory, kdir / "pki", self.name)
        (kdir / "kubeconfig").write_text(
            json.dumps(
                kubeconfig(
                    self.plane.server, self.plane.pki.ca_cert, cert, key, f"system:node:{self.name}"
                )
            ),
            encoding="utf-8",
        )
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"floe-node-{self.name}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:node",
            },
            "subjects": [
                {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "User",
                    "name": f"system:node:{self.name}",
                }
            ],
        }
        status, body = self.plane.api(
            "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding
        )
        if status not in (201, 409):
            raise StackError(f"kube-apiserver refused the node's role binding: {status} {body}")

        self._make_cgroup_root()
        self._sysctls = {
            name: (Path("/proc/sys") / name).read_text(encoding="utf-8").strip()
            for name in KUBELET_SYSCTLS
        }
        self._made_legacy_log_dir = not LEGACY_LOG_DIR.exists()
        self._made_cni_cache = not CNI_CACHE.exists()
        self.ports["kubelet"] = free_port()
        self.ports["kubelet-healthz"] = free_port()
        (kdir / "config.json").write_text(json.dumps(kubelet_config(self), indent=1))
        # no iptables on the kubelet's PATH: it then leaves the host's firewall alone (its
        # chains are for kube-proxy, which does not run here)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(kdir)}
        kubelet = self._spawn(
            "kubelet",
            [
                str(b.kubelet),
                f"--config={kdir / 'config.json'}",
                f"--kubeconfig={kdir / 'kubeconfig'}",
                f"--root-dir={kdir / 'root'}",
                f"--cert-dir={kdir / 'pki'}",
                f"--hostname-override={self.name}",
            ],
            env=env,
        )
        kubelet.wait_ready(self._ready, max(deadline - time.monotonic(), 1.0))
        self._mark("kubelet", t0)

    def _ready(self) -> bool:
        status, body = self.plane.api("GET", f"/api/v1/nodes/{self.name}", timeout=2.0)
        if status != 200:
            return False
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in body.get("status", {}).get("conditions", [])
        )

    def _make_cgroup_root(self) -> None:
        """``/floe-node-<id>`` in every cgroup v1 hierarchy: the kubelet's cgroupRoot must exist."""
        for hierarchy in sorted(CGROUP_ROOT.iterdir()):
            if not hierarchy.is_dir() or hierarchy.name == "unified":
                continue
            if not (hierarchy / "cgroup.procs").exists():
                continue
            (hierarchy / self.cgroup_name).mkdir(exist_ok=True)

    # -- containerd --------------------------------------------------------------------------
    def _ctr_argv(self, *args: str) -> list[str]:
        assert self.binaries is not None
        return [str(self.binaries.ctr), "--address", str(self.socket), "-n", "k8s.io", *args]

    def ctr(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """``ctr --address <our socket> -n k8s.io ARGS`` (the CRI's namespace)."""
        proc = subprocess.run(
            self._ctr_argv(*args), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise StackError(
                f"`ctr {' '.join(args)}` exited {proc.returncode}: {proc.stderr.strip()}"
            )
        return proc

    def import_image(self, tarball: Path) -> None:
        """Import a ``podman save`` / ``docker save`` archive into the node's image store."""
        self.ctr("images", "import", str(tarball))

    def import_from_podman(self, podman: Podman, ref: str) -> float:
        """Copy image ``ref`` from podman's store into the node's (``podman save | ctr import``).

        Returns:
            The seconds it took.

        Raises:
            StackError: podman or ctr failed (with its message).
        """
        assert self.binaries is not None
        started = time.monotonic()
        save = subprocess.Popen(
            podman.command("save", "--format", "docker-archive", ref),
            env=podman.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert save.stdout is not None
        try:
            load = subprocess.run(
                self._ctr_argv("images", "import", "-"),
                stdin=save.stdout,
                capture_output=True,
                text=True,
                timeout=1200,
                check=False,
            )
        finally:
            save.stdout.close()
            save_err = save.communicate(timeout=60)[1].decode(errors="replace")
        if save.returncode != 0:
            raise StackError(f"`podman save {ref}` exited {save.returncode}: {save_err.strip()}")
        if load.returncode != 0:
            raise StackError(
                f"`ctr images import` of {ref} exited {load.returncode}: {load.stderr.strip()}"
            )
        return round(time.monotonic() - started, 2)

    def check_alive(self) -> None:
        """Raise StackError with the log tail of containerd or the kubelet if one has died."""
        from floe_checks.servers.process import raise_if_one_died

        raise_if_one_died(self.processes, "of the node")

    # -- teardown ----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the kubelet, every container, containerd and its shims; undo what the node
        changed on the host. Safe to call twice."""
        kubelet = next((p for p in self.processes if p.name == "kubelet"), None)
        if kubelet is not None:
            kubelet.stop(timeout=10.0)
            self.processes.remove(kubelet)
        containerd = next((p for p in self.processes if p.name == "containerd"), None)
        if containerd is not None and containerd.alive():
            self._remove_containers()
        while self.processes:
            self.processes.pop().stop(timeout=10.0)
        # the shims outlive containerd (they run in their own sessions); ours name our workdir
        # (its path and a slash: /tmp/x must not match /tmp/x2)
        for pid in _pids_mentioning(f"{self.workdir}/"):
            stop_group(pid, signal.SIGKILL, timeout=5.0)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for point in _mounts_under(self.workdir):
            subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
        # the kubelet and runc also create it in the v2 hierarchy of the hybrid layout
        for path in sorted(CGROUP_ROOT.glob(f"*/{self.cgroup_name}")):
            self._remove_cgroup(path)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)
        for name, value in self._sysctls.items():
            with contextlib.suppress(OSError):
                (Path("/proc/sys") / name).write_text(value + "\n", encoding="utf-8")
        self._sysctls.clear()
        self._remove_host_files()

    def _remove_containers(self) -> None:
        """Kill and delete every task and container, so no shim or mount is left behind."""
        tasks = self.ctr("tasks", "list", "-q", check=False, timeout=30).stdout.split()
        for task in tasks:
            self.ctr("tasks", "kill", "-s", "SIGKILL", task, check=False, timeout=30)

        def deleted(task: str) -> bool:
            return self.ctr("tasks", "delete", task, check=False, timeout=30).returncode == 0

        for task in tasks:
            # a killed task is deletable once its shim has reaped it
            wait_until(functools.partial(deleted, task), timeout=5, interval=0.25)
        containers = self.ctr("containers", "list", "-q", check=False, timeout=30).stdout.split()
        if containers:
            self.ctr("containers", "delete", *containers, check=False, timeout=60)

    @staticmethod
    def _remove_cgroup(path: Path) -> None:
        """rmdir a cgroup and its children, deepest first (a cgroup holds no regular files)."""
        if not path.is_dir():
            return
        children = sorted(
            (p for p in path.rglob("*") if p.is_dir()),
            key=lambda p: len(p.parts),
            reverse=True,
        )

        def removed(cgroup: Path) -> bool:
            try:
                cgroup.rmdir()
            except FileNotFoundError:
                return True
            except OSError:
                return False  # busy until its last process is gone
            return True

        for child in [*children, path]:
            wait_until(functools.partial(removed, child), timeout=2, interval=0.1)

    def _remove_host_files(self) -> None:
        logs = str(self.workdir / "pod-logs")
        if LEGACY_LOG_DIR.is_dir():
            for link in LEGACY_LOG_DIR.iterdir():
                if link.is_symlink() and os.readlink(link).startswith(logs):
                    link.unlink()
            if self._made_legacy_log_dir and not any(LEGACY_LOG_DIR.iterdir()):
                LEGACY_LOG_DIR.rmdir()
        # libcni's result cache of a pod whose network was never torn down (the pod was
        # killed, not deleted): its own network's entry and containerd's `cni-loopback` one,
        # both naming the pod's network namespace under our folder
        results = CNI_CACHE / "results"
        if results.is_dir():
            for entry in results.iterdir():
                with contextlib.suppress(OSError):
                    if f"{self.workdir}/" in entry.read_text(encoding="utf-8", errors="replace"):
                        entry.unlink()
        if self._made_cni_cache:
            for folder in (results, CNI_CACHE):
                with contextlib.suppress(OSError):  # not empty: someone else uses it now
                    folder.rmdir()
