"""floe-checks installed from a built wheel into a user's repository (issue 15, points 4 and 7).

The wheel is built once per session (``pip wheel --no-deps`` of a copy of the sources, so the
checkout gets no ``build/``) and installed with ``--no-index --no-deps`` into a fresh venv
without pip. Its dependencies come from the project venv through a ``.pth`` line naming that
venv's site-packages: a plain path line, so the project's editable install of floe_checks is
*not* activated, and the wheel's copy (first on ``sys.path``) is the one imported and the
one whose ``pytest11`` entry point pytest loads. Costs about 10 s per session (8 s build, 2 s
venv and install).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.wheel import WheelVenv

pytestmark = [pytest.mark.requirement("FC-009", "007-FR-015"), pytest.mark.evidence("static")]

USER_SUITE = """\
import os

import floe_checks
import pytest


@pytest.mark.requirement("REQ-123")
def test_own_id():
    # The wheel's copy is the one this run uses, not the checkout's.
    assert floe_checks.__file__.startswith(os.environ["WHEEL_SITE"])


@pytest.mark.requirement("REQ-124")
def test_other():
    pass
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_wheel_does_not_break_a_suite_with_its_own_ids(
    wheel_venv: WheelVenv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, xdist: list[str]
) -> None:
    monkeypatch.setenv("WHEEL_SITE", str(wheel_venv.site_packages))
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_suite.py").write_text(USER_SUITE, encoding="utf-8")
    done = wheel_venv.run(
        tmp_path, wheel_venv.python, "-m", "pytest", "-p", "no:cacheprovider", *xdist
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    if not xdist:
        assert "floe env: none (select one with --floe-env, FLOE_ENV or ini floe_env)" in (
            done.stdout
        )


def test_wheel_preflight_without_floe_yaml_fails_closed(
    wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    done = wheel_venv.run(tmp_path, str(wheel_venv.root / "bin" / "floe"), "preflight")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"floe preflight: configuration error: {tmp_path / 'floe.yaml'}: file not found, and "
        "no environment was named."
    )
    typo = tmp_path / "floe.yaml"
    typo.write_text("environments:\n  prod:\n    postgres: {hots: db}\n", encoding="utf-8")
    done = wheel_venv.run(
        tmp_path, str(wheel_venv.root / "bin" / "floe"), "preflight", "--env", "prod"
    )
    assert done.returncode == 2
    # The wheel ships no docs: the message carries the allowed keys itself.
    assert "allowed here: host, port, user, password, database, schema, sslmode" in done.stderr
    assert "docs/" not in done.stderr


CHECKOUT_SCRIPT = """
from pathlib import Path
from floe_checks.errors import CheckoutRequired
from floe_checks.charts.render import prepare_workspace
from floe_checks.stack.local import LocalProvider
for call in (lambda: prepare_workspace(Path("ws")), lambda: LocalProvider().start(Path("st"))):
    try:
        call()
    except CheckoutRequired as exc:
        print(exc.message)
        print(exc.remediation)
print(sorted(p.name for p in Path(".").iterdir()))
"""


def test_charts_and_the_local_stack_say_they_need_a_checkout(
    wheel_venv: WheelVenv, tmp_path: Path
) -> None:
    """From a wheel, nothing is started or half-written: the error names the missing folder."""
    proc = wheel_venv.run(tmp_path, wheel_venv.python, "-c", CHECKOUT_SCRIPT)
    assert proc.returncode == 0, proc.stderr
    site = wheel_venv.site_packages
    fix = (
        "run it from a clone of the floe-checks repository (the wheel ships the plugin, not the "
        "charts, demo and docker folders), or set FLOE_CHECKOUT to the path of one"
    )
    assert proc.stdout.splitlines() == [
        f"rendering floe-dagster needs the chart folder {site / 'charts' / 'floe-dagster'}, "
        "which is not there",
        fix,
        "the local stack (Cube's data model) needs demo/cube/model/ from a checkout of "
        f"floe-checks, and there is none at {site / 'demo' / 'cube' / 'model'}",
        fix,
        "[]",
    ]
