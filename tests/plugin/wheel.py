"""A venv holding only the floe-checks wheel, for the tests that install it as a user would.

The wheel is built once per session (``pip wheel --no-deps`` of a copy of the sources, so the
checkout gets no ``build/``) and installed with ``--no-index --no-deps`` into a fresh venv
without pip. Its dependencies come from the project venv through a ``.pth`` line naming that
venv's site-packages: a plain path line, so the project's editable install of floe_checks is
*not* activated, and the wheel's copy (first on ``sys.path``) is the one imported. The
``wheel_venv`` fixture (tests/plugin/conftest.py) hands it out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class WheelVenv:
    """A venv holding only the floe-checks wheel (dependencies from the project venv)."""

    root: Path
    site_packages: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def run(self, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("FLOE_ENV", "FLOE_CONFIG", "PYTHONPATH", "VIRTUAL_ENV")
        }
        return subprocess.run(
            list(argv),
            cwd=cwd,
            env={**env, "PATH": f"{self.root / 'bin'}:{env.get('PATH', '')}"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def build_wheel_venv(base: Path) -> WheelVenv:
    """Build the wheel from a copy of the sources under ``base`` and install it into a venv
    there; fails the requesting test when the build fails."""
    src = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "floe_checks", src / "floe_checks", ignore=ignore)
    shutil.copytree(REPO / "demo" / "floe_demo", src / "demo" / "floe_demo", ignore=ignore)
    dist = base / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{built.stdout}{built.stderr}")
    (wheel,) = dist.glob("floe_checks-*.whl")
    root = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = str(root / "bin" / "python")
    subprocess.run(
        [*pip, "--python", python, "install", "--no-deps", "--no-index", str(wheel)], check=True
    )
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    site_packages = Path(purelib)
    (site_packages / "floe-deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    return WheelVenv(root, site_packages)
