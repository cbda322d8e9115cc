"""``floe preflight``: check every service an environment names, before a deploy.

It runs the same bundled pytest checks as ``pytest --floe-env=NAME -m preflight``, in-process,
then prints one SPEC line per check (or the JSON report with ``--json``) on stdout.

Exit codes: 0 every check passed (warnings allowed, unless ``--strict``), 1 a check failed, 2 a
configuration error (floe.yaml, an unset variable, a bad option) — the message names the field.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

from floe_checks.preflight.runner import DEFAULT_TIMEOUT, MAX_TIMEOUT, MIN_TIMEOUT
from floe_checks.results import Report

SERVICES = ("compute", "storage", "catalog", "postgres", "cube", "dagster")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``preflight`` subcommand."""
    parser = subparsers.add_parser(
        "preflight",
        help="check connectivity to every service of an environment before a deploy",
        description="Run the preflight checks of a floe environment (007-FR-015). "
        "Exit 0: all ok (warnings allowed, unless --strict); 1: a check failed; "
        "2: configuration error.",
    )
    picks = parser.add_argument_group("what to check (default: --all)")
    for name in SERVICES:
        picks.add_argument(
            f"--check-{name}",
            dest="checks",
            action="append_const",
            const=name,
            help=f"check the {name} service",
        )
    picks.add_argument(
        "--all", action="store_true", help="check every configured service (the default)"
    )
    parser.add_argument(
        "--env",
        metavar="NAME",
        help="environment in floe.yaml (default: $FLOE_ENV, else 'local' when floe.yaml exists; "
        "without a file an environment must be named)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="path of floe.yaml (default: $FLOE_CONFIG, else ./floe.yaml)",
    )
    parser.add_argument(
        "--include",
        metavar="PATH",
        action="append",
        default=[],
        help="also run your own checks in PATH (test files or directories; their tests need "
        "the preflight marker and report through the floe_result fixture). Repeatable.",
    )
    parser.add_argument("--json", action="store_true", help="print the JSON report on stdout")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="a warning (a credential broader than needed, a slow answer) fails like an error "
        "(exit 1)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="also prove the catalog's data path: create a scratch namespace and table, append "
        "a row, read it back, drop both (as write_check: true; pytest: --floe-write)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        default=str(DEFAULT_TIMEOUT),
        help=f"timeout of each check, {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g} "
        f"(default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--junitxml", metavar="PATH", help="also write JUnit XML at PATH")
    parser.add_argument(
        "--jobs",
        metavar="N",
        type=int,
        default=0,
        help="run up to N checks at once (default 0: all at once; 1: one after another)",
    )
    parser.add_argument(
        "--bundle",
        metavar="DIR",
        help="when a check failed, write a diagnostics bundle "
        "(floe-diagnostics-<UTC time>.tar.gz: DNS, TCP, TLS, HTTP, client versions; secrets "
        "scrubbed) into DIR, created when missing",
    )
    parser.set_defaults(func=run)


def _config_error(
    args: argparse.Namespace,
    message: str,
    *,
    field: str | None = None,
    file: str | None = None,
) -> int:
    """Report a configuration error: the message on stderr and, with ``--json``, an error
    object on stdout too, so a pipeline reading stdout sees why there is no report."""
    print(f"floe preflight: configuration error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        error = {
            "status": "error",
            "error": "configuration",
            "message": message,
            "field": field,
            "file": file,
            "exit_code": EXIT_CONFIG,
        }
        print(json.dumps(error, indent=2))
    return EXIT_CONFIG


def run(args: argparse.Namespace) -> int:
    """Run the checks; return the exit code."""
    from floe_checks.config import load_environment
    from floe_checks.errors import ConfigError
    from floe_checks.preflight.runner import validate_timeout

    try:
        timeout = validate_timeout(float(args.timeout))
    except ValueError as exc:
        detail = str(exc) if "range" in str(exc) else f"{args.timeout!r} is not a number"
        return _config_error(args, f"--timeout: {detail}", field="--timeout")
    if args.jobs < 0:
        return _config_error(
            args, f"--jobs: {args.jobs} is negative; use 0 (all at once) or more", field="--jobs"
        )
    bundle_dir: Path | None = None
    if args.bundle:
        from floe_checks.preflight.bundle import BundleError, prepare_directory

        try:
            bundle_dir = prepare_directory(args.bundle, "--bundle")
        except BundleError as exc:
            return _config_error(args, str(exc), field="--bundle")
    explicit_env = args.env or os.environ.get("FLOE_ENV")
    config_path = Path(args.config or os.environ.get("FLOE_CONFIG") or "floe.yaml").resolve()
    if not explicit_env and not config_path.is_file():
        # Fail closed: a CI job started in the wrong folder must not check the built-in local
        # environment and go green.
        return _config_error(
            args,
            f"{config_path}: file not found, and no environment was named. Fix: run from the "
            "directory that holds floe.yaml, or pass --config PATH and --env NAME "
            "(--env local checks the built-in local stack without a file).",
            file=str(config_path),
        )
    env_name = explicit_env or "local"
    wanted = list(dict.fromkeys(args.checks or [])) if not args.all else []
    try:
        env = load_environment(config_path, env_name, wanted, write=args.write)
    except ConfigError as exc:
        return _config_error(args, str(exc), field=exc.field, file=exc.file)
    configured = list(env.sections())
    missing = [name for name in wanted if name not in configured]
    if missing:
        fields = ", ".join(f"environments.{env_name}.{name}" for name in missing)
        return _config_error(
            args,
            f"{config_path}: {fields}: not configured, but --check-{missing[0]} asks for it. "
            "Fix: add the section, or drop the option.",
            field=f"environments.{env_name}.{missing[0]}",
            file=str(config_path),
        )
    includes = [Path(p).resolve() for p in args.include]
    absent = [str(p) for p in includes if not p.exists()]
    if absent:
        return _config_error(
            args,
            f"--include: {', '.join(absent)} does not exist. Fix: name a test file or directory.",
            field="--include",
        )
    selected = wanted or configured
    if not selected:
        return _config_error(
            args,
            f"{config_path}: environments.{env_name}: no service is configured. "
            "Fix: add a compute, storage, catalog, postgres, cube or dagster section.",
            field=f"environments.{env_name}",
            file=str(config_path),
        )

    with tempfile.TemporaryDirectory(prefix="floe-preflight-") as tmp:
        report_path = Path(tmp, "report.json")
        argv = _pytest_argv(
            tmp=Path(tmp),
            env_name=env_name,
            config_path=config_path,
            timeout=timeout,
            services=wanted,
            report_path=report_path,
            junitxml=args.junitxml,
            jobs=args.jobs,
            includes=includes,
            strict=args.strict,
            write=args.write,
            bundle=bundle_dir,
        )
        watcher = _BundleWatcher()
        code, output = _run_pytest(argv, plugins=[watcher])
        if not report_path.is_file():
            # pytest stopped before any check ran: a usage error is a configuration problem.
            if code == 4:
                return _config_error(args, _usage_message(output))
            print(output.strip(), file=sys.stderr)
            return EXIT_FAILED
        report = Report.model_validate_json(report_path.read_text(encoding="utf-8"))
    if args.json:
        if bundle_dir is None:
            print(report.model_dump_json(indent=2))
        else:  # one key more, only when asked for: the contract's readers see no change
            data = report.model_dump(mode="json")
            data["bundle"] = str(watcher.path) if watcher.path else None
            print(json.dumps(data, indent=2))
    else:
        for check in report.checks:
            print(check.line())
        print(
            f"preflight {report.environment}: {report.overall_status.upper()} "
            f"({_checks(len(report.checks))}, {report.duration_ms} ms)"
        )
        if bundle_dir is not None:
            print(
                f"diagnostics bundle: {watcher.path}"
                if watcher.path
                else "diagnostics bundle: none written (no check failed)"
            )
    if report.overall_status != "pass" or code not in (0, 1):
        return EXIT_FAILED
    return EXIT_OK


def _checks(count: int) -> str:
    return f"{count} check" if count == 1 else f"{count} checks"


def _usage_message(output: str) -> str:
    """pytest's usage error without its ``ERROR:`` prefix (the message names file and field)."""
    lines = [line.removeprefix("ERROR: ").strip() for line in output.strip().splitlines()]
    return " ".join(line for line in lines if line) or "pytest refused the configuration"


def _pytest_argv(
    *,
    tmp: Path,
    env_name: str,
    config_path: Path,
    timeout: float,
    services: list[str],
    report_path: Path,
    junitxml: str | None,
    jobs: int,
    includes: list[Path] = [],  # noqa: B006 -- read only
    strict: bool = False,
    write: bool = False,
    bundle: Path | None = None,
) -> list[str]:
    from floe_checks.checks import CHECKS_DIR

    # An empty ini file of our own: the user's pytest.ini (addopts, testpaths, plugins) must not
    # change what preflight runs.
    ini = tmp / "pytest.ini"
    ini.write_text("[pytest]\n", encoding="utf-8")
    argv = [
        str(CHECKS_DIR),
        *[str(path) for path in includes],
        "-c",
        str(ini),
        "--rootdir",
        str(tmp),
        "-m",
        "preflight",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        "-o",
        "console_output_style=classic",
        "-o",
        "junit_suite_name=floe-preflight",
        "--floe-env",
        env_name,
        "--floe-config",
        str(config_path),
        "--floe-timeout",
        f"{timeout:g}",
        "--floe-report",
        str(report_path),
    ]
    for name in services:
        argv += ["--floe-check", name]
    if strict:
        argv.append("--floe-strict")
    if write:
        argv.append("--floe-write")
    if bundle is not None:
        argv += ["--floe-bundle", str(bundle)]
    if junitxml:
        argv += ["--junitxml", str(Path(junitxml).resolve())]
    # Checks run concurrently in this process (the plugin's thread pool): no worker start-up.
    argv += ["--floe-jobs", str(jobs)]
    # Only our plugin: loading every installed pytest plugin costs over a second, and a check
    # must be reported within its timeout + 2 s.
    argv += ["-p", "floe_checks.plugin"]
    return argv


class _BundleWatcher:
    """A pytest plugin object that reads where the preflight plugin put the bundle."""

    def __init__(self) -> None:
        self.path: Path | None = None

    def pytest_unconfigure(self, config: object) -> None:
        from floe_checks.preflight.plugin import BUNDLE_KEY

        stash = getattr(config, "stash", None)
        if stash is not None:
            self.path = stash.get(BUNDLE_KEY, None)


def _run_pytest(argv: list[str], plugins: list[object] = []) -> tuple[int, str]:  # noqa: B006
    """pytest in this process, its terminal output captured (we print our own)."""
    import pytest

    buffer = io.StringIO()
    saved = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = pytest.main(argv, plugins=plugins)
    finally:
        if saved is None:
            del os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"]
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = saved
    return int(code), buffer.getvalue()
