"""What OIDC input costs: ID tokens and JSON bodies shaped to take time, at the size limits.

* ID tokens up to ``MAX_TOKEN_BYTES`` (64 KiB): headers with thousands of members, deep
  nesting, huge strings and escapes, a long ``kid``; payloads with thousands of claims,
  deep or huge values (signed by the provider's key, by a stranger's, or not at all); huge
  signature segments;
* JSON bodies as the relying party reads every answer (token, userinfo), up to
  ``MAX_JSON_BYTES`` (1 MiB): thousands of members or elements, deep nesting, one huge
  string, escapes, numbers of thousands of digits;
* JWKS documents: many keys, huge RSA moduli, many members per key.

Invariant: as for the other OIDC targets (refused with a stable code, or accepted only
with what was signed or given), and no input costs more CPU than the harness's budget.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, Final

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, draw_live, fuzz
from fuzz.json_text import as_object
from fuzz.oidc_world import (
    ACCESS_TOKEN,
    ALGORITHMS,
    NONCE,
    b64url,
    oidc_world,
    token,
    why_not_acceptable,
)
from helpers.clock import NOW
from sso_bridge.jsonparse import MAX_JSON_BYTES
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.idtoken import MAX_TOKEN_BYTES, validate_id_token
from sso_bridge.oidc.keys import parse_jwks

FRACTIONS: Final = (1.0, 1.0, 1.0, 0.999, 0.5, 0.1, 0.01, 0.001, -1.0)
"""How much of the room under the limit a shape fills; -1: a little over the limit."""


def _kind(choice: tuple[str, float]) -> str:
    return f"{choice[0]}@{choice[1]}"


@functools.cache
def _choices(names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    return tuple((name, fraction) for name in names for fraction in FRACTIONS)


def _draw_choice(draw: st.DrawFn, target: str, names: tuple[str, ...]) -> tuple[str, float]:
    """A (shape, fraction), of the kinds that have not been slow too often in this process."""
    return draw_live(draw, target, _choices(names), _kind)


def _count(room: int, unit: int, fraction: float) -> int:
    most = max(0, room) // unit
    return most + 1 if fraction < 0 else max(1, int(most * fraction))


# -- JSON texts of one shape ------------------------------------------------------------------


def json_shape(name: str, count: int) -> str:
    """A JSON value of shape ``name`` with ``count`` repetitions (see ``JSON_UNITS``)."""
    if name == "members":
        return "{" + ",".join(f'"m{i:07d}":0' for i in range(count)) + "}"
    if name == "nesting":
        return "[" * count + "]" * count
    if name == "string":
        return '"' + "a" * count + '"'
    if name == "escapes":
        return '"' + "\\u00e9" * count + '"'
    if name == "surrogates":
        return '"' + "\\ud800" * count + '"'
    if name == "digits":
        return "1" * count
    if name == "elements":
        return "[" + ",".join(["[]"] * count) + "]"
    if name == "floats":
        return "[" + ",".join(["1.5e300"] * count) + "]"
    raise ValueError(name)


JSON_UNITS: Final = {
    "members": 12,
    "nesting": 2,
    "string": 1,
    "escapes": 6,
    "surrogates": 6,
    "digits": 1,
    "elements": 3,
    "floats": 8,
}
"""Bytes per repetition of each JSON shape."""


# -- ID tokens --------------------------------------------------------------------------------

TOKEN_SHAPES: Final = (
    "header_members",
    "header_nesting",
    "header_string",
    "header_escapes",
    "kid",
    "claims",
    "claim_nesting",
    "claim_string",
    "claim_escapes",
    "signature",
)


@dataclass(frozen=True, repr=False)
class CostTokenCase:
    shape: str
    fraction: float
    count: int
    alg: str
    signer: str
    header: bytes = field(compare=False)
    payload: bytes = field(compare=False)
    token: str = field(compare=False)

    @property
    def kind(self) -> str:
        return f"{self.shape}@{self.fraction}"

    def describe(self) -> str:
        return (
            f"{self.shape} x {self.count:,} ({self.alg}, signed {self.signer}), "
            f"{len(self.token):,} characters"
        )

    def __repr__(self) -> str:
        return f"CostTokenCase({self.describe()})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _room(other: int) -> int:
    """JSON bytes that fit in a token beside ``other`` base64url characters."""
    return (MAX_TOKEN_BYTES - other - 2) * 3 // 4 - 64


@st.composite
def cost_token_cases(draw: st.DrawFn) -> CostTokenCase:
    world = oidc_world()
    alg = draw(st.sampled_from(ALGORITHMS))
    signer = draw(st.sampled_from(("good", "good", "stranger", "garbage")))
    shape, fraction = _draw_choice(draw, "cost_idtoken", TOKEN_SHAPES)
    head = [("alg", json.dumps(alg)), ("kid", json.dumps(world.keys[alg].kid)), ("typ", '"JWT"')]
    body = world.base_claims()
    signature_room = 700  # base64url of the largest signature (RSA-4096), and some
    base_payload = len(b64url(as_object(body).encode()))
    base_header = len(b64url(as_object(head).encode()))
    count = 0
    extra_signature = ""
    if shape.startswith("header") or shape == "kid":
        room = _room(base_payload + signature_room) - base_header
        if shape == "kid":
            count = _count(room, 1, fraction)
            head[1] = ("kid", json.dumps("k" * count))
        else:
            kind = shape.removeprefix("header_")
            count = _count(room, JSON_UNITS[kind], fraction)
            head.append(("x", json_shape(kind, count)))
    elif shape == "signature":
        count = _count(MAX_TOKEN_BYTES - base_header - base_payload - 2, 1, fraction)
        extra_signature = "A" * count
    else:
        room = _room(base_header + signature_room) - base_payload
        kind = {"claims": "members"}.get(shape, shape.removeprefix("claim_"))
        count = _count(room, JSON_UNITS[kind], fraction)
        if shape == "claims":
            body += [(f"c{i:07d}", "0") for i in range(count)]
        else:
            body.append(("x", json_shape(kind, count)))
    header_bytes = as_object(head).encode()
    payload = as_object(body).encode()
    text = token(header_bytes, payload, signer, world)
    if extra_signature:
        head_part, body_part, _ = text.split(".")
        text = f"{head_part}.{body_part}.{extra_signature}"
        signer = "garbage"
    return CostTokenCase(shape, fraction, count, alg, signer, header_bytes, payload, text)


def _validate(case: CostTokenCase) -> Any:
    world = oidc_world()
    return validate_id_token(
        case.token, world.config, world.cache.key, nonce=NONCE, now=NOW, access_token=ACCESS_TOKEN
    )


def _verify_token(case: CostTokenCase, result: Any) -> str:
    reason = why_not_acceptable(case.header, case.payload, case.signer, oidc_world(), NOW)
    if reason is not None:
        raise InvariantViolation(f"accepted a token that must be refused: {reason}")
    return "accepted"


def _token_repro(case: CostTokenCase) -> str:
    world = oidc_world()
    return f"""import datetime as dt

from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.idtoken import validate_id_token
from sso_bridge.oidc.keys import JwksCache

JWKS = {json.dumps(world.jwks)!r}


class Jwks:
    def get(self, url, *, headers=None):
        return HttpResponse(200, {{}}, JWKS.encode())


config = ProviderConfig(
    issuer={world.config.issuer!r},
    authorization_endpoint={world.config.authorization_endpoint!r},
    token_endpoint={world.config.token_endpoint!r},
    jwks_uri={world.config.jwks_uri!r},
    client_id={world.config.client_id!r},
    redirect_uri={world.config.redirect_uri!r},
    client_secret="not-used-here",
    algorithms={ALGORITHMS!r},
)
keys = JwksCache(Jwks(), config.jwks_uri, config.algorithms)
token = {case.token!r}
now = dt.datetime.fromisoformat({NOW.isoformat()!r})
print(validate_id_token(token, config, keys.key, nonce={NONCE!r}, now=now,
                        access_token={ACCESS_TOKEN!r}).claims)
"""


@functools.cache
def token_target() -> Target[CostTokenCase]:
    return Target(
        "cost_idtoken",
        call=_validate,
        verify=_verify_token,
        repro=_token_repro,
        shape=CostTokenCase.describe,
    )


@pytest.mark.parametrize("count", chunks("cost_idtoken"))
def test_cost_idtoken(count: int) -> None:
    fuzz(token_target(), cost_token_cases(), count)


# -- JSON bodies ------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class SizedCase:
    """A document of ``count`` repeats of one ``shape`` (``fraction`` of the size limit),
    sent ``where`` (a token response, a JWKS)."""

    shape: str
    fraction: float
    count: int
    body: bytes = field(compare=False)
    where: str = field(compare=False, default="a token response")

    @property
    def kind(self) -> str:
        return f"{self.shape}@{self.fraction}"

    def describe(self) -> str:
        return f"{self.shape} x {self.count:,} in {self.where}, {len(self.body):,} bytes"

    def __repr__(self) -> str:
        return f"SizedCase({self.describe()})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@st.composite
def body_cases(draw: st.DrawFn) -> SizedCase:
    shape, fraction = _draw_choice(draw, "cost_token_body", tuple(JSON_UNITS))
    base = '{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"x":'
    count = _count(MAX_JSON_BYTES - len(base) - 1, JSON_UNITS[shape], fraction)
    return SizedCase(shape, fraction, count, (base + json_shape(shape, count) + "}").encode())


def _read(case: SizedCase) -> Any:
    return HttpResponse(200, {"content-type": "application/json"}, case.body).json_object(
        "the token response"
    )


def _verify_body(case: SizedCase, result: Any) -> str:
    if not isinstance(result, dict) or result.get("access_token") != "at-1":
        raise InvariantViolation("the body read is not the one given")
    return "accepted"


def _body_repro(case: SizedCase) -> str:
    return (
        "from sso_bridge.oidc.http import HttpResponse\n\n"
        f"body = {case.body!r}\n"
        'print(len(HttpResponse(200, {}, body).json_object("the token response")))\n'
    )


@functools.cache
def body_target() -> Target[SizedCase]:
    return Target(
        "cost_token_body",
        call=_read,
        verify=_verify_body,
        repro=_body_repro,
        shape=SizedCase.describe,
    )


@pytest.mark.parametrize("count", chunks("cost_token_body"))
def test_cost_token_body(count: int) -> None:
    fuzz(body_target(), body_cases(), count)


# -- the JWKS ---------------------------------------------------------------------------------

JWKS_SHAPES: Final = ("keys", "ec_keys", "modulus", "big_keys", "members")
MODULUS_LENGTHS: Final = (342, 683, 1366, 1367, 2731, 10_000)
"""base64url lengths of RSA moduli: 2048, 4096, 8192 bits, just over, 16384 bits, more."""


def _modulus(length: int) -> str:
    """An odd RSA-like modulus of ``length`` base64url characters (canonical, no leading 0)."""
    body = "x" + "A" * (length - 2) + "F" if length > 1 else "F"
    return body


@st.composite
def jwks_cases(draw: st.DrawFn) -> SizedCase:
    world = oidc_world()
    rsa, ec = (dict(entry) for entry in world.jwks["keys"][:2])
    length = draw(st.sampled_from(MODULUS_LENGTHS))  # drawn first: see draw_live
    shape, fraction = _draw_choice(draw, "cost_jwks", JWKS_SHAPES)
    keys: list[dict[str, Any]] = [rsa, ec]
    if shape in ("keys", "ec_keys", "big_keys"):
        template = dict(ec if shape == "ec_keys" else rsa)
        if shape == "big_keys":
            template["n"] = _modulus(length)
        unit = len(json.dumps(template)) + 2
        count = _count(MAX_JSON_BYTES - 2048, unit, fraction)
        keys = [{**template, "kid": f"k{i:07d}"} for i in range(count)] + keys
    elif shape == "modulus":
        count = length
        keys = [{**rsa, "kid": "big", "n": _modulus(count)}, *keys]
    else:
        count = _count(MAX_JSON_BYTES - 2048, 14, fraction)
        keys = [{**rsa, **{f"m{i:07d}": 0 for i in range(count)}}, ec]
    return SizedCase(shape, fraction, count, json.dumps({"keys": keys}).encode(), "a JWKS")


def _parse_jwks(case: SizedCase) -> Any:
    document = HttpResponse(200, {}, case.body).json_object("the JWKS")
    return parse_jwks(document, ALGORITHMS)


def _verify_jwks(case: SizedCase, keys: Any) -> str:
    found = {key.kid for key in keys}
    wanted = {entry["kid"] for entry in oidc_world().jwks["keys"]}
    if case.shape != "members" and not wanted <= found:
        raise InvariantViolation(f"the provider's keys {sorted(wanted - found)} were dropped")
    return "accepted"


def _jwks_repro(case: SizedCase) -> str:
    return (
        "import json\n\nfrom sso_bridge.oidc.keys import parse_jwks\n\n"
        f"body = {case.body!r}\n"
        f"print(len(parse_jwks(json.loads(body), {ALGORITHMS!r})))\n"
    )


@functools.cache
def jwks_target() -> Target[SizedCase]:
    return Target(
        "cost_jwks",
        call=_parse_jwks,
        verify=_verify_jwks,
        repro=_jwks_repro,
        shape=SizedCase.describe,
    )


@pytest.mark.parametrize("count", chunks("cost_jwks"))
def test_cost_jwks(count: int) -> None:
    fuzz(jwks_target(), jwks_cases(), count)
