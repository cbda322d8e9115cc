"""What the BigQuery and GCS probes share: loading Google credentials the way the client
libraries do, and classifying the errors of Google's API clients."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from floe_checks.config import BigQueryCompute, GCSStorage
from floe_checks.errors import FailureKind
from floe_checks.failures import (
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
            return _from_file(path, scopes)
        except ValueError as exc:
            # Messages name missing fields, never their values.
            raise failure(
                FailureKind.AUTHENTICATION,
                f"the credentials file {path} is not usable: {first_line(exc)}",
                section,
                ["credentials_file"],
                endpoint=endpoint,
                timeout=timeout,
            ) from None
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


def credentials_source(section: BigQueryCompute | GCSStorage, *, anonymous: bool) -> str:
    """Which credentials :func:`load_credentials` uses, for the report."""
    if anonymous:
        return "anonymous"
    return "credentials_file" if section.credentials_file else "application default"


def _from_file(path: Path, scopes: Sequence[str]) -> Credentials:
    """Load a credentials file by its declared ``type`` with that type's own loader (google-auth
    deprecates the generic loader for files of unknown origin).

    Raises:
        ValueError: not JSON, an unsupported type, or missing fields.
    """
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON credentials file ({type(exc).__name__})") from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind == "service_account":
        from google.oauth2 import service_account

        return service_account.Credentials.from_service_account_info(info, scopes=scopes)  # type: ignore[no-untyped-call, no-any-return]
    if kind == "authorized_user":
        from google.oauth2 import credentials

        return credentials.Credentials.from_authorized_user_info(info, scopes=scopes)  # type: ignore[no-untyped-call, no-any-return]
    if kind == "external_account":
        from google.auth import identity_pool

        return identity_pool.Credentials.from_info(info, scopes=scopes)  # type: ignore[no-untyped-call, no-any-return]
    raise ValueError(
        f"unsupported credentials type {kind!r}: use a service_account, authorized_user or "
        "external_account file, or application default credentials"
    )


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
