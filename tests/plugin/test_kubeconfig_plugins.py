"""A user's repository with floe-checks, pytest-kind and pytest-helm-charts installed (issue 22).

Both plugins register ``--kubeconfig``. docs/kind.md tells users to block pytest-kind's plugin
(``-p no:pytest-kind``); then pytest starts and ``--kubeconfig`` is pytest-helm-charts'. Without
the block pytest refuses to start. The repository is a fresh venv holding the floe-checks wheel
(the ``wheel_venv`` fixture, tests/plugin/conftest.py); both plugins come from the project venv,
whose site-packages that venv sees, so their entry points load as in a user's install.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path

import pytest

from tests.plugin.wheel import WheelVenv

pytestmark = [pytest.mark.requirement("FC-009"), pytest.mark.evidence("static")]

# pytest's own message when a second plugin adds an option whose dest is taken (pytest 9).
CLASH = (
    "ValueError: option dest 'kubeconfig' already used by ['--kubeconfig'] (this is the option "
    "that maps to dest 'kubeconfig'); pass dest='kubeconfig' explicitly to share the destination"
)

USER_TEST = """\
def test_plugins(request):
    config = request.config
    loaded = {
        name: config.pluginmanager.has_plugin(name)
        for name in ("floe", "helm-charts", "pytest-kind")
    }
    assert loaded == {"floe": True, "helm-charts": True, "pytest-kind": False}
    assert config.getoption("kubeconfig") == "/users/kubeconfig"


def test_kube_config_is_pytest_helm_charts(kube_config):
    assert kube_config == "/users/kubeconfig"
"""

BLOCKS = {
    "pytest.ini": ("pytest.ini", "[pytest]\naddopts = -p no:pytest-kind\n", []),
    "pyproject.toml": (
        "pyproject.toml",
        '[tool.pytest.ini_options]\naddopts = "-p no:pytest-kind"\n',
        [],
    ),
    "command line": ("pytest.ini", "[pytest]\n", ["-p", "no:pytest-kind"]),
}


def _entry_points() -> dict[str, str]:
    return {
        ep.name: ep.value
        for ep in importlib.metadata.entry_points(group="pytest11")
        if ep.name in ("pytest-kind", "helm-charts", "floe")
    }


def test_the_entry_point_names_we_block_and_keep() -> None:
    assert _entry_points() == {
        "pytest-kind": "pytest_kind.plugin",
        "helm-charts": "pytest_helm_charts.plugin",
        "floe": "floe_checks.plugin",
    }


def _run(venv: WheelVenv, repo: Path, *args: str) -> tuple[int, str]:
    """pytest in the user's repository, with none of our PYTEST_* settings (PYTEST_ADDOPTS
    carries the block for other scratch repositories: tests/conftest.py)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "FLOE_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    env["PATH"] = f"{venv.root / 'bin'}:{env.get('PATH', '')}"
    done = subprocess.run(
        [venv.python, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("where", list(BLOCKS))
def test_a_repository_that_follows_docs_kind_md_starts(
    wheel_venv: WheelVenv,
    tmp_path: Path,
    where: str,
) -> None:
    name, text, args = BLOCKS[where]
    (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "test_user.py").write_text(USER_TEST, encoding="utf-8")
    code, out = _run(wheel_venv, tmp_path, *args, "--kubeconfig", "/users/kubeconfig")
    assert (code, "2 passed" in out, CLASH in out) == (0, True, False), out


def test_a_repository_without_the_block_shows_the_clash(
    wheel_venv: WheelVenv,
    tmp_path: Path,
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_user.py").write_text(USER_TEST, encoding="utf-8")
    code, out = _run(wheel_venv, tmp_path)
    # exit code 3: an internal error while loading the plugins; no test ran
    assert (code, out.count(CLASH), "passed" in out) == (3, 1, False), out
