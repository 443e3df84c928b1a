"""GOST R 34.10-2012 256-bit keys and certificates, and their DER and PEM encodings.

Encodings follow OpenSSL's gost engine: private keys are PKCS#8 ``PRIVATE KEY`` with the
scalar as 32 little-endian bytes, public keys an OCTET STRING of ``x`` then ``y``, each 32
bytes little-endian. Errors are :class:`~sso_bridge.esia.errors.EsiaError` with codes
``esia.gost_bad_key`` and ``esia.gost_bad_certificate``.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Final

import attrs
from cryptography import x509

from sso_bridge.esia import _der
from sso_bridge.esia.curve import DEFAULT_CURVE, PARAMETER_SETS, Point, curve_named
from sso_bridge.esia.errors import EsiaError

__all__ = [
    "GostCertificate",
    "GostPrivateKey",
    "GostPublicKey",
    "algorithm_identifier",
    "generate_private_key",
    "load_certificate",
    "load_private_key_pem",
    "pem_body",
    "point_of",
    "private_key_pem",
    "public_key_info",
    "to_pem",
]

_BY_OID: Final = {oid: name for name, (oid, _) in PARAMETER_SETS.items()}
_ID_GOST_2012_256: Final = "1.2.643.7.1.1.1.1"
_ID_STREEBOG_256: Final = "1.2.643.7.1.1.2.2"
_PEM_RE: Final = re.compile(rb"-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\s]+)-----END \1-----")


def point_of(key: GostPublicKey) -> Point:
    return Point(key.x, key.y, curve_named(key.curve).ec)


def _check_public(key: GostPublicKey, _attribute: object, _value: str) -> None:
    try:
        point_of(key)
    except ValueError:
        raise EsiaError(f"the point is not on {key.curve}", code="esia.gost_bad_key") from None


@attrs.frozen
class GostPublicKey:
    """A GOST R 34.10-2012 256-bit public key: the point ``(x, y)`` on ``curve``."""

    x: int
    y: int
    curve: str = attrs.field(validator=_check_public)


def _check_scalar(key: GostPrivateKey, _attribute: object, value: str) -> None:
    if not 0 < key.d < curve_named(value).q:
        raise EsiaError("the private key is out of range", code="esia.gost_bad_key")


@attrs.frozen
class GostPrivateKey:
    """A GOST R 34.10-2012 256-bit private key: the scalar ``d`` on ``curve``."""

    d: int = attrs.field(repr=False)
    curve: str = attrs.field(validator=_check_scalar)

    def public_key(self) -> GostPublicKey:
        """The matching public key (one scalar multiplication)."""
        point = self.d * curve_named(self.curve).ec.G
        return GostPublicKey(point.x, point.y, self.curve)


def generate_private_key(curve: str = DEFAULT_CURVE) -> GostPrivateKey:
    """A new random private key on ``curve``."""
    return GostPrivateKey(1 + secrets.randbelow(curve_named(curve).q - 1), curve)


def pem_body(data: bytes, label: str) -> bytes:
    """The DER inside a PEM block labelled ``label``; ``data`` itself when it is no PEM."""
    match = _PEM_RE.search(data)
    if match is None:
        return data
    if match.group(1).decode() != label:
        raise ValueError(f"expected PEM {label!r}, got {match.group(1).decode()!r}")
    return base64.b64decode(b"".join(match.group(2).split()), validate=True)


def to_pem(label: str, der: bytes) -> bytes:
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


def algorithm_identifier(curve: str) -> bytes:
    params = _der.oid(PARAMETER_SETS[curve][0])
    if curve != "id-tc26-gost-3410-2012-256-paramSetA":  # the engine omits it for this set
        params += _der.oid(_ID_STREEBOG_256)
    return _der.tlv(_der.SEQUENCE, _der.oid(_ID_GOST_2012_256) + _der.tlv(_der.SEQUENCE, params))


def _read_algorithm(content: bytes) -> str:
    """The curve name of a GOST 2012-256 AlgorithmIdentifier's content."""
    (tag, algorithm), *rest = _der.children(content)
    if tag != _der.OID or _der.oid_text(algorithm) != _ID_GOST_2012_256 or len(rest) != 1:
        raise ValueError("not a GOST R 34.10-2012 256-bit key")
    tag, params = rest[0]
    (tag, curve_oid), *_ = _der.children(params)
    name = _BY_OID.get(_der.oid_text(curve_oid)) if tag == _der.OID else None
    if name is None:
        raise ValueError("the key's curve is not a known 256-bit GOST curve")
    return name


def _read_scalar(content: bytes) -> int:
    if len(content) == 32:
        return int.from_bytes(content, "little")
    tag, inner, end = _der.read(content)  # older writers wrap it once more
    if end == len(content) and tag == _der.OCTET_STRING and len(inner) == 32:
        return int.from_bytes(inner, "little")
    if end == len(content) and tag == _der.INTEGER:
        return _der.read_integer(inner)
    raise ValueError("the private key is not 32 bytes")


def load_private_key_pem(pem: bytes) -> GostPrivateKey:
    """Read a PKCS#8 ``PRIVATE KEY`` (PEM or DER) as ``openssl genpkey`` writes it."""
    try:
        tag, content, end = _der.read(pem_body(pem, "PRIVATE KEY"))
        if tag != _der.SEQUENCE or end != len(pem_body(pem, "PRIVATE KEY")):
            raise ValueError("not a DER SEQUENCE")
        version, algorithm, private, *_ = _der.children(content)
        if version != (_der.INTEGER, b"\x00") or private[0] != _der.OCTET_STRING:
            raise ValueError("not an unencrypted PKCS#8 key")
        curve = _read_algorithm(algorithm[1])
        d = _read_scalar(private[1])
    except (ValueError, TypeError) as exc:
        raise EsiaError(f"not a GOST private key: {exc}", code="esia.gost_bad_key") from None
    return GostPrivateKey(d, curve)


def private_key_pem(key: GostPrivateKey) -> bytes:
    """``key`` as PKCS#8 ``PRIVATE KEY`` PEM, readable by ``openssl`` with the gost engine."""
    body = (
        _der.integer(0)
        + algorithm_identifier(key.curve)
        + _der.tlv(_der.OCTET_STRING, key.d.to_bytes(32, "little"))
    )
    return to_pem("PRIVATE KEY", _der.tlv(_der.SEQUENCE, body))


def public_key_info(key: GostPublicKey) -> bytes:
    point = key.x.to_bytes(32, "little") + key.y.to_bytes(32, "little")
    body = algorithm_identifier(key.curve) + _der.bit_string(_der.tlv(_der.OCTET_STRING, point))
    return _der.tlv(_der.SEQUENCE, body)


def _read_public_key_info(content: bytes) -> GostPublicKey:
    (_, algorithm), (tag, bits) = _der.children(content)
    curve = _read_algorithm(algorithm)
    if tag != _der.BIT_STRING or bits[:1] != b"\x00":
        raise ValueError("bad public key BIT STRING")
    tag, point, end = _der.read(bits, 1)
    if tag != _der.OCTET_STRING or len(point) != 64 or end != len(bits):
        raise ValueError("the public key is not 64 bytes")
    x, y = int.from_bytes(point[:32], "little"), int.from_bytes(point[32:], "little")
    return GostPublicKey(x, y, curve)


# --- certificates -------------------------------------------------------------------------


@attrs.frozen
class GostCertificate:
    """An X.509 certificate with a GOST 2012-256 key: its DER, key and subject (RFC 4514)."""

    der: bytes = attrs.field(repr=False)
    public_key: GostPublicKey
    subject: str


def load_certificate(data: bytes) -> GostCertificate:
    """Read a PEM or DER X.509 certificate whose key is GOST R 34.10-2012 256-bit."""
    try:
        der = pem_body(data, "CERTIFICATE")
        tag, content, end = _der.read(der)
        if tag != _der.SEQUENCE or end != len(der):
            raise ValueError("not a DER SEQUENCE")
        tbs = _der.children(_der.children(content)[0][1])
        fields = tbs[1:] if tbs[0][0] == 0xA0 else tbs  # [0] version is optional
        key = _read_public_key_info(fields[5][1])
        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except (ValueError, IndexError, TypeError, EsiaError) as exc:
        reason = exc.message if isinstance(exc, EsiaError) else str(exc)
        raise EsiaError(
            f"not a GOST 2012-256 certificate: {reason}", code="esia.gost_bad_certificate"
        ) from None
    return GostCertificate(der, key, subject)
