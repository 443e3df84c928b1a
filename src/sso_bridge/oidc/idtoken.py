"""ID token validation (OIDC Core 1.0 §3.1.3.7), with python-jose used for signatures only.

The header's ``alg`` is checked against the provider's allow-list before any key is
looked at; the signature is then checked by exactly one python-jose key, prepared from
the JWK for that very algorithm (a jose key object is bound to one algorithm, so an
``alg`` switch cannot reach it). The token is parsed once, here, rather than again by
``jose.jws.verify``. Claims are checked here too, each failure with its own ``oidc.*`` code.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose.exceptions import JOSEError

from sso_bridge import base64url
from sso_bridge.errors import InvalidInput
from sso_bridge.jsonparse import parse_json
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.errors import IdTokenError
from sso_bridge.oidc.extension import TokenAlgorithm
from sso_bridge.token_errors import BadTokenSignature, MalformedToken, TokenAlgorithmRefused

KeyLookup = Callable[[str | None, str], Any]
"""``(kid, alg) -> jose key``; raises ``oidc.unknown_kid`` / ``oidc.kid_ambiguous``."""

REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat")
OPTIONAL_NUMERIC_CLAIMS = ("auth_time",)
"""NumericDate claims checked for range whenever present, besides exp, iat and nbf."""
MAX_TOKEN_BYTES = 64 * 1024
"""Longest ID token accepted."""
MAX_NUMERIC_DATE = 253402300799
"""The last second of 9999-12-31: numeric dates beyond it are refused as malformed."""
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
_PKCS1 = padding.PKCS1v15()
_RSA_HASHES: dict[str, hashes.HashAlgorithm] = {
    "RS256": hashes.SHA256(),
    "RS384": hashes.SHA384(),
    "RS512": hashes.SHA512(),
}


@attrs.frozen
class IdToken:
    """A validated ID token: its raw form and its claims."""

    raw: str = attrs.field(repr=False)
    claims: Mapping[str, Any] = attrs.field(eq=False, repr=False)

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])


def _utf8(text: str) -> bytes:
    # JSON may carry lone surrogates ("\ud800"); they compare unequal, never raise.
    return text.encode("utf-8", "surrogatepass")


def _malformed(reason: str, what: str = "ID token") -> MalformedToken:
    return MalformedToken(f"the {what} is malformed: {reason}")


def _split(token: str, what: str = "ID token") -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """Header, payload, signing input and signature of a JWS compact serialisation."""
    if len(token) > MAX_TOKEN_BYTES:
        raise _malformed(f"longer than {MAX_TOKEN_BYTES} characters", what)
    try:
        raw = token.encode("ascii")
    except UnicodeEncodeError:
        raise _malformed("a segment is not base64url", what) from None
    first, last = raw.find(b"."), raw.rfind(b".")
    if first < 0 or raw.find(b".", first + 1) != last:  # not exactly two dots
        raise _malformed("not three segments (a JWS compact serialisation)", what)
    try:
        header = _header(raw[:first])
        payload = base64url.decode(raw[first + 1 : last])
        signature = base64url.decode(raw[last + 1 :])
    except InvalidInput as exc:
        raise _malformed(exc.message, what) from None
    return header, payload, raw[:last], signature


@functools.lru_cache(maxsize=64)
def _header(segment: bytes) -> dict[str, Any]:
    """The parsed header. An IdP signs every token with the same few headers, so they are
    parsed once each; the cached dict is only ever read."""
    header = parse_json(base64url.decode(segment), max_bytes=MAX_TOKEN_BYTES)
    if not isinstance(header, dict):
        raise InvalidInput("the header is not a JSON object", code="input.bad_json")
    return header


def at_hash(access_token: str, alg: str | TokenAlgorithm) -> str:
    """OIDC ``at_hash``: the left half of the access token's hash by ``alg``'s digest.

    ``alg`` is a JOSE algorithm name, or a provider's own
    :class:`~sso_bridge.oidc.extension.TokenAlgorithm` (its ``digest``; an access token
    longer than its ``max_token_length`` is ``oidc.bad_at_hash`` and is never hashed).
    """
    if isinstance(alg, TokenAlgorithm):
        if len(access_token) > alg.max_token_length:  # never hashed: see verify_jws
            raise IdTokenError(
                f"the access token is longer than {alg.max_token_length} characters",
                code="oidc.bad_at_hash",
            )
        digest = alg.digest(_utf8(access_token))
    else:
        hashing = _HASHES.get(alg[-3:]) if alg[:2] in ("RS", "ES", "PS") else None
        if hashing is None:
            raise IdTokenError(f"at_hash is not defined for {alg!r}", code="oidc.bad_at_hash")
        digest = hashing(_utf8(access_token)).digest()
    return base64url.encode(digest[: len(digest) // 2])


def numeric_date(claims: Mapping[str, Any], name: str, what: str = "ID token") -> int:
    """A NumericDate claim: a finite whole number of seconds between 0 and year 9999.

    JSON ``1700000000`` and ``1.7e9`` pass; fractions, booleans, strings, NaN, infinities
    and numbers out of range (10**400 included) are ``oidc.malformed_token``.
    """
    value = claims[name]
    if type(value) is int and 0 <= value <= MAX_NUMERIC_DATE:  # the usual case, at once
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _malformed(f"{name} is not a number", what)
    # Compared before any conversion: float(10**400) would raise OverflowError.
    if not 0 <= value <= MAX_NUMERIC_DATE:  # also False for NaN
        raise _malformed(f"{name} is not a date between 1970 and 9999", what)
    if isinstance(value, float) and not value.is_integer():
        raise _malformed(f"{name} is not a whole number of seconds", what)
    return int(value)


def validate_id_token(
    token: str,
    config: ProviderConfig,
    key_for: KeyLookup,
    *,
    nonce: str | None,
    now: datetime,
    access_token: str | None = None,
) -> IdToken:
    """Check ``token``'s signature and claims for ``config``; return it, or raise.

    ``key_for`` finds the provider's key (see :class:`~sso_bridge.oidc.keys.JwksCache`).
    ``at_hash`` is checked whenever it is present and ``access_token`` is given, and
    required when ``config.require_at_hash``. ``nonce=None`` (a provider profile that
    sends none, see ``config.sends_nonce``) skips the nonce check; every other check stays.
    """
    alg, _, claims = verify_jws(token, config, key_for)
    check_claims(claims, config, alg, nonce=nonce, now=now, access_token=access_token)
    return IdToken(token, claims)


def verifies(key: Any, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """Whether ``signature`` signs ``signing_input`` under ``key`` (a python-jose key, or
    any object with its ``verify``). An RSA key for RS256/384/512 verifies straight
    through ``cryptography`` with its padding and hash made once: python-jose's own
    ``verify`` makes both anew for every token."""
    public = getattr(key, "prepared_key", None)
    hashing = _RSA_HASHES.get(alg)
    if hashing is None or not isinstance(public, rsa.RSAPublicKey):
        return bool(key.verify(signing_input, signature))
    try:
        public.verify(signature, signing_input, _PKCS1, hashing)
    except InvalidSignature:
        return False
    return True


def verify_jws(
    token: str, config: ProviderConfig, key_for: KeyLookup, *, what: str = "ID token"
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Check a signed JWT's ``alg`` (the provider's allow-list), size, header and signature;
    return its ``alg``, header and payload (claims unchecked). ``what`` names the token in
    messages. Refusals: ``oidc.malformed_token``, ``oidc.alg_not_allowed``,
    ``oidc.bad_signature`` and those of ``key_for``.

    A token signed with a provider's own algorithm (``config.token_algorithm(alg)``) over
    that algorithm's ``max_token_length`` is refused before anything is hashed.
    """
    header, payload, signing_input, signature = _split(token, what)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in config.algorithms:
        raise TokenAlgorithmRefused(
            f"the {what}'s alg {alg!r} is not in the allow-list {list(config.algorithms)}"
        )
    own = config.token_algorithm(alg)
    if own is not None and len(token) > own.max_token_length:
        # the bound comes before any hashing (a profile's hash may be slow)
        raise _malformed(f"a {alg} token longer than {own.max_token_length} characters", what)
    if "crit" in header:
        raise _malformed("critical header extensions are not supported", what)
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _malformed("kid is not a string", what)
    key = key_for(kid, alg)
    try:
        verified = verifies(key, alg, signing_input, signature)
    except (JOSEError, ValueError, TypeError):
        verified = False
    if not verified:
        raise BadTokenSignature(f"the {what} signature does not verify")
    try:
        claims = parse_json(payload, max_bytes=MAX_TOKEN_BYTES)
    except InvalidInput as exc:
        raise _malformed(f"the payload is not usable JSON ({exc.message})", what) from None
    if not isinstance(claims, dict):
        raise _malformed("the payload is not a JSON object", what)
    return alg, header, claims


def check_claims(
    claims: Mapping[str, Any],
    config: ProviderConfig,
    alg: str,
    *,
    nonce: str | None,
    now: datetime,
    access_token: str | None = None,
) -> None:
    """The claim checks of :func:`validate_id_token`, for a verified payload."""
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise IdTokenError(f"the ID token has no {name}", code="oidc.missing_claim")
    if claims["iss"] != config.issuer:
        raise IdTokenError(
            f"the ID token comes from {claims['iss']!r}, not {config.issuer!r}",
            code="oidc.wrong_issuer",
        )
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise _malformed("sub is not a non-empty string")
    _check_audience(claims, config.client_id)
    moment = now.timestamp()
    exp, iat = numeric_date(claims, "exp"), numeric_date(claims, "iat")
    skew = config.skew.total_seconds()
    if moment > exp + skew:
        raise IdTokenError("the ID token has expired", code="oidc.expired")
    if iat > moment + skew:
        raise IdTokenError("the ID token was issued in the future", code="oidc.issued_in_future")
    if "nbf" in claims and numeric_date(claims, "nbf") > moment + skew:
        raise IdTokenError("the ID token is not valid yet", code="oidc.not_yet_valid")
    for name in OPTIONAL_NUMERIC_CLAIMS:
        if name in claims:
            numeric_date(claims, name)  # read by callers (max_age checks): only sane values
    got_nonce = claims.get("nonce")
    if nonce is not None and (
        not isinstance(got_nonce, str) or not hmac.compare_digest(_utf8(got_nonce), _utf8(nonce))
    ):
        raise IdTokenError("the ID token's nonce is not this login's", code="oidc.nonce_mismatch")
    _check_at_hash(claims, config, alg, access_token)


def _check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    aud = claims["aud"]
    if isinstance(aud, str):
        audiences = [aud]
    elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
        audiences = aud
    else:
        raise _malformed("aud is neither a string nor a list of strings")
    if client_id not in audiences:
        raise IdTokenError(f"the ID token is not for {client_id!r}", code="oidc.wrong_audience")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise IdTokenError(f"azp {azp!r} is not this client {client_id!r}", code="oidc.wrong_azp")


def _check_at_hash(
    claims: Mapping[str, Any], config: ProviderConfig, alg: str, access_token: str | None
) -> None:
    if "at_hash" not in claims:
        if config.require_at_hash:
            raise IdTokenError("the ID token has no at_hash", code="oidc.missing_claim")
        return
    if access_token is None:
        return
    value = claims["at_hash"]
    if not isinstance(value, str) or not hmac.compare_digest(
        _utf8(value), at_hash(access_token, config.token_algorithm(alg) or alg).encode("ascii")
    ):
        raise IdTokenError("at_hash does not match the access token", code="oidc.bad_at_hash")
