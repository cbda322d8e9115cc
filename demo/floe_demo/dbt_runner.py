"""The demo's dbt project: where it is, its manifest, and running dbt against the settings.

The manifest is built with ``dbt parse`` when it is missing or older than the project's
files, under a file lock, so a webserver, a daemon and run workers loading the Dagster
definitions at once parse it only once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from floe_checks.errors import FloeError
from floe_demo.settings import DemoSettings

PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_DIRS = ("models", "macros", "tests")


class DbtError(FloeError, RuntimeError):
    """dbt failed; the message carries the tail of its output.

    A :class:`~floe_checks.errors.FloeError` (the demo ships with floe-checks, in one
    distribution and one image), and still a RuntimeError for callers that catch that.
    """

    remediation = (
        "read dbt's output in the message and its log (logs/dbt.log beside the target folder)"
    )


def dbt_executable() -> Path:
    """The ``dbt`` next to the running interpreter (the venv's), falling back to PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return candidate if candidate.exists() else Path("dbt")


def _newest_source(project_dir: Path) -> float:
    stamps = [(project_dir / name).stat().st_mtime for name in PROJECT_FILES]
    for folder in PROJECT_DIRS:
        stamps += [p.stat().st_mtime for p in (project_dir / folder).rglob("*") if p.is_file()]
    return max(stamps)


def run_dbt(settings: DemoSettings, args: Sequence[str], *, timeout: float = 600) -> str:
    """Run ``dbt <args>`` on the demo project with the settings' environment; returns output.

    Raises:
        DbtError: dbt exited non-zero.
    """
    env = {**os.environ, **settings.dbt_env(), "FLOE_DEMO_DBT_TARGET": settings.dbt_target}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    argv = [
        str(dbt_executable()),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target",
        settings.dbt_target,
        "--target-path",
        str(settings.dbt_target_path),
        "--log-path",
        str(settings.dbt_target_path.parent / "logs"),
    ]
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {done.returncode}):\n{tail}")
    return done.stdout


def ensure_manifest(settings: DemoSettings) -> Path:
    """The path of an up-to-date manifest.json, running ``dbt parse`` if needed."""
    from filelock import FileLock

    manifest = settings.dbt_target_path / "manifest.json"
    settings.dbt_target_path.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.dbt_target_path.parent / "parse.lock"), timeout=300):
        newest = _newest_source(settings.dbt_project_dir)
        if not manifest.exists() or manifest.stat().st_mtime < newest:
            run_dbt(settings, ["parse", "--no-partial-parse"])
    return manifest
