"""The control plane's PKI, checked independently with cryptography's own verification."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from floe_checks.cluster.pki import generate


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_every_certificate_is_signed_by_the_ca_with_the_expected_identity(tmp_path: Path) -> None:
    pki = generate(tmp_path)
    ca = _cert(pki.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True

    serving = _cert(pki.serving_cert)
    serving.verify_directly_issued_by(ca)
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.96.0.1"),
    ]
    assert list(serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]

    expected = {
        "admin": ("floe-admin", ["system:masters"]),
        "kube-controller-manager": ("system:kube-controller-manager", []),
        "kube-scheduler": ("system:kube-scheduler", []),
        "kwok": ("kwok-controller", ["system:masters"]),
    }
    for component, (user, groups) in expected.items():
        cert = _cert(pki.client_cert(component))
        cert.verify_directly_issued_by(ca)
        assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == [user]
        assert [
            a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        ] == groups
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.CLIENT_AUTH
        ]
        key = load_pem_private_key(pki.client_key(component).read_bytes(), password=None)
        assert key.public_key() == cert.public_key()


def test_private_keys_are_owner_only_and_the_sa_key_pair_matches(tmp_path: Path) -> None:
    pki = generate(tmp_path)
    keys = sorted(p.name for p in tmp_path.glob("*.key"))
    assert keys == [
        "admin.key",
        "apiserver.key",
        "ca.key",
        "kube-controller-manager.key",
        "kube-scheduler.key",
        "kwok.key",
        "sa.key",
    ]
    for name in keys:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    private = load_pem_private_key(pki.sa_key.read_bytes(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert load_pem_public_key(pki.sa_pub.read_bytes()) == private.public_key()
