"""GOST R 34.11-2012 (Streebog-256) and GOST R 34.10-2012 signatures with 256-bit keys.

Streebog runs in the system's OpenSSL when it has the GOST provider
(:mod:`sso_bridge.esia._libcrypto`), else in Python (:mod:`sso_bridge.esia._streebog`, with
``gostcrypto``'s tables, about three times faster than gostcrypto's own code); the curves
and their arithmetic are in :mod:`sso_bridge.esia.curve`, keys, certificates and their
encodings in :mod:`sso_bridge.esia.gost_keys`; this module hashes, signs and verifies. The
conventions are those of OpenSSL's gost engine, so that keys, signatures and certificates
pass between these modules and ``openssl`` unchanged:

* :func:`streebog256` returns the digest in the order ``openssl dgst -md_gost12_256``
  prints it, which is the reverse of the hexadecimal numbers printed in GOST R 34.11-2012
  and RFC 6986;
* the number signed is that digest read little-endian, modulo the group order;
* a signature is 64 bytes: ``s`` then ``r``, each 32 bytes big-endian (as in X.509,
  RFC 4491); raw CryptoPro CSP output is the byte reverse of this;
* private keys are PKCS#8 ``PRIVATE KEY`` with the scalar as 32 little-endian bytes, public
  keys an OCTET STRING of ``x`` then ``y``, each 32 bytes little-endian.

Key and certificate errors are :class:`~sso_bridge.esia.errors.EsiaError` with codes
``esia.gost_bad_key`` and ``esia.gost_bad_certificate``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.x509.oid import NameOID
from gostcrypto import gosthash  # type: ignore[import-untyped]

from sso_bridge.esia import _der
from sso_bridge.esia._libcrypto import load_streebog256
from sso_bridge.esia.curve import CURVES, DEFAULT_CURVE
from sso_bridge.esia.curve import GostCurve as _Curve
from sso_bridge.esia.curve import curve_named as _curve
from sso_bridge.esia.curve import recovery_cost as _recovery_cost
from sso_bridge.esia.curve import sign_number as _sign_digest
from sso_bridge.esia.curve import signers as _signers
from sso_bridge.esia.curve import verify_number as _verify_digest
from sso_bridge.esia.curve import verify_number_python as _verify_digest_python
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.gost_keys import (
    GostCertificate,
    GostPrivateKey,
    GostPublicKey,
    generate_private_key,
    load_certificate,
    load_private_key_pem,
    private_key_pem,
)
from sso_bridge.esia.gost_keys import algorithm_identifier as _algorithm
from sso_bridge.esia.gost_keys import pem_body as _pem_body
from sso_bridge.esia.gost_keys import point_of as _point
from sso_bridge.esia.gost_keys import public_key_info as _public_key_info
from sso_bridge.esia.gost_keys import to_pem as _pem

__all__ = [
    "CURVES",
    "DEFAULT_CURVE",
    "GOST_JWT_ALG",
    "MAX_GOST_TOKEN_LENGTH",
    "GostCertificate",
    "GostPrivateKey",
    "GostPublicKey",
    "generate_private_key",
    "load_certificate",
    "load_private_key_pem",
    "private_key_pem",
    "self_signed_certificate",
    "sign",
    "streebog256",
    "streebog_implementation",
    "verify",
    "verify_digest",
    "verify_digest_any",
]

GOST_JWT_ALG: Final = "GOST3410_2012_256"
"""The JWS ``alg`` ESIA puts on GOST-signed tokens."""

MAX_GOST_TOKEN_LENGTH: Final = 4 * 1024
"""Longest GOST-signed token (characters) that is parsed or hashed at all. Hashing this
much costs under 0.1 ms with OpenSSL's GOST provider and 5-9 ms of CPU where Streebog runs
in Python (about 1.3-2.2 µs a byte; :func:`streebog_implementation`), and checking the
signature against any number of certificates 1-5 ms more (:func:`verify_digest_any`).
ESIA's real tokens are 1-2 KB."""

_ID_SIGN_2012_256: Final = "1.2.643.7.1.1.3.2"
_ID_BASIC_CONSTRAINTS: Final = "2.5.29.19"
# the arithmetic's former names here, for code that used them
_PRIVATE_NAMES = (_Curve, _algorithm, _pem, _pem_body, _verify_digest_python)


def _reference_streebog256(data: bytes) -> bytes:
    return bytes(gosthash.new("streebog256", data=data).digest())


try:
    from sso_bridge.esia._streebog import streebog256 as _python_streebog256
except (ImportError, AttributeError):  # a gostcrypto without the tables: its own, slower code
    _python_streebog256 = _reference_streebog256

_fast_streebog256 = load_streebog256() or _python_streebog256


def streebog256(data: bytes) -> bytes:
    """Streebog-256 of ``data``: 32 bytes, in the order ``openssl dgst`` prints them."""
    return _fast_streebog256(data)


def streebog_implementation() -> str:
    """Which Streebog runs here: ``"openssl"`` (the system's GOST provider, compiled) or
    ``"python"``; see :mod:`sso_bridge.esia._libcrypto`."""
    return "python" if _fast_streebog256 is _python_streebog256 else "openssl"


def _digest_number(curve: _Curve, data: bytes) -> int:
    return int.from_bytes(streebog256(data), "little") % curve.q or 1


def verify_digest_any(keys: Sequence[GostPublicKey], digest: bytes, signature: bytes) -> bool:
    """Whether one of ``keys`` made ``signature`` over the data whose hash is ``digest``.

    The cost does not grow with the number of keys: for a few keys on a curve each is
    checked (about 1 ms each); for more, the public keys that could have made the
    signature are recovered from it once (a few multiplications) and looked up among
    ``keys``. Both ways accept exactly the signatures :func:`verify_digest` accepts.
    """
    if len(signature) != 64 or len(digest) != 32:
        return False
    s, r = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    by_curve: dict[str, list[GostPublicKey]] = {}
    for key in keys:
        by_curve.setdefault(key.curve, []).append(key)
    for name, group in by_curve.items():
        try:
            curve = _curve(name)
        except EsiaError:
            continue
        if not (0 < r < curve.q and 0 < s < curve.q):
            continue
        e = int.from_bytes(digest, "little") % curve.q or 1
        if len(group) > _recovery_cost(curve):
            signers = _signers(curve, e, r, s)
            if any((key.x, key.y) in signers for key in group):
                return True
            continue
        for key in group:
            try:
                point = _point(key)
            except ValueError:
                continue
            if _verify_digest(curve, point, e, r, s):
                return True
    return False


def sign(key: GostPrivateKey, data: bytes) -> bytes:
    """Sign ``data`` (hashed here with Streebog-256): 64 bytes, ``s`` then ``r``, as OpenSSL."""
    curve = _curve(key.curve)
    e = _digest_number(curve, data)
    r = s = 0
    while not r:
        r, s = _sign_digest(curve, key.d, e, 1 + secrets.randbelow(curve.q - 1))
    return s.to_bytes(32, "big") + r.to_bytes(32, "big")


def verify(key: GostPublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (as :func:`sign` makes it) is ``key``'s over ``data``."""
    if len(signature) != 64:
        return False
    return verify_digest(key, streebog256(data), signature)


def verify_digest(key: GostPublicKey, digest: bytes, signature: bytes) -> bool:
    """:func:`verify` for data already hashed (``digest`` = :func:`streebog256` of it), so
    that one message is hashed once however many keys it is checked against."""
    if len(signature) != 64 or len(digest) != 32:
        return False
    try:
        curve, point = _curve(key.curve), _point(key)
    except (EsiaError, ValueError):
        return False
    s, r = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    e = int.from_bytes(digest, "little") % curve.q or 1
    return _verify_digest(curve, point, e, r, s)


def self_signed_certificate(
    key: GostPrivateKey, common_name: str, now: datetime, days: int = 365
) -> GostCertificate:
    """A self-signed certificate for ``key``, valid from ``now`` for ``days`` days."""
    if now.utcoffset() is None:
        raise ValueError("self_signed_certificate needs a timezone-aware 'now'")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]).public_bytes()
    algorithm = _der.tlv(_der.SEQUENCE, _der.oid(_ID_SIGN_2012_256))
    basic_constraints = _der.oid(_ID_BASIC_CONSTRAINTS) + _der.tlv(
        _der.OCTET_STRING, _der.tlv(_der.SEQUENCE, b"")
    )
    extensions = _der.tlv(0xA3, _der.tlv(_der.SEQUENCE, _der.tlv(_der.SEQUENCE, basic_constraints)))
    validity = _der.time(now) + _der.time(now + timedelta(days=days))
    tbs = _der.tlv(
        _der.SEQUENCE,
        _der.tlv(0xA0, _der.integer(2))
        + _der.integer(secrets.randbits(127) | 1 << 126)
        + algorithm
        + name
        + _der.tlv(_der.SEQUENCE, validity)
        + name
        + _public_key_info(key.public_key())
        + extensions,
    )
    der = _der.tlv(_der.SEQUENCE, tbs + algorithm + _der.bit_string(sign(key, tbs)))
    return load_certificate(der)
