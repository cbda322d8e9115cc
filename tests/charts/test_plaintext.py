"""The one rule for "this key holds a credential" (charts and examples share it, SC-004)."""

from __future__ import annotations

import pytest

from floe_checks.charts.plaintext import plaintext_credentials

pytestmark = [
    pytest.mark.charts,
    pytest.mark.requirement("SC-004"),
    pytest.mark.evidence("rendered"),
]


def test_credential_keys_with_literals_are_found() -> None:
    values = {
        "apiKey": "k-1",  # pragma: allowlist secret
        "s3": {"accessKeyId": "id-1", "secretAccessKey": "sk-1"},  # pragma: allowlist secret
        "db": {"password": "pw-1", "privateKeyPassphrase": "pp-1"},  # pragma: allowlist secret
        "env": [{"token": "t-1"}],  # pragma: allowlist secret
    }
    assert plaintext_credentials(values) == [
        "apiKey",
        "s3.accessKeyId",
        "s3.secretAccessKey",
        "db.password",
        "db.privateKeyPassphrase",
        "env[0].token",
    ]


def test_references_and_empty_values_are_not_credentials() -> None:
    values = {
        "existingSecret": "floe-db",
        "passwordKey": "FLOE_WAREHOUSE_PASSWORD",
        "secretKey": "CUBEJS_API_SECRET",
        "postgresqlSecretName": "floe-postgresql",
        "apiSecret": {"existingSecret": "floe-cube-api", "key": "CUBEJS_API_SECRET"},
        "password": "",
        "tokenTTL": "5m",
    }
    assert plaintext_credentials(values) == []
