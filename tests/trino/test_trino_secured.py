"""What a secured real Trino 483 does at the HTTP level (``floe_checks.servers.trino`` with
:class:`~floe_checks.servers.trino.TrinoSecurity`): HTTPS with the certificate generated at
start, the ``file`` password authenticator (``scripts/setup.d/trino/``), JWT, and the plain http
port refusing credentials. The probe's view of the same cases is in test_trino_real.py."""

from __future__ import annotations

import base64
import ssl

import pytest
import requests
from pydantic import SecretStr

from floe_checks.probes.trino import pinned_session
from floe_checks.servers.trino import TrinoSecurity, TrinoServer, password_file_line
from floe_checks.tokens import hs256_token

pytestmark = [pytest.mark.requirement("007-FR-016", "007-FR-020"), pytest.mark.evidence("static")]


def _security(trino: TrinoServer) -> TrinoSecurity:
    assert trino.security is not None, "the tests/trino server is always secured"
    return trino.security


def _post(
    trino: TrinoServer, headers: dict[str, str], verify: bool | str = True
) -> requests.Response:
    session = pinned_session(verify)
    try:
        return session.post(
            f"{trino.url}/v1/statement",
            data="SELECT 1",
            headers={"X-Trino-User": _security(trino).user, **headers},
            timeout=30,
        )
    finally:
        session.close()


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def test_password_over_https_runs_a_query(trino: TrinoServer) -> None:
    import trino as trino_client

    security = _security(trino)
    conn = trino_client.dbapi.connect(  # type: ignore[no-untyped-call]
        host=trino.host,
        port=trino.client_port,
        user=security.user,
        http_scheme="https",
        auth=trino_client.auth.BasicAuthentication(
            security.user, security.password.get_secret_value()
        ),
        http_session=pinned_session(str(trino.ca_bundle)),
        catalog="tpch",
        schema="tiny",
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM nation")
        assert cur.fetchall() == [[25]]  # TPC-H fixes 25 nations
    finally:
        conn.close()


def test_wrong_password_is_401_with_trinos_challenge(trino: TrinoServer) -> None:
    answer = _post(trino, _basic(_security(trino).user, "not-the-password"), str(trino.ca_bundle))
    assert answer.status_code == 401
    assert answer.text == "Access Denied: Invalid credentials"
    assert 'Basic realm="Trino"' in answer.headers["WWW-Authenticate"]


def test_unknown_user_is_401(trino: TrinoServer) -> None:
    security = _security(trino)
    answer = _post(
        trino, _basic("mallory", security.password.get_secret_value()), str(trino.ca_bundle)
    )
    assert (answer.status_code, answer.text) == (401, "Access Denied: Invalid credentials")


def test_jwt_signed_with_the_key_is_accepted(trino: TrinoServer) -> None:
    token = _security(trino).token().get_secret_value()
    answer = _post(trino, {"Authorization": f"Bearer {token}"}, str(trino.ca_bundle))
    assert answer.status_code == 200
    assert answer.json()["stats"]["state"] == "QUEUED"


def test_jwt_signed_with_another_key_is_401(trino: TrinoServer) -> None:
    forged = hs256_token(SecretStr("another-key-entirely-0123456789"), {"sub": "analyst"})
    answer = _post(trino, {"Authorization": f"Bearer {forged}"}, str(trino.ca_bundle))
    assert answer.status_code == 401
    assert answer.text == (
        "JWT signature does not match locally computed signature. JWT validity cannot be "
        "asserted and should not be trusted."
    )


def test_credentials_over_the_plain_http_port_are_refused(trino: TrinoServer) -> None:
    security = _security(trino)
    answer = requests.post(
        f"{trino.internal_url}/v1/statement",
        data="SELECT 1",
        headers={
            "X-Trino-User": security.user,
            **_basic(security.user, security.password.get_secret_value()),
        },
        timeout=30,
    )
    assert (answer.status_code, answer.text) == (
        403,
        "Error 403 Forbidden: Authentication over HTTP is not enabled",
    )


def test_certificate_is_not_trusted_without_its_ca(trino: TrinoServer) -> None:
    """The system CA bundle does not hold the certificate generated at start."""
    with pytest.raises(requests.exceptions.SSLError) as caught:
        _post(trino, {}, verify=ssl.get_default_verify_paths().openssl_cafile)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


def test_no_secret_reaches_the_server_log(trino: TrinoServer) -> None:
    """Trino logs its configuration at start; the shared secret shows as [REDACTED] and the
    password, its hash's file and the JWT key are only paths there."""
    security = _security(trino)
    log = (trino.base_dir / "trino.log").read_text(encoding="utf-8", errors="replace")
    config = (trino.base_dir / "etc" / "config.properties").read_text(encoding="utf-8")
    shared = next(
        line.split("=", 1)[1]
        for line in config.splitlines()
        if line.startswith("internal-communication.shared-secret=")
    )
    for secret in (
        security.password.get_secret_value(),
        security.jwt_key.get_secret_value(),
        shared,
    ):
        assert secret not in log


def test_password_file_line_is_pbkdf2_sha256_in_trinos_format() -> None:
    """The hash was computed with OpenSSL, not with our code
    (``openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:passwd -kdfopt salt:salt
    -kdfopt iter:1000 PBKDF2``)."""
    line = password_file_line("analyst", SecretStr("passwd"), salt=b"salt")
    assert line == (
        "analyst:1000:73616c74:fa9c158e678bfe94189b0b1a707a0921672fdc9f11fa978805969df312c2c8ef\n"
    )
