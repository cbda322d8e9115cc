"""docker/Dockerfile.dagster built and run for real, without Docker (issue 19, stage 1).

podman + runc from Debian, a debootstrap base image and a wheelhouse made on the host
(floe_checks/images.py, docs/images.md): the image is built once per session with no network
(``--network none``, ``pip install --no-index``) and reused from the cached store while the
build context, the wheelhouse and the base are unchanged. Every container runs with
``--network none --rm`` and a name of this session; a finalizer removes any that is left.

Evidence level ``service``: the real image ran, locally, in a real container runtime — but not
on a Kubernetes node (no kubelet), which is what ``cluster`` means (docs/compliance.md).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks import images

REPO_ROOT = Path(__file__).resolve().parents[2]
VALUES = REPO_ROOT / "charts" / "floe-dagster" / "values.yaml"
# Planted in the build context the way a developer's checkout has them (a filled-in compose env
# file); the credential canaries of tests/plugin/test_leaks.py and test_good_neighbour.py.
CANARIES = (
    'Pg-Canary/9"x\\y',  # pragma: allowlist secret
    "AKIAFLOECANARY7777",  # pragma: allowlist secret
    "floe/canary+secret=key&7",  # pragma: allowlist secret
)
PLANTED = {
    "docker/.env": f"FLOE_WAREHOUSE_PASSWORD={CANARIES[0]}\nAWS_ACCESS_KEY_ID={CANARIES[1]}\n",
    ".env": f"AWS_SECRET_ACCESS_KEY={CANARIES[2]}\n",
}
# The chart's writable mounts (values.yaml `writableVolumes`): the root filesystem is read-only.
# `U` chowns the mount to the container's user, as the chart's fsGroup does for an emptyDir.
READ_ONLY = ("--read-only", "--tmpfs", "/tmp", "--tmpfs", "/opt/dagster/dagster_home:rw,U")
# A Dagster log line: `<timestamp> - dagster - LEVEL - message`, coloured with ANSI codes.
LOG_LINE = re.compile(r"^\S+ \S+ \+0000 - dagster - (?P<level>[A-Z]+) - (?P<message>.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")

pytestmark = [
    pytest.mark.evidence("service"),
    pytest.mark.requirement("007-FR-001"),
    # One build and its containers in one worker (scripts/test.sh runs --dist loadgroup): a
    # second worker would only wait on the build lock and then compete for the 2 cores.
    pytest.mark.xdist_group("floe-images"),
]


@pytest.fixture(scope="session")
def dagster_image(podman: images.Podman, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The built image's reference; one build per content key, shared by xdist workers."""
    from filelock import FileLock

    context = images.stage_context(REPO_ROOT, tmp_path_factory.mktemp("context"), PLANTED)
    with FileLock(str(podman.cache / "build.lock")):
        wheelhouse = images.ensure_wheelhouse(REPO_ROOT, podman.cache)
        ref, _built = images.build_dagster_image(podman, context, wheelhouse)
    return ref


def scan(root: Path) -> list[str]:
    """Every ``FILE: canary`` hit under ``root`` (regular files, symlinks not followed)."""
    needles = [c.encode() for c in CANARIES]
    hits: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            hits.extend(f"{path.relative_to(root)}: {n.decode()}" for n in needles if n in data)
    return sorted(hits)


@pytest.mark.evidence("static")
def test_the_scan_finds_the_planted_canaries(tmp_path: Path) -> None:
    """Positive control for the image scan: the same scan over a staged context finds them."""
    context = images.stage_context(REPO_ROOT, tmp_path / "context", PLANTED)
    # The planted env files, and the two test modules that spell the canaries out (the context
    # holds them; .dockerignore keeps tests/ out of the image).
    assert scan(context) == [
        f".env: {CANARIES[2]}",
        f"docker/.env: {CANARIES[1]}",
        f"docker/.env: {CANARIES[0]}",
        f"tests/images/test_dagster_image.py: {CANARIES[1]}",
        f"tests/images/test_dagster_image.py: {CANARIES[2]}",
        f"tests/preflight/test_good_neighbour.py: {CANARIES[1]}",
        f"tests/preflight/test_good_neighbour.py: {CANARIES[2]}",
    ]


def run(
    podman: images.Podman, label: str, image: str, *cmd: str, extra: tuple[str, ...] = ()
) -> tuple[int, str]:
    """``podman run --network none --rm`` of ``cmd``: exit code and stdout+stderr."""
    proc = podman.run(
        "run",
        "--rm",
        "--network",
        "none",
        "--label",
        label,
        *READ_ONLY,
        *extra,
        image,
        *cmd,
        check=False,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def chart_values() -> dict[str, Any]:
    values = yaml.safe_load(VALUES.read_text())
    assert isinstance(values, dict)
    return values


@pytest.mark.requirement("007-FR-003")
def test_definitions_validate_passes_inside_the_image(
    podman: images.Podman, dagster_image: str, session_label: str
) -> None:
    code, out = run(
        podman,
        session_label,
        dagster_image,
        "dagster",
        "definitions",
        "validate",
        "-m",
        "floe_demo.definitions",
    )
    info = [
        m["message"]
        for m in (LOG_LINE.match(ANSI.sub("", line)) for line in out.splitlines())
        if m and m["level"] == "INFO"
    ]
    assert (code, info) == (
        0,
        [
            "Validation successful for code location floe_demo.definitions.",
            "All code locations passed validation.",
        ],
    ), out


@pytest.mark.requirement("007-FR-003")
def test_dbt_parse_of_the_demo_project_works_inside_the_image(
    podman: images.Podman, dagster_image: str, session_label: str
) -> None:
    script = (
        'dbt parse --quiet --project-dir /opt/floe/demo && python -c "import json; '
        "m = json.load(open('/tmp/dbt/target/manifest.json')); "
        "print(' '.join(sorted(n['name'] for n in m['nodes'].values() "
        "if n['resource_type'] == 'model')))\""
    )
    code, out = run(podman, session_label, dagster_image, "sh", "-c", script)
    expected = " ".join(sorted(p.stem for p in (REPO_ROOT / "demo" / "models").rglob("*.sql")))
    assert (code, out.strip().splitlines()[-1] if out.strip() else "") == (0, expected), out


def test_runs_as_the_dockerfiles_non_root_user(
    podman: images.Podman, dagster_image: str, session_label: str
) -> None:
    code, out = run(podman, session_label, dagster_image, "id", "-u")
    assert (code, out) == (0, "1000\n")
    code, out = run(podman, session_label, dagster_image, "id", "-g")
    assert (code, out) == (0, "1000\n")
    pod = chart_values()["dagster"]["dagsterWebserver"]["podSecurityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (1000, 1000)


@pytest.mark.requirement("007-FR-004")
def test_no_credential_in_the_image_filesystem(podman: images.Podman, dagster_image: str) -> None:
    """The canaries planted in the build context's env files are nowhere in the image."""
    inspect = json.loads(podman.run("image", "inspect", dagster_image).stdout)[0]
    env_names = [item.split("=", 1)[0] for item in inspect["Config"]["Env"]]
    assert [n for n in env_names if any(w in n for w in ("PASS", "SECRET", "TOKEN", "KEY"))] == []
    mount = podman.run("image", "mount", dagster_image).stdout.strip()
    try:
        root = Path(mount)
        assert (root / "opt" / "venv" / "bin" / "dagster").is_file()  # the mount is the image
        assert scan(root) == []
        assert not (root / "opt" / "floe" / ".env").exists()
    finally:
        podman.run("image", "unmount", dagster_image, check=False)


def test_labels_entrypoint_and_ports_match_the_chart(
    podman: images.Podman, dagster_image: str, session_label: str
) -> None:
    config = json.loads(podman.run("image", "inspect", dagster_image).stdout)[0]["Config"]
    dagster = chart_values()["dagster"]
    webserver_port = dagster["dagsterWebserver"]["service"]["port"]
    (deployment,) = dagster["dagster-user-deployments"]["deployments"]
    assert config["User"] == "1000:1000"
    assert sorted(config["ExposedPorts"]) == sorted(
        [f"{webserver_port}/tcp", f"{deployment['port']}/tcp"]
    )
    assert config["Cmd"] == [
        "dagster-webserver",
        "-h",
        "0.0.0.0",
        "-p",
        str(webserver_port),
        "-m",
        "floe_demo.definitions",
    ]
    assert config.get("Entrypoint") in (None, [])
    assert config["WorkingDir"] == "/opt/floe"
    repository = dagster["dagsterWebserver"]["image"]["repository"]
    assert config["Labels"]["org.opencontainers.image.title"] == repository.rsplit("/", 1)[-1]
    # The official chart runs these commands in the image: webserver, daemon (and its probes),
    # and `dagster api grpc` with the deployment's dagsterApiGrpcArgs for the code server.
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "floe_demo.definitions"]
    code, out = run(
        podman,
        session_label,
        dagster_image,
        "sh",
        "-c",
        "for c in dagster dagster-webserver dagster-daemon dbt; do command -v $c; done",
    )
    assert (code, out) == (
        0,
        "/opt/venv/bin/dagster\n/opt/venv/bin/dagster-webserver\n"
        "/opt/venv/bin/dagster-daemon\n/opt/venv/bin/dbt\n",
    )


@pytest.mark.requirement("FC-007")
def test_the_preflight_hook_runs_in_the_image_as_its_pod_says(
    podman: images.Podman, dagster_image: str, session_label: str, tmp_path: Path
) -> None:
    """floe-runtime's ``helm test`` Pod, run as rendered: its image, command, user, environment,
    read-only root with a ``/tmp`` emptyDir, and its ConfigMap's floe.yaml mounted read-only.

    What kwok cannot show (tests/cluster/test_preflight_hook_on_cluster.py): the container
    starts, ``floe`` is in the image, the command line and the rendered floe.yaml are accepted
    (a configuration error would exit 2) and the checks run. Without a network the Cube Service
    name does not resolve, so the check fails as ``dns`` and the exit code is 1 — what a
    Pod whose DNS or NetworkPolicy is wrong reports. The rendered image name (floe/floe-dagster)
    is replaced by this build of the same Dockerfile.
    """
    from floe_checks.charts.render import prepare_workspace

    ws = prepare_workspace(tmp_path / "charts", offline=True)
    objs = ws.render("floe-runtime", [], tests=True)
    (pod,) = [o for o in objs if o["kind"] == "Pod"]
    (configmap,) = [
        o
        for o in objs
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == ("floe-floe-preflight")
    ]
    (container,) = pod["spec"]["containers"]
    config_dir = tmp_path / "floe-yaml"
    config_dir.mkdir()
    (config_dir / "floe.yaml").write_text(configmap["data"]["floe.yaml"], encoding="utf-8")
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "floe-yaml"]
    env: list[str] = []
    for var in container["env"]:
        # the Secret's value: a throwaway (no cluster here)
        value = var.get("value", "hook-image-test")  # pragma: allowlist secret
        env += ["--env", f"{var['name']}={value}"]
    user = pod["spec"]["securityContext"]
    code, out = run(
        podman,
        session_label,
        dagster_image,
        *container["command"],
        extra=(
            "--user",
            f"{user['runAsUser']}:{user['runAsGroup']}",
            "--volume",
            f"{config_dir}:{mount['mountPath']}:ro",
            *env,
        ),
    )
    lines = out.splitlines()
    assert code == 1, out
    assert lines[0] == (
        "[CUBE] ERROR: cannot resolve the host of "
        "http://floe-cube.floe.svc.cluster.local:4000/readyz (GET /readyz). Remediation: the host "
        "name does not resolve: check environments.in-cluster.cube.url and this machine's DNS."
    ), out
    assert re.fullmatch(r"preflight in-cluster: FAIL \(1 check, \d+ ms\)", lines[1]), out
    assert len(lines) == 2, out
