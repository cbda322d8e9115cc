"""What the BigQuery and GCS probes share: loading Google credentials the way the client
libraries do, and classifying the errors of Google's API clients."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from floe_checks.config import BigQueryCompute, GCSStorage
from floe_checks.errors import FailureKind
from floe_checks.preflight.remediation import (
    classify_network_error,
    failure,
    kind_for_http_status,
)

if TYPE_CHECKING:
    from google.auth.credentials import Credentials


def load_credentials(
    section: BigQueryCompute | GCSStorage,
    *,
    anonymous: bool,
    scopes: Sequence[str],
    endpoint: str,
    timeout: float,
) -> Credentials:
    """Anonymous credentials (emulators), the service-account/user file in
    ``credentials_file``, or application default credentials, in that order.

    Raises:
        CheckFailure: the file is missing or unusable, or no default credentials exist.
    """
    import google.auth
    from google.auth.credentials import AnonymousCredentials
    from google.auth.exceptions import DefaultCredentialsError

    if anonymous:
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    if section.credentials_file:
        path = Path(section.credentials_file).expanduser()
        if not path.is_file():
            raise failure(
                FailureKind.NOT_FOUND,
                f"the credentials file {path} does not exist.",
                section,
                ["credentials_file"],
                endpoint=endpoint,
                timeout=timeout,
                what=f"the credentials file {path}",
            )
        try:
            credentials, _ = google.auth.load_credentials_from_file(  # type: ignore[no-untyped-call]
                str(path), scopes=scopes
            )
        except DefaultCredentialsError as exc:
            raise failure(
                FailureKind.AUTHENTICATION,
                f"the credentials file {path} is not usable: {first_line(exc)}",
                section,
                ["credentials_file"],
                endpoint=endpoint,
                timeout=timeout,
            ) from None
        from_file: Credentials = credentials
        return from_file
    try:
        credentials, _ = google.auth.default(scopes=scopes)
    except DefaultCredentialsError:
        raise failure(
            FailureKind.AUTHENTICATION,
            "no Google application default credentials were found (GOOGLE_APPLICATION_CREDENTIALS "
            "unset, no gcloud login, no metadata server).",
            section,
            ["credentials_file"],
            endpoint=endpoint,
            timeout=timeout,
        ) from None
    loaded: Credentials = credentials
    return loaded


def classify(exc: BaseException) -> FailureKind:
    """The failure kind of an exception raised by google-auth or a google-cloud client."""
    from google.api_core.exceptions import GoogleAPICallError
    from google.auth.exceptions import RefreshError

    network = classify_network_error(exc)
    if network is not None:
        return network
    if isinstance(exc, RefreshError):
        return FailureKind.AUTHENTICATION
    if isinstance(exc, GoogleAPICallError) and exc.code is not None:
        return kind_for_http_status(int(exc.code))
    return FailureKind.UNKNOWN


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a google-cloud client error, if it has one."""
    code = getattr(exc, "code", None)
    return int(code) if isinstance(code, int) else None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (client errors append response bodies)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
