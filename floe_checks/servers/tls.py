"""A throwaway TLS certificate for a local server, generated at start with ``cryptography``.

One self-signed certificate for the loopback address, marked as a CA so that a client given it
as its ``ca_bundle`` trusts the server (and one not given it refuses the handshake, as against
a private CA in production). ECDSA P-256: generated in milliseconds, and read by Java's PEM
key stores (Trino) as well as by OpenSSL.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCertificate:
    """The PEM files :func:`self_signed` writes.

    Attributes:
        ca_bundle: the certificate alone: what a client trusts (``ca_bundle`` in floe.yaml).
        key_and_certificate: private key then certificate in one PEM, the form Trino's
            ``http-server.https.keystore.path`` reads.
    """

    ca_bundle: Path
    key_and_certificate: Path


def self_signed(directory: Path, host: str = "127.0.0.1", days: int = 365) -> ServerCertificate:
    """Write a new key and a self-signed certificate for ``host`` (an IP address) into
    ``directory``; the key file is readable by its owner only.

    Valid for a year by default: preflight warns about a certificate with less than 30 days
    left (``tls.expiry_warning_days``), and our own servers must not trip that."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"floe-checks test {host}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ca_bundle = directory / "ca.pem"
    ca_bundle.write_bytes(cert_pem)
    combined = directory / "server.pem"
    fd = os.open(combined, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem + cert_pem)
    return ServerCertificate(ca_bundle=ca_bundle, key_and_certificate=combined)
