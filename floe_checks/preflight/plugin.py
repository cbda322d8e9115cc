"""pytest glue for preflight: options, the per-test result hand-over, the report and the table.

* ``--floe-report PATH`` writes the SPEC's JSON report; ``--floe-timeout`` (per check, 5 to 300 s,
  default 30) and ``--floe-slow-ms`` (default 1000) tune the runner; ``--floe-check NAME``
  narrows the run to some services (``floe preflight --check-*`` uses it); ``--floe-strict``
  makes every warning (a broad credential, a slow answer) fail like an error; ``--floe-write``
  turns the catalog's data path on (write, read back, drop a scratch table).
* Each preflight test stores its :class:`CheckResult` in its ``user_properties`` — the one
  channel pytest-xdist carries from workers to the controller — together with ``service``,
  ``backend``, ``status`` and ``remediation``, which also land in the JUnit XML.
* On the controller, :class:`PreflightReporter` collects the results, writes the report at
  session end and prints a Rich table in the terminal summary.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from floe_checks.checks import CHECKS_DIR
from floe_checks.config import Section
from floe_checks.polling import wait_until
from floe_checks.preflight.runner import (
    DEFAULT_SLOW_MS,
    DEFAULT_TIMEOUT,
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    run_check,
    validate_timeout,
)
from floe_checks.results import CheckResult, Report, Status
from floe_checks.session import scrubber_of, selected_environment

if TYPE_CHECKING:
    from floe_checks.preflight.bundle import StackDiagnostics

# The user property that carries a whole result to the controller; removed before JUnit XML.
RESULT_PROPERTY = "floe_preflight_result"
SERVICE_ORDER = ("compute", "storage", "catalog", "postgres", "cube", "dagster")
# Report order: the services, then users' own checks.
REPORT_ORDER = (*SERVICE_ORDER, "custom")

_OPTIONS_KEY = pytest.StashKey["PreflightOptions"]()
_PREFETCH_KEY = pytest.StashKey[dict[str, tuple[Section, CheckResult]]]()


@dataclass(frozen=True)
class PreflightOptions:
    """The preflight settings of a run."""

    timeout: float = DEFAULT_TIMEOUT
    slow_ms: int = DEFAULT_SLOW_MS
    services: tuple[str, ...] = ()
    report: str | None = None
    jobs: int = 0
    strict: bool = False
    write: bool = False
    bundle: str | None = None

    def run(self, service: str, section: Section) -> CheckResult:
        """Run one section's check with these settings (the one place they are passed on)."""
        return run_check(
            service,
            section,
            timeout=self.timeout,
            slow_ms=self.slow_ms,
            strict=self.strict,
            write=self.write,
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("floe", "floe-checks")
    group.addoption(
        "--floe-report",
        metavar="PATH",
        help="write the preflight report (SPEC result contract) as JSON at PATH.",
    )
    group.addoption(
        "--floe-timeout",
        metavar="SECONDS",
        type=float,
        default=None,
        help=f"timeout of each preflight check, {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g} s "
        f"(default {DEFAULT_TIMEOUT:g}).",
    )
    group.addoption(
        "--floe-slow-ms",
        metavar="MS",
        type=int,
        default=None,
        help=f"a check answering slower than this is a warning (default {DEFAULT_SLOW_MS}).",
    )
    group.addoption(
        "--floe-jobs",
        metavar="N",
        type=int,
        default=0,
        help="without xdist, run up to N preflight checks at once before the tests report them "
        "(default 0: all at once; 1: one after another).",
    )
    group.addoption(
        "--floe-check",
        metavar="SERVICE",
        action="append",
        default=[],
        choices=SERVICE_ORDER,
        help="run only the preflight check of this service (repeatable; default: all configured).",
    )
    group.addoption(
        "--floe-strict",
        action="store_true",
        default=False,
        help="a preflight warning (a credential broader than needed, a slow answer) fails like "
        "an error.",
    )
    group.addoption(
        "--floe-write",
        action="store_true",
        default=False,
        help="also prove the catalog's data path: create a scratch namespace and table, append "
        "a row, read it back, drop both (as write_check: true in floe.yaml).",
    )
    group.addoption(
        "--floe-bundle",
        metavar="DIR",
        default=None,
        help="when a check or test failed, write a diagnostics bundle "
        "(floe-diagnostics-<UTC time>.tar.gz: DNS, TCP, TLS, HTTP, client versions, the stack's "
        "logs; secrets scrubbed) into DIR, created when missing.",
    )


def pytest_configure(config: pytest.Config) -> None:
    timeout = config.getoption("floe_timeout", None)
    slow_ms = config.getoption("floe_slow_ms", None)
    try:
        timeout = validate_timeout(DEFAULT_TIMEOUT if timeout is None else float(timeout))
    except ValueError as exc:
        raise pytest.UsageError(f"--floe-timeout: {exc}") from None
    if slow_ms is not None and slow_ms < 1:
        raise pytest.UsageError("--floe-slow-ms: must be a positive number of milliseconds")
    options = PreflightOptions(
        timeout=timeout,
        slow_ms=DEFAULT_SLOW_MS if slow_ms is None else int(slow_ms),
        services=tuple(config.getoption("floe_check", None) or ()),
        report=config.getoption("floe_report", None),
        jobs=int(config.getoption("floe_jobs", 0) or 0),
        strict=bool(config.getoption("floe_strict", False)),
        write=bool(config.getoption("floe_write", False)),
        bundle=config.getoption("floe_bundle", None),
    )
    if options.jobs < 0:
        raise pytest.UsageError("--floe-jobs: must be 0 (all at once) or more")
    if options.bundle and not hasattr(config, "workerinput"):
        from floe_checks.preflight.bundle import BundleError, prepare_directory

        try:
            prepare_directory(Path(config.invocation_params.dir, options.bundle), "--floe-bundle")
        except BundleError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[_OPTIONS_KEY] = options
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(PreflightReporter(config, options), "floe-preflight")


def preflight_options(config: pytest.Config) -> PreflightOptions:
    """The preflight settings of this run (defaults when the plugin was not configured)."""
    return config.stash.get(_OPTIONS_KEY, PreflightOptions())


def _check_items(items: list[pytest.Item]) -> list[str]:
    services: list[str] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("preflight") is None or callspec is None:
            continue
        service = callspec.params.get("floe_service")
        if isinstance(service, str) and service not in services:
            services.append(service)
    return services


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Without xdist, run every selected check at once before the tests report them one by one:
    a run then takes as long as its slowest check, not the sum (``--floe-jobs 1`` opts out).

    Under xdist each worker runs the checks it is given; the controller collects nothing here.
    """
    config = session.config
    if hasattr(config, "workerinput") or config.option.collectonly or session.testsfailed:
        return
    options = preflight_options(config)
    services = _check_items(session.items)
    if options.jobs == 1 or len(services) < 2:
        return
    from concurrent.futures import ThreadPoolExecutor

    env = selected_environment(config)
    if env is None:
        return
    sections = {name: env.sections()[name] for name in services if name in env.sections()}
    jobs = options.jobs or len(sections)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="floe-preflight") as pool:
        futures = {
            name: pool.submit(options.run, name, section) for name, section in sections.items()
        }
        config.stash[_PREFETCH_KEY] = {
            name: (sections[name], future.result()) for name, future in futures.items()
        }


def check_service(config: pytest.Config, service: str, section: Section) -> CheckResult:
    """The result of one service's check: the one run ahead of the tests for this very section
    (in this process, or under xdist by the controller), else a fresh run."""
    prefetched = config.stash.get(_PREFETCH_KEY, {}).get(service)
    if prefetched is not None and prefetched[0] is section:
        return prefetched[1]
    options = preflight_options(config)
    from_controller = _controller_result(config, service, section, options)
    if from_controller is not None:
        return from_controller
    return options.run(service, section)


# --- under xdist: the controller starts the checks while the workers start up ------------
# Worker start-up (a second or more per worker; tens of seconds on a loaded machine) used to
# come on top of each check, so a blackholed endpoint with --floe-timeout 5 was reported after
# 12 s instead of within 7 s. Now the controller runs each check from session start, prints its
# result line the moment it has one (``floe preflight: [CATALOG] ERROR: … (5012 ms)``), and
# only then hands it to the workers, whose tests report it once more when they are up. So
# "reported after" means two things that both hold under xdist as without it: the check's own
# recorded duration (``duration_ms``, bounded by the runner's watchdog) and the time from
# session start to that first result line (timeout + 2 s; benchmarks/bench_blackhole_xdist.py
# measures it).

_WORKER_DIR = "floe_preflight_prefetch_dir"
_WORKER_KEY = "floe_preflight_prefetch_key"
_CONTROLLER_DIR_KEY = pytest.StashKey[tuple[str, str]]()


def _xdist_controller(config: pytest.Config) -> bool:
    if hasattr(config, "workerinput"):
        return False
    return bool(getattr(config.option, "numprocesses", None)) and (
        getattr(config.option, "dist", "no") != "no"
    )


def _runs_bundled_checks_only(config: pytest.Config) -> bool:
    """Whether this run is ``-m preflight`` over the bundled checks: then every configured
    (or ``--floe-check``-selected) service's check will run, and starting them early wastes
    nothing."""
    markexpr = str(getattr(config.option, "markexpr", "") or "").strip()
    checks = str(CHECKS_DIR.resolve())
    return (
        markexpr == "preflight"
        and not getattr(config.option, "keyword", "")
        and not config.option.collectonly
        and any(str(Path(config.invocation_params.dir, a)).startswith(checks) for a in config.args)
    )


def start_controller_checks(config: pytest.Config, sections: dict[str, Section]) -> None:
    """Under xdist, run the selected checks on the controller from session start; each result
    is written to a shared folder that the workers' tests read (see :func:`check_service`)."""
    if not sections or not _xdist_controller(config) or not _runs_bundled_checks_only(config):
        return
    import functools
    import shutil
    import tempfile
    from concurrent.futures import Future, ThreadPoolExecutor

    options = preflight_options(config)
    wanted = {n: s for n, s in sections.items() if not options.services or n in options.services}
    if not wanted:
        return
    import secrets

    folder = Path(tempfile.mkdtemp(prefix="floe-preflight-"))
    key = secrets.token_hex(16)
    config.stash[_CONTROLLER_DIR_KEY] = (str(folder), key)
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))

    def publish(name: str, future: Future[CheckResult]) -> None:
        result = future.result()
        # The line first, then the file: a worker can report a result only after it was shown.
        announce_result(config, result)
        partial = folder / f".{name}.json"
        digest = _fingerprint(wanted[name], key)
        payload = {"section": digest, "result": result.model_dump()}
        partial.write_text(json.dumps(payload), encoding="utf-8")
        partial.rename(folder / f"{name}.json")  # atomic: a worker never reads half a file

    pool = ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="floe-preflight")
    for name, section in wanted.items():
        future = pool.submit(options.run, name, section)
        future.add_done_callback(functools.partial(publish, name))
    pool.shutdown(wait=False)


ANNOUNCE_PREFIX = "floe preflight: "
_ANNOUNCE_LOCK = threading.Lock()


def announce_result(config: pytest.Config, result: CheckResult) -> None:
    """Print a check's result line on the controller's terminal as soon as the check is done,
    with its recorded duration, scrubbed of the environment's secrets.

    Called from the check's thread while the main thread waits for the workers; one
    ``write`` a line (under a lock), so lines never interleave with each other.
    """
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    line = f"{ANNOUNCE_PREFIX}{result.line()} ({result.duration_ms} ms)"
    scrubber = scrubber_of(config)
    if scrubber:
        line = scrubber.text(line)
    with _ANNOUNCE_LOCK:
        reporter.ensure_newline()
        reporter.write(line + "\n", flush=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """xdist: tell each worker where the controller's results appear."""
    config = getattr(node, "config", None)
    workerinput = getattr(node, "workerinput", None)
    if config is not None and isinstance(workerinput, dict):
        folder, key = config.stash.get(_CONTROLLER_DIR_KEY, ("", ""))
        workerinput[_WORKER_DIR] = folder
        workerinput[_WORKER_KEY] = key


def _fingerprint(section: Section, key: str) -> str:
    """A keyed digest (HMAC with a random key of this session, so the file reveals nothing)
    of everything a section holds, secrets included: a worker uses the controller's result only
    for the very section its test checks (a user may override ``floe_env``)."""
    import hashlib
    import hmac

    from pydantic import SecretStr

    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name in type(section).model_fields
        for value in [getattr(section, name, None)]
    }
    text = json.dumps(values, sort_keys=True, default=str) + section.field_path("")
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def _controller_result(
    config: pytest.Config, service: str, section: Section, options: PreflightOptions
) -> CheckResult | None:
    workerinput = getattr(config, "workerinput", None)
    if not isinstance(workerinput, dict) or not workerinput.get(_WORKER_DIR):
        return None
    folder, key = str(workerinput[_WORKER_DIR]), str(workerinput.get(_WORKER_KEY, ""))
    target = Path(folder, f"{service}.json")
    # The controller's watchdog reports every check within its budget (timeout + grace; more
    # for the catalog's data path) of its start.
    from floe_checks.preflight.runner import watchdog_budget

    budget = watchdog_budget(section, options.timeout)
    if options.write and "write_check" in type(section).model_fields:
        budget = watchdog_budget(section.model_copy(update={"write_check": True}), options.timeout)
    if not wait_until(target.is_file, timeout=budget + 5, interval=0.02):
        return None
    payload = json.loads(target.read_text(encoding="utf-8"))
    if payload.get("section") != _fingerprint(section, key):
        return None
    return CheckResult.model_validate(payload["result"])


_RESULT_KEY = pytest.StashKey[CheckResult]()


def record_result(item: pytest.Item, result: CheckResult) -> None:
    """Attach a result to a test: JUnit properties plus the hand-over to the controller."""
    item.stash[_RESULT_KEY] = result
    item.user_properties.extend(
        [
            ("service", str(result.service)),
            ("backend", result.backend),
            ("status", str(result.status)),
        ]
    )
    if result.remediation:
        item.user_properties.append(("remediation", result.remediation))
    item.user_properties.append((RESULT_PROPERTY, result.model_dump_json()))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A check that ran ahead of its test (the thread pool) took its own time, not the test
    call's: report that, so JUnit's ``time`` is the check's."""
    report = yield
    result = item.stash.get(_RESULT_KEY, None)
    if result is not None and report.when == "call":
        report.duration = max(report.duration, result.duration_ms / 1000)
    return report


def build_report(environment: str, results: list[CheckResult], duration_ms: int) -> Report:
    """The report of a run, checks in SPEC service order."""
    order = {name: i for i, name in enumerate(REPORT_ORDER)}
    checks = sorted(results, key=lambda r: (order.get(str(r.service), 99), r.backend))
    return Report(environment=environment, checks=checks).finish(duration_ms)


_STATUS_STYLE = {
    Status.OK.value: "green",
    Status.WARNING.value: "yellow",
    Status.ERROR.value: "red",
}


# Below this width a table's message column is too narrow for field paths and URLs.
NARROW_WIDTH = 100
_ANSI = {"green": "\x1b[32m", "yellow": "\x1b[33m", "red": "\x1b[31m", "white": ""}


def _render_list(report: Report, width: int, color: bool) -> str:
    """The narrow layout: one heading line per check, its text wrapped between words only, so
    that no identifier (field path, variable, URL) is ever cut in two."""
    import textwrap

    lines = [f"floe preflight: {report.environment}"]
    for check in report.checks:
        status = str(check.status)
        shown = status
        if color:
            shown = f"{_ANSI[_STATUS_STYLE.get(status, 'white')]}{status}\x1b[0m"
        lines.append(f"{check.service} {check.backend}: {shown} in {check.duration_ms} ms")
        texts = [check.message]
        if check.remediation:
            texts.append(f"Remediation: {check.remediation}")
        for text in texts:
            lines.extend(
                textwrap.wrap(
                    text,
                    width=max(width - 4, 20),
                    initial_indent="    ",
                    subsequent_indent="    ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
    verdict = "PASS" if report.overall_status == "pass" else "FAIL"
    lines.append(f"overall: {verdict} in {report.duration_ms} ms")
    return "\n".join(lines) + "\n"


def render_table(report: Report, width: int = 120, color: bool = False) -> str:
    """The report as a Rich table (text, with ANSI colours when ``color``); below
    :data:`NARROW_WIDTH` columns as a list, which never cuts an identifier."""
    if width < NARROW_WIDTH:
        return _render_list(report, width, color)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"floe preflight: {report.environment}", title_justify="left")
    table.add_column("service")
    table.add_column("backend")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("message / remediation", overflow="fold")
    for check in report.checks:
        status = str(check.status)
        text = check.message
        if check.remediation:
            text += f"\nRemediation: {check.remediation}"
        table.add_row(
            str(check.service),
            check.backend,
            f"[{_STATUS_STYLE.get(status, 'white')}]{status}[/]",
            f"{check.duration_ms} ms",
            text,
            end_section=False,
        )
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        soft_wrap=False,
    )
    console.print(table)
    verdict = "PASS" if report.overall_status == "pass" else "FAIL"
    console.print(f"overall: {verdict} in {report.duration_ms} ms")
    return buffer.getvalue()


# Where the session's diagnostics bundle went (None: none was written); `floe preflight` reads it.
BUNDLE_KEY = pytest.StashKey["Path | None"]()
# The stack plugin's report sections and the attribute of the reports of tests that used it.
_STACK_SECTION = "floe stack: "
_STACK_USED_ATTR = "floe_stack_used"


class PreflightReporter:
    """Controller-side collector: results in, report file, diagnostics bundle and table out."""

    def __init__(self, config: pytest.Config, options: PreflightOptions) -> None:
        self.config = config
        self.options = options
        self.results: list[CheckResult] = []
        self.report: Report | None = None
        self.started = time.perf_counter()
        self.failed_tests: list[str] = []
        self.stack: list[StackDiagnostics] = []
        self.bundle_line = ""

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.perf_counter()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        kept = []
        for name, value in report.user_properties:
            if name != RESULT_PROPERTY:
                kept.append((name, value))
            elif report.when == "call":
                self.results.append(CheckResult.model_validate_json(str(value)))
        report.user_properties = kept
        if report.failed and self.options.bundle:
            if report.nodeid not in self.failed_tests:
                self.failed_tests.append(report.nodeid)
            sections = [
                (title.removeprefix(_STACK_SECTION), text)
                for title, text in report.sections
                if title.startswith(_STACK_SECTION)
            ]
            if getattr(report, _STACK_USED_ATTR, False) and sections:
                from floe_checks.preflight.bundle import StackDiagnostics

                self.stack.append(StackDiagnostics(f"{report.nodeid} {report.when}", sections))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.options.bundle:
            self._write_bundle()
        if not self.results and not self.options.report:
            return
        env = selected_environment(self.config)
        duration_ms = round((time.perf_counter() - self.started) * 1000)
        self.report = build_report(env.name if env else "", self.results, duration_ms)
        if self.options.report:
            target = Path(self.config.invocation_params.dir, self.options.report)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(self.report.model_dump_json(indent=2) + "\n", encoding="utf-8")

    def _write_bundle(self) -> None:
        from floe_checks.preflight.bundle import failing, write_bundle
        from floe_checks.preflight.scrub import Scrubber, environment_forms

        self.config.stash[BUNDLE_KEY] = None
        failed = failing(self.results)
        if not failed and not self.failed_tests:
            self.bundle_line = "floe diagnostics bundle: none written (no check or test failed)"
            return
        env = selected_environment(self.config)
        sections = env.sections() if env is not None else {}
        forms = list(environment_forms(env)) if env is not None else []
        scrubber = scrubber_of(self.config)
        if scrubber is not None:
            forms.extend(scrubber.forms)
        directory = Path(self.config.invocation_params.dir, str(self.options.bundle)).resolve()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = write_bundle(
                directory,
                environment=env.name if env is not None else "",
                failed=[(r, sections.get(str(r.service))) for r in failed],
                scrubber=Scrubber(forms),
                stack=self.stack,
                failed_tests=self.failed_tests,
            )
        except OSError as exc:
            self.bundle_line = (
                f"floe diagnostics bundle: --floe-bundle: could not write into {directory}: "
                f"{exc.strerror or exc}"
            )
            return
        self.config.stash[BUNDLE_KEY] = path
        self.bundle_line = f"floe diagnostics bundle: {path}"

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.report is not None and self.report.checks:
            writer = self.config.get_terminal_writer()
            terminalreporter.write_sep("=", "floe preflight")
            terminalreporter.write(
                render_table(self.report, width=max(writer.fullwidth, 80), color=writer.hasmarkup)
            )
            if self.options.report:
                terminalreporter.write_line(f"floe preflight report: {self.options.report}")
        if self.bundle_line:
            terminalreporter.write_line(self.bundle_line)


def _is_placeholder(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if item.get_closest_marker("preflight") is None or callspec is None:
        return False
    params: dict[str, object] = callspec.params
    return "floe_service" in params and not isinstance(params["floe_service"], str)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the placeholder pytest makes for an empty parametrization of the bundled check:
    an environment without services has nothing to check, and nothing is collected."""
    placeholders = [item for item in items if _is_placeholder(item)]
    if placeholders:
        config.hook.pytest_deselected(items=placeholders)
        items[:] = [item for item in items if item not in placeholders]
