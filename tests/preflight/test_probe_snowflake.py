"""The Snowflake probe against fakesnow's server (the real connector, the real REST protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floe_checks.config import SnowflakeCompute
from floe_checks.errors import CheckFailure, FailureKind
from floe_checks.ports import free_port
from floe_checks.probes import snowflake
from tests.preflight.cloud_emulators import Emulator, section
from tests.preflight.local_servers import Blackhole

pytestmark = pytest.mark.evidence("static")


PASSWORD = "fs-test-password-3b1f"  # pragma: allowlist secret (throwaway, for the emulator)
PASSPHRASE = "fs-test-passphrase-91c2"
DATABASE = "FLOE_DB"
SCHEMA = "ANALYTICS"
WAREHOUSE = "FLOE_WH"
TIMEOUT = 2.0
ROOT = "environments.test.compute"


@pytest.fixture(scope="module")
def snowflake_objects(snowflake_server: Emulator) -> Emulator:
    """Create the database and schema the probe selects (fakesnow starts empty)."""
    import snowflake.connector

    conn = snowflake.connector.connect(
        account="floe",
        user="admin",
        password="admin",  # pragma: allowlist secret (fakesnow ignores it)
        host="127.0.0.1",
        port=snowflake_server.port,
        protocol="http",
        session_parameters={"CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
    )
    try:
        conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
        conn.cursor().execute(f"CREATE SCHEMA IF NOT EXISTS {DATABASE}.{SCHEMA}")
    finally:
        conn.close()
    return snowflake_server


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", PASSWORD)
    monkeypatch.setenv("SNOWFLAKE_KEY_PASSPHRASE", PASSPHRASE)


def _compute(port: int, **overrides: Any) -> SnowflakeCompute:
    fields: dict[str, Any] = {
        "type": "snowflake",
        "account": "floe",
        "user": "floe_user",
        "password": "${SNOWFLAKE_PASSWORD}",
        "host": "127.0.0.1",
        "port": port,
        "protocol": "http",
        "warehouse": WAREHOUSE,
        "role": "TRANSFORMER",
        "database": DATABASE,
        "schema": SCHEMA,
    }
    fields.update(overrides)
    fields = {k: v for k, v in fields.items() if v is not None}
    result = section("compute", fields)
    assert isinstance(result, SnowflakeCompute)
    return result


def _fail(compute: SnowflakeCompute) -> CheckFailure:
    with pytest.raises(CheckFailure) as info:
        snowflake.check(compute, TIMEOUT)
    failure = info.value
    for secret in (PASSWORD, PASSPHRASE):
        assert secret not in f"{failure} {failure.remediation} {failure.details}"
    return failure


def _write_key(path: Path, passphrase: str | None) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


@pytest.mark.requirement("007-FR-016")
@pytest.mark.usefixtures("secrets")
def test_password_login_runs_select_1_and_reports_warehouse_and_role(
    snowflake_objects: Emulator,
) -> None:
    details = snowflake.check(_compute(snowflake_objects.port), TIMEOUT)

    # fakesnow has no CURRENT_WAREHOUSE(): the probe reports the warehouse its USE selected.
    # Its CURRENT_ROLE() answers "duckdb" whatever the login asked for.
    assert details["message"] == (
        "logged in to floe as floe_user; SELECT 1 ran (warehouse FLOE_WH, role duckdb)"
    )
    assert details["warehouse"] == WAREHOUSE
    assert details["role"] == "duckdb"
    assert details["database"] == DATABASE
    assert details["schema"] == SCHEMA
    assert details["auth"] == "password"
    assert details["endpoint"] == f"http://127.0.0.1:{snowflake_objects.port}"
    assert "warnings" not in details
    # fakesnow has no CURRENT_SECONDARY_ROLES() either: no secondary role, no admin role.
    assert details["privileges"] == {"role": "duckdb", "secondary_roles": [], "admin_roles": []}


@pytest.mark.requirement("007-FR-016")
@pytest.mark.usefixtures("secrets")
def test_key_pair_login(snowflake_objects: Emulator, tmp_path: Path) -> None:
    key = _write_key(tmp_path / "rsa_key.p8", PASSPHRASE)
    compute = _compute(
        snowflake_objects.port,
        password=None,
        private_key_path=str(key),
        private_key_passphrase="${SNOWFLAKE_KEY_PASSPHRASE}",
    )

    details = snowflake.check(compute, TIMEOUT)

    assert details["auth"] == "key-pair"
    assert details["database"] == DATABASE


@pytest.mark.requirement("007-FR-016", "007-FR-020")
@pytest.mark.usefixtures("secrets")
def test_fakesnow_accepts_any_password(snowflake_objects: Emulator) -> None:
    """Documents the emulator: fakesnow's login handler never checks user or password, so a
    wrong password passes here. Against Snowflake it fails with errno 390100 (see below)."""
    compute = _compute(snowflake_objects.port, password="${SNOWFLAKE_KEY_PASSPHRASE}")

    details = snowflake.check(compute, TIMEOUT)

    assert details["auth"] == "password"


@pytest.mark.requirement("007-FR-016", "007-FR-020")
def test_wrong_password_is_authentication() -> None:
    """fakesnow accepts any user and password, so the mapping is checked with the error the
    real connector raises for Snowflake's answer to a wrong password (errno 390100)."""
    from snowflake.connector.errors import DatabaseError

    from floe_checks.probes.snowflake import _classify

    wrong = DatabaseError(
        msg="Incorrect username or password was specified.", errno=390100, sqlstate="08001"
    )
    assert _classify(wrong) == FailureKind.AUTHENTICATION
    assert _classify(DatabaseError(msg="Something else", errno=1)) == FailureKind.UNKNOWN


@pytest.mark.requirement("007-FR-016", "007-FR-020")
@pytest.mark.usefixtures("secrets")
def test_wrong_key_passphrase_is_authentication(
    snowflake_objects: Emulator, tmp_path: Path
) -> None:
    key = _write_key(tmp_path / "rsa_key.p8", "another-passphrase")
    compute = _compute(
        snowflake_objects.port,
        password=None,
        private_key_path=str(key),
        private_key_passphrase="${SNOWFLAKE_KEY_PASSPHRASE}",
    )

    failure = _fail(compute)

    assert failure.kind == FailureKind.AUTHENTICATION
    assert failure.remediation == (
        f"the credentials were rejected: check {ROOT}.private_key_path, "
        f"{ROOT}.private_key_passphrase (${{SNOWFLAKE_KEY_PASSPHRASE}})."
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
@pytest.mark.usefixtures("secrets")
def test_missing_private_key_file_is_not_found(snowflake_objects: Emulator, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.p8"
    compute = _compute(snowflake_objects.port, password=None, private_key_path=str(missing))

    failure = _fail(compute)

    assert failure.kind == FailureKind.NOT_FOUND
    assert failure.remediation == (
        f"the private key file {missing} does not exist: create it, or fix {ROOT}.private_key_path."
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
@pytest.mark.usefixtures("secrets")
def test_missing_database_is_not_found(snowflake_objects: Emulator) -> None:
    failure = _fail(_compute(snowflake_objects.port, database="NO_SUCH_DB"))

    assert failure.kind == FailureKind.NOT_FOUND
    assert failure.remediation == (
        "the database NO_SUCH_DB (or the USAGE grant on it for TRANSFORMER) does not exist: "
        f"create it, or fix {ROOT}.database, {ROOT}.role."
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
@pytest.mark.usefixtures("secrets")
def test_missing_schema_is_not_found(snowflake_objects: Emulator) -> None:
    failure = _fail(_compute(snowflake_objects.port, schema="NO_SUCH_SCHEMA"))

    assert failure.kind == FailureKind.NOT_FOUND
    assert failure.remediation == (
        "the schema NO_SUCH_SCHEMA (or the USAGE grant on it for TRANSFORMER) does not exist: "
        f"create it, or fix {ROOT}.schema, {ROOT}.role."
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
@pytest.mark.usefixtures("secrets")
def test_connection_refused() -> None:
    port = free_port()

    failure = _fail(_compute(port))

    assert failure.kind == FailureKind.REFUSED
    assert failure.remediation == (
        f"nothing accepts connections at http://127.0.0.1:{port}: check {ROOT}.account, "
        f"{ROOT}.host, {ROOT}.port, that the service is running, and that firewalls or network "
        "policies let this machine through."
    )


@pytest.mark.requirement("007-FR-016", "007-FR-020")
@pytest.mark.usefixtures("secrets")
def test_blackhole_is_timeout(blackhole: Blackhole) -> None:
    failure = _fail(_compute(blackhole.port))

    assert failure.kind == FailureKind.TIMEOUT
    assert failure.remediation == (
        f"check {ROOT}.account, "
        f"{ROOT}.host, {ROOT}.port, security groups and network policies, or raise --timeout if "
        "the service is just slow."
    )
