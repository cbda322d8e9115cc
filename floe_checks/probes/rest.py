"""HTTP calls for the probes that speak plain HTTP (catalog, cube, dagster), with every
transport failure turned into a classified :class:`~floe_checks.errors.CheckFailure`.

``requests`` is imported inside the functions: it is a core dependency, but importing it costs
tens of milliseconds the plugin does not need to pay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from floe_checks.config import Section
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import (
    certificate_failure,
    classify_network_error,
    failure,
    untrusted_certificate,
)

if TYPE_CHECKING:
    import requests


def transport_failure(
    exc: Exception,
    section: Section,
    fields: Sequence[str],
    *,
    endpoint: str,
    timeout: float,
    step: str,
) -> CheckFailure:
    """Classify a ``requests`` exception (DNS, refused, timeout, TLS) as a CheckFailure; an
    untrusted server certificate names the section's ``ca_bundle``."""
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        reason = untrusted_certificate(exc)
        if reason is not None:
            return certificate_failure(section, reason, endpoint=endpoint, step=step)
        kind = FailureKind.TLS
    elif isinstance(exc, requests.exceptions.Timeout):
        kind = FailureKind.TIMEOUT
    else:
        kind = classify_network_error(exc) or (
            FailureKind.REFUSED
            if isinstance(exc, requests.exceptions.ConnectionError)
            else FailureKind.UNKNOWN
        )
    messages = {
        FailureKind.TLS: f"TLS handshake with {endpoint} failed ({step}).",
        FailureKind.TIMEOUT: f"no answer from {endpoint} within {timeout:g} s ({step}).",
        FailureKind.DNS: f"cannot resolve the host of {endpoint} ({step}).",
        FailureKind.REFUSED: f"connection to {endpoint} refused ({step}).",
    }
    message = messages.get(kind, f"{step} at {endpoint} failed: {type(exc).__name__}.")
    return failure(
        kind,
        message,
        section,
        fields,
        endpoint=endpoint,
        timeout=timeout,
        what=type(exc).__name__,
        details={"step": step},
    )


def request(
    method: str,
    url: str,
    section: Section,
    fields: Sequence[str],
    *,
    timeout: float,
    step: str,
    verify: bool | str = True,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    json: Any = None,
    params: Mapping[str, str] | None = None,
) -> requests.Response:
    """Send one request with ``(connect, read)`` timeouts and no retries. ``verify`` is
    passed on each call (a CA bundle path or a flag): a session's own would lose to
    REQUESTS_CA_BUNDLE.

    Raises:
        CheckFailure: the request could not be made or no answer came in time.
    """
    import requests

    try:
        return requests.request(
            method,
            url,
            headers=dict(headers or {}),
            data=data,
            json=json,
            params=params,
            timeout=(timeout, timeout),
            verify=verify,
            allow_redirects=False,
        )
    except requests.exceptions.RequestException as exc:
        raise transport_failure(
            exc, section, fields, endpoint=url, timeout=timeout, step=step
        ) from None


def error_text(response: requests.Response, limit: int = 200) -> str:
    """A short description of an error answer: status, reason and the server's own message."""
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            detail = str(err.get("message") or err.get("type") or "")
        elif isinstance(err, str):
            detail = str(body.get("error_description") or err)
        elif "message" in body:
            detail = str(body["message"])
    text = f"{response.status_code} {response.reason or ''}".strip()
    if detail:
        detail = " ".join(detail.split())[:limit]
        text += f": {detail}"
    return text


def json_body(
    response: requests.Response,
    section: Section,
    fields: Sequence[str],
    *,
    endpoint: str,
    what: str,
) -> dict[str, Any]:
    """The JSON object of an answer, or a protocol failure when it is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise failure(
            FailureKind.PROTOCOL,
            f"{endpoint} answered {response.status_code} without the JSON object {what} sends.",
            section,
            fields,
            endpoint=endpoint,
            what=what,
            details={"http_status": response.status_code},
        )
    return body
