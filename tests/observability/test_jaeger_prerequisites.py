"""What ``floe_checks.servers.jaeger`` asks of the machine and which listeners it configures,
without starting Jaeger (these run where the binary is not built)."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe_checks.errors import PrerequisiteMissing
from floe_checks.servers import jaeger as jaeger_server

pytestmark = [pytest.mark.requirement("007-FR-034"), pytest.mark.evidence("static")]


def test_missing_binary_names_the_build_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    binary = tmp_path / "floe-checks" / "jaeger" / "v1.76.0" / "bin" / "jaeger"
    with pytest.raises(PrerequisiteMissing) as caught:
        jaeger_server.find_binary()
    assert str(caught.value) == f"Jaeger v1.76.0 is not built at {binary}"
    assert caught.value.remediation == (
        "run bash scripts/build-jaeger.sh (it builds Jaeger from the Go module proxy; about 9 "
        "CPU-minutes when Go's build cache is cold)"
    )


def test_every_configured_listener_is_loopback_on_its_own_port(tmp_path: Path) -> None:
    """The all-in-one defaults open twelve fixed ports, several on every interface; ours names
    each listener: the OTLP receiver's two protocols, the query API's two, the health check."""
    server = jaeger_server.JaegerServer(tmp_path)
    config = server.config()
    extensions = config["extensions"]
    otlp = config["receivers"]["otlp"]["protocols"]
    configured = {
        "otlp/http": otlp["http"]["endpoint"],
        "otlp/grpc": otlp["grpc"]["endpoint"],
        "jaeger_query/http": extensions["jaeger_query"]["http"]["endpoint"],
        "jaeger_query/grpc": extensions["jaeger_query"]["grpc"]["endpoint"],
        "healthcheckv2/http": extensions["healthcheckv2"]["http"]["endpoint"],
    }
    ports = [
        server.otlp_http_port,
        server.otlp_grpc_port,
        server.query_http_port,
        server.query_grpc_port,
        server.health_port,
    ]
    assert configured == server.listeners()
    assert sorted(configured.values()) == sorted(f"127.0.0.1:{port}" for port in ports)
    assert len(set(ports)) == 5
    assert list(config["receivers"]) == ["otlp"]
    assert config["service"]["extensions"] == ["jaeger_storage", "jaeger_query", "healthcheckv2"]
    assert config["service"]["telemetry"]["metrics"] == {"level": "none"}


def test_command_without_the_binary_exits_2_naming_the_build_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    binary = tmp_path / "floe-checks" / "jaeger" / "v1.76.0" / "bin" / "jaeger"
    assert jaeger_server.main([str(tmp_path / "run")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"jaeger: Jaeger v1.76.0 is not built at {binary}; run bash scripts/build-jaeger.sh "
        "(it builds Jaeger from the Go module proxy; about 9 CPU-minutes when Go's build cache "
        "is cold)\n"
    )
