"""JWTs signed with GOST R 34.10-2012-256 (``alg`` ``GOST3410_2012_256``), as ESIA signs them.

The signing input is the ASCII ``header.payload``; the signature segment is base64url of
the raw 64-byte signature in the byte order of :func:`sso_bridge.esia.gost.sign`. ESIA
publishes its signing certificates and rotates them, so a token is checked against a list
of certificates: the one whose Streebog-256 hash is the header's ``kid`` when there is one,
else each in turn. The signing input is hashed once, then checked against each candidate.
Failures reuse the ID token codes: ``oidc.malformed_token``, ``oidc.alg_not_allowed``,
``oidc.bad_signature``.

A GOST token is bounded before any work: :data:`MAX_GOST_TOKEN_LENGTH` (4,096)
characters, well above ESIA's real tokens (1-2 KB). The hash then costs under 0.1 ms of CPU
with OpenSSL's GOST provider, at most about 9 ms where Streebog runs in Python, and the
check against any number of certificates 1-5 ms more (a token with a known ``kid`` is
checked against that certificate only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.esia import gost
from sso_bridge.esia.gost import (
    GOST_JWT_ALG,
    MAX_GOST_TOKEN_LENGTH,
    GostCertificate,
    GostPrivateKey,
)
from sso_bridge.esia.secret import certificate_hash
from sso_bridge.jsonparse import parse_json
from sso_bridge.token_errors import BadTokenSignature, MalformedToken, TokenAlgorithmRefused

MAX_TOKEN_LENGTH: Final = MAX_GOST_TOKEN_LENGTH
"""The former name of :data:`~sso_bridge.esia.gost.MAX_GOST_TOKEN_LENGTH`."""

__all__ = [
    "MAX_GOST_TOKEN_LENGTH",
    "MAX_TOKEN_LENGTH",
    "certificate_kid",
    "gost_digest_valid",
    "gost_signature_valid",
    "sign_gost_jwt",
    "signing_input_digest",
    "verify_gost_jwt",
]


def certificate_kid(certificate: GostCertificate) -> str:
    """The ``kid`` a token signed by ``certificate``'s key carries: its hex Streebog-256."""
    return certificate_hash(certificate)


def _candidates(
    certificates: Sequence[GostCertificate], kid: str | None
) -> Sequence[GostCertificate]:
    if kid is not None:
        named = [c for c in certificates if certificate_kid(c) == kid.lower()]
        if named:
            return named
    return certificates


def signing_input_digest(signing_input: bytes) -> bytes | None:
    """Streebog-256 of a token's signing input; None (nothing hashed) when it is longer
    than :data:`MAX_GOST_TOKEN_LENGTH`."""
    if len(signing_input) > MAX_GOST_TOKEN_LENGTH:
        return None
    return gost.streebog256(signing_input)


def gost_digest_valid(
    digest: bytes,
    signature: bytes,
    certificates: Sequence[GostCertificate],
    kid: str | None = None,
) -> bool:
    """True when one of ``certificates`` (the ``kid`` one, else each) verifies the
    signature of the signing input whose hash is ``digest`` (see
    :func:`signing_input_digest`); the cost hardly grows with the number of certificates
    (:func:`~sso_bridge.esia.gost.verify_digest_any`)."""
    if len(signature) != 64:
        return False
    keys = [c.public_key for c in _candidates(certificates, kid)]
    return gost.verify_digest_any(keys, digest, signature)


def gost_signature_valid(
    signing_input: bytes,
    signature: bytes,
    certificates: Sequence[GostCertificate],
    kid: str | None = None,
) -> bool:
    """True when one of ``certificates`` (the ``kid`` one first) verifies the signature.

    The signing input is hashed once, and not at all when the signature is not 64 bytes,
    no certificate is given, or the input is over :data:`MAX_GOST_TOKEN_LENGTH`.
    """
    if len(signature) != 64 or not certificates:
        return False
    digest = signing_input_digest(signing_input)
    if digest is None:
        return False
    return gost_digest_valid(digest, signature, certificates, kid)


def _malformed(reason: str) -> MalformedToken:
    return MalformedToken(f"the token is malformed: {reason}")


def _json_object(segment: bytes, what: str) -> dict[str, Any]:
    try:
        value = parse_json(base64url.decode(segment), max_bytes=MAX_GOST_TOKEN_LENGTH)
    except InvalidInput as exc:
        raise _malformed(f"the {what} is not JSON ({exc.message})") from None
    if not isinstance(value, dict):
        raise _malformed(f"the {what} is not a JSON object")
    return value


def verify_gost_jwt(token: str, certificates: Sequence[GostCertificate]) -> dict[str, Any]:
    """Check a GOST-signed JWT's signature; return its claims (unchecked: the caller's job).

    The header's ``alg`` must be ``GOST3410_2012_256``: a token signed otherwise is
    ``oidc.alg_not_allowed`` even when its signature would verify by another algorithm.
    """
    if len(token) > MAX_GOST_TOKEN_LENGTH:
        raise _malformed(f"longer than {MAX_GOST_TOKEN_LENGTH} characters")
    if token.count(".") != 2 or not token.isascii():
        raise _malformed("not three base64url segments")
    head, payload, sig = token.encode("ascii").split(b".")
    header = _json_object(head, "header")
    alg = header.get("alg")
    if alg != GOST_JWT_ALG:
        raise TokenAlgorithmRefused(f"alg {alg!r} is not {GOST_JWT_ALG}")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _malformed("kid is not a string")
    try:
        signature = base64url.decode(sig)
    except InvalidInput:
        raise _malformed("the signature is not base64url") from None
    if not gost_signature_valid(head + b"." + payload, signature, certificates, kid):
        raise BadTokenSignature("the token's GOST signature does not verify")
    return _json_object(payload, "payload")


def _segment(data: Mapping[str, Any]) -> str:
    return base64url.encode(json.dumps(data, separators=(",", ":")).encode("utf-8"))


def sign_gost_jwt(claims: Mapping[str, Any], key: GostPrivateKey, kid: str | None) -> str:
    """A JWT over ``claims`` signed with ``key``; header ``alg``, ``typ`` and ``kid``."""
    header: dict[str, Any] = {"alg": GOST_JWT_ALG, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = gost.sign(key, signing_input.encode("ascii"))
    return f"{signing_input}.{base64url.encode(signature)}"
