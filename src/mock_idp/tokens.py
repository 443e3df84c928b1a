"""ID and access tokens as ESIA issues them, and the faults a test can ask for instead.

Both tokens are JWTs signed with the client's ``id_token_alg`` by the same active key.
An access token, as ESIA's, has the header ``{"alg", "typ": "JWT", "sbt": "access",
"ver": 1}`` and the claims ``iss``, ``client_id``, ``urn:esia:sbj_id`` (the person's oid,
a number), ``urn:esia:sid``, ``scope`` (space-separated; ``openid`` bare, every other
scope ``name?oid=<oid>``), ``iat``, ``nbf`` and ``exp`` (:func:`access_token_claims`).
Either token names its key (``kid``) only when the client's ``token_kid`` switch is on.

Every fault produces exactly one defect in an otherwise correct ID token, so that a relying
party's refusal can be pinned on the check that caught it; access tokens are never faulty.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import secrets
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from jose import jwt

from mock_idp.keys import GostSigningKey, SigningKey
from mock_idp.users import Person
from sso_bridge import base64url
from sso_bridge.esia import gost
from sso_bridge.esia.tokens import sign_gost_jwt
from sso_bridge.oidc.idtoken import at_hash


class TokenFault(enum.StrEnum):
    """Defects a test can inject into the next ID token (or userinfo answer)."""

    BAD_SIGNATURE = "bad_signature"  # signature bytes altered
    UNKNOWN_KID = "unknown_kid"  # kid that is not in the JWKS
    NO_KID = "no_kid"  # no kid header (ambiguous when the JWKS has several keys)
    ALG_NONE = "alg_none"  # unsigned token, "alg": "none"
    HS256_PUBLIC_KEY = "hs256_public_key"  # HMAC-signed with the public key as secret
    WRONG_ISS = "wrong_iss"
    WRONG_AUD = "wrong_aud"
    MISSING_AUD = "missing_aud"
    MISSING_IAT = "missing_iat"
    MISSING_SUB = "missing_sub"
    EXPIRED = "expired"
    IAT_FUTURE = "iat_future"
    WRONG_NONCE = "wrong_nonce"
    BAD_AT_HASH = "bad_at_hash"
    USERINFO_SUB_MISMATCH = "userinfo_sub_mismatch"  # applies to /userinfo, not the token


def id_token_claims(
    person: Person,
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    access_token: str | None,
    now: datetime,
    lifetime: timedelta,
    second_factor: str | None,
    alg: str = "RS256",
    sid: str | None = None,
    auth_time: datetime | None = None,
    acr: str | None = None,
) -> dict[str, Any]:
    """The claims of a correct ID token for ``person``, to be signed with ``alg``.

    ``sid`` is the IdP session's (also ``urn:esia:sid``; a random one when None),
    ``auth_time`` when the person authenticated in it (``iat`` when None), ``acr`` what
    that authentication achieved (the account's ESIA level when None)."""
    iat = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": str(person.oid),
        "aud": client_id,
        "azp": client_id,
        "iat": iat,
        "nbf": iat,
        "auth_time": iat if auth_time is None else int(auth_time.timestamp()),
        "exp": iat + int(lifetime.total_seconds()),
        "amr": ["pwd", second_factor] if second_factor else ["pwd"],
        "acr": acr or f"urn:esia:loa:{person.level.value}",
        "urn:esia:sid": sid or secrets.token_hex(16),
        "urn:esia:sbj": {
            "urn:esia:sbj:typ": "P",
            "urn:esia:sbj:nam": f"OID.{person.oid}",
            "urn:esia:sbj:oid": person.oid,
            "urn:esia:sbj:is_tru": person.trusted,
        },
    }
    if sid is not None:
        claims["sid"] = sid
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None and alg != gost.GOST_JWT_ALG:
        # ESIA's GOST tokens carry no at_hash, and OIDC defines none for Streebog
        claims["at_hash"] = at_hash(access_token, alg)
    return claims


def access_token_claims(
    oid: int,
    scopes: Collection[str],
    *,
    issuer: str,
    client_id: str,
    now: datetime,
    lifetime: timedelta,
    sid: str | None = None,
) -> dict[str, Any]:
    """The claims of an ESIA access token for the person ``oid``; ``urn:esia:sid`` is the
    IdP session ``sid`` (a random one when None)."""
    iat = int(now.timestamp())
    return {
        "iss": issuer,
        "client_id": client_id,
        "urn:esia:sbj_id": oid,
        "urn:esia:sid": sid or secrets.token_hex(16),
        "scope": " ".join(s if s == "openid" else f"{s}?oid={oid}" for s in scopes),
        "iat": iat,
        "nbf": iat,
        "exp": iat + int(lifetime.total_seconds()),
    }


ACCESS_TOKEN_HEADER: Final[Mapping[str, Any]] = {"typ": "JWT", "sbt": "access", "ver": 1}
"""The header fields of an access token besides ``alg`` (and ``kid`` when named)."""


def sign_access_token(
    claims: dict[str, Any], key: SigningKey | GostSigningKey, *, kid: bool
) -> str:
    """An access token: ``claims`` signed with ``key``, ESIA's access-token header."""
    header: dict[str, Any] = {"alg": key.alg, **ACCESS_TOKEN_HEADER}
    if kid:
        header["kid"] = key.kid
    if isinstance(key, GostSigningKey):
        signing_input = f"{_segment(header)}.{_segment(claims)}"
        signature = gost.sign(key.private_key, signing_input.encode("ascii"))
        return f"{signing_input}.{base64url.encode(signature)}"
    extra = {k: v for k, v in header.items() if k != "alg"}
    token: str = jwt.encode(claims, key.signer, algorithm=key.alg, headers=extra)
    return token


def _apply_claim_faults(claims: dict[str, Any], faults: Collection[TokenFault], alg: str) -> None:
    if TokenFault.WRONG_ISS in faults:
        claims["iss"] = claims["iss"].rstrip("/") + ".evil/"
    if TokenFault.WRONG_AUD in faults:
        claims["aud"] = "someone-else"
    if TokenFault.MISSING_AUD in faults:
        claims.pop("aud")
    if TokenFault.MISSING_IAT in faults:
        claims.pop("iat")
    if TokenFault.MISSING_SUB in faults:
        claims.pop("sub")
    if TokenFault.EXPIRED in faults:
        claims["iat"] = claims.get("iat", claims["exp"]) - 7200
        claims["exp"] = claims["iat"] + 60
    if TokenFault.IAT_FUTURE in faults:
        claims["iat"] = claims["exp"] + 3600
        claims["nbf"] = claims["iat"]
    if TokenFault.WRONG_NONCE in faults:
        claims["nonce"] = "not-the-nonce-" + secrets.token_hex(4)
    if TokenFault.BAD_AT_HASH in faults and "at_hash" in claims:
        claims["at_hash"] = at_hash("another-access-token", alg)


def _segment(data: dict[str, Any]) -> str:
    return base64url.encode(json.dumps(data, separators=(",", ":")).encode())


def _corrupt_signature(token: str) -> str:
    head, body, signature = token.split(".")
    raw = bytearray(base64url.decode(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{body}.{base64url.encode(bytes(raw))}"


def _kid(kid: str | None, faults: Collection[TokenFault]) -> str | None:
    if TokenFault.NO_KID in faults:
        return None
    if TokenFault.UNKNOWN_KID in faults:
        return "unknown-" + secrets.token_hex(6)
    return kid


def _hs256_token(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """HMAC-SHA256 with public material as the secret: the algorithm-confusion attack."""
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64url.encode(mac)}"


def sign_token(
    claims: dict[str, Any],
    key: SigningKey | GostSigningKey,
    faults: Collection[TokenFault] = (),
    *,
    kid: bool = True,
) -> str:
    """Sign ``claims`` as a JWT with ``key``, applying any token faults; the header names
    the key (``kid``) only when ``kid`` is true (``unknown_kid`` adds a wrong one anyway)."""
    named = key.kid if kid else None
    claims = dict(claims)
    _apply_claim_faults(claims, faults, key.alg)
    if TokenFault.ALG_NONE in faults:
        return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."
    if isinstance(key, GostSigningKey):
        if TokenFault.HS256_PUBLIC_KEY in faults:
            return _hs256_token(claims, key.certificate_pem().encode(), key.kid)
        signed = sign_gost_jwt(claims, key.private_key, _kid(named, faults))
        return _corrupt_signature(signed) if TokenFault.BAD_SIGNATURE in faults else signed
    if TokenFault.HS256_PUBLIC_KEY in faults:
        public = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return _hs256_token(claims, public, key.kid)
    given = _kid(named, faults)
    headers: dict[str, Any] = {} if given is None else {"kid": given}
    token: str = jwt.encode(claims, key.signer, algorithm=key.alg, headers=headers)
    return _corrupt_signature(token) if TokenFault.BAD_SIGNATURE in faults else token
