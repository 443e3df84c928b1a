"""GOST R 34.11-2012 (Streebog-256) and GOST R 34.10-2012 signatures with 256-bit keys.

Streebog's tables and the curve parameters come from ``gostcrypto`` (Streebog itself runs
in :mod:`sso_bridge.esia._streebog`, about three times faster than gostcrypto's); the curve
arithmetic runs in ``fastecdsa``'s compiled code. The conventions are those of OpenSSL's
gost engine, so that keys, signatures and certificates pass between this module and
``openssl`` unchanged:

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

import base64
import functools
import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs
from cryptography import x509
from cryptography.x509.oid import NameOID

# fastecdsa 4 builds these in Rust and re-exports them here, where older versions define them
from fastecdsa.curve import Curve  # type: ignore[attr-defined]
from fastecdsa.point import Point  # type: ignore[attr-defined]
from gostcrypto import gosthash, gostsignature  # type: ignore[import-untyped]

from sso_bridge.esia import _der
from sso_bridge.esia.errors import EsiaError

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
    "verify",
    "verify_digest",
    "verify_digest_any",
]

GOST_JWT_ALG: Final = "GOST3410_2012_256"
"""The JWS ``alg`` ESIA puts on GOST-signed tokens."""

MAX_GOST_TOKEN_LENGTH: Final = 4 * 1024
"""Longest GOST-signed token (characters) that is parsed or hashed at all. Streebog runs
in Python at about 1.4-2.2 µs a byte: hashing this much costs 6-9 ms of CPU, and checking
the signature against any number of certificates 1-4 ms more
(:func:`verify_digest_any`). ESIA's real tokens are 1-2 KB."""

DEFAULT_CURVE: Final = "id-GostR3410-2001-CryptoPro-A-ParamSet"
"""The curve of ``openssl genpkey -algorithm gost2012_256 -pkeyopt paramset:A``."""

# name -> (object identifier, the same curve's name in gostcrypto)
_SETS: Final = {
    "id-GostR3410-2001-CryptoPro-A-ParamSet": ("1.2.643.2.2.35.1", "B"),
    "id-GostR3410-2001-CryptoPro-B-ParamSet": ("1.2.643.2.2.35.2", "C"),
    "id-GostR3410-2001-CryptoPro-C-ParamSet": ("1.2.643.2.2.35.3", "D"),
    "id-GostR3410-2001-CryptoPro-XchA-ParamSet": ("1.2.643.2.2.36.0", "B"),
    "id-GostR3410-2001-CryptoPro-XchB-ParamSet": ("1.2.643.2.2.36.1", "D"),
    "id-tc26-gost-3410-2012-256-paramSetA": ("1.2.643.7.1.2.1.1.1", "A"),
    "id-tc26-gost-3410-2012-256-paramSetB": ("1.2.643.7.1.2.1.1.2", "B"),
    "id-tc26-gost-3410-2012-256-paramSetC": ("1.2.643.7.1.2.1.1.3", "C"),
    "id-tc26-gost-3410-2012-256-paramSetD": ("1.2.643.7.1.2.1.1.4", "D"),
}
CURVES: Final = tuple(_SETS)
"""The names of the 256-bit curves this module knows."""

_BY_OID: Final = {oid: name for name, (oid, _) in _SETS.items()}
_ID_GOST_2012_256: Final = "1.2.643.7.1.1.1.1"
_ID_STREEBOG_256: Final = "1.2.643.7.1.1.2.2"
_ID_SIGN_2012_256: Final = "1.2.643.7.1.1.3.2"
_ID_BASIC_CONSTRAINTS: Final = "2.5.29.19"
_PEM_RE: Final = re.compile(rb"-----BEGIN ([A-Z ]+)-----([A-Za-z0-9+/=\s]+)-----END \1-----")


def _reference_streebog256(data: bytes) -> bytes:
    return bytes(gosthash.new("streebog256", data=data).digest())


try:
    from sso_bridge.esia._streebog import streebog256 as _fast_streebog256
except (ImportError, AttributeError):  # a gostcrypto without the tables: its own, slower code
    _fast_streebog256 = _reference_streebog256


def streebog256(data: bytes) -> bytes:
    """Streebog-256 of ``data``: 32 bytes, in the order ``openssl dgst`` prints them."""
    return _fast_streebog256(data)


@attrs.frozen
class _Curve:
    """One curve: its name, order ``q`` and the compiled arithmetic."""

    name: str
    q: int
    ec: Curve

    @staticmethod
    def custom(name: str, p: int, a: int, b: int, q: int, x: int, y: int) -> _Curve:
        return _Curve(name, q, Curve(name, p, a, b, q, x, y))


@functools.cache
def _curve(name: str) -> _Curve:
    if name not in _SETS:
        raise EsiaError(f"unknown GOST curve {name!r}", code="esia.gost_bad_key")
    params = gostsignature.CURVES_R_1323565_1_024_2019[
        f"id-tc26-gost-3410-2012-256-paramSet{_SETS[name][1]}"
    ]
    return _Curve.custom(name, *(params[k] for k in ("p", "a", "b", "q", "x", "y")))


def _point(key: GostPublicKey) -> Point:
    return Point(key.x, key.y, _curve(key.curve).ec)


def _check_public(key: GostPublicKey, _attribute: object, _value: str) -> None:
    try:
        _point(key)
    except ValueError:
        raise EsiaError(f"the point is not on {key.curve}", code="esia.gost_bad_key") from None


@attrs.frozen
class GostPublicKey:
    """A GOST R 34.10-2012 256-bit public key: the point ``(x, y)`` on ``curve``."""

    x: int
    y: int
    curve: str = attrs.field(validator=_check_public)


def _check_scalar(key: GostPrivateKey, _attribute: object, value: str) -> None:
    if not 0 < key.d < _curve(value).q:
        raise EsiaError("the private key is out of range", code="esia.gost_bad_key")


@attrs.frozen
class GostPrivateKey:
    """A GOST R 34.10-2012 256-bit private key: the scalar ``d`` on ``curve``."""

    d: int = attrs.field(repr=False)
    curve: str = attrs.field(validator=_check_scalar)

    def public_key(self) -> GostPublicKey:
        """The matching public key (one scalar multiplication)."""
        point = self.d * _curve(self.curve).ec.G
        return GostPublicKey(point.x, point.y, self.curve)


def generate_private_key(curve: str = DEFAULT_CURVE) -> GostPrivateKey:
    """A new random private key on ``curve``."""
    return GostPrivateKey(1 + secrets.randbelow(_curve(curve).q - 1), curve)


def _digest_number(curve: _Curve, data: bytes) -> int:
    return int.from_bytes(streebog256(data), "little") % curve.q or 1


def _sign_digest(curve: _Curve, d: int, e: int, k: int) -> tuple[int, int]:
    """``(r, s)`` for the digest number ``e`` with the nonce ``k``; ``(0, 0)`` if ``k`` fails."""
    r = (k * curve.ec.G).x % curve.q
    s = (r * d + k * e) % curve.q
    return (r, s) if r and s else (0, 0)


def _verify_digest(curve: _Curve, point: Point, e: int, r: int, s: int) -> bool:
    q = curve.q
    if not (0 < r < q and 0 < s < q):
        return False
    compiled = getattr(curve.ec, "verify", None)  # fastecdsa 4: ECDSA verification in Rust
    if compiled is None:
        return _verify_digest_python(curve, point, e, r, s)
    # GOST accepts when ((s/e) G + (-r/e) Q).x = r (mod q); ECDSA with the signature
    # (r, s') over the number z computes ((z/s') G + (r/s') Q).x. With s' = -e and z = -s
    # the two are the same point, so ECDSA's one compiled check is GOST's check.
    size = (q.bit_length() + 7) // 8
    try:
        return bool(
            compiled(
                r.to_bytes(size, "little"),
                ((-e) % q).to_bytes(size, "little"),
                ((-s) % q).to_bytes(size, "little"),
                point.x.to_bytes(size, "little"),
                point.y.to_bytes(size, "little"),
            )
        )
    except (ValueError, TypeError, OverflowError, ArithmeticError):
        return False


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


@functools.cache
def _recovery_cost(curve: _Curve) -> int:
    """Scalar multiplications :func:`_signers` makes: one, and two per x the point may
    have (one x when the group order is about the field's size, four for cofactor 4)."""
    return 1 + 2 * max(1, round(curve.ec.p / curve.q))


def _signers(curve: _Curve, e: int, r: int, s: int) -> set[tuple[int, int]]:
    """Every public key ``Q`` for which ``(r, s)`` is a valid signature of ``e``.

    Valid means ``C = z1 G + z2 Q`` has ``C.x = r (mod q)``, with ``z1 = s / e`` and
    ``z2 = -r / e``. Such a ``C`` is a point whose x is ``r``, ``r + q``, ... (below p),
    with either y; for each, ``Q = (C - z1 G) / z2``.
    """
    q, ec = curve.q, curve.ec
    p = ec.p
    v = pow(e, -1, q)
    z1, z2 = s * v % q, (q - r * v % q) % q
    back = pow(z2, -1, q)
    minus_z1g = (q - z1) * ec.G
    found: set[tuple[int, int]] = set()
    x = r
    while x < p:
        y = _sqrt_mod((x * x * x + ec.a * x + ec.b) % p, p)
        if y is not None:
            for root in {y, (p - y) % p}:
                candidate = back * (Point(x, root, ec) + minus_z1g)
                found.add((candidate.x, candidate.y))
        x += q
    return found


@functools.cache
def _non_residue(p: int) -> int:
    z = 2
    while pow(z, (p - 1) // 2, p) != p - 1:
        z += 1
    return z


def _sqrt_mod(a: int, p: int) -> int | None:
    """A square root of ``a`` modulo the odd prime ``p`` (Tonelli-Shanks), or None."""
    if a == 0:
        return 0
    if pow(a, (p - 1) // 2, p) != 1:
        return None
    if p % 4 == 3:
        return pow(a, (p + 1) // 4, p)
    odd, twos = p - 1, 0
    while odd % 2 == 0:
        odd //= 2
        twos += 1
    m, c = twos, pow(_non_residue(p), odd, p)
    t, root = pow(a, odd, p), pow(a, (odd + 1) // 2, p)
    while t != 1:
        i, square = 0, t
        while square != 1:
            square = square * square % p
            i += 1
        b = pow(c, 1 << (m - i - 1), p)
        m, c, t, root = i, b * b % p, t * b * b % p, root * b % p
    return root


def _verify_digest_python(curve: _Curve, point: Point, e: int, r: int, s: int) -> bool:
    """GOST R 34.10-2012 verification as the standard writes it (two multiplications)."""
    q = curve.q
    if not (0 < r < q and 0 < s < q):
        return False
    v = pow(e, -1, q)
    c = (s * v % q) * curve.ec.G + (q - r * v % q) * point
    return c.x % q == r  # the point at infinity has x == 0, never equal to r


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


# --- encodings ----------------------------------------------------------------------------


def _pem_body(data: bytes, label: str) -> bytes:
    match = _PEM_RE.search(data)
    if match is None:
        return data
    if match.group(1).decode() != label:
        raise ValueError(f"expected PEM {label!r}, got {match.group(1).decode()!r}")
    return base64.b64decode(b"".join(match.group(2).split()), validate=True)


def _pem(label: str, der: bytes) -> bytes:
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


def _algorithm(curve: str) -> bytes:
    params = _der.oid(_SETS[curve][0])
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
        tag, content, end = _der.read(_pem_body(pem, "PRIVATE KEY"))
        if tag != _der.SEQUENCE or end != len(_pem_body(pem, "PRIVATE KEY")):
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
        + _algorithm(key.curve)
        + _der.tlv(_der.OCTET_STRING, key.d.to_bytes(32, "little"))
    )
    return _pem("PRIVATE KEY", _der.tlv(_der.SEQUENCE, body))


def _public_key_info(key: GostPublicKey) -> bytes:
    point = key.x.to_bytes(32, "little") + key.y.to_bytes(32, "little")
    body = _algorithm(key.curve) + _der.bit_string(_der.tlv(_der.OCTET_STRING, point))
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
        der = _pem_body(data, "CERTIFICATE")
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
