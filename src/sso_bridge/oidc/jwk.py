"""A JWKS document to keys: each entry's numbers bounded and checked before a key is built.

Each JWK is turned into a python-jose key object once per algorithm and kept; building
keys from PEM on every validation would cost tens of milliseconds each time.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, Final

import attrs
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk
from jose.exceptions import JOSEError

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.keysize import MAX_RSA_KEY_BITS, MIN_RSA_KEY_BITS
from sso_bridge.oidc.errors import IdTokenError, OidcError

__all__ = [
    "MAX_JWKS_KEYS",
    "ParsedKey",
    "modulus_bits",
    "parse_jwks",
    "select_key",
    "weak_key_error",
]

# Which JWK fits which JWS algorithm (RFC 7518 §3.1).
_KEY_TYPES: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
}


@attrs.frozen
class ParsedKey:
    """One JWK: its ``kid`` (or None) and the prepared jose key per algorithm.

    An RSA key under the minimum size has no prepared keys; ``weak_for`` names the
    algorithms it would otherwise serve, so that a token signed by it is refused as
    ``oidc.weak_key`` rather than as an unknown key.
    """

    kid: str | None
    fingerprint: str
    keys: Mapping[str, Any] = attrs.field(eq=False, repr=False)
    weak_for: frozenset[str] = frozenset()


_KEY_MEMBERS = ("kty", "crv", "n", "e", "x", "y", "alg", "use")
# Members of private or symmetric keys: a JWKS entry with any of them is not a public key
# and is skipped before python-jose builds it.
_SECRET_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
# base64url lengths of the key numbers, checked before anything is decoded: an EC
# coordinate is exactly the curve's size; an RSA modulus is at most MAX_RSA_KEY_BITS and
# its exponent at most 64 bits. Longer numbers are not keys, and building them costs
# python-jose seconds (or an OverflowError).
_COORDINATE_LENGTH = {"P-256": 43, "P-384": 64, "P-521": 88}
_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}
_MAX_MODULUS_LENGTH = -(-MAX_RSA_KEY_BITS // 6)  # 1,366 characters
_MAX_EXPONENT_LENGTH = 11  # 8 bytes
MAX_JWKS_KEYS: Final = 100
"""The most keys a JWKS may list; providers publish a handful (current, next, retired)."""


def _unsigned(text: str, max_length: int) -> bytes | None:
    """The big-endian bytes of a JWK number: canonical base64url, minimal (no leading
    zero byte, RFC 7518 §6.3.1), at most ``max_length`` characters; else None."""
    if not 0 < len(text) <= max_length:
        return None
    try:
        raw = base64url.decode(text)
    except InvalidInput:
        return None
    if not raw or raw[0] == 0 or base64url.encode(raw) != text:
        return None
    return raw


def modulus_bits(entry: Mapping[str, Any]) -> int | None:
    """The bit length of an RSA JWK's ``n`` without building the key (None: not a modulus)."""
    n = entry.get("n")
    if not isinstance(n, str):
        return None
    raw = _unsigned(n, _MAX_MODULUS_LENGTH)
    if raw is None:
        return None
    return 8 * (len(raw) - 1) + raw[0].bit_length()


def _rsa_numbers_usable(entry: Mapping[str, Any]) -> bool:
    """``n`` within MAX_RSA_KEY_BITS and odd; ``e`` odd, at least 3 and at most 64 bits."""
    bits = modulus_bits(entry)
    raw_e = _unsigned(entry.get("e", ""), _MAX_EXPONENT_LENGTH)
    if bits is None or bits > MAX_RSA_KEY_BITS or raw_e is None:
        return False
    e = int.from_bytes(raw_e, "big")
    n_last = base64url.decode(entry["n"])[-1]
    return e >= 3 and e % 2 == 1 and n_last % 2 == 1


def _ec_point_usable(entry: Mapping[str, Any]) -> bool:
    """``x`` and ``y`` of exactly the curve's length, and a point on that curve."""
    crv = entry.get("crv", "")
    length = _COORDINATE_LENGTH.get(crv)
    if length is None:
        return False
    x = _unsigned_fixed(entry.get("x", ""), length)
    y = _unsigned_fixed(entry.get("y", ""), length)
    if x is None or y is None:
        return False
    try:
        ec.EllipticCurvePublicNumbers(x, y, _CURVES[crv]).public_key()
    except ValueError:  # not on the curve (or a coordinate out of the field)
        return False
    return True


def _unsigned_fixed(text: str, length: int) -> int | None:
    # EC coordinates are fixed-length octet strings (RFC 7518 §6.2.1.2): leading zeros stay
    if len(text) != length:
        return None
    try:
        raw = base64url.decode(text)
    except InvalidInput:
        return None
    if base64url.encode(raw) != text:
        return None
    return int.from_bytes(raw, "big")


def _sized(entry: Mapping[str, Any]) -> bool:
    if entry.get("kty") == "RSA":
        return _rsa_numbers_usable(entry)
    if entry.get("kty") == "EC":
        return _ec_point_usable(entry)
    return False


def _fits(entry: Mapping[str, Any], alg: str) -> bool:
    """Whether ``entry`` is meant for ``alg`` (type, curve, use, key_ops, alg members)."""
    kty, crv = _KEY_TYPES[alg]
    if entry.get("kty") != kty or (crv is not None and entry.get("crv") != crv):
        return False
    if entry.get("use") not in (None, "sig"):
        return False
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        return False
    return entry.get("alg") in (None, alg)


def _well_formed(entry: Mapping[str, Any]) -> bool:
    # RFC 7517/7518 members are strings; anything else is skipped before python-jose sees
    # it (it turns integers into bytes(n): an OverflowError, or gigabytes of memory).
    if any(not isinstance(entry.get(name, ""), str) for name in _KEY_MEMBERS):
        return False
    return not any(name in entry for name in _SECRET_MEMBERS)


def parse_jwks(
    document: Mapping[str, Any],
    algorithms: Collection[str],
    previous: Collection[ParsedKey] = (),
    *,
    min_rsa_bits: int = MIN_RSA_KEY_BITS,
) -> tuple[ParsedKey, ...]:
    """The keys of a JWKS for ``algorithms``; entries that do not parse are skipped.

    Every number is bounded and checked before a key is built (see
    :func:`modulus_bits`): an RSA modulus of at most ``MAX_RSA_KEY_BITS``, an exponent of
    at most 64 bits, an EC point of the curve's size and on that curve. An RSA key under
    ``min_rsa_bits`` (never less than ``MIN_RSA_KEY_BITS``) is kept without prepared keys,
    marked :attr:`ParsedKey.weak_for`. Keys equal to one in ``previous`` (same members)
    are reused, not built again.
    """
    minimum = max(min_rsa_bits, MIN_RSA_KEY_BITS)
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise OidcError("the JWKS has no keys list", code="oidc.jwks_invalid")
    if len(entries) > MAX_JWKS_KEYS:
        raise OidcError(f"the JWKS lists more than {MAX_JWKS_KEYS} keys", code="oidc.jwks_invalid")
    known = {key.fingerprint: key for key in previous}
    parsed: list[ParsedKey] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if kid is not None and not isinstance(kid, str):
            continue
        try:
            fingerprint = json.dumps(entry, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            continue
        if fingerprint in known:
            parsed.append(known[fingerprint])
            continue
        if not _well_formed(entry) or not _sized(entry):
            continue
        meant = [alg for alg in algorithms if _fits(entry, alg)]
        if entry.get("kty") == "RSA" and (modulus_bits(entry) or 0) < minimum:
            if meant:
                parsed.append(ParsedKey(kid, fingerprint, {}, frozenset(meant)))
            continue
        keys = _prepared(entry, meant)
        if keys:
            parsed.append(ParsedKey(kid, fingerprint, keys))
    return tuple(parsed)


def _prepared(entry: dict[str, Any], algorithms: list[str]) -> dict[str, Any]:
    """The public keys that ``entry`` makes for each of ``algorithms``, by algorithm."""
    keys: dict[str, Any] = {}
    for alg in algorithms:
        try:
            key = jwk.construct(dict(entry), alg)
        except (JOSEError, ValueError, TypeError, KeyError, OverflowError):
            continue
        if key.is_public():
            keys[alg] = key
    return keys


def weak_key_error(kid: str | None, alg: str) -> IdTokenError:
    """``oidc.weak_key`` for the key ``kid`` (or a kid-less token) and ``alg``."""
    return IdTokenError(
        f"the IdP's key {kid!r} for {alg} is an RSA key under {MIN_RSA_KEY_BITS} bits "
        "(or under the configured minimum); it is not used",
        code="oidc.weak_key",
    )


def select_key(keys: Collection[ParsedKey], kid: str | None, alg: str) -> Any | None:
    """The one key for ``kid`` and ``alg``; None when no key has that ``kid``.

    Without a ``kid`` a key is chosen only when exactly one key fits ``alg``
    (else ``oidc.kid_ambiguous``). Two keys with one ``kid`` are ``oidc.kid_ambiguous`` too.
    A key refused for its size is ``oidc.weak_key``.
    """
    if kid is None:
        fitting = [key.keys[alg] for key in keys if alg in key.keys]
        if not fitting and any(alg in key.weak_for for key in keys):
            raise weak_key_error(None, alg)
        if len(fitting) != 1:
            raise IdTokenError(
                f"the token names no kid and {len(fitting)} keys fit {alg}",
                code="oidc.kid_ambiguous",
            )
        return fitting[0]
    named = [key for key in keys if key.kid == kid]
    if len(named) > 1:
        raise IdTokenError(
            f"the JWKS has {len(named)} keys with kid {kid!r}", code="oidc.kid_ambiguous"
        )
    if not named:
        return None
    if alg in named[0].weak_for:
        raise weak_key_error(kid, alg)
    if alg not in named[0].keys:
        raise IdTokenError(f"key {kid!r} cannot be used with {alg}", code="oidc.key_alg_mismatch")
    return named[0].keys[alg]
