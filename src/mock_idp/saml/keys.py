"""The SAML IdP's signing key: RSA 2048 with a self-signed certificate, kept as PEM files."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from mock_idp.errors import MockIdpConfigError

__all__ = ["SamlSigningKey"]


@attrs.frozen
class SamlSigningKey:
    """An RSA 2048 key with its self-signed certificate, kept as PEM files."""

    KEY_FILE: ClassVar[str] = "saml-signing.key"
    CERTIFICATE_FILE: ClassVar[str] = "saml-signing.crt"

    private_key: rsa.RSAPrivateKey = attrs.field(repr=False)
    certificate: x509.Certificate

    @classmethod
    def generate(cls, common_name: str, now: datetime | None = None) -> SamlSigningKey:
        """A new key; the certificate is valid for ten years around both ``now`` (a test
        clock's time) and the real time, as verifiers may check either."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        real = datetime.now(UTC)
        now = now or real
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now, real) - timedelta(days=1))
            .not_valid_after(max(now, real) + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def certificate_body(self) -> str:
        """The certificate as in metadata and KeyInfo: base64 DER on one line."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()

    def save(self, directory: Path) -> None:
        """Write the key (mode 0600) and the certificate into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / self.KEY_FILE
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(self.key_pem())
        (directory / self.CERTIFICATE_FILE).write_bytes(self.certificate_pem())

    @classmethod
    def load(cls, directory: Path) -> SamlSigningKey:
        try:
            key = serialization.load_pem_private_key(
                (directory / cls.KEY_FILE).read_bytes(), password=None
            )
            certificate = x509.load_pem_x509_certificate(
                (directory / cls.CERTIFICATE_FILE).read_bytes()
            )
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise MockIdpConfigError(
                f"{directory}: cannot load the SAML signing key: {exc}", code="mock_idp.bad_key"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey) or certificate.public_key() != key.public_key():
            raise MockIdpConfigError(
                f"{directory}: the SAML certificate does not belong to an RSA signing key",
                code="mock_idp.bad_key",
            )
        return cls(key, certificate)

    @classmethod
    def load_or_create(
        cls, directory: Path, common_name: str, now: datetime | None = None
    ) -> SamlSigningKey:
        """The key kept in ``directory``, made and saved there on first use."""
        if (directory / cls.KEY_FILE).exists() or (directory / cls.CERTIFICATE_FILE).exists():
            return cls.load(directory)
        key = cls.generate(common_name, now)
        key.save(directory)
        return key
