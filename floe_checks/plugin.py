"""The pytest plugin (entry point ``floe``). It only wires plain-Python parts into pytest.

* options ``--floe-env``, ``--floe-config``, ``--floe-trace`` and friends, resolved
  option > environment variable > ini > default (see :mod:`floe_checks.settings`);
* markers ``preflight``, ``e2e``, ``charts`` and ``requirement(id, *ids)``;
* the selected environment, loaded once per process from floe.yaml (or the built-in
  ``local``) and offered as the ``floe_env`` fixture, which users may override;
* the bundled check modules (``floe_checks/checks``), collected whenever an environment is
  selected, so ``pytest --floe-env=prod -m preflight`` works from any directory;
* requirement IDs written to each test's JUnit ``<properties>`` and to the trace matrix.

Importing this module must stay cheap: no cloud SDK, database client, dagster or dbt.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from floe_checks import settings
from floe_checks.config import Environment, load_environment
from floe_checks.errors import ConfigError
from floe_checks.requirements import registry, unknown_ids

# Sub-plugins: each feature keeps its own hooks in its own module.
pytest_plugins = ["floe_checks.preflight.plugin", "floe_checks.stack.plugin"]

CHECKS_DIR = Path(__file__).parent / "checks"

# What importing this module must never import (clients, SDKs, orchestrators, renderers): the
# import-cost test and benchmarks/run_all.py both check this list.
HEAVY_MODULES = (
    "boto3", "botocore", "google", "azure", "snowflake", "trino", "psycopg2", "duckdb",
    "dagster", "dbt", "pyarrow", "pyiceberg", "kubernetes", "rich",
)  # fmt: skip

MARKERS = (
    "preflight: a connectivity check against the services of the selected floe environment",
    "e2e: an end-to-end test against a running floe stack (local, kind or existing)",
    "charts: an offline acceptance test of the Helm charts, images and examples",
    "requirement(id, *ids): the SPEC requirement IDs (e.g. 007-FR-016) this test proves",
)

_ENV_KEY = pytest.StashKey[Environment | None]()
_SETTINGS_KEY = pytest.StashKey[dict[str, settings.Setting]]()
_TRACE_KEY = pytest.StashKey["TraceRecorder"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("floe", "floe-checks")
    group.addoption(
        "--floe-env",
        metavar="NAME",
        help="floe environment to check, from floe.yaml ('local' is built in). "
        "Env FLOE_ENV, ini floe_env. Selecting one also collects the bundled preflight checks.",
    )
    group.addoption(
        "--floe-config",
        metavar="PATH",
        help="path of floe.yaml. Env FLOE_CONFIG, ini floe_config, default ./floe.yaml.",
    )
    group.addoption(
        "--floe-trace",
        metavar="PATH",
        help="write the requirement traceability matrix as JSON at PATH and Markdown beside it.",
    )
    group.addoption(
        "--floe-trace-strict",
        action="store_true",
        default=False,
        help="fail the session when a SPEC requirement has no passing test.",
    )
    parser.addini("floe_env", "default floe environment (overridden by FLOE_ENV, --floe-env)")
    parser.addini("floe_config", "path of floe.yaml (overridden by FLOE_CONFIG, --floe-config)")


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    resolved = {
        "env": settings.resolve(config, settings.FLOE_ENV),
        "config": settings.resolve(config, settings.FLOE_CONFIG),
    }
    config.stash[_SETTINGS_KEY] = resolved
    if resolved["env"].value:
        _add_bundled_checks(config)
    if config.getoption("floe_trace") and not hasattr(config, "workerinput"):
        recorder = TraceRecorder(config)
        config.stash[_TRACE_KEY] = recorder
        config.pluginmanager.register(recorder, "floe-trace")


def _add_bundled_checks(config: pytest.Config) -> None:
    """Collect the packaged check modules too, unless an argument already covers them."""
    checks = CHECKS_DIR.resolve()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == checks or path in checks.parents:
            return
    config.args.append(str(checks))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Load the selected environment once per process; a mistake is a usage error (exit 4)."""
    config = session.config
    config.stash[_ENV_KEY] = None
    resolved = config.stash[_SETTINGS_KEY]
    name = resolved["env"].value
    if not name:
        return
    path = Path(config.invocation_params.dir, resolved["config"].value or "floe.yaml")
    try:
        config.stash[_ENV_KEY] = load_environment(path, name)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None


def selected_environment(config: pytest.Config) -> Environment | None:
    """The environment this run checks, or None when none was selected."""
    return config.stash.get(_ENV_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str]:
    resolved = config.stash.get(_SETTINGS_KEY, None)
    if resolved is None:
        return []
    env = resolved["env"]
    if not env.value:
        return ["floe env: none (select one with --floe-env, FLOE_ENV or ini floe_env)"]
    return [f"floe env: {env.describe()}", f"floe config: {resolved['config'].describe()}"]


def _requirement_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        for rid in mark.args:
            if str(rid) not in ids:
                ids.append(str(rid))
    return ids


def _marker_problems(item: pytest.Item) -> list[str]:
    problems: list[str] = []
    if any(mark.args == () for mark in item.iter_markers("requirement")):
        problems.append(f"{item.nodeid}: @pytest.mark.requirement needs at least one ID")
    bad = unknown_ids(_requirement_ids(item))
    if bad:
        problems.append(
            f"{item.nodeid}: unknown requirement ID(s) {', '.join(bad)}; "
            "the known IDs are in floe_checks/requirements.yaml"
        )
    return problems


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """Turn a bad requirement marker into a collection error of the module that holds it.

    A real collection error (rather than a usage error from a later hook) is what works the
    same with and without xdist.
    """
    report = yield
    if report.outcome == "passed":
        problems = [
            problem
            for node in report.result
            if isinstance(node, pytest.Item)
            for problem in _marker_problems(node)
        ]
        if problems:
            report.outcome = "failed"
            report.longrepr = "requirement markers:\n  " + "\n  ".join(problems)
            report.result = []
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Attach each test's requirement IDs to its JUnit properties (travels through xdist)."""
    for item in items:
        item.user_properties.extend(("requirement", rid) for rid in _requirement_ids(item))


@pytest.fixture(scope="session")
def floe_env(pytestconfig: pytest.Config) -> Environment:
    """The selected floe environment. Override this fixture to supply one from code."""
    env = selected_environment(pytestconfig)
    if env is None:
        pytest.skip("no floe environment selected: pass --floe-env NAME or set FLOE_ENV")
    return env


class TraceRecorder:
    """Collects outcomes on the controller (xdist reports arrive here) and writes the matrix."""

    def __init__(self, config: pytest.Config) -> None:
        from floe_checks.trace import TraceMatrix

        self.config = config
        self.matrix = TraceMatrix()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        ids = [str(v) for k, v in report.user_properties if k == "requirement"]
        if report.when != "call" and report.passed:
            if report.nodeid not in self.matrix.tests:
                self.matrix.record(report.nodeid, ids, "passed")
            return
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
            self.matrix.record(report.nodeid, ids, outcome, f"{report.when} failed")
        elif report.skipped:
            reason = ""
            if isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            self.matrix.record(report.nodeid, ids, "skipped", reason)
        else:
            self.matrix.record(report.nodeid, ids, "passed")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        target = Path(self.config.invocation_params.dir, self.config.getoption("floe_trace"))
        json_path, md_path = self.matrix.write(target)
        self._written = (json_path, md_path)
        if self.config.getoption("floe_trace_strict"):
            missing = self.matrix.unproven()
            if missing and session.exitstatus == 0:
                self._strict_failure = missing
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        written = getattr(self, "_written", None)
        if written:
            terminalreporter.write_line(f"floe trace: {written[0]} and {written[1]}")
        missing = getattr(self, "_strict_failure", None)
        if missing:
            terminalreporter.write_line(
                f"floe trace strict: {len(missing)} of {len(registry())} requirements have no "
                f"passing test: {', '.join(missing)}",
                red=True,
            )
