"""Fuzzing ID token validation with tokens signed by a key in the configured JWKS, so that
mutated claims and headers get past the signature and reach the checks behind it.

Invariant: a token is accepted only if it meets the rules written out in
``oidc_world.why_not_acceptable`` (signed by the right key, finite times within the skew,
issuer, audience, nonce, ...), with the claims that were signed and an identity whose
subject is the signed ``sub``; else it is refused with an ``oidc.*`` code.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, fuzz, sometimes
from fuzz.json_text import (
    NUMBERS,
    Edit,
    as_object,
    deep,
    documents,
    numbers,
    python_value,
    strings,
    values,
)
from fuzz.oidc_world import (
    ACCESS_TOKEN,
    CLIENT,
    ISSUER,
    NONCE,
    at_hash,
    oidc_world,
    token,
    why_not_acceptable,
)
from helpers.clock import NOW
from sso_bridge.oidc.identity import identity_from_claims
from sso_bridge.oidc.idtoken import validate_id_token

SIGNERS: Final = ("good",) * 6 + ("stranger", "swapped", "none", "garbage")
CLAIM_NAMES: Final = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "at_hash",
    "auth_time",
    "acr",
    "family_name",
    "urn:esia:sbj",
    "",
)
HEADER_NAMES: Final = ("alg", "kid", "typ", "cty", "crit", "jku", "jwk", "x5u", "x5c", "b64", "zip")
ALGS: Final = (
    '"RS256"',
    '"ES256"',
    '"none"',
    '"None"',
    '"HS256"',
    '"RS384"',
    '"ES512"',
    '"PS256"',
    '"rs256"',
    '"RS256 "',
    '""',
    "null",
    "1",
    '["RS256"]',
    '{"alg":"RS256"}',
)
OFFSETS: Final = (-(10**6), -3600, -120, -61, -60, -59, -1, 0, 1, 59, 60, 61, 120, 3600, 10**6)


@cache
def claim_values() -> st.SearchStrategy[str]:
    now = int(NOW.timestamp())
    near = st.sampled_from(OFFSETS).map(lambda offset: str(now + offset))
    fractions = st.sampled_from(OFFSETS).map(lambda offset: f"{now + offset}.5")
    specials = st.sampled_from(
        (
            json.dumps(ISSUER),
            json.dumps(ISSUER.rstrip("/")),
            json.dumps(CLIENT),
            json.dumps([CLIENT]),
            json.dumps([CLIENT, "other"]),
            json.dumps(["other"]),
            "[]",
            json.dumps(NONCE),
            json.dumps(NONCE + " "),
            json.dumps(at_hash(ACCESS_TOKEN)),
            json.dumps(at_hash("other")),
            '"1000299654"',
            '""',
            '" "',
            '{"urn:esia:sbj:is_tru": true}',
        )
    )
    return st.one_of(near, fractions, specials, numbers(), strings(), values(4), deep())


@cache
def header_values() -> st.SearchStrategy[str]:
    world = oidc_world()
    kids = [json.dumps(key.kid) for key in world.keys.values()]
    return st.one_of(
        st.sampled_from(ALGS),
        st.sampled_from((*kids, '"unknown"', '["b64"]', '["exp"]', "false", '"JWT"', '"at+jwt"')),
        values(4),
        deep(),
    )


@cache
def claim_edits() -> st.SearchStrategy[Edit]:
    """Claim changes; half of them to the time claims, where the numbers are odd."""
    now = int(NOW.timestamp())
    times = st.one_of(
        st.sampled_from(NUMBERS),
        numbers(),
        st.sampled_from(OFFSETS).map(lambda offset: str(now + offset)),
        claim_values(),
    )
    return st.one_of(
        st.builds(
            Edit,
            st.sampled_from(("set", "set", "set", "delete", "duplicate")),
            st.sampled_from(("exp", "iat", "nbf")),
            times,
        ),
        st.builds(
            Edit,
            st.sampled_from(("set", "set", "set", "delete", "duplicate")),
            st.sampled_from(CLAIM_NAMES),
            claim_values(),
        ),
    )


@cache
def header_edits() -> st.SearchStrategy[Edit]:
    return st.builds(
        Edit,
        st.sampled_from(("set", "set", "set", "delete", "duplicate")),
        st.sampled_from(HEADER_NAMES),
        header_values(),
    )


@dataclass(frozen=True)
class TokenOp:
    """A change to the token text itself."""

    kind: str
    at: int = 0
    text: str = ""

    def apply(self, value: str) -> str:
        parts = value.split(".")
        cut = self.at % (len(value) + 1)
        if self.kind == "insert":
            return value[:cut] + self.text + value[cut:]
        if self.kind == "truncate":
            return value[:cut]
        if self.kind == "drop":
            return ".".join(parts[: self.at % len(parts)] + parts[self.at % len(parts) + 1 :])
        if self.kind == "repeat":
            return ".".join([*parts, parts[self.at % len(parts)]])
        if self.kind == "swap" and len(parts) > 1:
            i, j = self.at % len(parts), (self.at + 1) % len(parts)
            parts[i], parts[j] = parts[j], parts[i]
            return ".".join(parts)
        if self.kind == "padded":
            return ".".join(p + "=" * (-len(p) % 4) for p in parts)
        if self.kind == "standard-alphabet":
            return value.replace("-", "+").replace("_", "/")
        if self.kind == "long":
            return value + self.text * 70_000
        if self.kind == "replace":
            return self.text
        return value


@cache
def token_ops() -> st.SearchStrategy[TokenOp]:
    inserted = st.sampled_from((".", "..", "=", "==", "+", "/", " ", "\n", "é", "\x00", "%2E", "A"))
    return st.one_of(
        st.builds(TokenOp, st.just("insert"), st.integers(0, 1 << 12), inserted),
        st.builds(TokenOp, st.sampled_from(("truncate", "drop", "repeat", "swap")), st.integers()),
        st.sampled_from(("padded", "standard-alphabet")).map(TokenOp),
        st.builds(TokenOp, st.just("long"), text=st.sampled_from(("A", ".", "="))),
        st.builds(TokenOp, st.just("replace"), text=st.text(max_size=40)),
    )


@dataclass(frozen=True, repr=False)
class TokenCase:
    header_edits: tuple[Edit, ...]
    raw_header: str | None
    claim_edits: tuple[Edit, ...]
    raw_payload: str | None
    payload_codec: str
    signer: str
    token_ops: tuple[TokenOp, ...]
    header: bytes = field(compare=False)
    payload: bytes = field(compare=False)
    token: str = field(compare=False)

    def __repr__(self) -> str:
        return (
            f"TokenCase(header_edits={self.header_edits}, raw_header={self.raw_header!r:.200}, "
            f"claim_edits={self.claim_edits}, raw_payload={self.raw_payload!r:.200}, "
            f"payload_codec={self.payload_codec!r}, signer={self.signer!r}, "
            f"token_ops={self.token_ops}, header={self.header!r:.300}, "
            f"payload={self.payload!r:.300})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@st.composite
def token_cases(draw: st.DrawFn, *, header: int, claims: int, garble: int) -> TokenCase:
    """``header``, ``claims``, ``garble``: how often (percent) each part is changed."""
    world = oidc_world()
    alg = draw(st.sampled_from(("ES256", "ES256", "RS256")))
    head = [("alg", json.dumps(alg)), ("kid", json.dumps(world.keys[alg].kid)), ("typ", '"JWT"')]
    head_edits = sometimes(draw, header, header_edits(), 3)
    for edit in head_edits:
        head = edit.apply(head)
    raw_header = draw(documents()) if sometimes(draw, header // 10, st.just(True)) else None
    body = world.base_claims()
    edits = sometimes(draw, claims, claim_edits(), 4)
    for edit in edits:
        body = edit.apply(body)
    raw_payload = draw(documents()) if sometimes(draw, claims // 10, st.just(True)) else None
    codecs = st.sampled_from(("utf-16", "utf-8-sig", "utf-32"))
    codec = (sometimes(draw, 5, codecs) or ("utf-8",))[0]
    signer = draw(st.sampled_from(SIGNERS)) if header or garble else "good"
    header_bytes = (raw_header or as_object(head)).encode("utf-8", "surrogatepass")
    payload = (raw_payload or as_object(body)).encode(codec, "surrogatepass")
    text = token(header_bytes, payload, signer, world)
    changes = sometimes(draw, garble, token_ops(), 3)
    for change in changes:
        text = change.apply(text)
    return TokenCase(
        head_edits,
        raw_header,
        edits,
        raw_payload,
        codec,
        signer,
        changes,
        header_bytes,
        payload,
        text,
    )


def _validate(case: TokenCase) -> tuple[Any, Any]:
    world = oidc_world()
    validated = validate_id_token(
        case.token,
        world.config,
        world.cache.key,
        nonce=NONCE,
        now=NOW,
        access_token=ACCESS_TOKEN,
    )
    return validated, identity_from_claims(ISSUER, validated.claims)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _verify(case: TokenCase, result: tuple[Any, Any]) -> str:
    validated, identity = result
    reason = why_not_acceptable(case.header, case.payload, case.signer, oidc_world(), NOW)
    if reason is not None:
        raise InvariantViolation(f"accepted a token that must be refused: {reason}")
    signed = python_value(case.payload)
    if _canonical(dict(validated.claims)) != _canonical(signed):
        raise InvariantViolation("the accepted claims are not the signed ones")
    if identity.subject != signed["sub"] or identity.issuer != ISSUER:
        raise InvariantViolation(f"identity {identity!r} is not the signed subject")
    changed = case.header_edits or case.claim_edits or case.token_ops
    return "accepted (mutated)" if changed else "accepted"


def _repro(case: TokenCase) -> str:
    world = oidc_world()
    return f"""import datetime as dt
import json

from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.idtoken import validate_id_token
from sso_bridge.oidc.keys import JwksCache

JWKS = {json.dumps(world.jwks)!r}


class Jwks:
    def get(self, url, *, headers=None):
        return HttpResponse(200, {{}}, JWKS.encode())


config = ProviderConfig(
    issuer={ISSUER!r},
    authorization_endpoint={ISSUER + "authorize"!r},
    token_endpoint={ISSUER + "token"!r},
    jwks_uri={ISSUER + "jwks"!r},
    client_id={CLIENT!r},
    redirect_uri="https://portal.example/callback",
    client_secret="not-used-here",
    algorithms=("RS256", "ES256"),
)
keys = JwksCache(Jwks(), config.jwks_uri, config.algorithms)
# header {case.header!r:.2000}
# payload {case.payload!r:.2000}
token = {case.token!r}
now = dt.datetime.fromisoformat({NOW.isoformat()!r})
print(validate_id_token(token, config, keys.key, nonce={NONCE!r}, now=now,
                        access_token={ACCESS_TOKEN!r}).claims)
"""


def _target(name: str) -> Target[TokenCase]:
    return Target(name, call=_validate, verify=_verify, repro=_repro)


@pytest.mark.parametrize("count", chunks("idtoken_claims"))
def test_idtoken_claims(count: int) -> None:
    fuzz(_target("idtoken_claims"), token_cases(header=0, claims=95, garble=0), count)


@pytest.mark.parametrize("count", chunks("idtoken_header"))
def test_idtoken_header(count: int) -> None:
    fuzz(_target("idtoken_header"), token_cases(header=95, claims=20, garble=0), count)


@pytest.mark.parametrize("count", chunks("idtoken_garbled"))
def test_idtoken_garbled(count: int) -> None:
    fuzz(_target("idtoken_garbled"), token_cases(header=10, claims=10, garble=95), count)


def test_unmutated_token_is_accepted() -> None:
    """The harness's own check: the base token passes, so refusals above mean something."""
    world = oidc_world()
    head = as_object([("alg", '"ES256"'), ("kid", json.dumps(world.keys["ES256"].kid))]).encode()
    payload = as_object(world.base_claims()).encode()
    case = TokenCase((), None, (), None, "utf-8", "good", (), head, payload, "")
    text = token(head, payload, "good", world)
    validated, identity = _validate(
        TokenCase((), None, (), None, "utf-8", "good", (), head, payload, text)
    )
    assert _verify(case, (validated, identity)) == "accepted"
    assert base64.urlsafe_b64decode(text.split(".")[1] + "==") == payload
