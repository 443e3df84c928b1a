"""The OIDC side of the fuzzing harness: a provider with an RS256 and an ES256 key whose
JWKS the relying party has, a signer for tokens written as raw text (so that claims such
as ``"exp": NaN`` are signed and reach the claim checks), and the rules an accepted token
must meet, written out independently of the library.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from fuzz.json_text import UNPARSED, python_value
from helpers.clock import NOW
from mock_idp.keys import KeyRing, SigningKey
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.keys import JwksCache

ISSUER: Final = "https://idp.example/"
CLIENT: Final = "portal"
NONCE: Final = "n-1"
ACCESS_TOKEN: Final = "at-1"
ALGORITHMS: Final = ("RS256", "ES256")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def at_hash(access_token: str) -> str:
    """OIDC at_hash for the SHA-256 algorithms (RS256, ES256)."""
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])


class _StaticJwks:
    """The provider's JWKS endpoint, answered from memory."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.body = json.dumps(jwks).encode()

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, self.body)

    def post(self, url: str, **kwargs: Any) -> HttpResponse:
        raise NotImplementedError


@dataclass
class OidcWorld:
    ring: KeyRing
    keys: dict[str, SigningKey]  # the JWKS's key for each algorithm
    strangers: dict[str, SigningKey]  # same algorithms and kids, keys not in the JWKS
    config: ProviderConfig
    jwks: dict[str, Any]
    cache: JwksCache

    @property
    def skew_seconds(self) -> float:
        skew = getattr(self.config, "skew", None)
        if isinstance(skew, timedelta):
            return skew.total_seconds()
        return float(getattr(self.config, "leeway", 0))

    def base_claims(self) -> list[tuple[str, str]]:
        """A valid payload as (name, JSON text) pairs."""
        now = int(NOW.timestamp())
        return [
            ("iss", json.dumps(ISSUER)),
            ("sub", json.dumps("1000299654")),
            ("aud", json.dumps(CLIENT)),
            ("exp", str(now + 600)),
            ("iat", str(now)),
            ("auth_time", str(now - 5)),
            ("nonce", json.dumps(NONCE)),
            ("at_hash", json.dumps(at_hash(ACCESS_TOKEN))),
            ("family_name", json.dumps("Смирнова")),
            ("given_name", json.dumps("Мария")),
        ]


@functools.cache
def oidc_world() -> OidcWorld:
    ring = KeyRing.generate()
    keys = {alg: ring.active(alg) for alg in ALGORITHMS}
    strangers = {
        alg: SigningKey(key.kid, alg, SigningKey.generate(alg).private_key)
        for alg, key in keys.items()
    }
    config = ProviderConfig(
        issuer=ISSUER,
        authorization_endpoint=ISSUER + "authorize",
        token_endpoint=ISSUER + "token",
        jwks_uri=ISSUER + "jwks",
        client_id=CLIENT,
        redirect_uri="https://portal.example/callback",
        client_secret="not-used-here",
        algorithms=ALGORITHMS,
    )
    jwks = ring.jwks()
    cache = JwksCache(_StaticJwks(jwks), config.jwks_uri, config.algorithms)
    return OidcWorld(ring, keys, strangers, config, jwks, cache)


def sign(signing_input: bytes, key: SigningKey) -> bytes:
    """A JWS signature (RS256, or ES256 as r || s)."""
    private = key.private_key
    if isinstance(private, rsa.RSAPrivateKey):
        return private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def token(header: bytes, payload: bytes, signer: str, world: OidcWorld) -> str:
    """A compact JWS of exactly these header and payload bytes.

    ``signer``: ``good`` (the JWKS key for the alg the header names, RS256 when it names
    neither), ``stranger`` (a key that is not in the JWKS, under the same kid), ``swapped``
    (the key of the other algorithm), ``none`` (no signature), ``garbage``.
    """
    head, body = b64url(header), b64url(payload)
    signing_input = f"{head}.{body}".encode()
    alg = header_alg(header)
    chosen = alg if alg in ALGORITHMS else "RS256"
    if signer == "good":
        signature = sign(signing_input, world.keys[chosen])
    elif signer == "stranger":
        signature = sign(signing_input, world.strangers[chosen])
    elif signer == "swapped":
        other = "ES256" if chosen == "RS256" else "RS256"
        signature = sign(signing_input, world.keys[other])
    elif signer == "none":
        signature = b""
    else:
        signature = hashlib.sha512(signing_input).digest()
    return f"{head}.{body}.{b64url(signature)}"


def header_alg(header: bytes) -> object:
    value = python_value(header)
    return value.get("alg") if isinstance(value, dict) else None


def _finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def why_not_acceptable(
    header: bytes, payload: bytes, signer: str, world: OidcWorld, now: datetime
) -> str | None:
    """Why a token of these parts must be refused (None: it may be accepted).

    The rules of OIDC Core §3.1.3.7 as the library documents them, written again here:
    signed by the JWKS key of an allowed algorithm, no ``crit``; ``iss``, ``sub``, ``aud``,
    ``exp``, ``iat`` present; finite times with ``exp`` not passed and ``iat``/``nbf`` not
    ahead (within the clock skew); ``azp`` when there are several audiences; the nonce;
    ``at_hash`` when present.
    """
    head = python_value(header)
    if not isinstance(head, dict):
        return "the header is not a JSON object"
    if head.get("alg") not in world.config.algorithms:
        return f"alg {head.get('alg')!r} is not allowed"
    if "crit" in head:
        return "the header has crit"
    if signer != "good":
        return f"signed by {signer}"
    claims = python_value(payload)
    if claims is UNPARSED or not isinstance(claims, dict):
        return "the payload is not a JSON object"
    missing = [name for name in ("iss", "sub", "aud", "exp", "iat") if name not in claims]
    if missing:
        return f"missing {missing}"
    if claims["iss"] != ISSUER:
        return "wrong issuer"
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        return "sub is not a non-empty string"
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if not all(isinstance(a, str) for a in audiences) or CLIENT not in audiences:
        return "not for this client"
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != CLIENT:
        return "azp"
    moment, skew = now.timestamp(), world.skew_seconds
    times = {name: claims[name] for name in ("exp", "iat", "nbf") if name in claims}
    if not all(_finite_number(value) for value in times.values()):
        return f"a time is not a finite number: {times}"
    if moment - skew > times["exp"]:  # compared exactly: exp may be a 400-digit integer
        return "expired"
    if times["iat"] > moment + skew or times.get("nbf", moment) > moment + skew:
        return "not valid yet"
    if claims.get("nonce") != NONCE:
        return "wrong nonce"
    if "at_hash" in claims and claims["at_hash"] != at_hash(ACCESS_TOKEN):
        return "wrong at_hash"
    return None
