"""pytest glue for end-to-end stacks: options, the shared ``floe_stack`` fixture, teardown
by the last process, diagnostics in failing tests' reports.

* ``--floe-stack local|kind|existing`` (env ``FLOE_STACK``, ini ``floe_stack``, default local);
* ``--floe-keep-stack``: leave the stack up and print its URLs;
* ``--floe-require-stack`` (env ``FLOE_REQUIRE_STACK=1``, ini ``floe_require_stack``): the stack
  must start. Without it only the *default* stack may skip when something it needs is missing;
  a stack chosen explicitly (option, env or ini) is required anyway. A required stack that
  cannot start is an error in every test that uses it, and a session in which every test that
  used a required stack skipped fails;
* ``floe_stack`` (session): :class:`~floe_checks.stack.base.StackEndpoints`, started once per
  test run however many xdist workers there are (:mod:`floe_checks.stack.shared`);
* ``floe_stack_shared`` (session): the :class:`~floe_checks.stack.shared.SharedStack`, for
  data steps that must run once (``once``) or alone (``data_lock``);
* a failing test that used the stack gets report sections with the services' log tails.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from floe_checks import settings
from floe_checks.errors import ConfigError, FloeError, PrerequisiteMissing
from floe_checks.session import selected_environment
from floe_checks.stack.base import StackEndpoints, StackProvider

if TYPE_CHECKING:
    from floe_checks.stack.shared import SharedStack

_SHARED_KEY: pytest.StashKey[SharedStack] = pytest.StashKey()
_STACK_SETTING_KEY = pytest.StashKey[settings.Setting]()
_USED_KEY = pytest.StashKey[bool]()
_FINISHED_KEY = pytest.StashKey[bool]()
_VERDICT_KEY = pytest.StashKey[list[str]]()
# set on the reports of tests that use the stack; xdist carries report attributes over
STACK_USED_ATTR = "floe_stack_used"
TRUE_WORDS = {"1", "true", "yes", "on"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("floe")
    group.addoption(
        "--floe-stack",
        metavar="PROVIDER",
        choices=["local", "kind", "existing"],
        help="end-to-end stack: local (processes here, default), kind (a kind cluster with "
        "the charts) or existing (the deployment of --floe-env). Env FLOE_STACK, ini "
        "floe_stack.",
    )
    group.addoption(
        "--floe-keep-stack",
        action="store_true",
        default=False,
        help="leave the end-to-end stack running after the session and print its URLs.",
    )
    group.addoption(
        "--floe-require-stack",
        action="store_true",
        default=False,
        help="the end-to-end stack must start: a missing prerequisite is an error, not a "
        "skip, and the run fails when every test that uses the stack skipped (implied by an "
        "explicit --floe-stack / FLOE_STACK / ini floe_stack). Env FLOE_REQUIRE_STACK=1, ini "
        "floe_require_stack.",
    )
    parser.addini("floe_stack", "default end-to-end stack provider (local, kind, existing)")
    parser.addini(
        "floe_require_stack", "true: the end-to-end stack must start (see --floe-require-stack)"
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_controller(config: pytest.Config) -> bool:
    return not _is_worker(config) and bool(getattr(config.option, "numprocesses", None))


def _shared_root(config: pytest.Config) -> Path:
    """pytest's temp root shared by the controller and its workers."""
    factory = config._tmp_path_factory  # type: ignore[attr-defined]
    base: Path = factory.getbasetemp()
    return base.parent if _is_worker(config) else base


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STACK_SETTING_KEY] = settings.resolve(config, settings.FLOE_STACK)
    config.stash[_VERDICT_KEY] = []
    if not _is_worker(config):
        config.pluginmanager.register(StackVerdict(config), "floe-stack-verdict")


def stack_required(config: pytest.Config) -> str | None:
    """Why the stack must start (None: it may skip). Only the default stack may skip."""
    setting = config.stash[_STACK_SETTING_KEY]
    if setting.source != "default":
        return f"--floe-stack={setting.value} was chosen explicitly (from {setting.source})"
    if config.getoption("floe_require_stack", default=False):
        return "--floe-require-stack is set"
    if os.environ.get("FLOE_REQUIRE_STACK", "").strip().lower() in TRUE_WORDS:
        return "FLOE_REQUIRE_STACK is set"
    if str(config.getini("floe_require_stack")).strip().lower() in TRUE_WORDS:
        return "ini floe_require_stack is set"
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    setting = config.stash.get(_STACK_SETTING_KEY, None)
    if setting is None:
        return []
    required = stack_required(config)
    must = f"; must start: {required}" if required else "; may skip when unavailable"
    return [f"floe stack: {setting.describe()}{must}"]


def _wants_stack(session: pytest.Session) -> bool:
    return any("floe_stack" in getattr(item, "fixturenames", ()) for item in session.items)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Attach to the shared stack when this process will run a test that uses it."""
    from floe_checks.stack.shared import SharedStack

    config = session.config
    if _is_controller(config) or not _wants_stack(session):
        return
    if config.stash[_STACK_SETTING_KEY].value == "existing":
        try:  # a missing cube/dagster section is a usage error, before any test runs
            make_provider(config).start(_shared_root(config))
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    shared = SharedStack(_shared_root(config))
    shared.attach()
    config.stash[_SHARED_KEY] = shared
    _install_interrupt_handlers(config)


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_controller(config):
        from floe_checks.stack.shared import SharedStack

        config.stash[_SHARED_KEY] = SharedStack(_shared_root(config))
        _install_interrupt_handlers(config)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """The last attached process tears down; the controller sweeps up after the workers."""
    config = session.config
    shared = config.stash.get(_SHARED_KEY, None)
    if shared is None:
        return
    config.stash[_FINISHED_KEY] = True
    keep = bool(config.getoption("floe_keep_stack"))
    if _is_controller(config):
        if not keep:
            _teardown(config, shared)
        return
    last = shared.detach()
    if keep:
        return
    if last or (shared.started_here is not None and _not_restorable(shared.started_here)):
        _teardown(config, shared)


class StackVerdict:
    """Fails a session in which every test that used a required stack skipped.

    Registered in the process that sees every report (the xdist controller, or the only
    process); reports of tests that used the stack carry :data:`STACK_USED_ATTR`.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.outcomes: dict[str, set[str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if getattr(report, STACK_USED_ATTR, False) and (
            report.when == "call" or report.outcome != "passed"
        ):
            self.outcomes.setdefault(report.nodeid, set()).add(report.outcome)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        required = stack_required(self.config)
        if not self.outcomes or required is None:
            return
        if all(seen == {"skipped"} for seen in self.outcomes.values()):
            self.config.stash[_VERDICT_KEY].append(
                f"floe stack: all {len(self.outcomes)} tests that use the stack skipped, and "
                f"the stack is required ({required}): failing the run"
            )
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _teardown(config: pytest.Config, shared: SharedStack) -> None:
    """Tear down; a stack that cannot be stopped is reported, never an internal error."""
    try:
        shared.teardown()
    except Exception as exc:  # the session's results stand; say what is left running
        remediation = getattr(exc, "remediation", "")
        message = f"floe stack: teardown failed: {exc}" + (
            f" Fix: {remediation}" if remediation else ""
        )
        config.stash[_VERDICT_KEY].append(message)
        sys.stderr.write(message + "\n")


def _not_restorable(provider: StackProvider) -> bool:
    return not hasattr(type(provider), "restore")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    for line in config.stash.get(_VERDICT_KEY, []):
        terminalreporter.write_line(line, red=True, bold=True)
    shared = config.stash.get(_SHARED_KEY, None)
    if shared is None or not config.getoption("floe_keep_stack") or _is_worker(config):
        return
    state = shared.read()
    if "endpoints" not in state:
        return
    endpoints = StackEndpoints.from_json(state["endpoints"])
    write = terminalreporter.write_line
    write(f"floe stack kept running ({endpoints.provider}):", bold=True)
    write(f"  Dagster: {endpoints.dagster_url}")
    write(f"  Cube:    {endpoints.cube_url}/cubejs-api/v1")
    if endpoints.warehouse is not None:
        wh = endpoints.warehouse
        write(f"  Postgres: {wh.host}:{wh.port}/{wh.database} (user {wh.user})")
    for key, value in endpoints.extras.items():
        write(f"  {key}: {value}")
    write(f"  state (0600, holds the secrets): {shared.state_path}")
    write(f"  stop it: python -m floe_checks.stack.shared stop {shared.root}")


def _install_interrupt_handlers(config: pytest.Config) -> None:
    """SIGTERM becomes KeyboardInterrupt (so pytest's teardown runs); atexit is the last net."""
    if not config.stash.get(_USED_KEY, False):
        config.stash[_USED_KEY] = True
        with contextlib.suppress(ValueError):  # not the main thread
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _terminate)
        atexit.register(_teardown_at_exit, config)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _teardown_at_exit(config: pytest.Config) -> None:
    shared = config.stash.get(_SHARED_KEY, None)
    if shared is None or config.getoption("floe_keep_stack"):
        return
    if config.stash.get(_FINISHED_KEY, False) and _is_worker(config):
        return  # detached normally: the last worker or the controller stops the stack
    if shared.started_here is not None or _is_controller(config) or not _is_worker(config):
        with contextlib.suppress(Exception):
            shared.teardown()


def stack_provider_name(config: pytest.Config) -> str:
    """The provider chosen by --floe-stack / FLOE_STACK / ini floe_stack (default local)."""
    return config.stash[_STACK_SETTING_KEY].value or "local"


def make_provider(config: pytest.Config) -> StackProvider:
    """The provider chosen by --floe-stack / FLOE_STACK / ini floe_stack (default local)."""
    from floe_checks.stack.shared import provider_class

    name = config.stash[_STACK_SETTING_KEY].value or "local"
    return provider_class(name).create(selected_environment(config))


@pytest.fixture(scope="session")
def floe_stack_shared(pytestconfig: pytest.Config) -> SharedStack:
    """The session's :class:`~floe_checks.stack.shared.SharedStack` (state file, locks)."""
    from floe_checks.stack.shared import SharedStack

    shared = pytestconfig.stash.get(_SHARED_KEY, None)
    if shared is None:  # requested without floe_stack in the collected items
        shared = SharedStack(_shared_root(pytestconfig))
        shared.attach()
        pytestconfig.stash[_SHARED_KEY] = shared
    return shared


@pytest.fixture(scope="session")
def floe_stack(pytestconfig: pytest.Config, floe_stack_shared: Any) -> StackEndpoints:
    """The running end-to-end stack's endpoints (one stack for all xdist workers)."""
    name = pytestconfig.stash[_STACK_SETTING_KEY].value or "local"
    try:
        endpoints: StackEndpoints = floe_stack_shared.endpoints(lambda: make_provider(pytestconfig))
        return endpoints
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    except PrerequisiteMissing as exc:
        # decided by class: a StackError (a real failure) is never a skip, whatever it says
        reason = f"floe stack {name!r}: {exc.message} ({exc.remediation})"
    required = stack_required(pytestconfig)
    if required is not None:  # outside the except: no chained traceback in the report
        pytest.fail(f"{reason}; the stack must start because {required}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """A failing test that used the stack gets its services' log tails in the report."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if "floe_stack" not in getattr(item, "fixturenames", ()):
        return
    setattr(report, STACK_USED_ATTR, True)
    if not report.failed:
        return
    shared = item.config.stash.get(_SHARED_KEY, None)
    if shared is None:
        return
    try:
        provider = shared.provider()
        sections = provider.diagnostics() if provider is not None else {}
    except (FloeError, OSError, ValueError) as exc:
        sections = {"diagnostics": f"could not collect diagnostics: {exc}"}
    for title, text in sections.items():
        report.sections.append((f"floe stack: {title}", text))
