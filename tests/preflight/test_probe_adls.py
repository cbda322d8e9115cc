"""The ADLS/Azure Blob probe against Azurite (the real azure-storage-blob client).

Azurite checks Shared Key signatures and SAS tokens (signature and permissions), so wrong
credentials and a missing permission are real failures here. It does not emulate the ADLS Gen2
``dfs`` endpoint, which the probe does not use.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from floe_checks.config import ADLSStorage
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.ports import free_port
from floe_checks.probes import adls
from tests.preflight.cloud_emulators import (
    AZURE_CONTAINER,
    AZURITE_ACCOUNT,
    AZURITE_KEY,
    Emulator,
    section,
)
from tests.preflight.local_servers import Blackhole

pytestmark = pytest.mark.evidence("static")


TIMEOUT = 2.0
ROOT = "environments.test.storage"
# A well-formed key that is not the account's.
WRONG_KEY = "d3Jvbmcta2V5LWZvci10aGUtcHJlZmxpZ2h0LXRlc3Qtb25seQ=="  # pragma: allowlist secret


def _sas(**permissions: bool) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    token: str = generate_container_sas(
        AZURITE_ACCOUNT,
        AZURE_CONTAINER,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(**permissions),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    return token


def _storage(endpoint: str, **fields: Any) -> ADLSStorage:
    values = {
        "type": "adls",
        "account": AZURITE_ACCOUNT,
        "container": AZURE_CONTAINER,
        "endpoint": endpoint,
        **fields,
    }
    result = section("storage", values)
    assert isinstance(result, ADLSStorage)
    return result


def _fail(storage: ADLSStorage, *secrets: str) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        adls.check(storage, TIMEOUT)
    failure = info.value
    for secret in secrets:
        assert secret not in f"{failure} {failure.remediation} {failure.details}"
    return failure


def _blob_names(server: Emulator, prefix: str) -> list[str]:
    from azure.storage.blob import ContainerClient

    with ContainerClient(
        server.url,
        AZURE_CONTAINER,
        credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
    ) as container:
        return [blob.name for blob in container.list_blobs(name_starts_with=prefix)]


@pytest.mark.requirement("007-FR-017")
def test_account_key_write_read_delete(
    azurite_server: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_KEY", AZURITE_KEY)
    prefix = "preflight/key/"

    details = adls.check(
        _storage(azurite_server.url, account_key="${AZURE_STORAGE_KEY}", prefix=prefix), TIMEOUT
    )

    assert details["message"] == (
        f"listed, wrote, read back and deleted a probe blob under "
        f"{azurite_server.url}/{AZURE_CONTAINER}/{prefix}"
    )
    assert (details["read"], details["write"], details["delete"]) == ("ok", "ok", "ok")
    assert details["credentials"] == "account key"
    assert _blob_names(azurite_server, prefix) == []


@pytest.mark.requirement("007-FR-017")
def test_sas_token_write_read_delete(
    azurite_server: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AZURE_STORAGE_SAS", _sas(read=True, write=True, create=True, delete=True, list=True)
    )

    details = adls.check(_storage(azurite_server.url, sas_token="${AZURE_STORAGE_SAS}"), TIMEOUT)

    assert details["credentials"] == "SAS token"
    assert (details["write"], details["read"]) == ("ok", "ok")


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_wrong_account_key_is_authentication(
    azurite_server: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_KEY", WRONG_KEY)

    failure = _fail(
        _storage(azurite_server.url, account_key="${AZURE_STORAGE_KEY}"), WRONG_KEY, AZURITE_KEY
    )

    assert failure.kind == FailureKind.AUTHENTICATION
    assert failure.remediation == (
        f"the credentials were rejected: check {ROOT}.account, "
        f"{ROOT}.account_key (${{AZURE_STORAGE_KEY}})."
    )
    assert failure.details["http_status"] == 403


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_read_only_sas_is_authorization_on_write(
    azurite_server: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sas = _sas(read=True, list=True)
    monkeypatch.setenv("AZURE_STORAGE_SAS", sas)

    failure = _fail(_storage(azurite_server.url, sas_token="${AZURE_STORAGE_SAS}"), sas)

    assert failure.kind == FailureKind.AUTHORIZATION
    assert failure.remediation == (
        "the credentials are valid but lack a permission (write blobs (SAS permissions 'c' and "
        f"'w', or Storage Blob Data Contributor) on {AZURE_CONTAINER}): grant it to the identity "
        f"in {ROOT}.sas_token (${{AZURE_STORAGE_SAS}}), {ROOT}.container."
    )
    # Read and write are reported separately: listing (read) worked, writing did not.
    assert (failure.details["read"], failure.details["write"], failure.details["delete"]) == (
        "ok",
        "denied",
        "not checked",
    )


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_missing_container_is_not_found(
    azurite_server: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_KEY", AZURITE_KEY)

    failure = _fail(
        _storage(
            azurite_server.url, container="no-such-container", account_key="${AZURE_STORAGE_KEY}"
        ),
        AZURITE_KEY,
    )

    assert failure.kind == FailureKind.NOT_FOUND
    assert failure.remediation == (
        f"the container no-such-container does not exist: create it, or fix {ROOT}.container, "
        f"{ROOT}.account."
    )
    assert failure.details["error_code"] == "ContainerNotFound"


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_KEY", AZURITE_KEY)
    endpoint = f"http://127.0.0.1:{free_port()}/{AZURITE_ACCOUNT}"

    failure = _fail(_storage(endpoint, account_key="${AZURE_STORAGE_KEY}"), AZURITE_KEY)

    assert failure.kind == FailureKind.REFUSED
    assert failure.remediation == (
        f"nothing accepts connections at {endpoint}: check {ROOT}.endpoint, that the service "
        "is running, and that firewalls or network policies let this machine through."
    )


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_blackhole_is_timeout(blackhole: Blackhole, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_KEY", AZURITE_KEY)
    endpoint = f"http://127.0.0.1:{blackhole.port}/{AZURITE_ACCOUNT}"

    failure = _fail(_storage(endpoint, account_key="${AZURE_STORAGE_KEY}"), AZURITE_KEY)

    assert failure.kind == FailureKind.TIMEOUT
    assert failure.remediation == (
        f"check {ROOT}.endpoint, security groups and "
        "network policies, or raise --timeout if the service is just slow."
    )


@pytest.mark.requirement("007-FR-017", "007-FR-020")
def test_sas_without_delete_is_a_warning(
    azurite_server: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sas = _sas(read=True, write=True, create=True, list=True)
    monkeypatch.setenv("AZURE_STORAGE_SAS", sas)
    prefix = "preflight/no-delete/"

    details = adls.check(
        _storage(azurite_server.url, sas_token="${AZURE_STORAGE_SAS}", prefix=prefix), TIMEOUT
    )

    assert (details["read"], details["write"], details["delete"]) == ("ok", "ok", "denied")
    probe_blob = details["probe_object"]
    assert details["warnings"] == [
        f"the probe object {probe_blob} could not be deleted: the credentials are valid but "
        "lack a permission (delete blobs (SAS permission 'd', or Storage Blob Data Contributor) "
        f"on {AZURE_CONTAINER}): grant it to the identity in {ROOT}.sas_token "
        f"(${{AZURE_STORAGE_SAS}}), {ROOT}.container."
    ]
    assert sas not in str(details)
    # The blob stayed behind, as the warning says.
    assert _blob_names(azurite_server, prefix) == [probe_blob]
