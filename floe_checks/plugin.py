"""The pytest plugin (entry point ``floe``). It only wires plain-Python parts into pytest.

* options ``--floe-env``, ``--floe-config``, ``--floe-trace`` and friends, resolved
  option > environment variable > ini > default (see :mod:`floe_checks.settings`);
* markers ``preflight``, ``e2e``, ``charts``, ``requirement(id, *ids)`` and ``evidence(level)``;
* the selected environment, loaded once per process from floe.yaml (or the built-in
  ``local``) and offered as the ``floe_env`` fixture, which users may override;
* the bundled check modules (``floe_checks/checks``), collected whenever an environment is
  selected, so ``pytest --floe-env=prod -m preflight`` works from any directory;
* requirement IDs and the evidence level (:mod:`floe_checks.evidence`) written to each test's
  JUnit ``<properties>`` and to the trace matrix.

Importing this module must stay cheap: no cloud SDK, database client, dagster or dbt.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Literal

import pytest

from floe_checks import settings
from floe_checks.checks import CHECKS_DIR
from floe_checks.config import Environment, load_environment
from floe_checks.errors import ConfigError
from floe_checks.evidence import (
    ENV_LEVEL,
    LEVELS,
    LOCAL_ENV_LEVEL,
    STACK_LEVELS,
    UNSTATED,
    Evidence,
    EvidenceConflict,
    derive,
    parse_fixture_levels,
    resolve,
    unknown_level,
)
from floe_checks.preflight.scrub import Scrubber, environment_forms
from floe_checks.requirements import Registry
from floe_checks.session import ENV_KEY, SCRUB_KEY, scrubber_of, selected_environment

# Sub-plugins: each feature keeps its own hooks in its own module.
pytest_plugins = [
    "floe_checks.preflight.plugin",
    "floe_checks.preflight.fixtures",
    "floe_checks.stack.plugin",
]

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
    "evidence(level): how strong this test's proof is, weakest first: "
    + ", ".join(LEVELS)
    + " (derived where certain from the fixtures floe_stack, floe_env, floe_section and those of"
    " ini floe_evidence_fixtures)",
)

_SETTINGS_KEY = pytest.StashKey[dict[str, settings.Setting]]()
_TRACE_KEY = pytest.StashKey["TraceRecorder"]()
_REGISTRY_KEY = pytest.StashKey[Registry]()
_FIXTURE_LEVELS_KEY = pytest.StashKey[dict[str, str]]()
_EVIDENCE_KEY = pytest.StashKey[Evidence | str]()


# A named constant: mypy reads a string literal passed as addini's ``type`` as a type form.
_PATHS: Literal["paths"] = "paths"
_LINES: Literal["linelist"] = "linelist"
_BOOL: Literal["bool"] = "bool"


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
        help="fail the session when a SPEC requirement has no passing test, or when its "
        "strongest passing evidence is below the level its registry entry needs.",
    )
    parser.addini("floe_env", "default floe environment (overridden by FLOE_ENV, --floe-env)")
    parser.addini("floe_config", "path of floe.yaml (overridden by FLOE_CONFIG, --floe-config)")
    parser.addini(
        "floe_requirements",
        "YAML files of your own requirement IDs (lines of ID: title), merged with ours; "
        "an ID whose family (the ID without its number) a registry holds must be listed",
        _PATHS,
        [],
    )
    parser.addini(
        "floe_evidence_fixtures",
        "lines of FIXTURE: LEVEL: a test that uses FIXTURE has at least that evidence level "
        "(e.g. floe_cluster: api-server)",
        _LINES,
        [],
    )
    parser.addini(
        "floe_evidence_required",
        "true: a test with requirement IDs must have an evidence level (marker or fixture)",
        _BOOL,
        False,
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    resolved = {
        "env": settings.resolve(config, settings.FLOE_ENV),
        "config": settings.resolve(config, settings.FLOE_CONFIG),
    }
    config.stash[_SETTINGS_KEY] = resolved
    if resolved["env"].value and config.args_source != pytest.Config.ArgsSource.ARGS:
        _add_bundled_checks(config)
    wants_matrix = config.getoption("floe_trace") or config.getoption("xmlpath", None)
    if wants_matrix and not hasattr(config, "workerinput"):
        recorder = TraceRecorder(config)
        config.stash[_TRACE_KEY] = recorder
        config.pluginmanager.register(recorder, "floe-trace")
        if config.getoption("floe_trace"):
            config.pluginmanager.register(TraceWriter(recorder), "floe-trace-writer")


def _add_bundled_checks(config: pytest.Config) -> None:
    """Collect the packaged check modules too, unless an argument already covers them.

    Only when the command line names no test: ``pytest --floe-env=prod tests/test_x.py::test_a``
    runs that one test, as any pytest run would.
    """
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
    config.stash[ENV_KEY] = None
    # Here, not in pytest_configure: `pytest --help` must work even when a file is wrong.
    try:
        config.stash[_REGISTRY_KEY] = Registry.load(config.getini("floe_requirements"))
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        config.stash[_FIXTURE_LEVELS_KEY] = parse_fixture_levels(
            config.getini("floe_evidence_fixtures")
        )
    except ValueError as exc:
        raise pytest.UsageError(f"ini option floe_evidence_fixtures: {exc}") from None
    resolved = config.stash[_SETTINGS_KEY]
    name = resolved["env"].value
    if not name:
        return
    path = Path(config.invocation_params.dir, resolved["config"].value or "floe.yaml")
    # --floe-check narrows the run: only those sections are validated and need their variables.
    services = tuple(config.getoption("floe_check", None) or ())
    try:
        write = bool(config.getoption("floe_write", False))
        env = load_environment(path, name, services, write=write)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[ENV_KEY] = env
    _start_scrubbing(config, env)
    from floe_checks.preflight.plugin import start_controller_checks

    start_controller_checks(config, env.sections())


def _start_scrubbing(config: pytest.Config, env: Environment) -> None:
    """Every secret of the environment, in every encoding, leaves this process only as ``***``:
    reports (hence terminal and JUnit XML) through the report hooks below, logs through a
    record factory that covers every handler."""
    import logging

    from floe_checks.preflight.scrub import Scrubber, ScrubbingRecordFactory, encodings

    forms = list(environment_forms(env))
    for value in env.unvalidated_secrets():
        forms.extend(encodings(value))
    scrubber = Scrubber(forms)
    config.stash[SCRUB_KEY] = scrubber
    if not scrubber:
        return
    previous = logging.getLogRecordFactory()
    logging.setLogRecordFactory(ScrubbingRecordFactory(previous, scrubber))
    config.add_cleanup(lambda: logging.setLogRecordFactory(previous))
    if config.getoption("capture", "fd") == "no":
        # -s: prints go straight to the terminal, past every report.
        import sys

        from floe_checks.preflight.scrub import ScrubbingStream

        out, err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = ScrubbingStream(out, scrubber), ScrubbingStream(err, scrubber)

        def restore() -> None:
            sys.stdout, sys.stderr = out, err

        config.add_cleanup(restore)


def scrub_report(report: pytest.CollectReport | pytest.TestReport, scrubber: Scrubber) -> None:
    """Remove every secret form from a report: its traceback or skip reason, its captured
    stdout/stderr/log sections and its user properties."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        report.longrepr = (longrepr[0], longrepr[1], scrubber.text(str(longrepr[2])))
    elif longrepr is not None:
        text = str(longrepr)
        if scrubber.leaks(text):
            report.longrepr = scrubber.text(text)
    report.sections = [(title, scrubber.text(body)) for title, body in report.sections]
    if isinstance(report, pytest.TestReport):
        report.user_properties = [
            (name, scrubber.value(value)) for name, value in report.user_properties
        ]


# tryfirst: the outermost wrapper, so the report is scrubbed after every other wrapper added to
# it — the stack plugin's log-tail sections (a provider redacts only the plain secret) and a
# user's conftest's own sections.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Scrub each phase's report where it is made: on the xdist worker, before it travels, is
    printed or lands in JUnit XML."""
    report = yield
    scrubber = scrubber_of(item.config)
    if scrubber:
        scrub_report(report, scrubber)
    return report


def pytest_report_header(config: pytest.Config) -> list[str]:
    resolved = config.stash.get(_SETTINGS_KEY, None)
    if resolved is None:
        return []
    env = resolved["env"]
    if not env.value:
        return ["floe env: none (select one with --floe-env, FLOE_ENV or ini floe_env)"]
    return [f"floe env: {env.describe()}", f"floe config: {resolved['config'].describe()}"]


def requirement_ids(item: pytest.Item) -> list[str]:
    """The requirement IDs of a test's ``requirement`` markers, in order, without repeats."""
    return _requirement_ids(item)


def _requirement_ids(item: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in item.iter_markers("requirement"):
        for rid in mark.args:
            if str(rid) not in ids:
                ids.append(str(rid))
    return ids


def _marker_problems(item: pytest.Item, known: Registry) -> list[str]:
    problems: list[str] = []
    if any(mark.args == () for mark in item.iter_markers("requirement")):
        problems.append("@pytest.mark.requirement needs at least one ID")
    bad = known.unknown(_requirement_ids(item))
    if bad:
        problems.append(
            f"unknown requirement ID(s) {', '.join(bad)}: their family is registered, but they "
            "are not. Fix: use a listed ID, or add it to floe-checks' requirements.yaml (our "
            "IDs) or to your registry file (ini floe_requirements)"
        )
    return problems


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Scrub collection errors too (a module that fails at import may print a secret)."""
    report = yield
    scrubber = scrubber_of(collector.config)
    if scrubber and report.outcome == "failed":
        scrub_report(report, scrubber)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A bad requirement or evidence marker is an error of that test alone, in its setup.

    Not a collection error: plain pytest stops on one (exit 2) while xdist runs the rest
    (exit 1). A setup error is reported the same way with and without xdist.
    """
    problems = _marker_problems(item, registry_of(item.config))
    evidence = item_evidence(item)
    if isinstance(evidence, str):
        problems.append(evidence)
    if problems:
        pytest.fail(f"{item.nodeid}: " + "; ".join(problems), pytrace=False)


def registry_of(config: pytest.Config) -> Registry:
    """The requirement registry in effect: ours plus the files of ini ``floe_requirements``."""
    return config.stash.get(_REGISTRY_KEY, None) or Registry.load()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Attach each test's requirement IDs, and for a test that has some its evidence level and
    where the level comes from, to its JUnit properties (travels through xdist)."""
    for item in items:
        ids = _requirement_ids(item)
        item.user_properties.extend(("requirement", rid) for rid in ids)
        evidence = _evidence(item, required=bool(ids))
        item.stash[_EVIDENCE_KEY] = evidence
        if ids and isinstance(evidence, Evidence):
            item.user_properties.append(("evidence", evidence.level))
            item.user_properties.append(("evidence_source", evidence.source))


def item_evidence(item: pytest.Item) -> Evidence | str | None:
    """A collected test's evidence level, or what is wrong with its marker (reported in its
    setup); None before collection finished."""
    return item.stash.get(_EVIDENCE_KEY, None)


def _evidence(item: pytest.Item, required: bool) -> Evidence | str:
    """The test's evidence level, or what is wrong with its marker (a problem for its setup)."""
    mark = item.get_closest_marker("evidence")  # a test's own marker overrides its module's
    marked: str | None = None
    if mark is not None:
        if len(mark.args) != 1 or mark.kwargs:
            return "@pytest.mark.evidence takes exactly one level: " + ", ".join(LEVELS)
        problem = unknown_level(mark.args[0])
        if problem:
            return f"@pytest.mark.evidence: {problem}"
        marked = str(mark.args[0])
    try:
        evidence = resolve(marked, derive(_fixture_levels(item)))
    except EvidenceConflict as exc:
        return str(exc)
    if (
        required
        and evidence.level == UNSTATED
        and bool(item.config.getini("floe_evidence_required"))
    ):
        return (
            "no evidence level: the test has requirement IDs, and ini floe_evidence_required "
            "is set. Fix: add @pytest.mark.evidence(LEVEL) (or a module pytestmark) with one "
            f"of {', '.join(LEVELS)}, or use a fixture that establishes one"
        )
    return evidence


def _fixture_levels(item: pytest.Item) -> dict[str, str]:
    """The test's fixtures that establish a level: the ini table, then our own ``floe_stack``
    (its provider's level), ``floe_env`` and ``floe_section`` when they are not overridden
    (an override may point anywhere, so proves nothing by its name)."""
    names = set(getattr(item, "fixturenames", ()))
    table = item.config.stash.get(_FIXTURE_LEVELS_KEY, None)
    if table is None:  # before the session started (e.g. an early collection hook)
        table = parse_fixture_levels(item.config.getini("floe_evidence_fixtures"))
    found = {name: level for name, level in table.items() if name in names}
    if "floe_stack" in names and "floe_stack" not in found and _ours(item, "floe_stack"):
        from floe_checks.stack.plugin import stack_provider_name

        found["floe_stack"] = STACK_LEVELS[stack_provider_name(item.config)]
    # floe_section is the way into the selected environment of every floe_* client fixture
    # (floe_postgres, floe_s3, ...): a user's check that uses one checks that environment.
    for name in ("floe_env", "floe_section"):
        if name in names and name not in found and _ours(item, name):
            from floe_checks.config import LOCAL_ENV

            env = item.config.stash[_SETTINGS_KEY]["env"].value
            found[name] = LOCAL_ENV_LEVEL if env == LOCAL_ENV else ENV_LEVEL
    return found


def _ours(item: pytest.Item, name: str) -> bool:
    """Whether the fixture ``name`` the test gets is the one floe-checks defines."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get(name, ()) if info is not None else ()
    if not defs:
        return False
    module = getattr(defs[-1].func, "__module__", "")
    return module.startswith("floe_checks.")


@pytest.fixture(scope="session")
def floe_env(pytestconfig: pytest.Config) -> Environment:
    """The selected floe environment. Override this fixture to supply one from code."""
    env = selected_environment(pytestconfig)
    if env is None:
        pytest.skip("no floe environment selected: pass --floe-env NAME or set FLOE_ENV")
    return env


class TraceRecorder:
    """Collects outcomes on the controller (xdist reports arrive here); puts the evidence per
    requirement in the JUnit file and, with --floe-trace, writes the matrix."""

    def __init__(self, config: pytest.Config) -> None:
        from floe_checks.trace import TraceMatrix

        self.config = config
        self.matrix = TraceMatrix()

    def _use_registry(self) -> None:
        """The rows: ours; in a user's repository (ini floe_requirements) theirs, and ours only
        where a test claims them. Known once the session has started."""
        known = registry_of(self.config)
        self.matrix.needs = known.needs
        if known.user_ids:
            user = {rid: known.titles[rid] for rid in known.user_ids}
            ours = {rid: t for rid, t in known.titles.items() if rid not in user}
            self.matrix.titles = {**user, **ours}
            self.matrix.claimed_only = frozenset(ours)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from floe_checks.trace import Outcome  # loaded with TraceMatrix in __init__

        ids = [str(v) for k, v in report.user_properties if k == "requirement"]
        level = next((str(v) for k, v in report.user_properties if k == "evidence"), UNSTATED)
        if report.when != "call" and report.passed:
            if report.nodeid not in self.matrix.tests:
                self.matrix.record(report.nodeid, ids, Outcome.PASSED, evidence=level)
            return
        if report.failed:
            outcome = Outcome.FAILED if report.when == "call" else Outcome.ERROR
            self.matrix.record(report.nodeid, ids, outcome, f"{report.when} failed", level)
        elif report.skipped:
            reason = ""
            if isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            self.matrix.record(report.nodeid, ids, Outcome.SKIPPED, reason, level)
        else:
            self.matrix.record(report.nodeid, ids, Outcome.PASSED, evidence=level)

    def junit_properties(self) -> list[tuple[str, str]]:
        """One ``evidence`` property per claimed requirement, for the JUnit ``<testsuite>``:
        ``ID passed=LEVEL skipped-only=LEVELS needs=LEVEL`` (``-``: none)."""
        self._use_registry()
        rows = self.matrix.as_dict()["requirements"]
        assert isinstance(rows, list)
        return [
            (
                "evidence",
                f"{row['id']} passed={row['evidence'] or '-'} "
                f"skipped-only={','.join(row['skipped_only']) or '-'} needs={row['needs'] or '-'}",
            )
            for row in rows
            if row["tests"]
        ]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Before pytest writes the JUnit file (in its own sessionfinish): the evidence per
        requirement in its ``<testsuite>`` properties. The per-test levels travel with each
        test case (through xdist too)."""
        from _pytest.junitxml import xml_key

        xml = self.config.stash.get(xml_key, None)
        if xml is not None:
            for name, value in self.junit_properties():
                xml.add_global_property(name, value)

    def write(self, session: pytest.Session) -> None:
        """Write the matrix; under --floe-trace-strict fail the session when a requirement has
        no passing test, or passed only with evidence below the level it needs."""
        self._use_registry()
        target = Path(self.config.invocation_params.dir, self.config.getoption("floe_trace"))
        json_path, md_path = self.matrix.write(target)
        self._written = (json_path, md_path)
        if self.config.getoption("floe_trace_strict"):
            missing = self.matrix.unproven()
            short = [s for s in self.matrix.short_of_needs() if s["has"] is not None]
            if (missing or short) and session.exitstatus == 0:
                self._strict_failure = missing
                self._short = short
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        written = getattr(self, "_written", None)
        if written:
            terminalreporter.write_line(f"floe trace: {written[0]} and {written[1]}")
        missing = getattr(self, "_strict_failure", None)
        if missing:
            terminalreporter.write_line(
                f"floe trace strict: {len(missing)} of {self.matrix.size()} requirements have no "
                f"passing test: {', '.join(missing)}",
                red=True,
            )
        for short in getattr(self, "_short", ()):
            terminalreporter.write_line(
                f"floe trace strict: {short['id']} passed with {short['has']!r} evidence, "
                f"below the {short['needs']!r} it needs",
                red=True,
            )


class TraceWriter:
    """Writes the trace matrix after every other sessionfinish hook, so the exit status that
    --floe-trace-strict reads and sets is final."""

    def __init__(self, recorder: TraceRecorder) -> None:
        self.recorder = recorder

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.recorder.write(session)
