"""Azure Data Lake Storage / Blob: list the container under the prefix, then write, read back
and delete a probe blob there (:mod:`~floe_checks.probes.object_round_trip`). Read and write
are reported separately.

It speaks the Blob API (``azure-storage-blob``), which every ADLS Gen2 account also serves and
which is what Iceberg and dbt readers use for objects. Credentials: ``account_key``, else
``sas_token``, else ``DefaultAzureCredential`` (environment, workload identity, managed
identity, Azure CLI). Each request has the per-check timeout as connection and read timeout and
no retries.
"""

from __future__ import annotations

from typing import Any

from floe_checks.config import ADLSStorage
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.failures import (
    classify_network_error,
    failure,
    kind_for_http_status,
)
from floe_checks.probes.object_round_trip import ReadBackMismatch, round_trip
from floe_checks.results import Service

SERVICE = Service.STORAGE

# Azure's answer to a bad signature or key; Azurite uses the same text with another code.
_AUTHENTICATION_FAILED = "Server failed to authenticate the request"
# What each step needs, as SAS permission and as Azure RBAC role.
_STEP_NEEDS = {
    "list": "list blobs (SAS permission 'l', or the role Storage Blob Data Reader)",
    "write": "write blobs (SAS permissions 'c' and 'w', or Storage Blob Data Contributor)",
    "read back": "read blobs (SAS permission 'r', or Storage Blob Data Reader)",
    "delete": "delete blobs (SAS permission 'd', or Storage Blob Data Contributor)",
}


def _credential_fields(section: ADLSStorage) -> list[str]:
    if section.account_key is not None:
        return ["account", "account_key"]
    if section.sas_token is not None:
        return ["sas_token"]
    return ["account_key", "sas_token"]


def _credential(section: ADLSStorage, timeout: float) -> Any:
    from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential

    if section.account_key is not None:
        return AzureNamedKeyCredential(section.account, section.account_key.get_secret_value())
    if section.sas_token is not None:
        return AzureSasCredential(section.sas_token.get_secret_value().lstrip("?"))
    from azure.identity import DefaultAzureCredential

    # process_timeout bounds the Azure CLI and PowerShell credentials of the chain.
    return DefaultAzureCredential(process_timeout=timeout)


def _classify(exc: BaseException) -> FailureKind:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestTimeoutError,
        ServiceResponseTimeoutError,
    )

    if isinstance(exc, ReadBackMismatch):
        return FailureKind.PROTOCOL
    if isinstance(exc, ServiceRequestTimeoutError | ServiceResponseTimeoutError):
        return FailureKind.TIMEOUT
    # azure-core keeps the transport's exception in ``inner_exception``, not in __cause__.
    for candidate in (exc, getattr(exc, "inner_exception", None)):
        if isinstance(candidate, BaseException):
            network = classify_network_error(candidate)
            if network is not None:
                return network
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        if exc.status_code == 403 and _AUTHENTICATION_FAILED in str(exc):
            return FailureKind.AUTHENTICATION
        return kind_for_http_status(exc.status_code)
    if isinstance(exc, ClientAuthenticationError):
        # Raised by azure-identity when no credential in the chain could get a token.
        return FailureKind.AUTHENTICATION
    return FailureKind.UNKNOWN


def _fields(kind: FailureKind, section: ADLSStorage) -> list[str]:
    if kind == FailureKind.AUTHENTICATION:
        return _credential_fields(section)
    if kind == FailureKind.AUTHORIZATION:
        return [*_credential_fields(section), "container"]
    if kind == FailureKind.NOT_FOUND:
        return ["container", "account"]
    return ["endpoint"] if section.endpoint else ["account"]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Container:
    """The round trip's steps through azure-storage-blob (timeouts and retries are set on the
    service client)."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def list(self, prefix: str) -> None:
        # Listing, not Get Container Properties: a container SAS cannot read properties.
        blobs = self._container.list_blobs(name_starts_with=prefix, results_per_page=1)
        next(iter(blobs), None)

    def write(self, key: str, data: bytes) -> None:
        self._container.get_blob_client(key).upload_blob(data, overwrite=True)

    def read(self, key: str) -> bytes:
        data: bytes = self._container.get_blob_client(key).download_blob().readall()
        return data

    def delete(self, key: str) -> None:
        self._container.get_blob_client(key).delete_blob()


def check(section: ADLSStorage, timeout: float) -> dict[str, object]:
    """List the container, then write, read back and delete a probe blob under the prefix.

    Raises:
        CheckFailure: the container is missing, the credential is wrong or lacks a permission,
            or the endpoint is wrong.
    """
    from azure.storage.blob import BlobServiceClient

    endpoint = section.endpoint or f"https://{section.account}.blob.core.windows.net"
    service = BlobServiceClient(
        account_url=endpoint,
        credential=_credential(section, timeout),
        connection_timeout=timeout,
        read_timeout=timeout,
        retry_total=0,
    )
    url = f"{endpoint.rstrip('/')}/{section.container}/{section.prefix}"

    def fail(step: str, exc: Exception) -> CheckFailure:
        kind = _classify(exc)
        status = getattr(exc, "status_code", None)
        code = getattr(exc, "error_code", None)
        return failure(
            kind,
            f"Azure Blob {step} at {url} failed: {_first_line(exc)}",
            section,
            _fields(kind, section),
            endpoint=endpoint,
            timeout=timeout,
            what={
                FailureKind.AUTHORIZATION: f"{_STEP_NEEDS[step]} on {section.container}",
                FailureKind.NOT_FOUND: f"the container {section.container}",
                FailureKind.PROTOCOL: "the Azure Blob API",
            }.get(kind, _first_line(exc)),
            details={
                "container": section.container,
                **({"http_status": status} if status is not None else {}),
                **({"error_code": str(code)} if code is not None else {}),
            },
        )

    try:
        container = service.get_container_client(section.container)
        steps = round_trip(_Container(container), section.prefix, fail)
    finally:
        service.close()
    if section.account_key is not None:
        credentials = "account key"
    elif section.sas_token is not None:
        credentials = "SAS token"
    else:
        credentials = "DefaultAzureCredential"
    return {
        "message": f"listed, wrote, read back and deleted a probe blob under {url}",
        "endpoint": endpoint,
        "container": section.container,
        "prefix": section.prefix,
        "credentials": credentials,
        **steps,
    }
