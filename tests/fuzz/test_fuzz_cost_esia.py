"""What ESIA input costs: GOST client secrets with megabyte fields at the mock IdP's v2/ac and
v3/te check, GOST-signed ID tokens of the largest size checked against many pinned
certificates, and timestamps with extreme offsets.

Invariant: refused with a stable code (``esia.*``, ``oidc.*``) or accepted only when signed
by the right key, and no input costs more CPU than the harness's budget (20 ms), except
that an accepted one may add the cost of its one signature verification (Streebog over
what was signed, which grows with its length).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, draw_live, fuzz
from helpers.clock import NOW
from mock_idp import esia_v2
from sso_bridge import base64url
from sso_bridge.esia import gost, secret
from sso_bridge.esia.config import GOST_TOKEN_ALGORITHM
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.tokens import MAX_TOKEN_LENGTH, certificate_kid, verify_gost_jwt
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.idtoken import validate_id_token

FORM_LIMIT: Final = 1024 * 1024
"""The largest form body the web adapters read (``WebConfig.max_form_bytes``)."""
SIGNED_LIMIT: Final = 16 * 1024
"""Requests whose signed fields add up to no more than this get a real signature half the
time (signing hashes them all, which costs time to generate)."""
CLIENT: Final = "SCHOOL01"
ISSUER: Final = "http://esia.example/"
GOST_ALG: Final = gost.GOST_JWT_ALG
FRACTIONS: Final = (1.0, 1.0, 1.0, 0.999, 0.5, 0.1, 0.01, 0.001)
"""How much of the room under the limit a field fills (biased to all of it)."""
FIELD_SIZES: Final = (*FRACTIONS, "limit", "limit", "limit+1")
"""A field's size: a fraction of the room left in the form, or the field's own limit (where
the library has one) or one character over it."""


@dataclass(frozen=True)
class EsiaWorld:
    key: gost.GostPrivateKey
    certificate: gost.GostCertificate
    strangers: tuple[gost.GostCertificate, ...]  # pinned too, but not the signer
    outsider: gost.GostPrivateKey  # signs, and is pinned nowhere


@functools.cache
def esia_world() -> EsiaWorld:
    key = gost.generate_private_key()
    certificate = gost.self_signed_certificate(key, "ESIA fuzz", NOW)
    strangers = tuple(
        gost.self_signed_certificate(gost.generate_private_key(), f"ESIA old {i}", NOW)
        for i in range(15)
    )
    return EsiaWorld(key, certificate, strangers, gost.generate_private_key())


# -- client secrets at v2/ac and v3/te --------------------------------------------------------

FIELDS: Final = ("state", "scope", "scope_org", "redirect_uri", "code")
TIMESTAMPS: Final = (
    "now",
    "9999.12.31 23:59:59 +0300",
    "0001.01.01 00:00:00 +0300",
    "0001.01.01 00:00:00 +2359",
    "9999.12.31 23:59:59 -2359",
    "2026.12.06 13:11:00 +9959",
    "2026.12.06 13:11:00 -9959",
    "2026.12.06 13:11:00 +2400",
    "2026.12.06 13:11:00 -2359",
    "0000.00.00 00:00:00 +0000",
    "2026.02.30 25:61:61 +0300",
    "huge",
)


@dataclass(frozen=True, repr=False)
class SecretCase:
    endpoint: str  # "v2/ac" or "v3/te"
    grown: str  # the field made large ("all": every field at its limit)
    fraction: float | str
    size: int
    timestamp: str
    signed: bool
    params: dict[str, str] = field(compare=False)

    @property
    def kind(self) -> str:
        return f"{self.grown}@{self.fraction}"

    def describe(self) -> str:
        how = "signed" if self.signed else "with a 64-byte secret that is no signature"
        return (
            f"field x {self.size:,} characters in {self.grown} at {self.endpoint} "
            f"({self.fraction}), "
            f"timestamp {self.timestamp[:40]!r}, {how}"
        )

    def __repr__(self) -> str:
        return f"SecretCase({self.describe()})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    @property
    def code(self) -> str | None:
        return self.params.get("code") if self.endpoint == "v3/te" else None


@functools.cache
def _certificate_hash() -> str:
    return secret.certificate_hash(esia_world().certificate)


def _message_fields(params: dict[str, str]) -> dict[str, str]:
    return {k: params.get(k, "") for k in ("scope", "scope_org", "timestamp", "state")} | {
        "redirect_uri": params.get("redirect_uri", "")
    }


@st.composite
def secret_cases(draw: st.DrawFn) -> SecretCase:
    world = esia_world()
    endpoint = draw(st.sampled_from(("v2/ac", "v3/te")))
    choices = _field_choices((*FIELDS, "all") if endpoint == "v3/te" else (*FIELDS[:-1], "all"))
    moment = draw(st.sampled_from(TIMESTAMPS))
    sign = draw(st.booleans())  # every draw before the choice: see draw_live
    grown, fraction = draw_live(draw, "cost_esia_secret", choices, _kind)
    timestamp = {"now": secret.esia_timestamp(NOW), "huge": "2026.12.06 " * 90_000}.get(
        moment, moment
    )
    params = {
        "client_id": CLIENT,
        "scope": "openid fullname",
        "scope_org": "",
        "timestamp": timestamp,
        "state": "2b5c6a3e-1f0d-4c9b-8e7a-6d5c4b3a2f10",
        "redirect_uri": "https://portal.example/esia/cb",
        "client_certificate_hash": _certificate_hash(),
    }
    if endpoint == "v3/te":
        params.update(code="c0de", grant_type="authorization_code", token_type="Bearer")
    else:
        params.update(response_type="code", access_type="online")
    room = FORM_LIMIT - sum(len(k) + len(v) + 2 for k, v in params.items()) - 200
    limits = getattr(secret, "FIELD_LIMITS", {})  # what the library bounds each field to
    grown_fields = [grown] if grown != "all" else [f for f in FIELDS if f in params]
    size = 0
    for name in grown_fields:
        if isinstance(fraction, float):
            size = max(1, int(room * fraction) // len(grown_fields))
        else:
            size = limits.get(name, room // len(grown_fields)) + (fraction == "limit+1")
        params[name] = "a" * size
    code = params.get("code") if endpoint == "v3/te" else None
    signed_length = sum(map(len, _message_fields(params).values())) + len(code or "")
    signed = sign and signed_length <= SIGNED_LIMIT
    if signed:
        message = secret.secret_message(client_id=CLIENT, code=code, **_message_fields(params))
        params["client_secret"] = base64url.encode(gost.sign(world.key, message))
    else:
        params["client_secret"] = base64url.encode(bytes(range(1, 65)))
    return SecretCase(endpoint, grown, fraction, size, timestamp, signed, params)


def _kind(choice: tuple[str, float | str]) -> str:
    return f"{choice[0]}@{choice[1]}"


@functools.cache
def _field_choices(fields: tuple[str, ...]) -> tuple[tuple[str, float | str], ...]:
    return tuple((name, size) for name in fields for size in FIELD_SIZES)


def _check_secret(case: SecretCase) -> None:
    esia_v2.check_request(
        esia_world().certificate, case.params, client_id=CLIENT, now=NOW, code=case.code
    )


def _secret_signature(case: SecretCase) -> bool:
    """The one signature verification an accepted request needs."""
    message = secret.secret_message(
        client_id=CLIENT, code=case.code, **_message_fields(case.params)
    )
    signature = base64url.decode(case.params["client_secret"])
    return gost.verify(esia_world().certificate.public_key, message, signature)


def _verify_secret(case: SecretCase, result: Any) -> str:
    if not case.signed:
        raise InvariantViolation("a client_secret that is no signature was accepted")
    if case.timestamp != secret.esia_timestamp(NOW):
        raise InvariantViolation(f"a request stamped {case.timestamp[:40]!r} was accepted")
    return "accepted"


def _secret_repro(case: SecretCase) -> str:
    world = esia_world()
    return f"""from mock_idp import esia_v2
from sso_bridge.esia import gost
import datetime as dt

CERTIFICATE = gost.load_certificate({world.certificate.der!r})
params = {case.params!r}
now = dt.datetime.fromisoformat({NOW.isoformat()!r})
esia_v2.check_request(CERTIFICATE, params, client_id={CLIENT!r}, now=now, code={case.code!r})
"""


@functools.cache
def secret_target() -> Target[SecretCase]:
    return Target(
        "cost_esia_secret",
        call=_check_secret,
        verify=_verify_secret,
        repro=_secret_repro,
        signature_work=_secret_signature,
        shape=SecretCase.describe,
    )


@pytest.mark.parametrize("count", chunks("cost_esia_secret"))
def test_cost_esia_secret(count: int) -> None:
    fuzz(secret_target(), secret_cases(), count)


# -- GOST-signed ID tokens ------------------------------------------------------------------

PINNED: Final = (1, 2, 4, 8, 16)
KIDS: Final = ("none", "right", "unknown", "long")
SIGNERS: Final = ("good", "good", "noise", "outsider")


@dataclass(frozen=True, repr=False)
class TokenCase:
    path: str  # "rp": validate_id_token with a GostKeyring; "jwt": verify_gost_jwt
    pinned: int
    kid: str
    signer: str
    fraction: float
    token: str = field(compare=False)

    @property
    def kind(self) -> str:
        return f"{self.fraction}@{self.pinned}"

    def describe(self) -> str:
        return (
            f"token x {len(self.token):,} characters, kid {self.kid}, signed {self.signer}, "
            f"{self.pinned} pinned certificates, {self.path}"
        )

    def __repr__(self) -> str:
        return f"TokenCase({self.describe()})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _b64json(value: Any) -> str:
    return base64url.encode(json.dumps(value, separators=(",", ":")).encode())


@functools.cache
def gost_token(kid: str, signer: str, fraction: float) -> str:
    """A GOST-signed ID token of about ``fraction`` of the largest size (cached: signing
    hashes the whole token in pure Python)."""
    world = esia_world()
    header: dict[str, Any] = {"alg": GOST_ALG, "typ": "JWT"}
    if kid == "right":
        header["kid"] = certificate_kid(world.certificate)
    elif kid == "unknown":
        header["kid"] = "0" * 64
    elif kid == "long":
        header["kid"] = "f" * 20_000
    now = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "1000299654",
        "aud": CLIENT,
        "exp": now + 600,
        "iat": now,
        "urn:esia:sbj_id": 1000299654,
    }
    head, body = _b64json(header), _b64json(claims)
    room = MAX_TOKEN_LENGTH - len(head) - len(body) - 100 - 90  # signature and padding
    pad = max(0, int(room * fraction) * 3 // 4)
    claims["pad"] = "a" * pad
    body = _b64json(claims)
    signing_input = f"{head}.{body}".encode("ascii")
    if signer == "noise":
        signature = bytes(range(64))
    else:
        signature = gost.sign(world.key if signer == "good" else world.outsider, signing_input)
    return f"{head}.{body}.{base64url.encode(signature)}"


@st.composite
def token_cases(draw: st.DrawFn) -> TokenCase:
    kid = draw(st.sampled_from(KIDS))
    signer = draw(st.sampled_from(SIGNERS))
    choices = tuple((fraction, count) for fraction in FRACTIONS for count in PINNED)
    path = draw(st.sampled_from(("rp", "rp", "jwt")))
    fraction, count = draw_live(draw, "cost_esia_token", choices, _size_kind)
    return TokenCase(
        path,
        count,
        kid,
        signer,
        fraction,
        gost_token(kid, signer, fraction),
    )


def _size_kind(choice: tuple[float, int]) -> str:
    return f"{choice[0]}@{choice[1]}"


@functools.cache
def pinned(count: int) -> tuple[gost.GostCertificate, ...]:
    """``count`` certificates, the signer's last (tried after every other)."""
    world = esia_world()
    return (*world.strangers[: count - 1], world.certificate)


@functools.cache
def _config(count: int) -> ProviderConfig:
    return ProviderConfig(
        issuer=ISSUER,
        authorization_endpoint=ISSUER + "aas/oauth2/v2/ac",
        token_endpoint=ISSUER + "aas/oauth2/v3/te",
        jwks_uri=ISSUER + "jwks",
        client_id=CLIENT,
        redirect_uri="https://portal.example/esia/cb",
        client_secret="not-used-here",
        algorithms=(GOST_ALG,),
        token_algorithms=(GOST_TOKEN_ALGORITHM,),
        skew=timedelta(seconds=60),
    )


def _validate_token(case: TokenCase) -> Any:
    if case.path == "jwt":
        return verify_gost_jwt(case.token, pinned(case.pinned))
    keyring = GostKeyring(pinned(case.pinned))
    return validate_id_token(case.token, _config(case.pinned), keyring.key, nonce=None, now=NOW)


def _token_signature(case: TokenCase) -> bool:
    head, body, signature = case.token.split(".")
    return gost.verify(
        esia_world().certificate.public_key,
        f"{head}.{body}".encode("ascii"),
        base64url.decode(signature),
    )


def _verify_token(case: TokenCase, result: Any) -> str:
    if case.signer != "good":
        raise InvariantViolation(f"a token signed by {case.signer} was accepted")
    return "accepted"


def _token_repro(case: TokenCase) -> str:
    ders = [c.der for c in pinned(case.pinned)]
    return f"""from sso_bridge.esia import gost
from sso_bridge.esia.tokens import verify_gost_jwt

PINNED = [gost.load_certificate(der) for der in {ders!r}]
token = {case.token!r}
print(verify_gost_jwt(token, PINNED))
"""


@functools.cache
def token_target() -> Target[TokenCase]:
    return Target(
        "cost_esia_token",
        call=_validate_token,
        verify=_verify_token,
        repro=_token_repro,
        signature_work=_token_signature,
        shape=TokenCase.describe,
    )


@pytest.mark.parametrize("count", chunks("cost_esia_token"))
def test_cost_esia_token(count: int) -> None:
    fuzz(token_target(), token_cases(), count)
