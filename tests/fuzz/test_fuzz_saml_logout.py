"""Fuzzing the single logout path: mutated real LogoutResponses from the mock IdP over the
HTTP-POST binding (enveloped signature) and the HTTP-Redirect binding (query signature).

Invariant: a LogoutResponse is accepted only as the answer to the logout request that is
pending (``process_logout_response`` returns its ID), or refused with a ``saml.*`` code.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, fuzz, sometimes
from fuzz.saml_mutations import (
    ENCODINGS,
    B64Op,
    ByteOp,
    TreeOp,
    apply_tree_ops,
    b64_ops,
    byte_ops,
    encode_field,
    serialize,
    tree_ops,
)
from fuzz.saml_world import (
    CLOCK,
    LogoutBase,
    inflate,
    logout_repro,
    saml_world,
)
from sso_bridge.saml import process_logout_response


def _base(binding: str) -> LogoutBase:
    return next(b for b in saml_world().logouts if b.binding == binding)


def _mutated_xml(draw: st.DrawFn, original: bytes) -> tuple[bytes, tuple[Any, ...], str, tuple]:
    ops: tuple[TreeOp, ...] = sometimes(draw, 80, tree_ops(), 3)
    chosen = sometimes(draw, 25, st.sampled_from(ENCODINGS))
    encoding = chosen[0] if chosen else "keep"
    changes: tuple[ByteOp, ...] = sometimes(draw, 15, byte_ops(), 2)
    document = original
    if ops or encoding != "keep":
        document = serialize(
            apply_tree_ops(original, ops), "utf-8" if encoding == "keep" else encoding, original
        )
    for change in changes:
        document = change.apply(document)
    return document, ops, encoding, changes


class _Case:
    """Shared by both bindings: what a case shows when Hypothesis prints it."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


# -- HTTP-POST --------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PostCase(_Case):
    ops: tuple[TreeOp, ...]
    encoding: str
    byte_ops: tuple[ByteOp, ...]
    field_ops: tuple[B64Op, ...]
    extra: tuple[tuple[str, str], ...]
    params: dict[str, str] = field(compare=False)

    @property
    def pristine(self) -> bool:
        return not (self.ops or self.byte_ops or self.field_ops) and self.encoding == "keep"

    def __repr__(self) -> str:
        return (
            f"PostCase(ops={self.ops}, encoding={self.encoding!r}, byte_ops={self.byte_ops}, "
            f"field_ops={self.field_ops}, extra={self.extra})"
        )


_PARAM_NAMES = ("SAMLResponse", "RelayState", "SigAlg", "Signature", "SAMLRequest", "x")


@cache
def _extra_params() -> st.SearchStrategy[tuple[str, str]]:
    return st.tuples(st.sampled_from(_PARAM_NAMES), st.text(max_size=20))


@st.composite
def post_cases(draw: st.DrawFn) -> PostCase:
    base = _base("post")
    document, ops, encoding, changes = _mutated_xml(draw, base.xml)
    field_ops: tuple[B64Op, ...] = sometimes(draw, 15, b64_ops(), 2)
    extra: tuple[tuple[str, str], ...] = sometimes(draw, 10, _extra_params(), 2)
    params = {**base.params, "SAMLResponse": encode_field(document, field_ops)}
    params.update(extra)
    return PostCase(ops, encoding, changes, field_ops, extra, params)


def _post(case: PostCase) -> Any:
    base = _base("post")
    return process_logout_response(
        case.params,
        saml_world().plain,
        binding="post",
        request_store=saml_world().request_store(*base.pending),
        clock=CLOCK,
    )


def _verify_answer(binding: str, done: Any) -> None:
    expected = _base(binding).request_id
    if done != expected:
        raise InvariantViolation(f"accepted as the answer to {done!r}, not to {expected!r}")


def _verify_post(case: PostCase, done: Any) -> str:
    _verify_answer("post", done)
    return "accepted" if case.pristine else "accepted (mutated)"


@cache
def post_target() -> Target[PostCase]:
    return Target(
        "saml_logout_post",
        call=_post,
        verify=_verify_post,
        repro=lambda case: logout_repro(saml_world(), _base("post"), case.params, None),
        must_accept=lambda case: case.pristine and not case.extra,
    )


@pytest.mark.parametrize("count", chunks("saml_logout_post"))
def test_saml_logout_post(count: int) -> None:
    fuzz(post_target(), post_cases(), count)


# -- HTTP-Redirect ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryOp:
    """A change to the raw query string, as a browser or an attacker might make it."""

    kind: str  # set, drop, duplicate, swap, insert, replace
    name: str = ""
    value: str = ""
    at: int = 0

    def apply(self, parts: list[str]) -> list[str]:
        names = [part.partition("=")[0] for part in parts]
        index = names.index(self.name) if self.name in names else None
        encoded = f"{self.name}={quote(self.value, safe='')}"
        if self.kind == "set":
            if index is None:
                return [*parts, encoded]
            return [*parts[:index], encoded, *parts[index + 1 :]]
        if self.kind == "drop" and index is not None:
            return parts[:index] + parts[index + 1 :]
        if self.kind == "duplicate" and index is not None:
            return [*parts, parts[index]]
        if self.kind == "swap" and len(parts) > 1:
            i, j = self.at % len(parts), (self.at + 1) % len(parts)
            swapped = list(parts)
            swapped[i], swapped[j] = swapped[j], swapped[i]
            return swapped
        if self.kind == "insert":
            position = self.at % (len(parts) + 1)
            return [*parts[:position], self.value, *parts[position:]]
        if self.kind == "replace" and index is not None:
            name, _, raw = parts[index].partition("=")
            cut = self.at % (len(raw) + 1)
            return [*parts[:index], f"{name}={raw[:cut]}{self.value}", *parts[index + 1 :]]
        return parts


_SIG_ALGS = (
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
    "",
    "none",
)


@cache
def query_ops() -> st.SearchStrategy[QueryOp]:
    names = st.sampled_from(_PARAM_NAMES)
    values = st.one_of(st.sampled_from(_SIG_ALGS), st.text(max_size=24))
    raw = st.sampled_from(("", "&", "=", "%", "%zz", "+", "&&", "SigAlg", "Signature=", "%00"))
    return st.one_of(
        st.builds(QueryOp, st.just("set"), names, values),
        st.builds(QueryOp, st.just("drop"), names),
        st.builds(QueryOp, st.just("duplicate"), names),
        st.builds(QueryOp, st.just("swap"), at=st.integers(0, 5)),
        st.builds(QueryOp, st.just("insert"), value=raw, at=st.integers(0, 5)),
        st.builds(
            QueryOp,
            st.just("replace"),
            names,
            st.sampled_from(("", "A", "%2B", "+", "%3D", "=", "%0A", " ")),
            st.integers(0, 1 << 12),
        ),
    )


def _deflate(xml: bytes, how: str) -> bytes:
    if how == "zlib":  # with the zlib header, which the binding does not use
        return zlib.compress(xml)
    if how == "stored":
        compressor = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(xml) + compressor.flush()
    if how == "truncated":
        return _deflate(xml, "raw")[:-3]
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(xml) + compressor.flush()


@dataclass(frozen=True, repr=False)
class RedirectCase(_Case):
    message: str  # how SAMLResponse was made: "original", "mutated XML", "bomb", ...
    ops: tuple[TreeOp, ...]
    encoding: str
    byte_ops: tuple[ByteOp, ...]
    query_ops: tuple[QueryOp, ...]
    raw_query: bool
    params: dict[str, str] = field(compare=False)
    query: str | None = field(compare=False)

    @property
    def pristine(self) -> bool:
        return self.message == "original" and not self.query_ops

    def __repr__(self) -> str:
        return (
            f"RedirectCase(message={self.message!r}, ops={self.ops}, encoding={self.encoding!r},"
            f" byte_ops={self.byte_ops}, query_ops={self.query_ops}, raw_query={self.raw_query})"
        )


_BOMB = b"<samlp:LogoutResponse " + b" " * (1 << 20) + b"/>"


@st.composite
def redirect_cases(draw: st.DrawFn) -> RedirectCase:
    base = _base("redirect")
    assert base.query is not None
    parts = base.query.split("&")
    how = draw(st.sampled_from(("original", "original", "xml", "bomb", "zlib", "stored", "cut")))
    ops: tuple[TreeOp, ...] = ()
    encoding, changes = "keep", ()
    if how != "original":
        xml, ops, encoding, changes = _mutated_xml(draw, base.xml)
        if how == "bomb":
            xml = _BOMB
        compressed = _deflate(xml, {"cut": "truncated", "xml": "raw", "bomb": "raw"}.get(how, how))
        value = base64.b64encode(compressed).decode()
        parts = QueryOp("set", "SAMLResponse", value).apply(parts)
    query_changes: tuple[QueryOp, ...] = sometimes(draw, 60, query_ops(), 3)
    for change in query_changes:
        parts = change.apply(parts)
    query = "&".join(parts)
    raw_query = draw(st.booleans())
    params = dict(parse_qsl(query, keep_blank_values=True))
    return RedirectCase(
        how, ops, encoding, changes, query_changes, raw_query, params, query if raw_query else None
    )


def _redirect(case: RedirectCase) -> Any:
    base = _base("redirect")
    return process_logout_response(
        case.params,
        saml_world().plain,
        binding="redirect",
        request_store=saml_world().request_store(*base.pending),
        clock=CLOCK,
        query_string=case.query,
    )


def _verify_redirect(case: RedirectCase, done: Any) -> str:
    _verify_answer("redirect", done)
    try:
        xml = inflate(base64.b64decode("".join(case.params["SAMLResponse"].split())))
    except (KeyError, ValueError, zlib.error) as exc:
        raise InvariantViolation(f"accepted a SAMLResponse that does not decode: {exc}") from None
    if xml != _base("redirect").xml:
        raise InvariantViolation("accepted a LogoutResponse other than the one the IdP signed")
    return "accepted" if case.pristine else "accepted (mutated)"


@cache
def redirect_target() -> Target[RedirectCase]:
    return Target(
        "saml_logout_redirect",
        call=_redirect,
        verify=_verify_redirect,
        repro=lambda case: logout_repro(saml_world(), _base("redirect"), case.params, case.query),
        must_accept=lambda case: case.pristine,
    )


@pytest.mark.parametrize("count", chunks("saml_logout_redirect"))
def test_saml_logout_redirect(count: int) -> None:
    fuzz(redirect_target(), redirect_cases(), count)
