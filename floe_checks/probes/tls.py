"""The server certificate of every https endpoint a preflight check talks to: the one place it is
inspected (issue 17.1, FC-004).

After a section's probe ran, the runner calls :func:`review` once. For each https endpoint of
the section (Trino with ``http_scheme: https``; the catalog's ``uri`` and, on another host or
port, its ``oauth2_server_uri``; Cube's and Dagster's ``url``; the ``endpoint_url`` /
``endpoint`` / ``api_endpoint`` of S3, GCS, ADLS and BigQuery) it makes one TLS handshake with
the trust the client uses — the section's ``ca_bundle``, else this machine's default store
(OpenSSL's, which honours ``SSL_CERT_FILE``) — and reads the peer certificate:

* a certificate that verifies goes into ``details.tls``; with less than the environment's
  ``tls.expiry_warning_days`` left (default 30) the check becomes a ``warning`` naming the
  endpoint, the subject and names, the expiry date and the days left;
* a probe that failed on the certificate (failure ``tls``) is classified by the inspection's
  OpenSSL verify code: ``tls_untrusted``, ``tls_hostname``, ``tls_expired`` or
  ``tls_not_yet_valid``, each with its own remediation naming the certificate's facts;
* ``verify: false`` means no inspection; ``details.tls`` says so.

The handshake of a certificate that verifies reads it with the standard library; a refused
one is read over a second, unverified handshake and parsed with ``cryptography`` when it is
installed (without it the failure keeps its kind and loses the names and dates).
"""

from __future__ import annotations

import datetime
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from floe_checks.config import Section, TrinoCompute
from floe_checks.errors import FailureKind
from floe_checks.failures import (
    PeerCertificate,
    certificate_expiring,
    certificate_failure,
)
from floe_checks.results import CheckResult, Status

# The URL fields of the sections, in the order their endpoints are reported.
URL_FIELDS = ("uri", "oauth2_server_uri", "url", "endpoint_url", "endpoint", "api_endpoint")
# Failures where no handshake happened or could happen: nothing to inspect.
_UNREACHED = {
    FailureKind.DNS.value,
    FailureKind.REFUSED.value,
    FailureKind.TIMEOUT.value,
    FailureKind.MISSING_CLIENT.value,
}
_CERTIFICATE_FAILURES = {
    FailureKind.TLS.value,
    FailureKind.TLS_UNTRUSTED.value,
    FailureKind.TLS_HOSTNAME.value,
    FailureKind.TLS_EXPIRED.value,
    FailureKind.TLS_NOT_YET_VALID.value,
}
# A handshake with a server that answers takes milliseconds; never wait a whole check timeout.
MAX_HANDSHAKE_SECONDS = 10.0

# Python's long attribute names (ssl.getpeercert) -> the RFC 4514 short ones cryptography uses.
_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


@dataclass(frozen=True)
class HttpsEndpoint:
    """An https endpoint of a section.

    Attributes:
        url: ``https://host:port`` as the report names it.
        host: the host name or address the certificate must be for.
        port: the TCP port.
        field: the floe.yaml field the host comes from (``uri``, ``host``, …).
    """

    url: str
    host: str
    port: int
    field: str


@dataclass(frozen=True)
class Inspection:
    """What one handshake with an endpoint showed.

    Attributes:
        endpoint: the endpoint.
        certificate: the peer certificate's facts (None when no handshake reached it, or a
            refused one could not be parsed).
        verify_message: OpenSSL's reason when it refused the certificate, else empty.
        verify_code: OpenSSL's verify code when it refused the certificate.
        error: why no handshake happened (refused, reset, not TLS), else empty.
    """

    endpoint: HttpsEndpoint
    certificate: PeerCertificate | None = None
    verify_message: str = ""
    verify_code: int | None = None
    error: str = ""

    def facts(self, now: datetime.datetime) -> dict[str, object]:
        """This inspection as one entry of ``details.tls``."""
        entry: dict[str, object] = {"endpoint": self.endpoint.url, "field": self.endpoint.field}
        if self.error:
            entry |= {"inspected": False, "reason": self.error}
            return entry
        entry |= {"inspected": True, "verified": not self.verify_message}
        if self.verify_message:
            entry["verify_error"] = self.verify_message
        if self.certificate is not None:
            entry |= self.certificate.facts(now)
        return entry


def https_endpoints(section: Section) -> list[HttpsEndpoint]:
    """The section's https endpoints, one per host and port."""
    found: list[HttpsEndpoint] = []
    if isinstance(section, TrinoCompute) and section.http_scheme == "https":
        host, port = section.host, section.port
        found.append(HttpsEndpoint(f"https://{_netloc(host, port)}", host, port, "host"))
    for name in URL_FIELDS:
        value = getattr(section, name, None)
        if not value:
            continue
        parts = urlsplit(str(value))
        if parts.scheme != "https" or not parts.hostname:
            continue
        host, port = parts.hostname, parts.port or 443
        if any((e.host, e.port) == (host, port) for e in found):
            continue
        found.append(HttpsEndpoint(f"https://{_netloc(host, port)}", host, port, name))
    return found


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _name_text(rdns: Any) -> str:
    """``ssl.getpeercert()``'s subject or issuer (a tuple of RDNs) as RFC 4514 text."""
    pairs = [
        f"{_SHORT_NAMES.get(name, name)}={value}" for rdn in reversed(rdns) for name, value in rdn
    ]
    return ",".join(pairs)


def _from_ssl_dict(cert: dict[str, Any]) -> PeerCertificate:
    def moment(text: str) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(text), datetime.UTC)

    names = tuple(
        str(value).strip() for kind, value in cert.get("subjectAltName", ()) if kind in _SAN_KINDS
    )
    return PeerCertificate(
        subject=_name_text(cert.get("subject", ())),
        names=names,
        issuer=_name_text(cert.get("issuer", ())),
        not_before=moment(cert["notBefore"]),
        not_after=moment(cert["notAfter"]),
    )


_SAN_KINDS = ("DNS", "IP Address")


def _from_der(der: bytes) -> PeerCertificate | None:
    """Parse a certificate OpenSSL refused (so the standard library did not): needs
    ``cryptography``; None without it."""
    try:
        from cryptography import x509
    except ImportError:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(
            str(item.value) for item in san if isinstance(item, x509.DNSName | x509.IPAddress)
        )
    except x509.ExtensionNotFound:
        names = ()

    def text(name: x509.Name) -> str:
        return ",".join(
            f"{attr.rfc4514_attribute_name}={attr.value!s}"
            for rdn in reversed(list(name.rdns))
            for attr in rdn
        )

    return PeerCertificate(
        subject=text(cert.subject),
        names=names,
        issuer=text(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def inspect(endpoint: HttpsEndpoint, *, cafile: str | None, timeout: float) -> Inspection:
    """One verifying TLS handshake with ``endpoint`` (hostname checked), trusting ``cafile``
    alone when given, else this machine's default store; a refused certificate is read over a
    second handshake that does not verify."""
    context = ssl.create_default_context(cafile=cafile)
    try:
        with (
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=endpoint.host) as tls,
        ):
            cert = tls.getpeercert()
        return Inspection(endpoint, certificate=_from_ssl_dict(cert or {}))
    except ssl.SSLCertVerificationError as exc:
        refused = Inspection(
            endpoint,
            verify_message=str(exc.verify_message or "certificate verify failed"),
            verify_code=int(exc.verify_code) if exc.verify_code is not None else None,
        )
    except (OSError, ssl.SSLError, ValueError) as exc:
        return Inspection(endpoint, error=f"no TLS handshake: {type(exc).__name__}: {exc}")
    der = _unverified_certificate(endpoint, timeout)
    certificate = _from_der(der) if der else None
    return Inspection(
        endpoint,
        certificate=certificate,
        verify_message=refused.verify_message,
        verify_code=refused.verify_code,
    )


def _unverified_certificate(endpoint: HttpsEndpoint, timeout: float) -> bytes | None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read what the server sends; never trusted
    try:
        with (
            socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=endpoint.host) as tls,
        ):
            return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ValueError):
        return None


def _same_place(url: object, endpoint: HttpsEndpoint) -> bool:
    parts = urlsplit(str(url))
    return (parts.hostname, parts.port or 443) == (endpoint.host, endpoint.port)


def review(
    section: Section,
    result: CheckResult,
    *,
    timeout: float,
    expiry_warning_days: int | None = None,
    now: datetime.datetime | None = None,
) -> CheckResult:
    """Inspect the certificates of the section's https endpoints and fold them into ``result``
    (see the module docstring); sections without an https endpoint come back unchanged.

    Args:
        section: the checked section.
        result: the probe's result, changed in place and returned.
        timeout: the check's timeout (a handshake waits at most 10 s of it).
        expiry_warning_days: the warning threshold; default the environment's
            ``tls.expiry_warning_days``.
        now: the moment to count days from (default: now).
    """
    endpoints = https_endpoints(section)
    if not endpoints or result.details.get("failure") in _UNREACHED:
        return result
    if getattr(section, "verify", True) is False:
        reason = f"verify: false ({section.field_path('verify')}): the certificate is not checked"
        result.details["tls"] = [
            {"endpoint": e.url, "field": e.field, "inspected": False, "reason": reason}
            for e in endpoints
        ]
        return result
    now = now or datetime.datetime.now(datetime.UTC)
    cafile = getattr(section, "ca_bundle", None)
    wait = min(timeout, MAX_HANDSHAKE_SECONDS)
    inspections = [inspect(e, cafile=cafile, timeout=wait) for e in endpoints]
    result.details["tls"] = [i.facts(now) for i in inspections]
    if result.status == Status.ERROR.value:
        if result.details.get("failure") in _CERTIFICATE_FAILURES:
            _classify(section, result, inspections, now)
        return result
    threshold = (
        section.tls_settings().expiry_warning_days
        if expiry_warning_days is None
        else expiry_warning_days
    )
    warnings = [
        certificate_expiring(
            section, i.endpoint.url, i.certificate, now=now, threshold_days=threshold
        )
        for i in inspections
        if i.certificate is not None
        and not i.verify_message
        and i.certificate.not_after - now < datetime.timedelta(days=threshold)
    ]
    if warnings:
        earlier = [str(w) for w in result.details.get("warnings") or []]
        result.status = Status.WARNING
        result.details["warnings"] = earlier + warnings
        result.details["tls_expiry_warning_days"] = threshold
        result.remediation = " ".join(filter(None, [result.remediation, *warnings]))
    return result


def _classify(
    section: Section, result: CheckResult, inspections: list[Inspection], now: datetime.datetime
) -> None:
    """Replace a probe's certificate failure by the one the inspection explains."""
    refused = [i for i in inspections if i.verify_message]
    if not refused:
        return  # the client refused what this machine's store accepts: keep the client's word
    where = result.details.get("endpoint")
    which = next((i for i in refused if _same_place(where, i.endpoint)), refused[0])
    endpoint = str(where) if where and _same_place(where, which.endpoint) else which.endpoint.url
    built = certificate_failure(
        section,
        which.verify_message,
        endpoint=endpoint,
        step=str(result.details.get("step") or "TLS handshake"),
        code=which.verify_code,
        host=which.endpoint.host,
        field=which.endpoint.field,
        certificate=which.certificate,
        now=now,
    )
    result.message = built.message
    result.remediation = built.remediation
    result.details |= built.details
