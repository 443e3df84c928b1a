"""ESIA's access token as the proof of who logged in, when there is no ID token.

ESIA's access token is a JWT signed as its ID tokens are (``GOST3410_2012_256`` or
``RS256``, usually without ``kid``); header ``typ`` ``JWT``, ``sbt`` ``access``; claims
``iss``, ``client_id``, ``urn:esia:sbj_id`` (the person's oid), ``urn:esia:sid``,
``scope``, ``iat``, ``nbf``, ``exp``. A system that asks for ``fullname birthdate ...``
without ``openid`` gets no ID token: :func:`validate_esia_access_token` then checks the
access token with the provider's keys and pinned algorithm, and its ``urn:esia:sbj_id`` is
the subject. When both tokens come, :func:`access_token_subject` reads the access
token's ``urn:esia:sbj_id`` so that it can be compared with the ID token's ``sub``.

Refusals: ``esia.access_token_invalid`` (not a JWT, another algorithm, a wrong header or
claim), ``esia.access_token_bad_signature``, ``esia.access_token_expired``; the key
lookup's own codes (``oidc.unknown_kid``, ``oidc.weak_key``, ``oidc.jwks_invalid``, ...)
pass through.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.oid import oid_text
from sso_bridge.jsonparse import parse_json
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.errors import IdTokenError
from sso_bridge.oidc.idtoken import MAX_TOKEN_BYTES, KeyLookup, numeric_date, verify_jws
from sso_bridge.token_errors import BadTokenSignature, MalformedToken, TokenAlgorithmRefused

__all__ = [
    "SUBJECT_CLAIM",
    "EsiaAccessToken",
    "access_token_subject",
    "esia_subject",
    "validate_esia_access_token",
]

SUBJECT_CLAIM: Final = "urn:esia:sbj_id"
"""The access token's claim that names the person: their ESIA oid."""
_WHAT: Final = "access token"


@attrs.frozen
class EsiaAccessToken:
    """A validated ESIA access token: its raw form, claims and subject (the oid as text)."""

    raw: str = attrs.field(repr=False)
    claims: Mapping[str, Any] = attrs.field(eq=False, repr=False)
    subject: str


def _invalid(reason: str) -> EsiaError:
    return EsiaError(f"ESIA's access token {reason}", code="esia.access_token_invalid")


def esia_subject(value: object) -> str:
    """``urn:esia:sbj_id`` as text: a whole number from 1 to 2**63 - 1, given as a JSON
    number or as its decimal digits (no sign, no leading zero); else
    ``esia.access_token_invalid``."""
    found = oid_text(value)
    if found is None:
        raise _invalid(f"has a {SUBJECT_CLAIM} that is not a whole number from 1 to 2**63-1")
    return found


def validate_esia_access_token(
    token: str, config: ProviderConfig, key_for: KeyLookup, *, now: datetime
) -> EsiaAccessToken:
    """Check ESIA's access token for ``config``; return it with its subject.

    The checks: the signature, by ``key_for`` (the keys of the ID tokens) and the pinned
    algorithm (a GOST token over 4,096 characters is refused before it is hashed); header
    ``typ`` ``JWT`` and ``sbt`` ``access`` when present; ``iss`` equal to the provider's
    issuer; ``client_id`` equal to ours; ``exp`` and ``iat`` present, ``exp``, ``iat``
    and ``nbf`` (when present) within ``config.skew`` of ``now``; ``urn:esia:sbj_id`` a
    whole number from 1 to 2**63 - 1 (:func:`esia_subject`).
    """
    try:
        _, header, claims = verify_jws(token, config, key_for, what=_WHAT)
    except (MalformedToken, TokenAlgorithmRefused) as exc:
        message = f"ESIA's {exc.message.removeprefix('the ')}"
        raise EsiaError(message, code="esia.access_token_invalid") from None
    except BadTokenSignature as exc:
        message = f"ESIA's {exc.message.removeprefix('the ')}"
        raise EsiaError(message, code="esia.access_token_bad_signature") from None
    typ, sbt = header.get("typ"), header.get("sbt")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise _invalid(f"has typ {typ!r}, not JWT")
    if sbt is not None and sbt != "access":
        raise _invalid(f"has sbt {sbt!r}, not access: it is another kind of token")
    if claims.get("iss") != config.issuer:
        raise _invalid(f"comes from {claims.get('iss')!r}, not {config.issuer!r}")
    if claims.get("client_id") != config.client_id:
        raise _invalid(f"was issued to {claims.get('client_id')!r}, not {config.client_id!r}")
    _check_times(claims, config, now)
    if SUBJECT_CLAIM not in claims:
        raise _invalid(f"has no {SUBJECT_CLAIM}")
    return EsiaAccessToken(token, claims, esia_subject(claims[SUBJECT_CLAIM]))


def _check_times(claims: Mapping[str, Any], config: ProviderConfig, now: datetime) -> None:
    for name in ("exp", "iat"):
        if name not in claims:
            raise _invalid(f"has no {name}")
    try:
        exp, iat = numeric_date(claims, "exp", _WHAT), numeric_date(claims, "iat", _WHAT)
        nbf = numeric_date(claims, "nbf", _WHAT) if "nbf" in claims else None
    except IdTokenError as exc:
        raise _invalid(exc.message.removeprefix("the access token ")) from None
    moment, skew = now.timestamp(), config.skew.total_seconds()
    if moment > exp + skew:
        reason = "has expired"
    elif iat > moment + skew:
        reason = "was issued in the future"
    elif nbf is not None and nbf > moment + skew:
        reason = "is not valid yet"
    else:
        return
    raise EsiaError(
        f"ESIA's access token {reason} (allowed skew {config.skew}); check the server clock",
        code="esia.access_token_expired",
    )


def access_token_subject(token: str) -> str | None:
    """The ``urn:esia:sbj_id`` of an access token that is a JWT, read without checking its
    signature (for comparing with a validated ID token's ``sub``, which only ever refuses);
    None when the token is not a JWT or names no subject. A subject that is not an oid is
    ``esia.access_token_invalid``."""
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2 or not token.isascii():
        return None
    try:
        claims = parse_json(base64url.decode(token.split(".")[1]), max_bytes=MAX_TOKEN_BYTES)
    except InvalidInput:
        return None
    if not isinstance(claims, dict) or SUBJECT_CLAIM not in claims:
        return None
    return esia_subject(claims[SUBJECT_CLAIM])
