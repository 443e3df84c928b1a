"""Fuzzing the SAML login path: mutated real signed responses, random documents, the parser.

Invariant: a response is accepted with exactly the identity the mock IdP signed for that
person (a mutation that is accepted must not change it), or refused with a ``saml.*``
code; nothing else is raised, and no input takes longer than the per-input limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
import xmlsec
from hypothesis import strategies as st
from lxml import etree

from fuzz.harness import InvariantViolation, Target, chunks, fuzz, op_lists, sometimes
from fuzz.saml_mutations import (
    ENCODINGS,
    SAML,
    B64Op,
    ByteOp,
    TreeOp,
    apply_tree_ops,
    b64_ops,
    byte_ops,
    encode_field,
    random_trees,
    serialize,
    tree_bytes,
    tree_ops,
)
from fuzz.saml_world import (
    CLOCK,
    NOW,
    PENDING_FOR,
    LoginBase,
    login_repro,
    same_identity,
    saml_world,
    sign_enveloped,
)
from mock_idp.saml_idp import SamlSigningKey
from sso_bridge.saml import InMemoryReplayCache, parse_xml, process_response


@dataclass(frozen=True, repr=False)
class LoginCase:
    """A login response: the base's document with tree operations applied, re-signed by the
    IdP's key (when ``resigned``; then the checks behind the signatures see the mutation),
    encoded, changed as bytes and as the base64 form field."""

    base: int
    ops: tuple[TreeOp, ...]
    resigned: bool
    encoding: str
    byte_ops: tuple[ByteOp, ...]
    field_ops: tuple[B64Op, ...]
    as_bytes: bool
    message: str | bytes = field(compare=False)
    signed_values: frozenset[str] | None = field(compare=False)  # texts under the IdP's key

    @property
    def pristine(self) -> bool:
        changed = self.ops or self.byte_ops or self.field_ops or self.resigned
        return not changed and self.encoding == "keep"

    def __repr__(self) -> str:
        return (
            f"LoginCase(base={self.base}, ops={self.ops}, resigned={self.resigned}, "
            f"encoding={self.encoding!r}, byte_ops={self.byte_ops}, "
            f"field_ops={self.field_ops}, as_bytes={self.as_bytes})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@st.composite
def login_cases(draw: st.DrawFn) -> LoginCase:
    world = saml_world()
    number = draw(st.sampled_from(range(len(world.logins))))
    original = world.logins[number].xml
    ops = sometimes(draw, 90, tree_ops(), 4)
    resigned = bool(sometimes(draw, 30, st.just(True)))
    encoding = sometimes(draw, 30, st.sampled_from(ENCODINGS))
    encoding = encoding[0] if encoding else "keep"
    changes = sometimes(draw, 15, byte_ops(), 2)
    field_ops = sometimes(draw, 15, b64_ops(), 2)
    as_bytes = bool(sometimes(draw, 20, st.just(True)))
    document, values = original, None
    if ops or resigned or encoding != "keep":
        root = apply_tree_ops(original, ops)
        if resigned:
            values = resign(root, world.idp.signing_key, original)
        document = serialize(root, "utf-8" if encoding == "keep" else encoding, original)
    for change in changes:
        document = change.apply(document)
    message: str | bytes = encode_field(document, field_ops)
    if as_bytes:
        message = message.encode("utf-8", "surrogatepass")
    return LoginCase(number, ops, resigned, encoding, changes, field_ops, as_bytes, message, values)


def resign(root: Any, key: SamlSigningKey, original: bytes) -> frozenset[str] | None:
    """Sign the first assertion, then the response, afresh with the IdP's key.

    Returns the texts of NameIDs and attribute values that carry a signature by that key:
    those of the assertion signed here, if it is still in the document (signing the
    response drops its old ``ds:Signature`` and whatever was put inside it), and those of
    the IdP's original assertion, whose signature a mutation may have left intact. None
    when no assertion was signed here (an encrypted one keeps the IdP's own signature).
    """
    assertions = list(root.iter(f"{{{SAML}}}Assertion"))
    signed = None
    for element in [*assertions[:1], root]:
        try:
            sign_enveloped(element, key)
        except (xmlsec.Error, TypeError, ValueError):
            continue  # no ID to refer to, or nothing libxmlsec can sign: left as it is
        if element is not root:
            signed = element
    if signed is None:
        return None
    values = texts(etree.fromstring(original))
    if signed.getroottree().getroot() is root:
        values |= texts(signed)
    return frozenset(values)


def texts(element: Any) -> set[str]:
    """The texts of the NameIDs and attribute values in ``element``, as the SP reads them."""
    return {
        element_text(node).strip()
        for node in element.iter(f"{{{SAML}}}NameID", f"{{{SAML}}}AttributeValue")
    }


def element_text(node: Any) -> str:
    return "".join(node.itertext())


def _login(base: LoginBase, message: str | bytes) -> Any:
    world = saml_world()
    pending = [(base.request_id, NOW + PENDING_FOR)] if base.request_id else []
    return process_response(
        message,
        base.config,
        request_store=world.request_store(*pending),
        replay_cache=InMemoryReplayCache(),
        clock=CLOCK,
    )


def signed_by_us(case: LoginCase, result: Any) -> str | None:
    """None when every value of the identity is a text of the assertion we signed."""
    identity = result.identity
    if identity.issuer != saml_world().logins[case.base].expected.issuer:
        return f"issuer {identity.issuer!r}"
    for name in ("subject", "last_name", "first_name", "middle_name", "snils", "email", "phone"):
        value = getattr(identity, name)
        if value is not None and value not in (case.signed_values or ()):
            return f"{name} {value!r} is in no NameID or AttributeValue that was signed"
    born = identity.birth_date
    if born is not None:
        forms = {born.isoformat(), f"{born.day:02d}.{born.month:02d}.{born.year:04d}"}
        if not forms & (case.signed_values or frozenset()):
            return f"birth date {born} was not signed"
    return None


def _verify_login(case: LoginCase, result: Any) -> str:
    base = saml_world().logins[case.base]
    if case.signed_values is not None:
        problem = signed_by_us(case, result)
        label = "accepted (re-signed)"
    else:
        problem = same_identity(base, result)
        label = "accepted" if case.pristine else "accepted (mutated)"
    if problem is not None:
        raise InvariantViolation(f"an accepted response changed the identity: {problem}")
    return label


@cache
def login_target() -> Target[LoginCase]:
    world = saml_world()
    return Target(
        "saml_login",
        call=lambda case: _login(world.logins[case.base], case.message),
        verify=_verify_login,
        repro=lambda case: login_repro(world, world.logins[case.base], case.message),
        must_accept=lambda case: case.pristine,
    )


@pytest.mark.parametrize("count", chunks("saml_login"))
def test_saml_login(count: int) -> None:
    fuzz(login_target(), login_cases(), count)


# -- random documents -------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomCase:
    how: str
    message: str | bytes = field(compare=False)

    def __repr__(self) -> str:
        return f"RandomCase({self.how}, {self.message[:200]!r}... {len(self.message)} long)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _random_document() -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda node, changes: _apply_all(tree_bytes(node), changes),
        random_trees(),
        st.one_of(st.just(()), op_lists(byte_ops(), 2)),
    )


def _apply_all(document: bytes, changes: tuple[ByteOp, ...]) -> bytes:
    for change in changes:
        document = change.apply(document)
    return document


def random_cases() -> st.SearchStrategy[RandomCase]:
    return st.one_of(
        st.builds(lambda doc: RandomCase("tree", encode_field(doc, ())), _random_document()),
        st.builds(lambda data: RandomCase("binary", encode_field(data, ())), st.binary()),
        st.builds(lambda text: RandomCase("text", text), st.text()),
        st.builds(lambda data: RandomCase("bytes", data), st.binary()),
    )


def _never_accepted(case: RandomCase, result: Any) -> str:
    raise InvariantViolation(f"a document the IdP never signed was accepted: {result!r}")


@cache
def random_target() -> Target[RandomCase]:
    world = saml_world()
    base = world.logins[1]  # IdP-initiated, plain configuration: the most permissive one
    return Target(
        "saml_random_xml",
        call=lambda case: _login(base, case.message),
        verify=_never_accepted,
        repro=lambda case: login_repro(world, base, case.message),
    )


@pytest.mark.parametrize("count", chunks("saml_random_xml"))
def test_saml_random_xml(count: int) -> None:
    fuzz(random_target(), random_cases(), count)


# -- the parser -------------------------------------------------------------------------------

_BOMB = b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><r>&b;</r>'
_EXTERNAL = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'


@dataclass(frozen=True)
class ParseCase:
    how: str
    data: bytes = field(compare=False)

    def __repr__(self) -> str:
        return f"ParseCase({self.how}, {self.data[:200]!r}... {len(self.data)} bytes)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _encoded(document: bytes, encoding: str) -> bytes:
    try:
        root = etree.fromstring(document)
    except etree.XMLSyntaxError:
        return document
    return serialize(root, encoding, document)


def parse_cases() -> st.SearchStrategy[ParseCase]:
    world = saml_world()
    real = st.sampled_from([b.xml for b in world.logins] + [b.xml for b in world.logouts])
    encodings = st.sampled_from(ENCODINGS)
    dtds = st.builds(
        lambda doc, encoding: doc.decode().encode(encoding),
        st.sampled_from((_BOMB, _EXTERNAL, b"<!DOCTYPE r><r/>")),
        st.sampled_from(("utf-8", "utf-16", "utf-16-le", "utf-32", "cp500")),
    )
    return st.one_of(
        st.builds(
            lambda doc, enc, changes: ParseCase("real", _apply_all(_encoded(doc, enc), changes)),
            real,
            encodings,
            st.one_of(st.just(()), op_lists(byte_ops(), 3)),
        ),
        st.builds(
            lambda doc, enc: ParseCase("tree", _encoded(doc, enc)), _random_document(), encodings
        ),
        st.builds(lambda data: ParseCase("dtd", data), dtds),
        st.builds(lambda data: ParseCase("binary", data), st.binary()),
    )


def _verify_parsed(case: ParseCase, root: Any) -> str:
    if not etree.iselement(root):
        raise InvariantViolation(f"parse_xml returned {type(root).__name__}, not an element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise InvariantViolation("parse_xml accepted a document with a DTD")
    return "accepted"


def _parse_repro(case: ParseCase) -> str:
    return f"from sso_bridge.saml import parse_xml\n\nprint(parse_xml({case.data!r}))\n"


@cache
def parse_target() -> Target[ParseCase]:
    return Target(
        "saml_parse_xml",
        call=lambda case: parse_xml(case.data),
        verify=_verify_parsed,
        repro=_parse_repro,
    )


@pytest.mark.parametrize("count", chunks("saml_parse_xml"))
def test_saml_parse_xml(count: int) -> None:
    fuzz(parse_target(), parse_cases(), count)
