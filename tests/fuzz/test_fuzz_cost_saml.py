"""What SAML input costs: documents shaped to take time, at the size limit, through the same
entry points as the other SAML targets (the ACS, and logout over HTTP-POST and HTTP-Redirect).

Each case takes a real signed message from the mock IdP and puts one adversarial shape into
it, as many times as the document limit (``MAX_DOCUMENT_BYTES``, 256 KiB) allows, or a
fraction of that: thousands of attributes or namespace declarations on the signed element,
deep nesting, thousands of tiny elements or elements with an ``ID``, one huge text node,
text split by thousands of comments, thousands of ``ds:Reference`` or ``ds:Transform``
elements, many ``ds:Signature`` elements, huge base64 in ``SignatureValue`` or
``X509Certificate``, many ``AttributeValue`` or ``Attribute`` elements, many
``EncryptedKey`` elements before the real one; over HTTP-Redirect also deflate bombs and
query strings with thousands of parameters.

Invariant: as for the other SAML targets (refused with a ``saml.*`` code, or accepted with
what was signed), and no input costs more CPU than the harness's budget (20 ms): nobody
needs credentials to send any of these.
"""

from __future__ import annotations

import base64
import functools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final
from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, draw_live, fuzz
from fuzz.saml_world import (
    CLOCK,
    PENDING_FOR,
    LoginBase,
    LogoutBase,
    login_repro,
    logout_repro,
    same_identity,
    saml_world,
)
from helpers.clock import NOW
from sso_bridge.saml import InMemoryReplayCache, process_logout_response, process_response
from sso_bridge.saml.xml import MAX_DOCUMENT_BYTES

LIMIT: Final = MAX_DOCUMENT_BYTES
"""The largest document the service provider reads (its default ``max_response_bytes``)."""

ENVELOPED: Final = b"http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_OAEP: Final = b"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
_REFERENCE: Final = (
    b'<ds:Reference URI="#_x"><ds:Transforms><ds:Transform Algorithm="' + ENVELOPED + b'"/>'
    b'</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
    b"<ds:DigestValue>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=</ds:DigestValue>"
    b"</ds:Reference>"
)
_TRANSFORM: Final = b'<ds:Transform Algorithm="' + ENVELOPED + b'"/>'
_ATTRIBUTE_VALUE: Final = b"<saml2:AttributeValue>x</saml2:AttributeValue>"


def _encrypted_key(number: int) -> bytes:
    """An EncryptedKey the service provider's key cannot open: 256 bytes of noise, the
    length of an RSA-2048 block, so that each one costs a full private-key operation."""
    noise = base64.b64encode(_noise(number % 64))
    return (
        b'<xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="' + RSA_OAEP + b'"/>'
        b"<xenc:CipherData><xenc:CipherValue>" + noise + b"</xenc:CipherValue>"
        b"</xenc:CipherData></xenc:EncryptedKey>"
    )


@functools.cache
def _noise(seed: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < 256:
        out += zlib.crc32(bytes([seed, counter])).to_bytes(4, "big") * 4
        counter += 1
    return out[:256]


# -- shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One adversarial shape: ``unit(i)`` is its ``i``-th repetition (all of one length),
    put at ``spot`` (see :func:`_position`), between ``before`` and ``after``."""

    name: str
    spot: str
    unit: Callable[[int], bytes]
    before: bytes = b""
    after: bytes = b""
    closing: Callable[[int], bytes] | None = None  # nesting: what closes repetition i


SHAPES: Final = {
    shape.name: shape
    for shape in (
        Shape("attributes", "start-tag", lambda i: b' a%06d=""' % i),
        Shape("namespaces", "start-tag", lambda i: b' xmlns:n%06d="urn:n%06d"' % (i, i)),
        Shape("nesting", "child", lambda i: b"<d>", closing=lambda i: b"</d>"),
        Shape("elements", "child", lambda i: b"<e/>"),
        Shape("ids", "child", lambda i: b'<e ID="_%06d"/>' % i),
        Shape("text", "text", lambda i: b"a"),
        Shape("comments", "text", lambda i: b"a<!---->"),
        Shape("references", "signed-info", lambda i: _REFERENCE),
        Shape("transforms", "transforms", lambda i: _TRANSFORM),
        Shape("signature_value", "signature-value", lambda i: b"A"),
        Shape("certificate", "certificate", lambda i: b"A"),
        Shape("attribute_values", "attribute", lambda i: _ATTRIBUTE_VALUE),
        Shape(
            "attribute_elements",
            "statement",
            lambda i: (
                b'<saml2:Attribute Name="a%06d">' % i + _ATTRIBUTE_VALUE + b"</saml2:Attribute>"
            ),
        ),
        Shape("signatures", "signature", lambda i: b""),  # unit: the element's own signature
        Shape("encrypted_keys", "encrypted-key", _encrypted_key),
    )
}
LOGIN_SHAPES: Final = tuple(name for name in SHAPES if name != "encrypted_keys")
LOGOUT_SHAPES: Final = tuple(
    name
    for name in LOGIN_SHAPES
    if SHAPES[name].spot not in ("attribute", "statement")  # a LogoutResponse has none
)
REDIRECT_SHAPES: Final = tuple(
    name
    for name in LOGOUT_SHAPES  # the Redirect binding signs the query, not the XML
    if SHAPES[name].spot
    not in ("signed-info", "transforms", "signature-value", "certificate", "signature")
)
SCOPES: Final = {"login": ("Response", "Assertion"), "logout": ("LogoutResponse",)}
TEXT_SPOTS: Final = {"login": ("Issuer", "NameID", "AttributeValue"), "logout": ("Issuer",)}
FRACTIONS: Final = (1.0, 1.0, 1.0, 1.0, 0.999, 0.5, 0.1, 0.01, 0.001, -1.0)
"""How much of the room left under the limit a shape fills (biased to all of it); -1: one
repetition more than fits, so the document is over the limit by a little."""
NESTING_DEPTHS: Final = (64, 128, 250, 255, 256, 257, 1000, 10_000)
"""Depths either side of libxml2's default limit (256), besides those that fill the room."""

_TAGS: Final = {
    "Response": b"<saml2p:Response",
    "Assertion": b"<saml2:Assertion",
    "LogoutResponse": b"<saml2p:LogoutResponse",
}


def _find(xml: bytes, marker: bytes, start: int) -> int:
    at = xml.find(marker, start)
    if at < 0:
        raise LookupError(f"{marker!r} is not in the document")
    return at


def _position(xml: bytes, spot: str, scope: str, text_spot: str) -> int:
    """Where in ``xml`` a shape goes: an offset into the first element ``scope`` or after."""
    start = _find(xml, _TAGS[scope], 0) if scope in _TAGS else 0
    if spot == "start-tag":  # just before the end of the start tag
        return _find(xml, b">", start)
    if spot == "child":  # after the element's Issuer
        return _find(xml, b"</saml2:Issuer>", start) + len(b"</saml2:Issuer>")
    if spot == "text":
        tag = {"Issuer": b"<saml2:Issuer", "NameID": b"<saml2:NameID"}.get(text_spot)
        tag = tag or b"<saml2:AttributeValue"
        return _find(xml, b">", _find(xml, tag, start)) + 1
    markers = {
        "signed-info": b"</ds:SignedInfo>",
        "transforms": b"</ds:Transforms>",
        "signature-value": b"</ds:SignatureValue>",
        "certificate": b"</ds:X509Certificate>",
        "attribute": b"</saml2:Attribute>",
        "statement": b"</saml2:AttributeStatement>",
        "signature": b"</ds:Signature>",
        "encrypted-key": b"<xenc:EncryptedKey",
    }
    at = _find(xml, markers[spot], start)
    return at + len(markers[spot]) if spot == "signature" else at


def _signature_of(xml: bytes, scope: str) -> bytes:
    start = _find(xml, _TAGS[scope], 0)
    begin = _find(xml, b"<ds:Signature>", start)
    end = _find(xml, b"</ds:Signature>", begin) + len(b"</ds:Signature>")
    return xml[begin:end]


@dataclass(frozen=True)
class Shaped:
    """What a drawn shape made of a base document."""

    shape: str
    size: float  # the fraction of the room filled; for nesting also a depth (an int)
    scope: str
    where: str
    count: int
    xml: bytes

    @property
    def kind(self) -> str:
        return f"{self.shape}@{self.size}"

    def describe(self, base: str) -> str:
        return (
            f"{self.shape} x {self.count:,} in {self.scope} ({self.where}) of {base}, "
            f"{len(self.xml) / 1024:.1f} KiB"
        )


def shaped(original: bytes, name: str, scope: str, text_spot: str, size: float) -> Shaped:
    """``original`` with shape ``name`` repeated to fill ``size`` (a fraction) of the room
    left under the limit (one repetition over it for -1), or ``size`` times (an int, at most
    as many as fit) for the nesting shape."""
    shape = SHAPES[name]
    at = _position(original, shape.spot, scope, text_spot)
    unit = shape.unit
    if name == "signatures":
        signature = _signature_of(original, scope)
        unit = lambda i: signature  # noqa: E731 - one repetition: a copy of the signature
    width = len(unit(0)) + (len(shape.closing(0)) if shape.closing else 0)
    room = max(0, LIMIT - len(original))
    most = room // width
    if isinstance(size, int):
        count = min(most, size)
    else:
        count = most + 1 if size < 0 else max(1, int(most * size))
    opening = b"".join(unit(i) for i in range(count))
    closing = b"".join(shape.closing(i) for i in range(count)) if shape.closing else b""
    xml = original[:at] + opening + closing + original[at:]
    where = text_spot if shape.spot == "text" else shape.spot
    return Shaped(name, size, scope, where, count, xml)


# -- the ACS ----------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class LoginCostCase:
    base: int
    unsigned: bool  # the Response's own signature removed
    made: Shaped = field(compare=False)
    message: str = field(compare=False)

    @property
    def kind(self) -> str:
        return self.made.kind

    def __repr__(self) -> str:
        return f"LoginCostCase({self.describe()})"

    def describe(self) -> str:
        label = saml_world().logins[self.base].label
        return self.made.describe(label + (", unsigned Response" if self.unsigned else ""))

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _kind(choice: tuple[str, float]) -> str:
    return f"{choice[0]}@{choice[1]}"


@functools.cache
def _choices(names: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
    """Every (shape, size) pair: a fraction of the room for each shape, and for nesting
    also the depths near the parser's limit."""
    pairs = [(name, fraction) for name in names for fraction in FRACTIONS]
    depths = [("nesting", depth) for depth in NESTING_DEPTHS if "nesting" in names]
    return (*pairs, *depths)


def _draw_choice(draw: st.DrawFn, target: str, names: tuple[str, ...]) -> tuple[str, float]:
    """A (shape, size), of the kinds that have not been slow too often in this process."""
    return draw_live(draw, target, _choices(names), _kind)


def unsigned_envelope(xml: bytes) -> bytes:
    """The response without its own signature (the assertion keeps its): a configuration
    that does not want signed responses reads it, so shapes in the envelope get further."""
    begin = _find(xml, b"<ds:Signature>", 0)
    if begin > _find(xml, b"<saml2:", xml.find(b"</saml2:Issuer>")):  # the assertion's
        return xml  # no signature of the Response itself
    return xml[:begin] + xml[_find(xml, b"</ds:Signature>", begin) + len(b"</ds:Signature>") :]


@st.composite
def login_cost_cases(draw: st.DrawFn) -> LoginCostCase:
    world = saml_world()
    plain = [i for i, b in enumerate(world.logins) if b"EncryptedAssertion" not in b.xml]
    # every draw first (see draw_live), then what they make
    number = draw(st.sampled_from(plain[:3]))  # one person: plain, IdP-initiated, strict
    scope = draw(st.sampled_from(SCOPES["login"]))
    text_spot = draw(st.sampled_from(TEXT_SPOTS["login"]))
    without_signature = draw(st.booleans())
    name, size = _draw_choice(draw, "cost_saml_login", (*LOGIN_SHAPES, "encrypted_keys"))
    if name == "encrypted_keys":
        number = next(i for i, b in enumerate(world.logins) if b"EncryptedAssertion" in b.xml)
        scope = "Response"
    original = world.logins[number].xml
    unsigned = not world.logins[number].config.want_signed_response and without_signature
    if unsigned:
        original = unsigned_envelope(original)
    made = shaped(original, name, scope, text_spot, size)
    return LoginCostCase(number, unsigned, made, base64.b64encode(made.xml).decode("ascii"))


def _login(base: LoginBase, message: str) -> Any:
    world = saml_world()
    pending = [(base.request_id, NOW + PENDING_FOR)] if base.request_id else []
    return process_response(
        message,
        base.config,
        request_store=world.request_store(*pending),
        replay_cache=InMemoryReplayCache(),
        clock=CLOCK,
    )


def _verify_login(case: LoginCostCase, result: Any) -> str:
    problem = same_identity(saml_world().logins[case.base], result)
    if problem is not None:
        raise InvariantViolation(f"an accepted response changed the identity: {problem}")
    return "accepted (shaped)"


@cache
def login_cost_target() -> Target[LoginCostCase]:
    world = saml_world()
    return Target(
        "cost_saml_login",
        call=lambda case: _login(world.logins[case.base], case.message),
        verify=_verify_login,
        repro=lambda case: login_repro(world, world.logins[case.base], case.message),
        shape=LoginCostCase.describe,
    )


@pytest.mark.parametrize("count", chunks("cost_saml_login"))
def test_cost_saml_login(count: int) -> None:
    fuzz(login_cost_target(), login_cost_cases(), count)


# -- logout over HTTP-POST ----------------------------------------------------------------------


def _logout_base(binding: str) -> LogoutBase:
    return next(b for b in saml_world().logouts if b.binding == binding)


@dataclass(frozen=True, repr=False)
class LogoutCostCase:
    binding: str
    kind: str
    description: str = field(compare=False)
    params: dict[str, str] = field(compare=False)
    query: str | None = field(compare=False)

    def __repr__(self) -> str:
        return f"LogoutCostCase({self.binding}: {self.description})"

    def describe(self) -> str:
        return self.description

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@st.composite
def post_cost_cases(draw: st.DrawFn) -> LogoutCostCase:
    base = _logout_base("post")
    name, size = _draw_choice(draw, "cost_saml_logout_post", LOGOUT_SHAPES)
    made = shaped(base.xml, name, "LogoutResponse", "Issuer", size)
    params = {**base.params, "SAMLResponse": base64.b64encode(made.xml).decode("ascii")}
    description = made.describe("the POST LogoutResponse")
    return LogoutCostCase("post", made.kind, description, params, None)


def _logout(case: LogoutCostCase) -> Any:
    base = _logout_base(case.binding)
    return process_logout_response(
        case.params,
        saml_world().plain,
        binding=case.binding,
        request_store=saml_world().request_store(*base.pending),
        clock=CLOCK,
        query_string=case.query,
    )


def _verify_logout(case: LogoutCostCase, done: Any) -> str:
    expected = _logout_base(case.binding).request_id
    if done != expected:
        raise InvariantViolation(f"accepted as the answer to {done!r}, not to {expected!r}")
    if case.binding == "redirect" and not case.description.startswith("parameters"):
        # parameters the binding does not sign may be added; the signed ones may not change
        raise InvariantViolation("a reshaped HTTP-Redirect LogoutResponse was accepted")
    return "accepted (shaped)"


@cache
def logout_cost_target(binding: str) -> Target[LogoutCostCase]:
    return Target(
        f"cost_saml_logout_{binding}",
        call=_logout,
        verify=_verify_logout,
        repro=lambda case: logout_repro(
            saml_world(), _logout_base(case.binding), case.params, case.query
        ),
        shape=LogoutCostCase.describe,
    )


@pytest.mark.parametrize("count", chunks("cost_saml_logout_post"))
def test_cost_saml_logout_post(count: int) -> None:
    fuzz(logout_cost_target("post"), post_cost_cases(), count)


# -- logout over HTTP-Redirect ----------------------------------------------------------------

BOMB_SIZES: Final = (LIMIT - 64, LIMIT, LIMIT + 1, 4 * LIMIT, 64 * 1024 * 1024)
"""What a deflate bomb inflates to: just under the limit, at it, over it, far over it."""
QUERY_LIMIT: Final = LIMIT * 4 // 3 + 1024
"""The longest SAMLResponse parameter the service provider reads (its base64 limit)."""


@functools.cache
def _bomb(size: int) -> bytes:
    """Raw DEFLATE of a LogoutResponse whose start tag is ``size`` bytes of blanks."""
    head, tail = b"<saml2p:LogoutResponse ", b"/>"
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    blanks = b" " * (1 << 20)
    out = [compressor.compress(head)]
    left = max(0, size - len(head) - len(tail))
    while left:
        piece = min(left, len(blanks))
        out.append(compressor.compress(blanks[:piece]))
        left -= piece
    out.append(compressor.compress(tail))
    out.append(compressor.flush())
    return b"".join(out)


def _deflate(xml: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(xml) + compressor.flush()


def _with(parts: list[str], name: str, value: str) -> list[str]:
    encoded = f"{name}={quote(value, safe='')}"
    names = [part.partition("=")[0] for part in parts]
    if name not in names:
        return [*parts, encoded]
    at = names.index(name)
    return [*parts[:at], encoded, *parts[at + 1 :]]


@st.composite
def redirect_cost_cases(draw: st.DrawFn) -> LogoutCostCase:
    base = _logout_base("redirect")
    assert base.query is not None
    parts = base.query.split("&")
    how = draw(st.sampled_from(("shape", "shape", "shape", "bomb", "parameters")))
    target = "cost_saml_logout_redirect"
    if how == "bomb":
        size = draw(st.sampled_from(BOMB_SIZES))
        value = base64.b64encode(_bomb(size)).decode("ascii")
        parts = _with(parts, "SAMLResponse", value)
        description = f"bomb x 1 inflating to {size:,} bytes from {len(value):,} characters"
        kind = f"bomb@{size}"
    elif how == "parameters":
        # thousands of extra parameters (or of one repeated) in the signed query string
        name, fraction = draw_live(draw, target, _parameter_choices(), _kind)
        unit = len(name % 0 if "%" in name else name) + 2  # "&" and "="
        room = max(0, QUERY_LIMIT - len(base.query))
        count = room // unit + 1 if fraction < 0 else max(1, int(room // unit * fraction))
        parts = parts + [f"{name % i if '%' in name else name}=" for i in range(count)]
        description = f"parameters x {count:,} named {name}, {sum(map(len, parts)):,} characters"
        kind = _kind((name, fraction))
    else:
        name, size = _draw_choice(draw, target, REDIRECT_SHAPES)
        made = shaped(base.xml, name, "LogoutResponse", "Issuer", size)
        value = base64.b64encode(_deflate(made.xml)).decode("ascii")
        parts = _with(parts, "SAMLResponse", value)
        description = made.describe("the Redirect LogoutResponse") + " (deflated)"
        kind = made.kind
    query = "&".join(parts)
    params = dict(parse_qsl(query, keep_blank_values=True))
    return LogoutCostCase("redirect", kind, description, params, query)


@functools.cache
def _parameter_choices() -> tuple[tuple[str, float], ...]:
    names = ("x%06d", "SigAlg", "Signature", "RelayState")
    return tuple((name, fraction) for name in names for fraction in FRACTIONS)


@pytest.mark.parametrize("count", chunks("cost_saml_logout_redirect"))
def test_cost_saml_logout_redirect(count: int) -> None:
    fuzz(logout_cost_target("redirect"), redirect_cost_cases(), count)
