"""Our GitHub Actions workflows: actionlint-clean, a timeout on every job, the kind job pinned
and wired like the provider expects, and every job's pytest run collecting with exactly what
that job installs.

The per-job collection tests use a venv per distinct install line of the workflows
(``pip install -e '.[charts,dev]'`` …), holding exactly the dependencies that line brings
(cached outside the clone per pyproject.toml; floe-checks itself goes in from this checkout),
and run that job's pytest arguments with ``--collect-only``: an import of numpy/pyarrow/duckdb
at a test module's top level, which only a fuller install provides, fails there exactly as it
fails in the job. Jobs that install ``.[all,dev]`` (through ``scripts/setup.sh`` or directly)
collect in the project venv, which ``scripts/setup.sh`` builds with the same line.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

from floe_checks.stack.kind import KIND_VERSION, NODE_IMAGE

pytestmark = pytest.mark.evidence("static")

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
CI = REPO / ".github" / "workflows" / "ci.yml"
ACTIONLINT_VERSION = "v1.7.12"
SETUP_ALL = "-e '.[all,dev]'"  # what scripts/setup.sh installs into .venv


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "floe-checks"


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def _jobs() -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = _load(CI)["jobs"]
    return jobs


def _runs(job: dict[str, Any]) -> list[str]:
    return [str(step["run"]) for step in job["steps"] if "run" in step]


# -- static checks ------------------------------------------------------------------------------


def test_actionlint_accepts_every_workflow() -> None:
    binary = _cache_root() / "actionlint" / ACTIONLINT_VERSION / "actionlint"
    if not binary.is_file():
        pytest.skip(
            f"actionlint {ACTIONLINT_VERSION} is not built at {binary}: run "
            "scripts/setup.d/60-actionlint.sh (needs go and the Go module proxy)"
        )
    proc = subprocess.run(
        [str(binary), "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert (proc.returncode, proc.stdout) == (0, "")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_job_has_a_timeout(workflow: Path) -> None:
    jobs = _load(workflow)["jobs"]
    assert {
        name: job.get("timeout-minutes")
        for name, job in jobs.items()
        if not isinstance(job.get("timeout-minutes"), int)
    } == {}


def test_kind_job_installs_the_pinned_pair_and_what_the_provider_needs() -> None:
    job = _jobs()["e2e-kind"]
    env = job["env"]
    assert (env["KIND_VERSION"], env["KIND_NODE_IMAGE"]) == (KIND_VERSION, NODE_IMAGE)
    kind_action = [s for s in job["steps"] if str(s.get("uses", "")).startswith("helm/kind-action")]
    assert [s["with"] for s in kind_action] == [
        {"version": "${{ env.KIND_VERSION }}", "install_only": True}
    ]
    runs = _runs(job)
    pull = runs.index('docker pull "$KIND_NODE_IMAGE"')
    deps = next(i for i, r in enumerate(runs) if "helm dependency build charts/floe-dagster" in r)
    from floe_checks.charts.render import DAGSTER_REPO_NAME, DAGSTER_REPO_URL

    assert f"helm repo add {DAGSTER_REPO_NAME} {DAGSTER_REPO_URL}" in runs[deps]
    tests = next(i for i, r in enumerate(runs) if "pytest e2e" in r)
    assert pull < tests
    assert deps < tests
    # the explicit choice makes a stack that cannot start an error (floe_checks.stack.plugin)
    assert "--floe-stack=kind" in shlex.split(runs[tests])
    # on failure, the evidence the provider wrote before deleting the cluster is uploaded
    diag = env["FLOE_STACK_DIAGNOSTICS_DIR"]
    assert diag == "${{ github.workspace }}/reports/kind-diagnostics"
    uploads = [
        s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")
    ]
    assert [(s.get("if"), s["with"]["path"]) for s in uploads] == [
        ("always()", "reports/junit-e2e-kind.xml"),
        ("failure()", "reports/kind-diagnostics/"),
    ]


def test_local_e2e_job_requires_its_stack() -> None:
    (run,) = [r for r in _runs(_jobs()["e2e-local"]) if "demo.sh" in r]
    assert "--floe-require-stack" in shlex.split(run)


# -- every job collects with exactly what it installs -------------------------------------------


def _job_pytest(job: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(install line, pytest arguments) of a job, or None when it runs no pytest."""
    install = None
    for run in _runs(job):
        match = re.search(r"pip install (-e '[^']*'|-e \.|\S+)", run)
        if match:
            install = match.group(1)
        words = shlex.split(run)
        if "scripts/test.sh" in run:
            return SETUP_ALL, ["-n", "auto", *words[words.index("scripts/test.sh") + 1 :]]
        if "scripts/demo.sh" in run:
            return SETUP_ALL, ["e2e", "-n", "auto", *words[words.index("scripts/demo.sh") + 1 :]]
        pytest_words = [w for w in words if w.endswith("/pytest") or w == "pytest"]
        if pytest_words:
            assert install is not None, f"{run}: pytest before any install"
            return install, words[words.index(pytest_words[0]) + 1 :]
    return None


def test_the_scripts_install_and_run_what_the_mapping_above_says() -> None:
    """_job_pytest reads scripts/test.sh and demo.sh as installing .[all,dev]: check it."""
    setup = (REPO / "scripts" / "setup.sh").read_text()
    assert f"pip install -q --disable-pip-version-check -c constraints.txt {SETUP_ALL}" in setup
    assert ".venv/bin/python -m pytest -n auto" in (REPO / "scripts" / "test.sh").read_text()
    assert ".venv/bin/python -m pytest e2e -n auto" in (REPO / "scripts" / "demo.sh").read_text()


def _collect_args(args: list[str], tmp_path: Path) -> list[str]:
    """The job's arguments for a collection-only run: no reports, no xdist, no cache."""
    out: list[str] = []
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg.startswith(("--junitxml", "--floe-trace")):
            continue
        if arg == "-n":
            skip_next = True
            continue
        out.append(arg)
        del i
    return [*out, "--collect-only", "-q", "-p", "no:cacheprovider", f"--basetemp={tmp_path}"]


JOBS_WITH_PYTEST = [name for name, job in _jobs().items() if _job_pytest(job) is not None]


def test_the_jobs_with_pytest_are_the_ones_we_check() -> None:
    assert JOBS_WITH_PYTEST == ["tests", "charts", "e2e-local", "e2e-kind"]


def _pip(python: Path, *args: str) -> None:
    proc = subprocess.run(
        [str(python), "-m", "pip", "-q", "--disable-pip-version-check", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"pip {' '.join(args)}:\n{proc.stderr[-3000:]}"


@contextlib.contextmanager
def job_python(install: str) -> Iterator[Path]:
    """A python whose venv holds exactly what ``pip install <install>`` brings.

    The venv with the job's dependencies is built once per install line, pyproject.toml and
    Python version, in the cache outside the clone (cold: ~2 min for ``[charts,dev]`` with a
    warm pip cache; a fresh clone in CI reuses it); floe-checks itself is then installed into
    it from this checkout with ``--no-deps`` (seconds), so the code collected is this one.
    Held under a lock: xdist workers and concurrent runs take turns.
    """
    if install == SETUP_ALL:
        yield Path(sys.executable)  # the project venv: scripts/setup.sh's same line
        return
    key = hashlib.sha256(
        (REPO / "pyproject.toml").read_bytes() + install.encode() + sys.version.encode()
    ).hexdigest()[:16]
    venv = _cache_root() / "job-venvs" / key
    python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock", timeout=1800):
        if not (venv / "complete").is_file():
            shutil.rmtree(venv, ignore_errors=True)
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            _pip(python, "install", *shlex.split(install))
            _pip(python, "uninstall", "-y", "floe-checks")
            (venv / "complete").write_text(
                f"{install}\nbuilt in {time.monotonic() - started:.0f} s\n", encoding="utf-8"
            )
        _pip(python, "install", "--no-deps", "-e", ".")
        yield python


@pytest.mark.parametrize("job_name", JOBS_WITH_PYTEST)
def test_job_collects_with_exactly_what_it_installs(job_name: str, tmp_path: Path) -> None:
    found = _job_pytest(_jobs()[job_name])
    assert found is not None
    install, args = found
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FLOE_"))}
    with job_python(install) as python:
        proc = subprocess.run(
            [str(python), "-m", "pytest", *_collect_args(args, tmp_path / "basetemp")],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    tail = (proc.stdout + proc.stderr)[-4000:]
    assert proc.returncode == 0, tail
    assert re.search(r"^\d+ tests? collected", proc.stdout, re.M) or re.search(
        r"^\d+/\d+ tests collected", proc.stdout, re.M
    ), tail


def test_compliance_job_reports_with_the_core_install(tmp_path: Path) -> None:
    """The compliance job installs only `.`: `floe report` must work with that."""
    job = _jobs()["compliance"]
    runs = _runs(job)
    assert "python -m pip install -e ." in runs
    (report,) = [r for r in runs if r.startswith("floe report")]
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir()
    (artefacts / "junit-charts.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="1">'
        '<testcase classname="tests.charts.test_x" name="test_y" time="0.1">'
        '<properties><property name="requirement" value="SC-006"/></properties>'
        "</testcase></testsuite></testsuites>"
    )
    with job_python("-e .") as python:
        argv = shlex.split(report)
        argv[0] = str(python.parent / "floe")
        expanded: list[str] = []
        for word in argv:
            expanded.extend(sorted(map(str, tmp_path.glob(word))) if "*" in word else [word])
        proc = subprocess.run(expanded, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "reports" / "matrix.md").read_text().count("SC-006") == 1


# -- pytest-kind's plugin is blocked everywhere we start pytest ---------------------------------

BLOCK = ("-p", "no:pytest-kind")


def _blocks(words: list[str]) -> bool:
    return any(tuple(words[i : i + 2]) == BLOCK for i in range(len(words) - 1))


def test_every_pytest_we_start_blocks_pytest_kinds_plugin() -> None:
    """pytest-kind and pytest-helm-charts both register --kubeconfig (docs/kind.md): each
    place that starts pytest says ``-p no:pytest-kind``, not only pytest.ini (read by all)."""
    import configparser

    ini = configparser.ConfigParser()
    ini.read(REPO / "pytest.ini")
    found = {"pytest.ini": _blocks(ini["pytest"]["addopts"].split())}
    for script in ("test.sh", "demo.sh"):
        lines = (REPO / "scripts" / script).read_text().splitlines()
        (line,) = [ln for ln in lines if "-m pytest" in ln]
        found[f"scripts/{script}"] = _blocks(line.split())
    tox = (REPO / "tox.ini").read_text().splitlines()
    for n, line in enumerate(tox, 1):
        words = line.split()
        if words[:1] != ["#"] and ("pytest" in words[:3] or "commands = pytest" in line):
            found[f"tox.ini:{n}"] = _blocks(words)
    for name, job in _jobs().items():
        for run in _runs(job):
            words = shlex.split(run)
            if any(w.endswith("/pytest") or w == "pytest" for w in words):
                found[f"ci.yml {name}"] = _blocks(words)
    assert found == {
        "pytest.ini": True,
        "scripts/test.sh": True,
        "scripts/demo.sh": True,
        **{k: True for k in found if k.startswith("tox.ini:")},
        "ci.yml charts": True,
        "ci.yml e2e-kind": True,
    }
    assert len([k for k in found if k.startswith("tox.ini:")]) == 4
