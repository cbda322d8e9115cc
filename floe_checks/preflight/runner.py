"""Run one probe and turn whatever happens into a :class:`CheckResult`.

Plain Python (no pytest): the bundled preflight tests, ``floe preflight`` and the benchmark all
call :func:`run_check`. The runner

* imports the backend's client first (a missing one is a ``missing_client`` error naming the
  extra to install) and only then starts the clock;
* gives the probe its per-check timeout and abandons it, as a timeout, when it overruns that by
  more than :data:`WATCHDOG_GRACE` seconds (clients honour the timeout themselves; this is the
  backstop that keeps "timeout + 2 s" true even for a misbehaving client);
* turns a :class:`~floe_checks.errors.CheckFailure` into ``status: error`` with its remediation,
  any other exception into a classified error (never a traceback), and an answer slower than
  the threshold into ``status: warning`` — and, when ``strict``, any warning into an error
  that keeps the warning's message and remediation (:func:`strict_result`);
* inspects the server certificate of each https endpoint of the section once
  (:func:`floe_checks.probes.tls.review`): expiry warnings, and a certificate failure
  classified as ``tls_untrusted``, ``tls_hostname``, ``tls_expired`` or ``tls_not_yet_valid``;
* removes every secret value of the section from the result, in every encoding a client may
  produce (:mod:`floe_checks.preflight.scrub`), whatever a client put in its error text.
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

from floe_checks.config import Section
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import (
    check_timed_out,
    classify_network_error,
    remediation,
    slow_answer,
)
from floe_checks.preflight.scrub import Scrubber, secret_forms
from floe_checks.probes import CLIENT_MODULES, EXTRAS, PROBES, backend_of, load_probe
from floe_checks.probes.tls import review as review_certificates
from floe_checks.results import CheckResult, Service, Status

DEFAULT_TIMEOUT = 30.0
MIN_TIMEOUT = 5.0
MAX_TIMEOUT = 300.0
DEFAULT_SLOW_MS = 1000
# How long past its timeout a probe may run before the runner reports it as timed out.
WATCHDOG_GRACE = 1.5

_ADDRESS_FIELDS = ("uri", "url", "endpoint_url", "endpoint", "api_endpoint")
_PLACE_FIELDS = ("account", "project", "path", "region", "bucket", "container")


def validate_timeout(value: float) -> float:
    """Check a per-check timeout against the allowed range.

    Raises:
        ValueError: outside 5 to 300 seconds; the message says what is allowed.
    """
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise ValueError(
            f"timeout {value:g} s is out of range: use {MIN_TIMEOUT:g} to {MAX_TIMEOUT:g} seconds"
        )
    return value


def endpoint_of(section: Section) -> str:
    """A human description of where a section points (URL, host:port, account, file)."""
    for name in _ADDRESS_FIELDS:
        value = getattr(section, name, None)
        if value:
            return str(value)
    host = getattr(section, "host", None)
    if host:
        port = getattr(section, "port", None)
        return f"{host}:{port}" if port else str(host)
    for name in _PLACE_FIELDS:
        value = getattr(section, name, None)
        if value:
            return str(value)
    return section.field_path("")


def connection_fields(section: Section) -> list[str]:
    """The fields that say where a section's service is: what to check when it cannot be
    reached."""
    for name in _ADDRESS_FIELDS:
        if getattr(section, name, None):
            return [name]
    if getattr(section, "host", None):
        return ["host", "port"] if "port" in type(section).model_fields else ["host"]
    return [name for name in _PLACE_FIELDS if getattr(section, name, None)]


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _Outcome:
    def __init__(self) -> None:
        self.details: dict[str, object] | None = None
        self.error: BaseException | None = None


def _call(probe: Any, section: Section, timeout: float, outcome: _Outcome) -> None:
    try:
        outcome.details = dict(probe.check(section, timeout))
    except BaseException as exc:  # every outcome is reported, none escapes
        outcome.error = exc


def run_check(
    service: str,
    section: Section,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    slow_ms: int = DEFAULT_SLOW_MS,
    expiry_warning_days: int | None = None,
    strict: bool = False,
    write: bool = False,
) -> CheckResult:
    """Run the probe of one configured section and classify the outcome.

    Args:
        service: the floe.yaml section name (``compute``, ``storage``, ``catalog``, …).
        section: the validated section.
        timeout: per-check timeout in seconds, handed to the client's own settings.
        slow_ms: an answer slower than this is a ``warning``.
        expiry_warning_days: a certificate with fewer days left is a ``warning``; default the
            environment's ``tls.expiry_warning_days`` (30).
        strict: a ``warning`` becomes an ``error`` (``--floe-strict``, ``floe preflight
            --strict``).
        write: turn the catalog's data path on for this run (``--floe-write``, ``floe
            preflight --write``), as ``write_check: true`` does in floe.yaml.

    Returns:
        The check's result; never raises for a failure of the service or of its client.
    """
    backend = backend_of(service, section)
    if write and "write_check" in type(section).model_fields:
        section = section.model_copy(update={"write_check": True})
    forms = secret_forms(section)
    for linked in _linked_sections(section):
        forms += secret_forms(linked)
    scrubber = Scrubber(sorted(set(forms), key=len, reverse=True))
    started = time.perf_counter()
    result = _run(service, backend, section, timeout, slow_ms, started)
    # after the probe and outside its clock: the handshake is ours, not the service's answer
    result = review_certificates(
        section, result, timeout=timeout, expiry_warning_days=expiry_warning_days
    )
    if strict:
        result = strict_result(result)
    result.message = scrubber.text(result.message)
    result.remediation = scrubber.value(result.remediation)
    result.details = scrubber.value(result.details)
    return result


def _linked_sections(section: Section) -> list[Section]:
    """Sections a probe also uses: the catalog's data path writes with the storage keys."""
    if getattr(section, "write_check", False):
        storage = section.storage_section()  # type: ignore[attr-defined]
        return [storage] if storage is not None else []
    return []


def watchdog_budget(section: Section, timeout: float) -> float:
    """How long the runner waits for a probe: ``timeout`` (plus grace) for one request chain;
    the catalog's data path makes up to one request chain per step on top."""
    if getattr(section, "write_check", False):
        from floe_checks.probes.catalog_write import STEPS

        return timeout * (1 + len(STEPS)) + WATCHDOG_GRACE
    return timeout + WATCHDOG_GRACE


STRICT_NOTE = "(a warning; strict mode makes warnings fail)"


def strict_result(result: CheckResult) -> CheckResult:
    """A ``warning`` made an ``error`` for strict mode; other results unchanged.

    The message gains :data:`STRICT_NOTE`, the remediation stays the warning's own, and
    ``details`` say ``"failure": "strict"`` and ``"strict": true`` (``details.warnings`` stays
    when the probe gave it).
    """
    if result.status != Status.WARNING.value:
        return result
    details = {**result.details, "failure": FailureKind.STRICT.value, "strict": True}
    return result.model_copy(
        update={
            "status": Status.ERROR.value,
            "message": f"{result.message} {STRICT_NOTE}",
            "details": details,
        }
    )


def _result(
    service: str,
    backend: str,
    status: Status,
    message: str,
    started: float,
    *,
    remediation_text: str | None = None,
    details: dict[str, object] | None = None,
) -> CheckResult:
    return CheckResult(
        service=Service(service),
        backend=backend,
        status=status,
        message=message,
        duration_ms=round((time.perf_counter() - started) * 1000),
        remediation=remediation_text,
        details=details or {},
    )


def _missing_client(
    service: str, backend: str, section: Section, exc: ImportError, started: float
) -> CheckResult:
    extra = EXTRAS.get(backend, backend)
    kind = FailureKind.MISSING_CLIENT
    return _result(
        service,
        backend,
        Status.ERROR,
        f"the {backend} client library is not installed (module {exc.name or '?'} is missing).",
        started,
        remediation_text=remediation(kind, section, [], what=extra),
        details={"failure": kind.value, "missing_module": exc.name or ""},
    )


def _run(
    service: str,
    backend: str,
    section: Section,
    timeout: float,
    slow_ms: int,
    started: float,
) -> CheckResult:
    endpoint = endpoint_of(section)
    fields = connection_fields(section)
    if (service, backend) not in PROBES:
        return _result(
            service,
            backend,
            Status.ERROR,
            f"no preflight probe exists for {service} type {backend!r}.",
            started,
            remediation_text=remediation(
                FailureKind.UNKNOWN, section, ["type"], what="unsupported backend"
            ),
            details={"failure": FailureKind.UNKNOWN.value},
        )
    try:
        for module in CLIENT_MODULES.get(backend, ()):
            importlib.import_module(module)
        probe = load_probe(service, backend)
    except ImportError as exc:
        if (exc.name or "").startswith("floe_checks"):
            return _result(
                service,
                backend,
                Status.ERROR,
                f"the {backend} probe is not available in this floe-checks installation.",
                started,
                remediation_text=remediation(
                    FailureKind.UNKNOWN, section, ["type"], what=f"no module {exc.name}"
                ),
                details={"failure": FailureKind.UNKNOWN.value},
            )
        return _missing_client(service, backend, section, exc, started)

    started = time.perf_counter()  # the clock measures the service, not the imports
    outcome = _Outcome()
    worker = threading.Thread(
        target=_call, args=(probe, section, timeout, outcome), daemon=True, name=f"probe-{service}"
    )
    worker.start()
    worker.join(watchdog_budget(section, timeout))
    if worker.is_alive():
        kind = FailureKind.TIMEOUT
        return _result(
            service,
            backend,
            Status.ERROR,
            f"{backend} at {endpoint} did not answer within {timeout:g} s.",
            started,
            remediation_text=check_timed_out(section, fields, endpoint=endpoint, timeout=timeout),
            details={"endpoint": endpoint, "failure": kind.value, "timeout_s": timeout},
        )
    error = outcome.error
    if error is None:
        return _success(service, backend, section, outcome.details or {}, started, slow_ms, fields)
    if isinstance(error, CheckFailure):
        details = dict(error.details)
        details.setdefault("failure", error.kind.value)
        return _result(
            service,
            backend,
            Status.ERROR,
            error.message,
            started,
            remediation_text=error.remediation,
            details=details,
        )
    if isinstance(error, ImportError):
        return _missing_client(service, backend, section, error, started)
    if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: not ours to swallow
        raise error
    kind = classify_network_error(error) or FailureKind.UNKNOWN
    what = type(error).__name__
    return _result(
        service,
        backend,
        Status.ERROR,
        f"{backend} check failed at {endpoint}: {what}: {_one_line(str(error))}",
        started,
        remediation_text=remediation(
            kind, section, fields, endpoint=endpoint, timeout=timeout, what=what
        ),
        details={"endpoint": endpoint, "failure": kind.value, "exception": what},
    )


def _success(
    service: str,
    backend: str,
    section: Section,
    details: dict[str, object],
    started: float,
    slow_ms: int,
    fields: list[str],
) -> CheckResult:
    message = str(details.pop("message", f"{backend} answered."))
    raw_warnings = details.pop("warnings", None) or []
    warnings = [str(w) for w in raw_warnings] if isinstance(raw_warnings, list) else []
    result = _result(service, backend, Status.OK, message, started, details=details)
    if warnings:
        result.status = Status.WARNING
        result.remediation = " ".join(warnings)
        result.details["warnings"] = warnings
    elif result.duration_ms > slow_ms:
        result.status = Status.WARNING
        result.remediation = slow_answer(section, fields, result.duration_ms, slow_ms)
        result.details["slow_threshold_ms"] = slow_ms
    return result
