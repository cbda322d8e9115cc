"""``ca_bundle`` (Trino, the REST catalog, S3 ``endpoint_url``, Cube, Dagster): validated when
floe.yaml is read, and used by each client. The clients run against the real local servers
behind a TLS front with a certificate generated at start (``tls_front.py``): without
``ca_bundle`` the handshake fails with a TLS failure naming the field, with it the check passes.
Trino's own case runs against the real HTTPS Trino in tests/trino/test_trino_real.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from floe_checks.clients.dagster import DagsterClient
from floe_checks.config import Section, validate_environment
from floe_checks.errors import ConfigError
from floe_checks.preflight.runner import run_check
from floe_checks.servers.tls import self_signed
from tests.preflight.conftest import CubeServer, IcebergRestServer, S3Server
from tests.preflight.tls_front import TlsFront, tls_front

pytestmark = [pytest.mark.requirement("007-FR-020"), pytest.mark.evidence("emulator")]

# the subject (and issuer) of floe_checks.servers.tls.self_signed's certificate
ISSUER = "CN=floe-checks test 127.0.0.1"

# one minimal section per service that has ca_bundle (secrets as ${VAR}, set in _validate)
SECTIONS: dict[str, dict[str, object]] = {
    "compute": {"type": "trino", "host": "127.0.0.1", "http_scheme": "https"},
    "storage": {"type": "s3", "bucket": "b", "endpoint_url": "https://127.0.0.1:9000"},
    "catalog": {
        "type": "iceberg-rest",
        "uri": "https://127.0.0.1:8181",
        "client_id": "c",
        "client_secret": "${FLOE_TEST_CATALOG_SECRET}",
    },
    "cube": {"url": "https://127.0.0.1:4000", "api_secret": "${FLOE_TEST_CUBE_SECRET}"},
    "dagster": {"url": "https://127.0.0.1:3000"},
}


def _validate(service: str, monkeypatch: pytest.MonkeyPatch, **extra: object) -> Section:
    monkeypatch.setenv(
        "FLOE_TEST_CATALOG_SECRET", "catalog-secret-for-tests"
    )  # pragma: allowlist secret
    monkeypatch.setenv("FLOE_TEST_CUBE_SECRET", "cube-secret-for-tests")  # pragma: allowlist secret
    env = validate_environment("floe.yaml", "test", {service: {**SECTIONS[service], **extra}})
    return env.sections()[service]


@pytest.mark.parametrize("service", list(SECTIONS))
def test_missing_file_is_a_config_error_naming_the_field(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError) as caught:
        _validate(service, monkeypatch, ca_bundle=str(missing))
    assert str(caught.value) == (
        f"floe.yaml: environments.test.{service}.ca_bundle: CA bundle {missing} does not exist "
        "or is not a file. Fix: point it at the PEM file of the CA that signed the service's "
        "certificate (relative paths are read from the working directory)."
    )


@pytest.mark.parametrize(
    "content",
    [
        b"not a certificate\n",
        # a certificate block whose body is not DER: OpenSSL refuses it
        b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
        b"\x30\x82\x01\x0a\x02\x82",  # the start of a DER file (binary, not PEM)
    ],
    ids=["text", "bad-block", "der"],
)
@pytest.mark.parametrize("service", list(SECTIONS))
def test_file_that_is_not_pem_is_a_config_error_naming_the_field(
    service: str, content: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        _validate(service, monkeypatch, ca_bundle=str(bundle))
    assert str(caught.value) == (
        f"floe.yaml: environments.test.{service}.ca_bundle: CA bundle {bundle} is not a PEM "
        "file of certificates (no readable '-----BEGIN CERTIFICATE-----' block). Fix: export "
        "the CA certificate as PEM (e.g. `openssl x509 -in ca.der -inform der -out ca.pem`) "
        "and point at that file."
    )


@pytest.mark.parametrize("service", ["compute", "catalog"])
def test_ca_bundle_with_verify_false_is_refused(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = self_signed(tmp_path).ca_bundle
    with pytest.raises(ConfigError) as caught:
        _validate(service, monkeypatch, ca_bundle=str(bundle), verify=False)
    assert str(caught.value) == (
        f"floe.yaml: environments.test.{service}: ca_bundle and verify: false contradict each "
        "other. Fix: drop verify: false (ca_bundle already makes the certificate trusted), or "
        "drop ca_bundle."
    )


@pytest.mark.parametrize("service", list(SECTIONS))
def test_what_each_client_verifies_with(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = self_signed(tmp_path).ca_bundle
    monkeypatch.setenv("FLOE_TEST_CA", str(bundle))
    assert _validate(service, monkeypatch, ca_bundle="${FLOE_TEST_CA}").tls_verify() == str(bundle)
    assert _validate(service, monkeypatch).tls_verify() is True


# --- each client, against a real server behind TLS ------------------------------------


@pytest.fixture(scope="module")
def catalog_front(
    iceberg_rest_server: IcebergRestServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsFront]:
    port = int(iceberg_rest_server.uri.rsplit(":", 1)[1].split("/")[0])
    with tls_front(port, tmp_path_factory.mktemp("catalog-tls")) as front:
        yield front


def _catalog(
    load_section: Callable[..., Section],
    front: TlsFront,
    server: IcebergRestServer,
    **extra: object,
) -> Section:
    raw = {
        "type": "iceberg-rest",
        "uri": front.url(),
        "client_id": server.client_id,
        "client_secret": "${POLARIS_CLIENT_SECRET}",
        "warehouse": server.warehouse,
        **extra,
    }
    return load_section("catalog", raw, POLARIS_CLIENT_SECRET=server.client_secret)


def test_catalog_without_ca_bundle_fails_naming_it(
    catalog_front: TlsFront,
    iceberg_rest_server: IcebergRestServer,
    load_section: Callable[..., Section],
) -> None:
    result = run_check(
        "catalog", _catalog(load_section, catalog_front, iceberg_rest_server), timeout=10
    )
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_untrusted"
    assert result.details["certificate"] == "self-signed certificate"
    url = catalog_front.url("/v1/oauth/tokens")
    assert result.message == (
        f"the certificate of {url} is not trusted (self-signed certificate; OAuth2 token request)."
    )
    assert result.remediation == (
        "point environments.test.catalog.ca_bundle at the PEM file of the CA that signed the "
        f"certificate of {url} (for a private or self-signed CA; its issuer is {ISSUER}), or "
        "give the server a certificate from a CA this machine trusts."
    )


def test_catalog_with_ca_bundle_is_ok(
    catalog_front: TlsFront,
    iceberg_rest_server: IcebergRestServer,
    load_section: Callable[..., Section],
) -> None:
    section = _catalog(
        load_section, catalog_front, iceberg_rest_server, ca_bundle=str(catalog_front.ca_bundle)
    )
    result = run_check("catalog", section, timeout=10, slow_ms=60_000)
    assert result.status == "ok", result.line()
    assert result.details["endpoint"] == catalog_front.url()


@pytest.fixture(scope="module")
def s3_front(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFront]:
    with tls_front(s3_server.port, tmp_path_factory.mktemp("s3-tls")) as front:
        yield front


def _s3(load_section: Callable[..., Section], front: TlsFront, **extra: object) -> Section:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{front.target_port}",
        region_name="us-east-1",
        aws_access_key_id="floe-test-ca-bundle-key-id",
        aws_secret_access_key="moto-accepts-any-secret",  # pragma: allowlist secret
    ).create_bucket(Bucket="floe-ca-bundle")
    raw = {
        "type": "s3",
        "bucket": "floe-ca-bundle",
        "endpoint_url": front.url(),
        "path_style": True,
        "access_key_id": "${AWS_ACCESS_KEY_ID}",
        "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
        **extra,
    }
    return load_section(
        "storage",
        raw,
        AWS_ACCESS_KEY_ID="floe-test-ca-bundle-key-id",
        AWS_SECRET_ACCESS_KEY="moto-accepts-any-secret",  # pragma: allowlist secret
    )


def test_s3_endpoint_without_ca_bundle_fails_naming_it(
    s3_front: TlsFront, load_section: Callable[..., Section]
) -> None:
    result = run_check("storage", _s3(load_section, s3_front), timeout=10)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_untrusted"
    assert result.details["certificate"] == "self-signed certificate"
    assert result.remediation == (
        "point environments.test.storage.ca_bundle at the PEM file of the CA that signed the "
        f"certificate of {s3_front.url()} (for a private or self-signed CA; its issuer is "
        f"{ISSUER}), or give the server a certificate from a CA this machine trusts."
    )


def test_s3_endpoint_with_ca_bundle_is_ok(
    s3_front: TlsFront, load_section: Callable[..., Section]
) -> None:
    section = _s3(load_section, s3_front, ca_bundle=str(s3_front.ca_bundle))
    result = run_check("storage", section, timeout=10, slow_ms=60_000)
    # Plain moto lets any key do anything: the check passes over TLS with the two
    # least-privilege warnings (test_least_privilege_s3.py) and nothing else.
    assert result.status == "warning", result.line()
    privileges = result.details["privileges"]
    assert (privileges["list_all_buckets"], privileges["delete_outside_prefix"]) == (True, True)
    assert len(result.details["warnings"]) == 2


@pytest.fixture(scope="module")
def dagster_front(
    dagster_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsFront]:
    port = int(dagster_server.rsplit(":", 1)[1])
    with tls_front(port, tmp_path_factory.mktemp("dagster-tls")) as front:
        yield front


def test_dagster_without_ca_bundle_fails_naming_it(
    dagster_front: TlsFront, load_section: Callable[..., Section]
) -> None:
    result = run_check("dagster", load_section("dagster", {"url": dagster_front.url()}), timeout=10)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_untrusted"
    assert result.remediation == (
        "point environments.test.dagster.ca_bundle at the PEM file of the CA that signed the "
        f"certificate of {dagster_front.url('/server_info')} (for a private or self-signed CA; "
        f"its issuer is {ISSUER}), or give the server a certificate from a CA this machine "
        "trusts."
    )


def test_dagster_with_ca_bundle_is_ok_in_the_probe_and_the_client(
    dagster_front: TlsFront, load_section: Callable[..., Section]
) -> None:
    raw = {"url": dagster_front.url(), "ca_bundle": str(dagster_front.ca_bundle)}
    section = load_section("dagster", raw)
    result = run_check("dagster", section, timeout=10, slow_ms=60_000)
    assert result.status == "ok", result.line()
    client = DagsterClient(dagster_front.url(), verify=section.tls_verify())
    direct = DagsterClient(f"http://127.0.0.1:{dagster_front.target_port}")
    assert client.query("{ version }") == direct.query("{ version }")


@pytest.fixture(scope="module")
def cube_front(
    cube_server: CubeServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsFront]:
    port = int(cube_server.url.rsplit(":", 1)[1])
    with tls_front(port, tmp_path_factory.mktemp("cube-tls")) as front:
        yield front


def test_cube_without_and_with_ca_bundle(
    cube_front: TlsFront, cube_server: CubeServer, load_section: Callable[..., Section]
) -> None:
    from pydantic import SecretStr

    from floe_checks.clients.cube import CubeClient

    raw = {"url": cube_front.url(), "api_secret": "${CUBEJS_API_SECRET}"}
    untrusted = run_check(
        "cube", load_section("cube", raw, CUBEJS_API_SECRET=cube_server.api_secret), timeout=10
    )
    assert untrusted.details["failure"] == "tls_untrusted", untrusted.line()
    assert untrusted.remediation == (
        "point environments.test.cube.ca_bundle at the PEM file of the CA that signed the "
        f"certificate of {cube_front.url('/readyz')} (for a private or self-signed CA; its "
        f"issuer is {ISSUER}), or give the server a certificate from a CA this machine trusts."
    )
    section = load_section(
        "cube",
        {**raw, "ca_bundle": str(cube_front.ca_bundle)},
        CUBEJS_API_SECRET=cube_server.api_secret,
    )
    result = run_check("cube", section, timeout=10, slow_ms=60_000)
    assert result.status == "ok", result.line()
    secret = SecretStr(cube_server.api_secret)
    through_tls = CubeClient(cube_front.url(), secret, verify=section.tls_verify()).meta()
    direct = CubeClient(cube_server.url, secret).meta()
    assert through_tls == direct
