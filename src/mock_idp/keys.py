"""Signing keys of the mock IdP: generated on first start, kept in a state directory.

One active key per algorithm (RS256 by default, ES256 or ESIA's ``GOST3410_2012_256`` for
clients that ask for it). Rotation makes a new active key and keeps publishing the old ones
— RSA and EC keys in the JWKS, GOST keys as certificates (the current and the previous
one) — as a real IdP does during a rollover.

Each RS256 key has a self-signed X.509 certificate, made once with the key (and kept
beside it in the state directory), so that the certificates archive
(:func:`mock_idp.archive.certificates_archive`) can publish RSA keys as ESIA publishes
its own: as certificates to download.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk

from mock_idp.errors import MockIdpConfigError
from sso_bridge import base64url
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.esia.tokens import certificate_kid
from sso_bridge.jsonparse import parse_json
from sso_bridge.keysize import MAX_RSA_KEY_BITS, MIN_RSA_KEY_BITS, rsa_key_acceptable
from sso_bridge.keytypes import PrivateKey

ALGORITHMS = ("RS256", "ES256")
GOST_ALG = gost.GOST_JWT_ALG
PUBLISHED_CERTIFICATES = 2  # the current GOST certificate and the one before it
RSA_CERTIFICATE_DAYS = 3650
"""How long an RS256 key's self-signed certificate is valid."""


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or (value.bit_length() + 7) // 8, "big")


@attrs.frozen
class SigningKey:
    kid: str
    alg: str
    private_key: PrivateKey = attrs.field(repr=False)
    # an RS256 key's self-signed certificate: given (from the state directory) or made once
    certificate: x509.Certificate | None = attrs.field(default=None, repr=False, eq=False)
    # Prepared once: building a signer from PEM validates the RSA key every time (~40 ms).
    signer: Any = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "signer", jwk.construct(self.private_key, self.alg))
        if self.certificate is not None:
            if self.certificate.public_key() != self.private_key.public_key():
                raise MockIdpConfigError(
                    f"{self.kid}: the certificate is not the key's", code="mock_idp.bad_key"
                )
        elif isinstance(self.private_key, rsa.RSAPrivateKey):
            object.__setattr__(self, "certificate", _self_signed(self.private_key, self.kid))

    def certificate_pem(self) -> bytes | None:
        """The RS256 key's self-signed certificate as PEM (None for other keys)."""
        if self.certificate is None:
            return None
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def generate(cls, alg: str) -> SigningKey:
        key: PrivateKey
        if alg == "RS256":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise MockIdpConfigError(
                f"unsupported algorithm {alg!r}", code="mock_idp.bad_algorithm"
            )
        return cls(_thumbprint(key), alg, key)

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK, with ``kid``, ``alg`` and ``use``."""
        jwk: dict[str, str] = {"kid": self.kid, "alg": self.alg, "use": "sig"}
        jwk.update(_public_members(self.private_key))
        return jwk

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@attrs.frozen
class GostSigningKey:
    """A GOST R 34.10-2012-256 key with its certificate; ``kid`` is the certificate's hash."""

    private_key: gost.GostPrivateKey = attrs.field(repr=False)
    certificate: gost.GostCertificate
    alg: str = attrs.field(default=GOST_ALG, init=False)
    kid: str = attrs.field(init=False)

    @kid.default
    def _kid(self) -> str:
        return certificate_kid(self.certificate)

    @classmethod
    def generate(cls, now: datetime | None = None) -> GostSigningKey:
        key = gost.generate_private_key()
        moment = now or datetime.now(UTC)
        return cls(key, gost.self_signed_certificate(key, "mock ESIA", moment, days=3650))

    @classmethod
    def from_pem(cls, key_pem: bytes, certificate_pem: bytes | None) -> GostSigningKey:
        """A key (PKCS#8) and its certificate; a missing certificate is made self-signed."""
        try:
            key = gost.load_private_key_pem(key_pem)
            if not certificate_pem:
                return cls(key, gost.self_signed_certificate(key, "mock ESIA", datetime.now(UTC)))
            certificate = gost.load_certificate(certificate_pem)
        except BridgeError as exc:
            raise MockIdpConfigError(f"GOST key: {exc.message}", code="mock_idp.bad_key") from None
        if certificate.public_key != key.public_key():
            raise MockIdpConfigError(
                "the GOST certificate is not the key's", code="mock_idp.bad_key"
            )
        return cls(key, certificate)

    def private_pem(self) -> bytes:
        return gost.private_key_pem(self.private_key)

    def certificate_pem(self) -> str:
        """The certificate as PEM text."""
        return certificate_pem(self.certificate)


def _self_signed(key: rsa.RSAPrivateKey, kid: str) -> x509.Certificate:
    """A self-signed certificate for an RS256 signing key, valid from a day ago."""
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"mock ESIA RS256 {kid[:16]}")])
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=RSA_CERTIFICATE_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def certificate_pem(certificate: gost.GostCertificate) -> str:
    """A certificate's DER as PEM text."""
    body = base64.b64encode(certificate.der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN CERTIFICATE-----", *lines, "-----END CERTIFICATE-----", ""])


def _public_members(key: PrivateKey) -> dict[str, str]:
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "n": base64url.encode(_int_bytes(numbers.n)),
            "e": base64url.encode(_int_bytes(numbers.e)),
        }
    point = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": base64url.encode(_int_bytes(point.x, 32)),
        "y": base64url.encode(_int_bytes(point.y, 32)),
    }


def _check_size(key: PrivateKey, name: str) -> None:
    """Refuse an RSA key outside the library's one size rule (:mod:`sso_bridge.keysize`)."""
    if not rsa_key_acceptable(key):
        raise MockIdpConfigError(
            f"{name}: an RSA key must have {MIN_RSA_KEY_BITS} to {MAX_RSA_KEY_BITS} bits",
            code="mock_idp.bad_key",
        )


def _thumbprint(key: PrivateKey) -> str:
    """RFC 7638 JWK thumbprint: the required members, sorted, no white space."""
    members = _public_members(key)
    required = ("e", "kty", "n") if members["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: members[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64url.encode(hashlib.sha256(canonical.encode()).digest())


def _saved_certificate(directory: Path, kid: str) -> x509.Certificate | None:
    """The certificate kept beside key ``kid``, if there is one."""
    path = directory / f"{kid}.crt"
    if not path.exists():
        return None
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise MockIdpConfigError(
            f"{kid}: bad certificate ({exc})", code="mock_idp.bad_key"
        ) from None


class KeyRing:
    """Active keys by algorithm, plus retired keys still published."""

    def __init__(
        self,
        keys: list[SigningKey],
        active: dict[str, str],
        gost_keys: Sequence[GostSigningKey] = (),
    ) -> None:
        self._keys = {k.kid: k for k in keys}
        self._active = dict(active)
        self._gost = list(gost_keys) or [GostSigningKey.generate()]  # the newest is last

    @classmethod
    def generate(cls) -> KeyRing:
        keys = [SigningKey.generate(alg) for alg in ALGORITHMS]
        return cls(keys, {k.alg: k.kid for k in keys})

    def active(self, alg: str) -> SigningKey:
        try:
            return self._keys[self._active[alg]]
        except KeyError:
            raise MockIdpConfigError(
                f"no active {alg} key", code="mock_idp.bad_algorithm"
            ) from None

    def active_gost(self) -> GostSigningKey:
        """The GOST key that signs tokens now."""
        return self._gost[-1]

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def keys(self) -> list[SigningKey]:
        return list(self._keys.values())

    def rotate(self, alg: str = "RS256") -> SigningKey | GostSigningKey:
        """Make a new active key for ``alg``; the old one stays published."""
        if alg == GOST_ALG:
            self._gost.append(GostSigningKey.generate())
            return self._gost[-1]
        key = SigningKey.generate(alg)
        self._keys[key.kid] = key
        self._active[alg] = key.kid
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self._keys.values()]}

    def certificates(self) -> list[str]:
        """The GOST certificates (PEM) to publish: the current one first, then the previous."""
        return [key.certificate_pem() for key in self.published_gost()]

    def rsa_certificates(self) -> dict[str, bytes]:
        """The self-signed certificate (PEM) of every RS256 key still published, by kid."""
        found = {k.kid: k.certificate_pem() for k in self._keys.values()}
        return {kid: pem for kid, pem in found.items() if pem is not None}

    def published_gost(self) -> list[GostSigningKey]:
        """The GOST keys whose certificates are published: the current one first."""
        return list(reversed(self._gost[-PUBLISHED_CERTIFICATES:]))

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        every: list[SigningKey | GostSigningKey] = [*self._keys.values(), *self._gost]
        for key in every:
            path = directory / f"{key.kid}.pem"
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(key.private_pem())
        for gost_key in self._gost:
            (directory / f"{gost_key.kid}.crt").write_text(
                gost_key.certificate_pem(), encoding="ascii"
            )
        for signing_key in self._keys.values():
            pem = signing_key.certificate_pem()
            if pem is not None:
                (directory / f"{signing_key.kid}.crt").write_bytes(pem)
        index = {
            "active": self._active,
            "keys": {k.kid: k.alg for k in self._keys.values()},
            "gost": [k.kid for k in self._gost],
        }
        (directory / "keys.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> KeyRing:
        index = parse_json((directory / "keys.json").read_bytes())
        keys = []
        for kid, alg in index["keys"].items():
            pem = (directory / f"{kid}.pem").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise MockIdpConfigError(f"{kid}: unsupported key type", code="mock_idp.bad_key")
            _check_size(private, kid)
            keys.append(SigningKey(kid, alg, private, _saved_certificate(directory, kid)))
        gost_keys = [
            GostSigningKey.from_pem(
                (directory / f"{kid}.pem").read_bytes(), (directory / f"{kid}.crt").read_bytes()
            )
            for kid in index.get("gost", ())
        ]
        return cls(keys, index["active"], gost_keys)

    @classmethod
    def from_config(cls, entries: list[dict[str, Any]]) -> KeyRing:
        """Keys given in a config file: ``[{alg: RS256, private_key_pem: ...}, ...]``.

        A ``GOST3410_2012_256`` entry may add ``certificate_pem`` (else it is self-signed).
        Each given algorithm's key is active; missing algorithms get a new key.
        """
        keys = []
        gost_keys = []
        for entry in entries:
            alg = str(entry.get("alg", "RS256"))
            pem = str(entry.get("private_key_pem", "")).encode()
            if alg == GOST_ALG:
                certificate = entry.get("certificate_pem")
                gost_keys.append(
                    GostSigningKey.from_pem(pem, str(certificate).encode() if certificate else None)
                )
                continue
            try:
                private = serialization.load_pem_private_key(pem, password=None)
            except (ValueError, TypeError) as exc:
                raise MockIdpConfigError(f"{alg} key: {exc}", code="mock_idp.bad_key") from None
            expected = rsa.RSAPrivateKey if alg == "RS256" else ec.EllipticCurvePrivateKey
            if alg not in ALGORITHMS or not isinstance(private, expected):
                raise MockIdpConfigError(f"a {alg} key does not fit", code="mock_idp.bad_key")
            _check_size(private, alg)
            keys.append(SigningKey(_thumbprint(private), alg, private))
        given = {k.alg for k in keys}
        keys += [SigningKey.generate(alg) for alg in ALGORITHMS if alg not in given]
        return cls(keys, {k.alg: k.kid for k in keys}, gost_keys)

    @classmethod
    def load_or_create(cls, directory: Path) -> KeyRing:
        """The keys kept in ``directory``, made and saved there on first use.

        A directory from before GOST keys existed gets one, saved with the others.
        """
        if (directory / "keys.json").exists():
            ring = cls.load(directory)
            ring.save(directory)
            return ring
        ring = cls.generate()
        ring.save(directory)
        return ring
