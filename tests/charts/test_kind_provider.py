"""The kind stack provider: prerequisite detection and the exact command sequence.

No Kubernetes double: the fakes below stand only for the `docker`/`kind` command lines
(``which`` and the command runner), so the provider's own logic is what runs.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from floe_checks.errors import PrerequisiteMissing, StackError
from floe_checks.stack.kind import (
    CUBE_IMAGE,
    DAGSTER_IMAGE,
    KindProvider,
    Step,
)

pytestmark = pytest.mark.charts


class FakeCommands:
    """Stands for the docker CLI: records every command; fails those listed in ``failing``."""

    def __init__(self, failing: Sequence[str] = ()) -> None:
        self.failing = list(failing)
        self.calls: list[list[str]] = []

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> str:
        self.calls.append(list(argv))
        if any(word in argv for word in self.failing):
            raise StackError(f"{argv[1]} failed: Cannot connect to the Docker daemon")
        return "ok\n"


def provider(binaries: set[str], failing: Sequence[str] = (), **kw: object) -> KindProvider:
    return KindProvider(
        runner=FakeCommands(failing),
        which=lambda name: f"/usr/bin/{name}" if name in binaries else None,
        node_image="kindest/node:v1.31.6",
        **kw,
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("binaries", "failing", "named"),
    [
        (set(), (), "kind stack: Docker CLI (docker) not found on PATH"),
        ({"docker", "kind"}, ("info",), "kind stack: Docker daemon is not reachable"),
        ({"docker"}, (), "kind stack: kind binary not found on PATH"),
        (
            {"docker", "kind"},
            ("image",),
            "kind stack: node image kindest/node:v1.31.6 is not in the local Docker image store",
        ),
        ({"docker", "kind"}, (), "kind stack: the official dagster chart 1.13.27 is not available"),
    ],
)
def test_start_names_the_first_missing_prerequisite_and_creates_nothing(
    binaries: set[str],
    failing: Sequence[str],
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLOE_HELM_MIRROR", raising=False)
    p = provider(binaries, failing, repo_root=tmp_path)
    with pytest.raises(PrerequisiteMissing) as info:
        p.start(tmp_path / "work")
    assert str(info.value).startswith(named)
    assert not (tmp_path / "work").exists()
    commands = p.runner.calls  # type: ignore[attr-defined]
    assert all(c[1] in ("info", "image") for c in commands), commands


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


def test_kind_config_maps_both_nodeports_to_loopback() -> None:
    config = provider(set()).kind_config(41000, 41001)
    (node,) = config["nodes"]
    assert node["image"] == "kindest/node:v1.31.6"
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
    p = provider({"docker", "kind"}, repo_root=Path("/repo"), cluster_name="c1", helm_timeout="9m")
    steps = p.plan(tmp_path, Path("/ws/charts"))
    kc = f"--kubeconfig={tmp_path / 'kubeconfig'}"
    assert steps == [
        Step(
            "create kind cluster",
            (
                "/usr/bin/kind",
                "create",
                "cluster",
                "--name=c1",
                kc,
                "--image=kindest/node:v1.31.6",
                "--config",
                str(tmp_path / "kind-config.yaml"),
            ),
            "kind-create",
        ),
        Step(
            "build Dagster image",
            (
                "/usr/bin/docker",
                "build",
                "-f",
                "/repo/docker/Dockerfile.dagster",
                "-t",
                DAGSTER_IMAGE,
                "/repo",
            ),
        ),
        Step(
            "build Cube image",
            (
                "/usr/bin/docker",
                "build",
                "-f",
                "/repo/docker/Dockerfile.cube",
                "-t",
                CUBE_IMAGE,
                "/repo",
            ),
        ),
        Step(
            "load Dagster image",
            ("/usr/bin/kind", "load", "docker-image", "--name", "c1", DAGSTER_IMAGE),
            "kind-load",
        ),
        Step(
            "load Cube image",
            ("/usr/bin/kind", "load", "docker-image", "--name", "c1", CUBE_IMAGE),
            "kind-load",
        ),
        Step("create namespace and demo Secrets", (), "secrets"),
        Step(
            "helm dependency build",
            ("helm", "dependency", "build", "--skip-refresh", "/ws/charts/floe-runtime"),
        ),
        Step(
            "helm install floe-runtime",
            (
                "helm",
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
        ),
        Step("wait for Dagster and Cube on their NodePorts", (), "wait"),
    ]


def test_images_built_are_the_ones_the_demo_values_deploy() -> None:
    """values-demo.yaml keeps the charts' default tags, which the provider builds and loads."""
    import yaml

    from floe_checks.stack.kind import REPO_ROOT

    dagster = yaml.safe_load((REPO_ROOT / "charts/floe-dagster/values.yaml").read_text())
    cube = yaml.safe_load((REPO_ROOT / "charts/floe-cube/values.yaml").read_text())
    image = dagster["dagster"]["dagsterWebserver"]["image"]
    assert f"{image['repository']}:{image['tag']}" == DAGSTER_IMAGE
    assert f"{cube['image']['repository']}:{cube['image']['tag']}" == CUBE_IMAGE


def test_stop_without_a_cluster_does_nothing() -> None:
    p = provider(set())
    p.stop()
    assert p.runner.calls == []  # type: ignore[attr-defined]
