"""Keys and self-signed certificates for tests."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sso_bridge.keytypes import PrivateKey


class KeyPair(NamedTuple):
    key_file: Path
    cert_file: Path
    key_pem: bytes
    cert_pem: bytes
    cert_body: str  # base64 DER, as in metadata and KeyInfo


def self_signed(
    key: PrivateKey, name: str, now: dt.datetime | None = None
) -> tuple[bytes, bytes, x509.Certificate]:
    """PEM of ``key`` (PKCS#8), PEM of a self-signed certificate for it valid from a day
    before ``now`` for 30 days, and that certificate."""
    now = now or dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM), certificate


def make_key_pair(directory: Path, name: str, now: dt.datetime | None = None) -> KeyPair:
    """An RSA 2048 key and a certificate valid from a day before ``now`` for 30 days,
    written to ``directory``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem, cert_pem, cert = self_signed(key, name, now)
    (directory / f"{name}.key").write_bytes(key_pem)
    (directory / f"{name}.crt").write_bytes(cert_pem)
    body = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return KeyPair(directory / f"{name}.key", directory / f"{name}.crt", key_pem, cert_pem, body)
