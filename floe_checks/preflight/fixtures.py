"""The public, typed fixtures for a user's own checks (docs/extending.md).

* ``floe_section`` — ``floe_section("postgres")`` returns that section of the selected
  environment as its typed model (skips the test when it is not configured);
* ``floe_postgres`` — a psycopg2 connection to the ``postgres`` section, closed afterwards;
* ``floe_s3`` — a boto3 S3 client for an ``s3`` ``storage`` section;
* ``floe_result`` — report a result with a remediation; it lands in the terminal table,
  ``--floe-report`` JSON, JUnit XML and ``floe preflight --include PATH`` like a bundled check.

Users never handle a raw secret: the clients come configured, and anything a check prints
or raises is scrubbed of the environment's secrets anyway. Client libraries are imported only
when a fixture is used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, NoReturn, overload

import pytest

from floe_checks.config import (
    CubeSection,
    DagsterSection,
    PostgresSection,
    RestCatalog,
    S3Storage,
    Section,
)
from floe_checks.results import CheckResult, Service, Status
from floe_checks.session import scrubber_of, selected_environment

if TYPE_CHECKING:
    from floe_checks.config import Compute, Storage

_EXTRAS = {"psycopg2": "postgres", "boto3": "s3", "botocore": "s3"}


class SectionGetter:
    """``floe_section(name)``: one section of the selected environment, typed by its name."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    @overload
    def __call__(self, name: Literal["compute"]) -> Compute: ...
    @overload
    def __call__(self, name: Literal["storage"]) -> Storage: ...
    @overload
    def __call__(self, name: Literal["catalog"]) -> RestCatalog: ...
    @overload
    def __call__(self, name: Literal["postgres"]) -> PostgresSection: ...
    @overload
    def __call__(self, name: Literal["cube"]) -> CubeSection: ...
    @overload
    def __call__(self, name: Literal["dagster"]) -> DagsterSection: ...
    def __call__(self, name: str) -> Section:
        env = selected_environment(self._config)
        if env is None:
            pytest.skip("no floe environment selected: pass --floe-env NAME or set FLOE_ENV")
        section = env.sections().get(name)
        if section is None:
            pytest.skip(f"{name} is not configured in floe environment {env.name!r}")
        return section


def _timeout(config: pytest.Config) -> float:
    from floe_checks.preflight.plugin import preflight_options

    return preflight_options(config).timeout


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        pytest.fail(
            f"{module} is not installed. Fix: pip install 'floe-checks[{_EXTRAS[module]}]'",
            pytrace=False,
        )


class ResultRecorder:
    """``floe_result``: report what a user's check found, with a remediation when not ok.

    Each call records one :class:`CheckResult` (service ``custom`` unless given) on the test;
    the terminal table, the JSON report, the JUnit properties and ``floe preflight`` show it.
    ``error`` also fails the test with the SPEC's one line, without a traceback.
    """

    def __init__(self, item: pytest.Item) -> None:
        self._item = item
        self._started = time.perf_counter()

    def _record(
        self,
        status: Status,
        message: str,
        *,
        backend: str,
        service: Service | str,
        remediation: str | None,
        details: dict[str, Any] | None,
    ) -> CheckResult:
        from floe_checks.preflight.plugin import preflight_options, record_result
        from floe_checks.preflight.runner import strict_result

        result = CheckResult(
            service=Service(service),
            backend=backend,
            status=status,
            message=message,
            duration_ms=round((time.perf_counter() - self._started) * 1000),
            remediation=remediation,
            details=dict(details or {}),
        )
        if preflight_options(self._item.config).strict:
            result = strict_result(result)
        scrubber = scrubber_of(self._item.config)
        if scrubber:
            result.message = scrubber.text(result.message)
            result.remediation = scrubber.value(result.remediation)
            result.details = scrubber.value(result.details)
        record_result(self._item, result)
        return result

    def ok(
        self,
        message: str,
        *,
        backend: str,
        service: Service | str = Service.CUSTOM,
        details: dict[str, Any] | None = None,
    ) -> CheckResult:
        """Record a passing result."""
        return self._record(
            Status.OK, message, backend=backend, service=service, remediation=None, details=details
        )

    def warning(
        self,
        message: str,
        *,
        remediation: str,
        backend: str,
        service: Service | str = Service.CUSTOM,
        details: dict[str, Any] | None = None,
    ) -> CheckResult:
        """Record a result that passes with a caveat; ``remediation`` says what to do. Under
        ``--floe-strict`` it is recorded as an error and fails the test, like a bundled check's
        warning."""
        result = self._record(
            Status.WARNING,
            message,
            backend=backend,
            service=service,
            remediation=remediation,
            details=details,
        )
        if result.status == Status.ERROR.value:
            pytest.fail(result.line(), pytrace=False)
        return result

    def error(
        self,
        message: str,
        *,
        remediation: str,
        backend: str,
        service: Service | str = Service.CUSTOM,
        details: dict[str, Any] | None = None,
    ) -> NoReturn:
        """Record a failure and fail the test with its one line."""
        result = self._record(
            Status.ERROR,
            message,
            backend=backend,
            service=service,
            remediation=remediation,
            details=details,
        )
        pytest.fail(result.line(), pytrace=False)


@pytest.fixture
def floe_section(pytestconfig: pytest.Config) -> SectionGetter:
    """``floe_section("postgres")``: a section of the selected environment, as its typed
    model; skips the test when the environment does not configure it."""
    return SectionGetter(pytestconfig)


@pytest.fixture
def floe_result(request: pytest.FixtureRequest) -> ResultRecorder:
    """Report a user's check result (with remediation) into the table, JSON, JUnit and CLI."""
    return ResultRecorder(request.node)


@pytest.fixture
def floe_postgres(floe_section: SectionGetter, pytestconfig: pytest.Config) -> Iterator[Any]:
    """A psycopg2 connection to the environment's ``postgres`` section (autocommit off),
    closed after the test. Connect errors fail the test with the section's fields named."""
    from floe_checks.probes.postgres import connect_params

    section = floe_section("postgres")
    psycopg2 = _import("psycopg2")
    try:
        conn = psycopg2.connect(**connect_params(section, _timeout(pytestconfig)))
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"floe_postgres: cannot connect to {section.host}:{section.port}: "
            f"{' '.join(str(exc).split())}. Fix: check {section.hint('host')}, "
            f"{section.hint('port')}, {section.hint('user')} and {section.hint('password')}, "
            "or run the bundled check (pytest --floe-env NAME -m preflight).",
            pytrace=False,
        )
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def floe_s3(floe_section: SectionGetter, pytestconfig: pytest.Config) -> Any:
    """A boto3 S3 client for the environment's ``storage`` section (type ``s3``)."""
    from floe_checks.probes.s3 import make_client

    section = floe_section("storage")
    if not isinstance(section, S3Storage):
        pytest.skip(f"storage is {section.type!r}, not s3, in this floe environment")
    _import("boto3")
    return make_client(section, _timeout(pytestconfig))
