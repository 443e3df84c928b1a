"""Structured mutations of SAML documents, as Hypothesis strategies.

A mutation is data (so that Hypothesis can shrink it and print it): a list of tree
operations on the parsed document (attribute and ID changes, text and comments, removed,
duplicated, moved, cloned, wrapped and renamed elements), then an encoding for the bytes
(UTF-16, BOMs, declared encodings that lie), then byte operations (truncation, splices,
repeated fragments), then base64 operations on the form field. Operations pick elements
by kind (``Assertion``, ``Signature``, ``NameID``, ...) and an index taken modulo the
number of such elements, so every operation applies to every document.
"""

from __future__ import annotations

import base64
import copy
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st
from lxml import etree

SAML: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
DS: Final = "http://www.w3.org/2000/09/xmldsig#"
XENC: Final = "http://www.w3.org/2001/04/xmlenc#"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"

KINDS: Final = (
    "any",
    "Response",
    "LogoutResponse",
    "Assertion",
    "EncryptedAssertion",
    "Signature",
    "SignedInfo",
    "Reference",
    "Transforms",
    "DigestValue",
    "SignatureValue",
    "KeyInfo",
    "X509Certificate",
    "Issuer",
    "Status",
    "StatusCode",
    "Subject",
    "NameID",
    "SubjectConfirmation",
    "SubjectConfirmationData",
    "Conditions",
    "AudienceRestriction",
    "Audience",
    "AuthnStatement",
    "AttributeStatement",
    "Attribute",
    "AttributeValue",
)
SIGNED_KINDS: Final = ("Response", "LogoutResponse", "Assertion", "Signature", "NameID", "any")
"""Elements whose change matters most: the signed ones, their signatures, the subject."""
TEXT_KINDS: Final = ("NameID", "AttributeValue", "Issuer", "Audience", "DigestValue", "any")
ATTRIBUTE_NAMES: Final = (
    "ID",
    "Id",
    "id",
    f"{{{XML_NS}}}id",
    "Version",
    "Destination",
    "InResponseTo",
    "Recipient",
    "NotOnOrAfter",
    "NotBefore",
    "IssueInstant",
    "Method",
    "Name",
    "NameFormat",
    "Format",
    "URI",
    "Algorithm",
    "Value",
    "SessionIndex",
    "SessionNotOnOrAfter",
    "SPNameQualifier",
    "Type",
)
TAGS: Final = (
    f"{{{SAML}}}Assertion",
    f"{{{SAML}}}EncryptedAssertion",
    f"{{{SAML}}}Advice",
    f"{{{SAML}}}Evidence",
    f"{{{SAMLP}}}Extensions",
    f"{{{SAMLP}}}Response",
    f"{{{DS}}}Object",
    f"{{{DS}}}Signature",
    f"{{{DS}}}KeyInfo",
    f"{{{XENC}}}EncryptedData",
    "{urn:fuzz}Wrapper",
    "Wrapper",
)
# Parts of XPath, of the kind an ID attribute must never be evaluated as.
XPATH_IDS: Final = (
    "//*",
    "/x:y",
    "/x:y/z",
    ".",
    "..",
    "/",
    "//",
    "*",
    "./*",
    "/*",
    "(//*)[1]",
    "//node()",
    "//text()",
    "//@ID",
    "/..",
    "//saml:Assertion",
    "/samlp:Response/saml:Assertion[1]",
    "//*[@ID]",
    ".//ds:Signature",
    "//ds:Signature/..",
    "//*[local-name()='Assertion']",
    "/descendant::*[last()]",
    "//*[position()>1]",
    "id('x')",
    "concat('a','b')",
    "1 div 0",
    "//*[",
    "/[",
    "$x",
    "x:",
    ":x",
    "#",
    "#_x",
)
ODD_IDS: Final = (
    "",
    " ",
    "_",
    "a b",
    " _id",
    "_id ",
    "é",
    "1abc",
    "-abc",
    ".abc",
    "_a\u0301",
    "_\u200d",
)
TEXTS: Final = (
    "",
    " ",
    "\n",
    "\t",
    "admin",
    "1000299654",
    "1000000777",
    "Иванов",
    "true",
    "false",
    "2.0",
    "1.1",
    "https://idp.example/idp/shibboleth",
    "https://idp.example/idp/shibboleth ",
    "https://sp.example/metadata",
    "https://sp.example/acs",
    "https://sp.example/slo",
    "urn:oasis:names:tc:SAML:2.0:status:Success",
    "urn:oasis:names:tc:SAML:2.0:cm:bearer",
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "2000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00",
    "2024-02-30T00:00:00Z",
    "2026-01-01T00:00:00+25:00",
    "T",
    "not a time",
    "+275760-09-13T00:00:00Z",
    "12.03.1984",
    "1984-03-12",
    "31.02.1984",
)


@functools.cache
def xml_characters() -> st.SearchStrategy[str]:
    """Characters that XML 1.0 allows in text and attribute values."""
    return st.one_of(
        st.characters(
            codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"
        ),
        st.sampled_from("\t\n\r<>&\"'"),
    )


@functools.cache
def xml_text(max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(xml_characters(), max_size=max_size)


@functools.cache
def repeated(pieces: Sequence[str], counts: Sequence[int]) -> st.SearchStrategy[str]:
    """One short piece many times over: long values, found cheaply."""
    return st.builds(lambda piece, n: piece * n, st.sampled_from(pieces), st.sampled_from(counts))


@functools.cache
def nested_xpath() -> st.SearchStrategy[str]:
    """``//*[count(//*[count(...)>1])>1]``: evaluated as XPath this takes time to the power
    of its depth."""
    return st.integers(1, 5).map(
        lambda depth: "//*" + "".join("[count(//*" for _ in range(depth)) + ")>1]" * depth
    )


@functools.cache
def id_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(XPATH_IDS),
        st.sampled_from(XPATH_IDS),
        st.sampled_from(ODD_IDS),
        nested_xpath(),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,30}", fullmatch=True),
        repeated(("a", "_", "/", "[", "é", "/*", "//*"), (100, 256, 257, 1000, 10_000, 100_000)),
        xml_text(20),
    )


@functools.cache
def text_values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(TEXTS),
        xml_text(),
        repeated(("a", " ", "Я", "<", "&"), (1000, 50_000)),
    )


# -- tree operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """The ``index``-th element of a kind (modulo their number; any element if none)."""

    kind: str
    index: int

    def resolve(self, root: Any) -> Any:
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        if self.kind != "any":
            matching = [e for e in elements if etree.QName(e).localname == self.kind]
            elements = matching or elements
        return elements[self.index % len(elements)]

    def __repr__(self) -> str:
        return f"{self.kind}[{self.index}]"


@dataclass(frozen=True)
class IdOf:
    """The ``ID`` of another element (for duplicate IDs)."""

    of: Pick

    def resolve(self, root: Any) -> str:
        return str(self.of.resolve(root).get("ID") or "")


@dataclass(frozen=True)
class SetAttribute:
    at: Pick
    name: str
    value: str | IdOf

    def apply(self, root: Any) -> Any:
        value = self.value.resolve(root) if isinstance(self.value, IdOf) else self.value
        self.at.resolve(root).set(self.name, value)
        return root


@dataclass(frozen=True)
class DeleteAttribute:
    at: Pick
    name: str

    def apply(self, root: Any) -> Any:
        self.at.resolve(root).attrib.pop(self.name, None)
        return root


@dataclass(frozen=True)
class SetText:
    at: Pick
    text: str
    append: bool

    def apply(self, root: Any) -> Any:
        element = self.at.resolve(root)
        element.text = (element.text or "") + self.text if self.append else self.text
        return root


@dataclass(frozen=True)
class SplitTextWithComment:
    """A comment inside a text node: canonicalization without comments drops it, so the
    signature still verifies; the text read must still be the whole text."""

    at: Pick
    offset: int
    comment: str

    def apply(self, root: Any) -> Any:
        element = self.at.resolve(root)
        text = element.text or ""
        cut = self.offset % (len(text) + 1)
        comment = etree.Comment(self.comment)
        comment.tail = text[cut:]
        element.text = text[:cut]
        element.insert(0, comment)
        return root


@dataclass(frozen=True)
class InsertNode:
    at: Pick
    position: int
    node: str  # "comment", "pi" or a tag

    def apply(self, root: Any) -> Any:
        parent = self.at.resolve(root)
        if self.node == "comment":
            new = etree.Comment("fuzz")
        elif self.node == "pi":
            new = etree.ProcessingInstruction("fuzz", "x")
        else:
            new = etree.Element(self.node)
        parent.insert(self.position % (len(parent) + 1), new)
        return root


@dataclass(frozen=True)
class Remove:
    at: Pick

    def apply(self, root: Any) -> Any:
        element = self.at.resolve(root)
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
        return root


@dataclass(frozen=True)
class Duplicate:
    at: Pick

    def apply(self, root: Any) -> Any:
        element = self.at.resolve(root)
        if element.getparent() is not None:
            element.addnext(copy.deepcopy(element))
        return root


@dataclass(frozen=True)
class MoveOrClone:
    """Move (or copy) an element into another one: the signature-wrapping shapes."""

    what: Pick
    into: Pick
    position: int
    clone: bool

    def apply(self, root: Any) -> Any:
        element, target = self.what.resolve(root), self.into.resolve(root)
        if not self.clone and (
            element is root or element is target or element in target.iterancestors()
        ):
            return root
        moved = copy.deepcopy(element) if self.clone else element
        target.insert(self.position % (len(target) + 1), moved)
        return root


@dataclass(frozen=True)
class Wrap:
    at: Pick
    tag: str

    def apply(self, root: Any) -> Any:
        element = self.at.resolve(root)
        wrapper = etree.Element(self.tag)
        parent = element.getparent()
        if parent is None:
            wrapper.append(element)
            return wrapper
        element.addprevious(wrapper)
        wrapper.append(element)
        return root


@dataclass(frozen=True)
class Rename:
    at: Pick
    tag: str

    def apply(self, root: Any) -> Any:
        self.at.resolve(root).tag = self.tag
        return root


@dataclass(frozen=True)
class SetTail:
    at: Pick
    text: str

    def apply(self, root: Any) -> Any:
        element = self.at.resolve(root)
        if element.getparent() is not None:
            element.tail = self.text
        return root


TreeOp = (
    SetAttribute
    | DeleteAttribute
    | SetText
    | SplitTextWithComment
    | InsertNode
    | Remove
    | Duplicate
    | MoveOrClone
    | Wrap
    | Rename
    | SetTail
)


@functools.cache
def picks(kinds: Sequence[str] = KINDS) -> st.SearchStrategy[Pick]:
    return st.builds(Pick, st.sampled_from(kinds), st.integers(0, 7))


@functools.cache
def tree_ops() -> st.SearchStrategy[TreeOp]:
    """Tree operations, weighted towards the signed elements and their IDs."""
    id_names = st.sampled_from(("ID", "ID", "ID", "Id", "id", f"{{{XML_NS}}}id"))
    set_id = st.builds(
        SetAttribute,
        picks(SIGNED_KINDS),
        id_names,
        st.one_of(id_values(), st.builds(IdOf, picks())),
    )
    move = st.builds(MoveOrClone, picks(SIGNED_KINDS), picks(), st.integers(0, 9), st.booleans())
    return st.one_of(
        set_id,
        set_id,
        move,
        st.builds(
            SetAttribute, picks(), id_names, st.one_of(id_values(), st.builds(IdOf, picks()))
        ),
        st.builds(
            SetAttribute,
            picks(),
            st.one_of(
                st.sampled_from(ATTRIBUTE_NAMES), st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True)
            ),
            text_values(),
        ),
        st.builds(DeleteAttribute, picks(), st.sampled_from(ATTRIBUTE_NAMES)),
        st.builds(SetText, picks(TEXT_KINDS), text_values(), st.booleans()),
        st.builds(SplitTextWithComment, picks(TEXT_KINDS), st.integers(0, 64), xml_text(8)),
        st.builds(
            InsertNode,
            picks(),
            st.integers(0, 9),
            st.one_of(st.sampled_from(("comment", "pi")), st.sampled_from(TAGS)),
        ),
        st.builds(Remove, picks()),
        st.builds(Duplicate, picks()),
        st.builds(MoveOrClone, picks(), picks(), st.integers(0, 9), st.booleans()),
        st.builds(Wrap, picks(), st.sampled_from(TAGS)),
        st.builds(Rename, picks(), st.sampled_from(TAGS)),
        st.builds(SetTail, picks(), st.sampled_from(("", " ", "\n", "x", "Я"))),
    )


def apply_tree_ops(document: bytes, ops: Sequence[TreeOp]) -> Any:
    """The document parsed (plainly: it is our own) with ``ops`` applied in order."""
    root = etree.fromstring(document)
    for op in ops:
        try:
            root = op.apply(root)
        except (ValueError, TypeError):
            continue  # lxml refuses this change (e.g. a name it cannot take): skip it
    return root


# -- encodings --------------------------------------------------------------------------------

# name: (the encoding the declaration names, or None for no declaration; the codec the
# bytes are really in; bytes put before them)
_ENCODERS: Final[dict[str, tuple[str | None, str, bytes]]] = {
    "utf-8-no-declaration": (None, "utf-8", b""),
    "utf-8-bom": ("UTF-8", "utf-8", b"\xef\xbb\xbf"),
    "utf-16": ("UTF-16", "utf-16", b""),
    "utf-16le-no-bom": ("UTF-16LE", "utf-16-le", b""),
    "utf-16be-no-bom": ("UTF-16BE", "utf-16-be", b""),
    "utf-16-no-declaration": (None, "utf-16", b""),
    "utf-32": ("UTF-32", "utf-32", b""),
    "iso-8859-1": ("ISO-8859-1", "latin-1", b""),
    "windows-1251": ("windows-1251", "cp1251", b""),
    "koi8-r": ("KOI8-R", "koi8-r", b""),
    "us-ascii": ("US-ASCII", "ascii", b""),
    "ebcdic": ("IBM500", "cp500", b""),
    "declares-windows-1251-is-utf-8": ("windows-1251", "utf-8", b""),
    "declares-utf-16-is-utf-8": ("UTF-16", "utf-8", b""),
    "declares-utf-8-is-utf-16": ("UTF-8", "utf-16", b""),
    "declares-unknown": ("x-no-such-charset", "utf-8", b""),
    "declares-ucs-4": ("UCS-4", "utf-8", b""),
}
ENCODINGS: Final = ("keep", "utf-8", *_ENCODERS)


def serialize(root: Any, encoding: str, original: bytes) -> bytes:
    """The tree in ``encoding`` (see :data:`ENCODINGS`; ``keep`` is the original bytes).

    Characters the codec lacks become character references, as a real encoder writes them.
    """
    if encoding == "keep":
        return original
    if encoding == "utf-8":
        return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))
    declared, codec, prefix = _ENCODERS[encoding]
    text = etree.tostring(root, encoding="unicode")
    if declared is not None:
        text = f'<?xml version="1.0" encoding="{declared}"?>\n{text}'
    return prefix + text.encode(codec, "xmlcharrefreplace")


# -- byte operations --------------------------------------------------------------------------

TOKENS: Final = (
    b"",
    b"\x00",
    b"\xff",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"<",
    b">",
    b"&",
    b'"',
    b"<!DOCTYPE x>",
    b'<!DOCTYPE r [<!ENTITY e "x">]>',
    b"<!ENTITY",
    b"&e;",
    b"&lt;",
    b"&#0;",
    b"&#x110000;",
    b"&#xD800;",
    b"]]>",
    b"<![CDATA[x]]>",
    b"<!-- -->",
    b"<?xml version='1.0'?>",
    b"<?pi x?>",
    b"<a>",
    b"</a>",
    b"<x:y/>",
    b'xmlns:x="urn:x"',
    b'xmlns=""',
    b"\r\n",
    b"\t",
    "<!DOCTYPE x>".encode("utf-16-le"),
)


@dataclass(frozen=True)
class Truncate:
    at: int

    def apply(self, data: bytes) -> bytes:
        return data[: self.at % (len(data) + 1)]


@dataclass(frozen=True)
class Splice:
    at: int
    delete: int
    insert: bytes

    def apply(self, data: bytes) -> bytes:
        cut = self.at % (len(data) + 1)
        return data[:cut] + self.insert + data[cut + self.delete :]


@dataclass(frozen=True)
class Replace:
    old: bytes
    new: bytes

    def apply(self, data: bytes) -> bytes:
        return data.replace(self.old, self.new)


ByteOp = Truncate | Splice | Replace

REPLACEMENTS: Final = (
    (b"saml2:", b"saml:"),
    (b"saml2p:", b"samlp:"),
    (b'ID="', b'Id="'),
    (b'ID="', b'xml:id="'),
    (b'Version="2.0"', b'Version="2.00"'),
    (b"urn:oasis:names:tc:SAML:2.0:assertion", b"urn:oasis:names:tc:SAML:2.0:assertion "),
    (b"xml-exc-c14n#", b"xml-exc-c14n#WithComments"),
    (b"rsa-sha256", b"rsa-sha1"),
    (b"\n", b"\r\n"),
    (b"\n", b""),
    (b">", b" >"),
    (b'"', b"'"),
    (b"https://sp.example/acs", b"https://sp.example/acs/"),
    (b"Success", b"Requester"),
)


@functools.cache
def byte_ops() -> st.SearchStrategy[ByteOp]:
    fragments = st.one_of(
        st.sampled_from(TOKENS),
        st.binary(max_size=16),
        st.builds(
            lambda piece, n: piece * n,
            st.sampled_from((b"<a>", b"</a>", b"<a/>", b"&lt;", b" ", b"x", b"<!---->", b"\xff")),
            st.sampled_from((2, 100, 300, 10_000, 100_000)),
        ),
    )
    return st.one_of(
        st.builds(Truncate, st.integers(0, 1 << 20)),
        st.builds(Splice, st.integers(0, 1 << 20), st.integers(0, 8), fragments),
        st.sampled_from(REPLACEMENTS).map(lambda pair: Replace(*pair)),
    )


# -- base64 (the form field) ------------------------------------------------------------------


@dataclass(frozen=True)
class B64Op:
    kind: str
    at: int = 0
    text: str = ""

    def apply(self, value: str) -> str:
        cut = self.at % (len(value) + 1)
        if self.kind == "insert":
            return value[:cut] + self.text + value[cut:]
        if self.kind == "truncate":
            return value[:cut]
        if self.kind == "wrap76":
            return "\n".join(value[i : i + 76] for i in range(0, len(value), 76))
        if self.kind == "strip-padding":
            return value.rstrip("=")
        if self.kind == "urlsafe":
            return value.replace("+", "-").replace("/", "_")
        if self.kind == "twice":
            return base64.b64encode(value.encode("utf-8", "surrogatepass")).decode()
        if self.kind == "replace":
            return self.text
        raise ValueError(self.kind)


@functools.cache
def b64_ops() -> st.SearchStrategy[B64Op]:
    inserted = st.one_of(
        st.sampled_from(
            ("\n", " ", "\t", "\r\n", "=", "==", "!", "-", "_", "é", "\x00", "%", "+", "/", "A")
        ),
        st.text(max_size=4),
    )
    return st.one_of(
        st.builds(B64Op, st.just("insert"), st.integers(0, 1 << 20), inserted),
        st.builds(B64Op, st.just("truncate"), st.integers(0, 1 << 20)),
        st.sampled_from(("wrap76", "strip-padding", "urlsafe", "twice")).map(B64Op),
        st.builds(B64Op, st.just("replace"), st.just(0), st.text(max_size=64)),
    )


def encode_field(xml: bytes, ops: Sequence[B64Op]) -> str:
    value = base64.b64encode(xml).decode("ascii")
    for op in ops:
        value = op.apply(value)
    return value


# -- random documents -------------------------------------------------------------------------

ELEMENT_NAMES: Final = (
    f"{{{SAMLP}}}Response",
    f"{{{SAMLP}}}LogoutResponse",
    f"{{{SAMLP}}}Status",
    f"{{{SAMLP}}}StatusCode",
    f"{{{SAML}}}Assertion",
    f"{{{SAML}}}EncryptedAssertion",
    f"{{{SAML}}}Issuer",
    f"{{{SAML}}}Subject",
    f"{{{SAML}}}NameID",
    f"{{{SAML}}}SubjectConfirmation",
    f"{{{SAML}}}SubjectConfirmationData",
    f"{{{SAML}}}Conditions",
    f"{{{SAML}}}AudienceRestriction",
    f"{{{SAML}}}Audience",
    f"{{{SAML}}}AuthnStatement",
    f"{{{SAML}}}AttributeStatement",
    f"{{{SAML}}}Attribute",
    f"{{{SAML}}}AttributeValue",
    f"{{{DS}}}Signature",
    f"{{{DS}}}SignedInfo",
    f"{{{DS}}}CanonicalizationMethod",
    f"{{{DS}}}SignatureMethod",
    f"{{{DS}}}Reference",
    f"{{{DS}}}Transforms",
    f"{{{DS}}}Transform",
    f"{{{DS}}}DigestMethod",
    f"{{{DS}}}DigestValue",
    f"{{{DS}}}SignatureValue",
    f"{{{DS}}}KeyInfo",
    f"{{{DS}}}X509Data",
    f"{{{DS}}}X509Certificate",
    f"{{{DS}}}Object",
    f"{{{XENC}}}EncryptedData",
    f"{{{XENC}}}EncryptedKey",
    f"{{{XENC}}}EncryptionMethod",
)


@dataclass(frozen=True)
class Node:
    tag: str
    attributes: tuple[tuple[str, str], ...]
    text: str
    children: tuple[Node, ...]

    def build(self) -> Any:
        element = etree.Element(self.tag)
        for name, value in self.attributes:
            element.set(name, value)
        element.text = self.text or None
        for child in self.children:
            element.append(child.build())
        return element


@functools.cache
def random_trees() -> st.SearchStrategy[Node]:
    tags = st.one_of(
        st.sampled_from(ELEMENT_NAMES),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,8}", fullmatch=True),
    )
    attributes = st.lists(
        st.tuples(
            st.sampled_from(ATTRIBUTE_NAMES),
            st.one_of(id_values(), st.sampled_from(TEXTS), xml_text(12)),
        ),
        max_size=4,
        unique_by=lambda pair: pair[0],
    ).map(tuple)
    leaves = st.builds(Node, tags, attributes, st.one_of(st.just(""), xml_text(20)), st.just(()))
    return st.recursive(
        leaves,
        lambda children: st.builds(
            Node, tags, attributes, st.just(""), st.lists(children, max_size=4).map(tuple)
        ),
        max_leaves=12,
    )


def tree_bytes(node: Node) -> bytes:
    """A random tree as UTF-8 XML; lxml may refuse some names and values: then a stub."""
    try:
        return bytes(etree.tostring(node.build(), encoding="UTF-8", xml_declaration=True))
    except (ValueError, TypeError):
        return b"<stub/>"
