"""Issue 17.1 (FC-004): the certificate of every https endpoint, inspected once per check.

Real servers behind TLS fronts (:mod:`tests.preflight.tls_front`) that serve certificates issued
at test time (:mod:`tests.preflight.certificates`): SeaweedFS' Iceberg REST catalog with OAuth2
(one server, one front per certificate), and moto's S3 for an ``endpoint_url``. Each case
asserts the status, the failure kind, and the exact message, remediation and ``details.tls``;
expected dates and day counts come from the validity the test itself chose, not from the code
under test. Also: the ``tls.expiry_warning_days`` setting and its validation, the pytest path
(report and JUnit) and the ``floe preflight`` exit code.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from floe_checks.config import Section, validate_environment
from floe_checks.errors import ConfigError, FailureKind
from floe_checks.failures import certificate_failure, certificate_kind
from floe_checks.preflight.runner import run_check
from floe_checks.servers.tls import ServerCertificate
from tests.preflight.certificates import TestCa
from tests.preflight.conftest import IcebergRestServer, S3Server
from tests.preflight.tls_front import TlsFront, tls_front

pytestmark = [pytest.mark.requirement("FC-004"), pytest.mark.evidence("service")]

BIN = Path(sys.executable).parent
DAY = datetime.timedelta(days=1)
ORG = "O=floe-checks tests"
TRUSTED_CA = f"CN=floe test CA,{ORG}"
UNKNOWN_CA = f"CN=some other CA,{ORG}"


def _utc(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Case:
    """A certificate a front serves, with the validity the test chose for it."""

    front: TlsFront
    subject: str
    not_before: datetime.datetime
    not_after: datetime.datetime


@dataclass(frozen=True)
class Fronts:
    """One front per certificate, all before the same real server."""

    ca: TestCa
    cases: dict[str, Case]

    def __getitem__(self, name: str) -> Case:
        return self.cases[name]


# name -> (validity start, end relative to now; SAN IPs, SAN DNS names; issued by the trusted CA)
# Half days keep the whole-day counts clear of the moment the test runs.
PLAN: dict[
    str, tuple[datetime.timedelta, datetime.timedelta, tuple[str, ...], tuple[str, ...], bool]
] = {
    "valid": (-DAY, 90 * DAY + DAY / 2, ("127.0.0.1",), (), True),
    "soon": (-DAY, 3 * DAY + DAY / 2, ("127.0.0.1",), (), True),
    "expired": (-30 * DAY, -2 * DAY - DAY / 2, ("127.0.0.1",), (), True),
    "future": (2 * DAY, 90 * DAY, ("127.0.0.1",), (), True),
    "wrong-name": (-DAY, 90 * DAY, (), ("catalog.internal", "polaris.internal"), True),
    "unknown-ca": (-DAY, 90 * DAY, ("127.0.0.1",), (), False),
}


@contextlib.contextmanager
def _fronts(target_port: int, base: Path) -> Iterator[Fronts]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    ca = TestCa.create(base / "ca", "floe test CA")
    other = TestCa.create(base / "other-ca", "some other CA")
    cases: dict[str, Case] = {}
    with contextlib.ExitStack() as stack:
        for name, (start, end, ips, dns, trusted) in PLAN.items():
            issuer = ca if trusted else other
            cert: ServerCertificate = issuer.issue(
                base / name, name, not_before=now + start, not_after=now + end, ips=ips, dns=dns
            )
            front = stack.enter_context(tls_front(target_port, base / name, cert))
            cases[name] = Case(front, f"CN={name},{ORG}", now + start, now + end)
        yield Fronts(ca, cases)


@pytest.fixture(scope="module")
def catalog_fronts(
    iceberg_rest_server: IcebergRestServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fronts]:
    port = int(iceberg_rest_server.uri.rsplit(":", 1)[1].split("/")[0])
    with _fronts(port, tmp_path_factory.mktemp("catalog-certs")) as fronts:
        yield fronts


def _environment(
    monkeypatch: pytest.MonkeyPatch,
    server: IcebergRestServer,
    fronts: Fronts,
    case: str,
    tls: dict[str, object] | None = None,
    **extra: object,
) -> Section:
    monkeypatch.setenv("POLARIS_CLIENT_SECRET", server.client_secret)
    catalog: dict[str, object] = {
        "type": "iceberg-rest",
        "uri": fronts[case].front.url(),
        "client_id": server.client_id,
        "client_secret": "${POLARIS_CLIENT_SECRET}",
        "warehouse": server.warehouse,
        "ca_bundle": str(fronts.ca.bundle),
        **extra,
    }
    if extra.get("verify") is False:
        del catalog["ca_bundle"]
    raw: dict[str, object] = {"catalog": catalog}
    if tls is not None:
        raw["tls"] = tls
    return validate_environment("floe.yaml", "test", raw).sections()["catalog"]


def _entry(case: Case, issuer: str, days_left: int, *, field: str = "uri") -> dict[str, object]:
    """The ``details.tls`` entry of a certificate that verified."""
    host = case.front.url()
    return {
        "endpoint": host,
        "field": field,
        "inspected": True,
        "verified": True,
        "subject": case.subject,
        "names": ["127.0.0.1"],
        "issuer": issuer,
        "not_before": _utc(case.not_before),
        "not_after": _utc(case.not_after),
        "days_left": days_left,
    }


def test_valid_certificate_is_ok_and_reported(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "valid")
    result = run_check("catalog", section, timeout=10, slow_ms=60_000)
    assert result.status == "ok", result.line()
    assert result.remediation is None
    assert result.details["tls"] == [_entry(catalog_fronts["valid"], TRUSTED_CA, 90)]


def _expiring_warning(case: Case, days: int, threshold: int) -> str:
    return (
        f"the certificate of {case.front.url()} (CN=soon,{ORG}; for 127.0.0.1) expires on "
        f"{_utc(case.not_after)}, in {days} days: renew it before then (warning below "
        f"{threshold} days: environments.test.tls.expiry_warning_days)."
    )


def test_certificate_expiring_in_3_days_is_a_warning(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = catalog_fronts["soon"]
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "soon")
    result = run_check("catalog", section, timeout=10, slow_ms=60_000)
    assert result.status == "warning", result.line()
    warning = _expiring_warning(case, 3, 30)
    assert result.remediation == warning
    assert result.details["warnings"] == [warning]
    assert result.details["tls_expiry_warning_days"] == 30
    assert result.details["tls"] == [_entry(case, TRUSTED_CA, 3)]
    # the probe's own answer is untouched
    assert result.message.startswith("OAuth2 token ")


@pytest.mark.parametrize(("threshold", "status"), [(3, "ok"), (4, "warning"), (0, "ok")])
def test_expiry_threshold_comes_from_the_environment(
    threshold: int,
    status: str,
    catalog_fronts: Fronts,
    iceberg_rest_server: IcebergRestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """3 days and a half left: under 4 days warns, under 3 (or 0: off) does not."""
    tls = {"expiry_warning_days": threshold}
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "soon", tls)
    result = run_check("catalog", section, timeout=10, slow_ms=60_000)
    assert result.status == status, result.line()
    expected = _expiring_warning(catalog_fronts["soon"], 3, threshold)
    assert result.remediation == (expected if status == "warning" else None)


def test_expired_certificate_is_an_error(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = catalog_fronts["expired"]
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "expired")
    result = run_check("catalog", section, timeout=10)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_expired"
    token_url = case.front.url("/v1/oauth/tokens")
    assert result.message == (
        f"the certificate of {token_url} (CN=expired,{ORG}) expired on {_utc(case.not_after)}, "
        "2 days ago (OAuth2 token request)."
    )
    assert result.remediation == (
        f"renew the certificate of {token_url} (expired on {_utc(case.not_after)}) and install "
        "it on the server: every client refuses it until then."
    )
    entry = result.details["tls"][0]
    assert (entry["verified"], entry["verify_error"], entry["days_left"]) == (
        False,
        "certificate has expired",
        -3,  # 2.5 days past notAfter, rounded down
    )


def test_not_yet_valid_certificate_is_an_error(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = catalog_fronts["future"]
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "future")
    result = run_check("catalog", section, timeout=10)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_not_yet_valid"
    start = _utc(case.not_before)
    assert result.message == (
        f"the certificate of {case.front.url('/v1/oauth/tokens')} is not valid before {start} "
        "(OAuth2 token request)."
    )
    assert result.remediation == (
        f"check the clocks of this machine and of the server (the certificate is not valid "
        f"before {start}), or give the server a certificate that is valid now."
    )


def test_wrong_name_is_tls_hostname(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = catalog_fronts["wrong-name"]
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "wrong-name")
    result = run_check("catalog", section, timeout=10)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_hostname"
    assert result.message == (
        f"the certificate of {case.front.url('/v1/oauth/tokens')} is not valid for "
        "'127.0.0.1': it is for catalog.internal, polaris.internal (OAuth2 token request)."
    )
    assert result.remediation == (
        "set environments.test.catalog.uri to a name the certificate is for (catalog.internal, "
        "polaris.internal), or give the server a certificate whose subject alternative names "
        "include '127.0.0.1'."
    )
    assert result.details["certificate"] == (
        "IP address mismatch, certificate is not valid for '127.0.0.1'."
    )


def test_unknown_ca_is_tls_untrusted_naming_ca_bundle(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = catalog_fronts["unknown-ca"]
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "unknown-ca")
    result = run_check("catalog", section, timeout=10)
    assert result.status == "error", result.line()
    assert result.details["failure"] == "tls_untrusted"
    token_url = case.front.url("/v1/oauth/tokens")
    assert result.message == (
        f"the certificate of {token_url} is not trusted (unable to get local issuer "
        "certificate; OAuth2 token request)."
    )
    assert result.remediation == (
        "point environments.test.catalog.ca_bundle at the PEM file of the CA that signed the "
        f"certificate of {token_url} (for a private or self-signed CA; its issuer is "
        f"{UNKNOWN_CA}), or give the server a certificate from a CA this machine trusts."
    )


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_verify_false_is_not_inspected_and_says_so(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An expired certificate, but the user turned verification off: no judgement, a note."""
    section = _environment(
        monkeypatch, iceberg_rest_server, catalog_fronts, "expired", verify=False
    )
    result = run_check("catalog", section, timeout=10, slow_ms=60_000)
    assert result.status == "ok", result.line()
    assert result.details["tls"] == [
        {
            "endpoint": catalog_fronts["expired"].front.url(),
            "field": "uri",
            "inspected": False,
            "reason": "verify: false (environments.test.catalog.verify): the certificate is "
            "not checked",
        }
    ]


def test_token_endpoint_on_another_port_is_inspected_too(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalog's certificate is fine, the identity provider's has expired."""
    expired = catalog_fronts["expired"]
    token_url = expired.front.url("/v1/oauth/tokens")
    section = _environment(
        monkeypatch, iceberg_rest_server, catalog_fronts, "valid", oauth2_server_uri=token_url
    )
    result = run_check("catalog", section, timeout=10)
    assert result.details["failure"] == "tls_expired", result.line()
    assert result.message == (
        f"the certificate of {token_url} (CN=expired,{ORG}) expired on "
        f"{_utc(expired.not_after)}, 2 days ago (OAuth2 token request)."
    )
    assert [(e["endpoint"], e["field"], e["verified"]) for e in result.details["tls"]] == [
        (catalog_fronts["valid"].front.url(), "uri", True),
        (expired.front.url(), "oauth2_server_uri", False),
    ]


def test_token_endpoint_expiring_soon_warns_naming_it(
    catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    soon = catalog_fronts["soon"]
    section = _environment(
        monkeypatch,
        iceberg_rest_server,
        catalog_fronts,
        "valid",
        oauth2_server_uri=soon.front.url("/v1/oauth/tokens"),
    )
    result = run_check("catalog", section, timeout=10, slow_ms=60_000)
    assert result.status == "warning", result.line()
    assert result.remediation == _expiring_warning(soon, 3, 30)
    assert result.details["tls"] == [
        _entry(catalog_fronts["valid"], TRUSTED_CA, 90),
        _entry(soon, TRUSTED_CA, 3, field="oauth2_server_uri"),
    ]


# --- S3 endpoint_url (moto) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_fronts(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fronts]:
    import boto3

    boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_server.port}",
        region_name="us-east-1",
        aws_access_key_id="floe-test-tls-key-id",
        aws_secret_access_key="moto-accepts-any-secret",  # pragma: allowlist secret
    ).create_bucket(Bucket="floe-tls")
    with _fronts(s3_server.port, tmp_path_factory.mktemp("s3-certs")) as fronts:
        yield fronts


@pytest.mark.evidence("emulator")
@pytest.mark.parametrize(
    ("case", "status", "failure"), [("soon", "warning", None), ("expired", "error", "tls_expired")]
)
def test_s3_endpoint_url_certificate(
    case: str,
    status: str,
    failure: str | None,
    s3_fronts: Fronts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "floe-test-tls-key-id")
    monkeypatch.setenv(
        "AWS_SECRET_ACCESS_KEY", "moto-accepts-any-secret"
    )  # pragma: allowlist secret
    front = s3_fronts[case].front
    raw = {
        "type": "s3",
        "bucket": "floe-tls",
        "endpoint_url": front.url(),
        "path_style": True,
        "access_key_id": "${AWS_ACCESS_KEY_ID}",
        "secret_access_key": "${AWS_SECRET_ACCESS_KEY}",
        "ca_bundle": str(s3_fronts.ca.bundle),
    }
    section = validate_environment("floe.yaml", "test", {"storage": raw}).sections()["storage"]
    result = run_check("storage", section, timeout=10, slow_ms=60_000)
    assert result.status == status, result.line()
    assert result.details.get("failure") == failure
    assert [(e["field"], e["subject"]) for e in result.details["tls"]] == [
        ("endpoint_url", f"CN={case},{ORG}")
    ]
    if status == "warning":
        # plain moto lets any credential do anything: the least-privilege warnings come first
        # (their texts are tests/preflight/test_least_privilege_s3.py's business)
        *broad, expiring = result.details["warnings"]
        assert expiring == _expiring_warning(s3_fronts[case], 3, 30)
        assert [w.split(" may ")[0] for w in broad] == [
            "the S3 credential of environments.test.storage.access_key_id (${AWS_ACCESS_KEY_ID})"
        ] * len(broad)
        assert len(broad) == 2


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.evidence("static")
@pytest.mark.parametrize(
    ("value", "shown"),
    [(-1, "-1"), ("soon", "'soon'"), (True, "True"), (2.5, "2.5")],
)
def test_expiry_warning_days_must_be_whole_days(value: object, shown: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_environment(
            "floe.yaml",
            "prod",
            {"dagster": {"url": "https://dagster.internal"}, "tls": {"expiry_warning_days": value}},
        )
    assert str(caught.value) == (
        f"floe.yaml: environments.prod.tls.expiry_warning_days: {shown} is not a whole number "
        "of days (0 or more). Fix: write e.g. 30 (warn 30 days before a certificate expires); "
        "0 turns the warning off."
    )


@pytest.mark.evidence("static")
def test_expiry_warning_days_from_a_variable_and_its_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLOE_TLS_DAYS", "14")
    raw = {
        "dagster": {"url": "https://d.internal"},
        "tls": {"expiry_warning_days": "${FLOE_TLS_DAYS}"},
    }
    env = validate_environment("floe.yaml", "prod", raw)
    assert env.sections()["dagster"].tls_settings().expiry_warning_days == 14
    plain = validate_environment("floe.yaml", "prod", {"dagster": {"url": "https://d.internal"}})
    assert plain.sections()["dagster"].tls_settings().expiry_warning_days == 30


@pytest.mark.evidence("static")
def test_tls_settings_alone_are_an_empty_environment_and_typos_list_the_keys() -> None:
    with pytest.raises(ConfigError) as empty:
        validate_environment("floe.yaml", "prod", {"tls": {"expiry_warning_days": 30}})
    assert str(empty.value) == (
        "floe.yaml: environments.prod: no service is configured. Fix: add a compute, storage, "
        "catalog, postgres, cube or dagster section"
    )
    with pytest.raises(ConfigError) as typo:
        validate_environment(
            "floe.yaml", "prod", {"dagster": {"url": "https://d"}, "tls": {"expiry_days": 30}}
        )
    assert str(typo.value) == (
        "floe.yaml: environments.prod.tls.expiry_days: Extra inputs are not permitted. Fix: "
        "remove the key or correct its spelling; allowed here: expiry_warning_days"
    )


@pytest.mark.evidence("static")
@pytest.mark.parametrize(
    ("reason", "code", "kind"),
    [
        # OpenSSL 3's verify messages as requests and botocore pass them on (text only)
        ("self-signed certificate", None, FailureKind.TLS_UNTRUSTED),
        ("self signed certificate in certificate chain", None, FailureKind.TLS_UNTRUSTED),
        ("unable to get local issuer certificate", None, FailureKind.TLS_UNTRUSTED),
        ("certificate has expired", None, FailureKind.TLS_EXPIRED),
        ("certificate is not yet valid", None, FailureKind.TLS_NOT_YET_VALID),
        ("Hostname mismatch, certificate is not valid for 'x'.", None, FailureKind.TLS_HOSTNAME),
        ("unsupported certificate purpose", None, FailureKind.TLS),
        # the verify code wins over the text
        ("anything", 10, FailureKind.TLS_EXPIRED),
        ("anything", 64, FailureKind.TLS_HOSTNAME),
        ("invalid CA certificate", 24, FailureKind.TLS),
    ],
)
def test_certificate_kind(reason: str, code: int | None, kind: FailureKind) -> None:
    assert certificate_kind(reason, code) is kind


# --- the pytest path and the CLI --------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(
    catalog_fronts: Fronts,
    iceberg_rest_server: IcebergRestServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """floe.yaml with environments ``soon`` (a catalog certificate 3 days from expiry) and
    ``expired``."""

    def catalog(case: str) -> dict[str, object]:
        return {
            "catalog": {
                "type": "iceberg-rest",
                "uri": catalog_fronts[case].front.url(),
                "client_id": iceberg_rest_server.client_id,
                "client_secret": "${POLARIS_CLIENT_SECRET}",
                "warehouse": iceberg_rest_server.warehouse,
                "ca_bundle": str(catalog_fronts.ca.bundle),
            }
        }

    path = tmp_path_factory.mktemp("tls-workspace")
    environments = {"soon": catalog("soon"), "expired": catalog("expired")}
    (path / "floe.yaml").write_text(yaml.safe_dump({"environments": environments}), "utf-8")
    return path


def _run(
    workspace: Path, server: IcebergRestServer, *argv: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv),
        cwd=workspace,
        env={**os.environ, "POLARIS_CLIENT_SECRET": server.client_secret},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_pytest_path_reports_the_warning_in_the_report_and_junit(
    workspace: Path, catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer, tmp_path: Path
) -> None:
    report_path, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    done = _run(
        workspace,
        iceberg_rest_server,
        str(BIN / "pytest"),
        "--floe-env=soon",
        "-m",
        "preflight",
        "-p",
        "no:cacheprovider",
        "--floe-slow-ms=60000",
        f"--floe-report={report_path}",
        f"--junitxml={junit}",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    warning = _expiring_warning(catalog_fronts["soon"], 3, 30).replace(
        "environments.test.", "environments.soon."
    )
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["overall_status"] == "pass"
    [check] = report["checks"]
    assert (check["status"], check["remediation"]) == ("warning", warning)
    assert check["details"]["tls"][0]["days_left"] == 3
    [case] = list(ET.parse(junit).getroot().iter("testcase"))
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert (props["status"], props["remediation"]) == ("warning", warning)
    assert "1 passed" in done.stdout


def test_cli_exits_1_on_an_expired_certificate(
    workspace: Path, catalog_fronts: Fronts, iceberg_rest_server: IcebergRestServer
) -> None:
    done = _run(workspace, iceberg_rest_server, str(BIN / "floe"), "preflight", "--env", "expired")
    assert done.returncode == 1, done.stdout + done.stderr
    case = catalog_fronts["expired"]
    token_url = case.front.url("/v1/oauth/tokens")
    when = _utc(case.not_after)
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"[CATALOG] ERROR: the certificate of {token_url} (CN=expired,{ORG}) expired on {when}, "
        f"2 days ago (OAuth2 token request). Remediation: renew the certificate of {token_url} "
        f"(expired on {when}) and install it on the server: every client refuses it until then."
    )
    assert lines[1].startswith("preflight expired: FAIL (1 check, ")


def test_refused_certificate_without_cryptography_keeps_its_kind(
    catalog_fronts: Fronts,
    iceberg_rest_server: IcebergRestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """cryptography is not a core dependency: without it a refused certificate cannot be read,
    so the failure keeps its kind and its message drops the subject and date."""
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import cryptography fails
    section = _environment(monkeypatch, iceberg_rest_server, catalog_fronts, "expired")
    result = run_check("catalog", section, timeout=10)
    token_url = catalog_fronts["expired"].front.url("/v1/oauth/tokens")
    assert result.details["failure"] == "tls_expired", result.line()
    assert result.message == (f"the certificate of {token_url} has expired (OAuth2 token request).")
    assert result.remediation == (
        f"renew the certificate of {token_url} and install it on the server: every client "
        "refuses it until then."
    )
    assert result.details["tls"] == [
        {
            "endpoint": catalog_fronts["expired"].front.url(),
            "field": "uri",
            "inspected": True,
            "verified": False,
            "verify_error": "certificate has expired",
        }
    ]


@pytest.mark.evidence("static")
def test_untrusted_on_a_section_without_ca_bundle_names_the_trust_store() -> None:
    """GCS, ADLS and BigQuery endpoints have no ca_bundle field: the fix is the machine's store."""
    env = validate_environment(
        "floe.yaml",
        "prod",
        {"storage": {"type": "gcs", "bucket": "b", "endpoint": "https://gcs.internal"}},
    )
    built = certificate_failure(
        env.sections()["storage"],
        "self-signed certificate",
        endpoint="https://gcs.internal/storage/v1/b/b",
        step="list",
    )
    assert built.kind is FailureKind.TLS_UNTRUSTED
    assert built.remediation == (
        "add the CA that signed the certificate of https://gcs.internal/storage/v1/b/b to this "
        "machine's trust store (the system CA bundle, or SSL_CERT_FILE), or give the server a "
        "certificate from a CA this machine trusts."
    )
