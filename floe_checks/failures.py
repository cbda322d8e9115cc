"""Failure classification and remediation text: the one place both live.

Probes raise :class:`~floe_checks.errors.CheckFailure` built with :func:`failure`, which turns a
:class:`~floe_checks.errors.FailureKind` plus the section and the fields involved into a
remediation naming the exact floe.yaml field (and its environment variable).
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Sequence

from floe_checks.config import Section
from floe_checks.errors import CheckFailure, FailureKind

_TEMPLATES: dict[FailureKind, str] = {
    FailureKind.DNS: "the host name does not resolve: check {fields} and this machine's DNS.",
    FailureKind.REFUSED: (
        "nothing accepts connections at {endpoint}: check {fields}, that the service is running, "
        "and that firewalls or network policies let this machine through."
    ),
    # The message already says "no answer from X within N s": the remediation only says what
    # to do (issue 15.16).
    FailureKind.TIMEOUT: (
        "check {fields}, security groups and network policies, or raise --timeout if the "
        "service is just slow."
    ),
    FailureKind.TLS: (
        "the TLS handshake with {endpoint} failed: check the scheme and port in {fields} and "
        "the CA bundle of this machine."
    ),
    FailureKind.AUTHENTICATION: "the credentials were rejected: check {fields}.",
    FailureKind.AUTHORIZATION: (
        "the credentials are valid but lack a permission ({what}): grant it to the identity in "
        "{fields}."
    ),
    FailureKind.NOT_FOUND: "{what} does not exist: create it, or fix {fields}.",
    FailureKind.PROTOCOL: (
        "{endpoint} answered, but not as {what} would: check that {fields} points at the right "
        "service and path."
    ),
    FailureKind.MISSING_CLIENT: (
        "the client library is not installed: pip install 'floe-checks[{what}]'."
    ),
    FailureKind.QUERY: "the query failed ({what}): check {fields} and the engine's logs.",
    FailureKind.UNKNOWN: "unexpected failure ({what}): check {fields} and the service's logs.",
}


def remediation(
    kind: FailureKind,
    section: Section,
    fields: Sequence[str],
    *,
    endpoint: str = "the endpoint",
    timeout: float = 0.0,
    what: str = "",
) -> str:
    """The remediation sentence for a failure of ``kind`` involving ``fields`` of ``section``."""
    names = ", ".join(section.hint(f) for f in fields) or section.field_path("")
    return _TEMPLATES[kind].format(fields=names, endpoint=endpoint, timeout=timeout, what=what)


def failure(
    kind: FailureKind,
    message: str,
    section: Section,
    fields: Sequence[str],
    *,
    endpoint: str = "the endpoint",
    timeout: float = 0.0,
    what: str = "",
    details: dict[str, object] | None = None,
) -> CheckFailure:
    """Build the exception a probe raises."""
    facts = {"endpoint": endpoint, "failure": kind.value, **(details or {})}
    return CheckFailure(
        kind,
        message,
        remediation=remediation(
            kind, section, fields, endpoint=endpoint, timeout=timeout, what=what
        ),
        details=facts,
    )


def classify_network_error(exc: BaseException) -> FailureKind | None:
    """Classify an OS-level network error (walks ``__cause__``/``__context__``), or None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return FailureKind.DNS
        if isinstance(current, ConnectionRefusedError):
            return FailureKind.REFUSED
        if isinstance(current, TimeoutError | socket.timeout):
            return FailureKind.TIMEOUT
        if isinstance(current, ssl.SSLError):
            return FailureKind.TLS
        current = current.__cause__ or current.__context__
    return None


_VERIFY_FAILED = re.compile(r"certificate verify failed: ([^()'\"]+?)\s*(?:\(_ssl|['\")]|$)")


def untrusted_certificate(exc: BaseException) -> str | None:
    """OpenSSL's reason when ``exc`` (or what it wraps) is a failed certificate verification,
    e.g. ``self-signed certificate``; None for any other error. requests and botocore nest
    the ``ssl.SSLCertVerificationError`` in their own exceptions' text, not always as a cause."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            return str(current.verify_message or "certificate verify failed")
        current = current.__cause__ or current.__context__
    match = _VERIFY_FAILED.search(str(exc))
    if match:
        return match.group(1)
    return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else None


def certificate_failure(section: Section, reason: str, *, endpoint: str, step: str) -> CheckFailure:
    """The failure of a handshake whose server certificate this machine does not trust: the
    remediation names the section's ``ca_bundle``."""
    return CheckFailure(
        FailureKind.TLS,
        f"the certificate of {endpoint} is not trusted ({reason}; {step}).",
        remediation=(
            f"point {section.hint('ca_bundle')} at the PEM file of the CA that signed the "
            f"certificate of {endpoint} (for a private or self-signed CA), or give the server "
            "a certificate from a CA this machine trusts."
        ),
        details={
            "endpoint": endpoint,
            "failure": FailureKind.TLS.value,
            "step": step,
            "certificate": reason,
        },
    )


def kind_for_http_status(status: int) -> FailureKind:
    """Classify an HTTP error status: 401 authentication, 403 authorization, 404 not found,
    408/504 timeout, anything else a protocol failure."""
    if status == 401:
        return FailureKind.AUTHENTICATION
    if status == 403:
        return FailureKind.AUTHORIZATION
    if status == 404:
        return FailureKind.NOT_FOUND
    if status in (408, 504):
        return FailureKind.TIMEOUT
    return FailureKind.PROTOCOL


def slow_answer(section: Section, fields: Sequence[str], duration_ms: int, slow_ms: int) -> str:
    """The remediation of a check that passed but answered slower than the threshold."""
    names = ", ".join(section.hint(f) for f in fields) or section.field_path("")
    return (
        f"the answer took {duration_ms} ms, over the {slow_ms} ms threshold (--floe-slow-ms): "
        f"check the network path to {names} and the service's load before deploying."
    )


def check_timed_out(
    section: Section, fields: Sequence[str], *, endpoint: str, timeout: float
) -> str:
    """The remediation of a check the runner had to abandon after its timeout."""
    return remediation(FailureKind.TIMEOUT, section, fields, endpoint=endpoint, timeout=timeout)


def wrong_region(section: Section, region_field: str, region: str) -> str:
    """The remediation of an object store that redirects: the bucket is in another region."""
    return (
        f"the bucket is not in region {region!r}: set {section.hint(region_field)} to the "
        "bucket's region (the AWS console or `aws s3api get-bucket-location` shows it)."
    )
