"""Failure classification and remediation text: the one place both live.

Probes raise :class:`~floe_checks.errors.CheckFailure` built with :func:`failure`, which turns a
:class:`~floe_checks.errors.FailureKind` plus the section and the fields involved into a
remediation naming the exact floe.yaml field (and its environment variable).
"""

from __future__ import annotations

import datetime
import re
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

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
    # The four certificate kinds below are built by certificate_failure(), which names the
    # certificate's own facts; these are the fallbacks of a caller that has none.
    FailureKind.TLS_UNTRUSTED: (
        "the certificate of {endpoint} is from a CA this machine does not trust: point the "
        "section's ca_bundle at the PEM file of that CA."
    ),
    FailureKind.TLS_HOSTNAME: (
        "the certificate of {endpoint} is for another name: use a name it is for in {fields}."
    ),
    FailureKind.TLS_EXPIRED: "the certificate of {endpoint} has expired: renew it.",
    FailureKind.TLS_NOT_YET_VALID: (
        "the certificate of {endpoint} is not valid yet: check the clocks of this machine and "
        "of the server."
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
    FailureKind.WRITE_DENIED: (
        "the table's data files could not be written at {endpoint}: grant write access there "
        "to the credential in {fields}."
    ),
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


@dataclass(frozen=True)
class PeerCertificate:
    """The facts of a server certificate that a TLS message or remediation names.

    Attributes:
        subject: the subject as RFC 4514 text (``CN=cube.internal,O=Example``).
        names: the subject alternative names (DNS names and IP addresses), in order.
        issuer: the issuer as RFC 4514 text.
        not_before: start of validity (UTC).
        not_after: end of validity (UTC).
    """

    subject: str
    names: tuple[str, ...]
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime

    def days_left(self, now: datetime.datetime) -> int:
        """Whole days until ``not_after`` (rounded down; negative once expired)."""
        return (self.not_after - now) // datetime.timedelta(days=1)

    def facts(self, now: datetime.datetime) -> dict[str, object]:
        """The certificate as report details (``details.tls[]``)."""
        return {
            "subject": self.subject,
            "names": list(self.names),
            "issuer": self.issuer,
            "not_before": utc_text(self.not_before),
            "not_after": utc_text(self.not_after),
            "days_left": self.days_left(now),
        }


def utc_text(moment: datetime.datetime) -> str:
    """A UTC moment as ISO 8601 to the second: ``2026-12-05T10:40:00Z``."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# OpenSSL's X509_V_ERR_* codes (openssl/x509_vfy.h) that mean one of our certificate kinds.
_VERIFY_CODES: dict[int, FailureKind] = {
    2: FailureKind.TLS_UNTRUSTED,  # unable to get issuer certificate
    9: FailureKind.TLS_NOT_YET_VALID,  # certificate is not yet valid
    10: FailureKind.TLS_EXPIRED,  # certificate has expired
    18: FailureKind.TLS_UNTRUSTED,  # self-signed certificate
    19: FailureKind.TLS_UNTRUSTED,  # self-signed certificate in certificate chain
    20: FailureKind.TLS_UNTRUSTED,  # unable to get local issuer certificate
    21: FailureKind.TLS_UNTRUSTED,  # unable to verify the first certificate
    27: FailureKind.TLS_UNTRUSTED,  # certificate not trusted
    62: FailureKind.TLS_HOSTNAME,  # Hostname mismatch
    64: FailureKind.TLS_HOSTNAME,  # IP address mismatch
}
# The same, from OpenSSL's text alone: requests and botocore keep only the text (both the
# OpenSSL 3 "self-signed" and the 1.1 "self signed" spellings).
_VERIFY_TEXTS: tuple[tuple[str, FailureKind], ...] = (
    ("certificate has expired", FailureKind.TLS_EXPIRED),
    ("certificate is not yet valid", FailureKind.TLS_NOT_YET_VALID),
    ("hostname mismatch", FailureKind.TLS_HOSTNAME),
    ("ip address mismatch", FailureKind.TLS_HOSTNAME),
    ("self-signed certificate", FailureKind.TLS_UNTRUSTED),
    ("self signed certificate", FailureKind.TLS_UNTRUSTED),
    ("unable to get local issuer certificate", FailureKind.TLS_UNTRUSTED),
    ("unable to get issuer certificate", FailureKind.TLS_UNTRUSTED),
    ("unable to verify the first certificate", FailureKind.TLS_UNTRUSTED),
    ("certificate not trusted", FailureKind.TLS_UNTRUSTED),
)


def certificate_kind(reason: str, code: int | None = None) -> FailureKind:
    """The failure kind of a refused server certificate, from OpenSSL's verify code when known,
    else from its text; ``tls`` for a reason none of the four certificate kinds explains."""
    if code is not None and code in _VERIFY_CODES:
        return _VERIFY_CODES[code]
    lowered = reason.lower()
    for text, kind in _VERIFY_TEXTS:
        if text in lowered:
            return kind
    return FailureKind.TLS


_HOST_FIELDS = ("uri", "url", "endpoint_url", "endpoint", "api_endpoint", "host")


def _trust_fix(section: Section, endpoint: str, issuer: str) -> str:
    signed = f"the CA that signed the certificate of {endpoint}"
    which = f"; its issuer is {issuer}" if issuer else ""
    if "ca_bundle" in type(section).model_fields:
        return (
            f"point {section.hint('ca_bundle')} at the PEM file of {signed} (for a private or "
            f"self-signed CA{which}), or give the server a certificate from a CA this machine "
            "trusts."
        )
    return (
        f"add {signed} to this machine's trust store (the system CA bundle, or SSL_CERT_FILE"
        f"{which}), or give the server a certificate from a CA this machine trusts."
    )


def certificate_failure(
    section: Section,
    reason: str,
    *,
    endpoint: str,
    step: str,
    code: int | None = None,
    host: str = "",
    field: str = "",
    certificate: PeerCertificate | None = None,
    now: datetime.datetime | None = None,
) -> CheckFailure:
    """The failure of a handshake that refused the server's certificate, classified
    (:func:`certificate_kind`) into ``tls_untrusted`` (the remediation names the section's
    ``ca_bundle``), ``tls_hostname`` (the names the certificate is for against the host in
    ``field``), ``tls_expired`` / ``tls_not_yet_valid`` (the date), or ``tls``.

    Args:
        section: the section whose client met the certificate.
        reason: OpenSSL's verify message (``self-signed certificate``).
        endpoint: the URL (or host:port) the client connected to.
        step: what the client was doing (``OAuth2 token request``).
        code: OpenSSL's verify code, when the caller has it.
        host: the host name or address the client checked the certificate against.
        field: the floe.yaml field that holds that host (default: the section's address).
        certificate: the certificate's facts, when the caller could read them.
        now: the moment to count days from (default: now).
    """
    kind = certificate_kind(reason, code)
    now = now or datetime.datetime.now(datetime.UTC)
    field = field or next((f for f in _HOST_FIELDS if getattr(section, f, None)), "")
    cert = certificate
    if kind is FailureKind.TLS_UNTRUSTED:
        message = f"the certificate of {endpoint} is not trusted ({reason}; {step})."
        fix = _trust_fix(section, endpoint, cert.issuer if cert else "")
    elif kind is FailureKind.TLS_HOSTNAME:
        where = f" {host!r}" if host else " the host in the URL"
        if cert is not None:
            names = ", ".join(cert.names) or f"no alternative name (subject {cert.subject})"
            message = (
                f"the certificate of {endpoint} is not valid for{where}: it is for {names} "
                f"({step})."
            )
            fix = (
                f"set {section.hint(field)} to a name the certificate is for ({names}), or give "
                f"the server a certificate whose subject alternative names include{where}."
            )
        else:
            message = f"the certificate of {endpoint} is not valid for{where} ({reason}; {step})."
            fix = (
                f"set {section.hint(field)} to a name the certificate is for, or give the "
                f"server a certificate whose subject alternative names include{where}."
            )
    elif kind is FailureKind.TLS_EXPIRED:
        if cert is not None:
            ago = (now - cert.not_after) // datetime.timedelta(days=1)
            when = utc_text(cert.not_after)
            message = (
                f"the certificate of {endpoint} ({cert.subject}) expired on {when}, {ago} "
                f"{'day' if ago == 1 else 'days'} ago ({step})."
            )
            fix = (
                f"renew the certificate of {endpoint} (expired on {when}) and install it on the "
                "server: every client refuses it until then."
            )
        else:
            message = f"the certificate of {endpoint} has expired ({step})."
            fix = (
                f"renew the certificate of {endpoint} and install it on the server: every "
                "client refuses it until then."
            )
    elif kind is FailureKind.TLS_NOT_YET_VALID:
        start = f" before {utc_text(cert.not_before)}" if cert else " yet"
        message = f"the certificate of {endpoint} is not valid{start} ({step})."
        fix = (
            f"check the clocks of this machine and of the server (the certificate is not valid"
            f"{start}), or give the server a certificate that is valid now."
        )
    else:
        message = f"the certificate of {endpoint} failed verification ({reason}; {step})."
        trust = (
            section.hint("ca_bundle")
            if "ca_bundle" in type(section).model_fields
            else "this machine's trust store"
        )
        fix = (
            f"fix the certificate chain the server at {endpoint} sends, or the CA file it is "
            f"checked with ({trust})."
        )
    details: dict[str, object] = {
        "endpoint": endpoint,
        "failure": kind.value,
        "step": step,
        "certificate": reason,
    }
    return CheckFailure(kind, message, remediation=fix, details=details)


def certificate_expiring(
    section: Section,
    endpoint: str,
    certificate: PeerCertificate,
    *,
    now: datetime.datetime,
    threshold_days: int,
) -> str:
    """The warning of a valid certificate that expires within ``threshold_days``."""
    days = certificate.days_left(now)
    names = ", ".join(certificate.names) or "no alternative name"
    return (
        f"the certificate of {endpoint} ({certificate.subject}; for {names}) expires on "
        f"{utc_text(certificate.not_after)}, in {days} {'day' if days == 1 else 'days'}: "
        f"renew it before then (warning below {threshold_days} days: "
        f"{section.environment_field('tls.expiry_warning_days')})."
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


# What each step of the data path (probes/catalog_write.py) needs from the catalog principal.
_DATA_PATH_GRANTS = {
    "create_namespace": "create namespaces",
    "create_table": "create tables in a new namespace",
    "append": "commit to its tables",
    "read_back": "load its tables",
}


def data_path_failure(
    kind: FailureKind,
    section: Section,
    step: str,
    text: str,
    *,
    details: dict[str, object],
    location: str = "",
) -> CheckFailure:
    """The failure of one step of the catalog's data path (``write_check``), with its own
    remediation: a catalog principal without create rights, a storage credential that can read
    but not write (``write_denied``), or the step's generic classification."""
    message = f"data path failed at {step}: {text}."
    creds = str(details.get("write_credentials", "none"))
    principal = f"{section.hint('client_id')}"
    if kind is FailureKind.AUTHORIZATION:
        grant = _DATA_PATH_GRANTS.get(step, "write")
        warehouse = getattr(section, "warehouse", None)
        where = f" in warehouse {warehouse!r}" if warehouse else ""
        fix = (
            f"the catalog principal {principal} may not {grant}{where}: grant it namespace and "
            "table create, write and drop rights on a scratch namespace (Polaris: a catalog "
            "role with NAMESPACE_CREATE, TABLE_CREATE, TABLE_WRITE_DATA, TABLE_DROP, "
            f"NAMESPACE_DROP), or turn the data path off ({section.hint('write_check')})."
        )
    elif kind is FailureKind.WRITE_DENIED:
        storage = getattr(section, "storage_section", lambda: None)()
        if creds == "vended":
            fix = (
                f"the credentials the catalog vended may read but not write {location}: grant "
                "the catalog's storage role write access there (Polaris: TABLE_WRITE_DATA on "
                f"the catalog role of {principal})."
            )
        elif creds == "storage" and storage is not None:
            keys = ", ".join(storage.hint(f) for f in ("access_key_id", "secret_access_key"))
            fix = (
                f"the storage credential {keys} can read but not write the table's data files "
                f"at {location}: grant it s3:PutObject (and s3:DeleteObject, for the drop) on "
                "that location, or let the catalog vend credentials."
            )
        else:
            fix = (
                f"no credential may write the table's data files at {location}: add the "
                f"environment's storage section ({section.environment_field('storage')}) with "
                "a key that may write there, or let the catalog vend credentials."
            )
    else:
        endpoint = str(getattr(section, "uri", "") or "the endpoint")
        fix = remediation(kind, section, ["uri"], endpoint=endpoint, what=step)
    facts = {"failure": kind.value, **details}
    return CheckFailure(kind, message, remediation=fix, details=facts)


def scratch_leftover(section: Section, step: str, what: str, exc: BaseException) -> str:
    """The warning of a scratch table or namespace the data path could not drop."""
    kind = "table" if step == "drop_table" else "namespace"
    text = " ".join(str(exc).split())[:200]
    return (
        f"the scratch {kind} {what} could not be dropped ({type(exc).__name__}: {text}): drop "
        f"it by hand, and grant the principal in {section.hint('client_id')} the right to "
        f"drop what it creates."
    )
