"""Signing keys of the mock IdP: generated on first start, kept in a state directory.

One active key per algorithm (RS256 by default, ES256 for clients that ask for it).
Rotation makes a new active key and keeps publishing the old ones in the JWKS, as a real
IdP does during a rollover.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.jsonparse import parse_json
from sso_bridge.keytypes import PrivateKey

ALGORITHMS = ("RS256", "ES256")


def _int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or (value.bit_length() + 7) // 8, "big")


@attrs.frozen
class SigningKey:
    kid: str
    alg: str
    private_key: PrivateKey = attrs.field(repr=False)
    # Prepared once: building a signer from PEM validates the RSA key every time (~40 ms).
    signer: Any = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "signer", jwk.construct(self.private_key, self.alg))

    @classmethod
    def generate(cls, alg: str) -> SigningKey:
        key: PrivateKey
        if alg == "RS256":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            key = ec.generate_private_key(ec.SECP256R1())
        else:
            raise InvalidInput(f"unsupported algorithm {alg!r}", code="mock_idp.bad_algorithm")
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


def _thumbprint(key: PrivateKey) -> str:
    """RFC 7638 JWK thumbprint: the required members, sorted, no white space."""
    members = _public_members(key)
    required = ("e", "kty", "n") if members["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: members[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return base64url.encode(hashlib.sha256(canonical.encode()).digest())


class KeyRing:
    """Active keys by algorithm, plus retired keys still published."""

    def __init__(self, keys: list[SigningKey], active: dict[str, str]) -> None:
        self._keys = {k.kid: k for k in keys}
        self._active = dict(active)

    @classmethod
    def generate(cls) -> KeyRing:
        keys = [SigningKey.generate(alg) for alg in ALGORITHMS]
        return cls(keys, {k.alg: k.kid for k in keys})

    def active(self, alg: str) -> SigningKey:
        try:
            return self._keys[self._active[alg]]
        except KeyError:
            raise InvalidInput(f"no active {alg} key", code="mock_idp.bad_algorithm") from None

    def get(self, kid: str) -> SigningKey | None:
        return self._keys.get(kid)

    def keys(self) -> list[SigningKey]:
        return list(self._keys.values())

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """Make a new active key for ``alg``; the old one stays in the JWKS."""
        key = SigningKey.generate(alg)
        self._keys[key.kid] = key
        self._active[alg] = key.kid
        return key

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self._keys.values()]}

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for key in self._keys.values():
            path = directory / f"{key.kid}.pem"
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(key.private_pem())
        index = {"active": self._active, "keys": {k.kid: k.alg for k in self._keys.values()}}
        (directory / "keys.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> KeyRing:
        index = parse_json((directory / "keys.json").read_bytes())
        keys = []
        for kid, alg in index["keys"].items():
            pem = (directory / f"{kid}.pem").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                raise InvalidInput(f"{kid}: unsupported key type", code="mock_idp.bad_key")
            keys.append(SigningKey(kid, alg, private))
        return cls(keys, index["active"])

    @classmethod
    def from_config(cls, entries: list[dict[str, Any]]) -> KeyRing:
        """Keys given in a config file: ``[{alg: RS256, private_key_pem: ...}, ...]``.

        Each given algorithm's key is active; missing algorithms get a new key.
        """
        keys = []
        for entry in entries:
            alg = str(entry.get("alg", "RS256"))
            pem = str(entry.get("private_key_pem", "")).encode()
            try:
                private = serialization.load_pem_private_key(pem, password=None)
            except (ValueError, TypeError) as exc:
                raise InvalidInput(f"{alg} key: {exc}", code="mock_idp.bad_key") from None
            expected = rsa.RSAPrivateKey if alg == "RS256" else ec.EllipticCurvePrivateKey
            if alg not in ALGORITHMS or not isinstance(private, expected):
                raise InvalidInput(f"a {alg} key does not fit", code="mock_idp.bad_key")
            keys.append(SigningKey(_thumbprint(private), alg, private))
        given = {k.alg for k in keys}
        keys += [SigningKey.generate(alg) for alg in ALGORITHMS if alg not in given]
        return cls(keys, {k.alg: k.kid for k in keys})

    @classmethod
    def load_or_create(cls, directory: Path) -> KeyRing:
        """The keys kept in ``directory``, made and saved there on first use."""
        if (directory / "keys.json").exists():
            return cls.load(directory)
        ring = cls.generate()
        ring.save(directory)
        return ring
