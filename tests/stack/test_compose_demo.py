"""The Compose demo as a user would start it: ``docker compose config`` (Compose v2, built from
the Go module proxy by scripts/setup.d/61-compose.sh; no engine is needed to validate) accepts
docker/docker-compose.demo.yml, and the fixes of issue 20 point 6 hold: the demo home exists in
the Dagster image owned by the runtime user, Postgres is healthy only over TCP, and the env
file is required (documented).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.evidence("rendered")

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_VERSION = "v2.40.3"
RUNTIME_UID = "1000"


def _compose_binary() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "floe-checks"
    binary = cache / "compose" / COMPOSE_VERSION / "docker-compose"
    if not binary.is_file():
        pytest.skip(
            f"docker compose {COMPOSE_VERSION} is not built at {binary}: run "
            "scripts/setup.d/61-compose.sh (needs go and the Go module proxy)"
        )
    return binary


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of docker/ (the compose file's project directory) with .env from the example."""
    shutil.copytree(DOCKER, tmp_path / "docker", ignore=shutil.ignore_patterns(".env"))
    shutil.copy(DOCKER / ".env.example", tmp_path / "docker" / ".env")
    return tmp_path / "docker"


def _config(
    project: Path, compose_file: str = "docker-compose.demo.yml"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    return subprocess.run(
        [str(_compose_binary()), "-f", compose_file, "config", "--format", "json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


@pytest.mark.requirement("007-FR-031")
def test_docker_compose_config_accepts_the_demo(project: Path) -> None:
    proc = _config(project)
    assert (proc.returncode, proc.stderr) == (0, "")
    config: dict[str, Any] = json.loads(proc.stdout)
    services = config["services"]
    assert sorted(services) == [
        "cube-api",
        "dagster-daemon",
        "dagster-webserver",
        "demo-page",
        "jaeger",
        "marquez",
        "marquez-web",
        "postgres",
    ]
    # Postgres counts as healthy only once it answers over TCP (not the init scripts' server)
    assert services["postgres"]["healthcheck"]["test"] == [
        "CMD",
        "pg_isready",
        "--host=127.0.0.1",
        "--port=5432",
        "--username=postgres",
    ]
    # the demo home is the named volume, at the path the image creates for uid 1000
    for name in ("dagster-webserver", "dagster-daemon"):
        volumes = {v["target"]: v for v in services[name]["volumes"]}
        assert volumes["/tmp/floe-demo"]["type"] == "volume"
        assert volumes["/tmp/floe-demo"]["source"] == "demo-home"
    # the live page: the same server `floe demo up` runs, published on the host's loopback only,
    # its Cube secret read from the env file's variable, not passed on the command line
    page = services["demo-page"]
    assert page["command"][:3] == ["python", "-m", "floe_checks.servers.demo_page"]
    assert "--secret-env=CUBEJS_API_SECRET" in page["command"]
    assert [(p["host_ip"], p["published"], p["target"]) for p in page["ports"]] == [
        ("127.0.0.1", "8080", 8080)
    ]
    assert not [arg for arg in page["command"] if "CHANGE_ME" in arg]
    # credentials came from the env file, none from the compose file itself
    placeholder = "CHANGE_ME"  # pragma: allowlist secret
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == placeholder


def test_docker_compose_config_without_the_env_file_names_it(project: Path) -> None:
    """Documented: docker/.env is required (copy the example first)."""
    (project / ".env").unlink()
    proc = _config(project)
    env_file = project / ".env"
    assert (proc.returncode, proc.stderr) == (
        1,
        f"env file {env_file} not found: stat {env_file}: no such file or directory\n",
    )
    header = (DOCKER / "docker-compose.demo.yml").read_text()
    assert "cp docker/.env.example docker/.env" in header


def test_docker_compose_config_rejects_what_the_spec_does_not_know(project: Path) -> None:
    """The check is a real schema check: a misspelt healthcheck key fails."""
    text = (project / "docker-compose.demo.yml").read_text()
    broken = text.replace("      retries: 12\n", "      retrys: 12\n", 1)
    assert broken != text
    (project / "broken.yml").write_text(broken)
    proc = _config(project, "broken.yml")
    assert (proc.returncode, proc.stderr) == (
        1,
        f"validating {project / 'broken.yml'}: services.postgres.healthcheck additional "
        "properties 'retrys' not allowed\n",
    )


def _runtime_stage(dockerfile: str) -> list[str]:
    """Instructions of the last stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]
    last_from = max(i for i, ln in enumerate(lines) if ln.upper().startswith("FROM "))
    return lines[last_from:]


def test_dagster_image_creates_the_demo_home_for_its_user() -> None:
    stage = _runtime_stage((DOCKER / "Dockerfile.dagster").read_text())
    runs = [ln for ln in stage if ln.startswith("RUN ")]
    commands = [c.strip() for run in runs for c in run[4:].split("&&")]
    mkdirs = [c.split()[2:] for c in commands if c.startswith("mkdir -p ")]
    chowns = [c.split()[1:] for c in commands if c.startswith("chown ")]
    assert any("/tmp/floe-demo" in paths for paths in mkdirs), mkdirs
    assert any(
        args[:2] == ["-R", f"{RUNTIME_UID}:{RUNTIME_UID}"] and "/tmp/floe-demo" in args[2:]
        for args in chowns
    ), chowns
    user = [ln.split()[1] for ln in stage if ln.startswith("USER ")]
    assert user == [f"{RUNTIME_UID}:{RUNTIME_UID}"]
    env = " ".join(ln for ln in stage if ln.startswith("ENV "))
    assert "FLOE_DEMO_HOME=/tmp/floe-demo" in env
    compose = yaml.safe_load((DOCKER / "docker-compose.demo.yml").read_text())
    assert "demo-home:/tmp/floe-demo" in compose["x-dagster"]["volumes"]
