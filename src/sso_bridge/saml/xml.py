"""The one safe XML parser for SAML documents, and ID lookup by string.

:func:`parse_xml` reads every SAML document: no DTD, no entities, no XInclude, no network,
no file, a size limit, and a bounded shape (:class:`XmlLimits`: nodes, depth, attributes
and namespace declarations per element and in all, text per node), checked right after
parsing and before any cryptography runs on the tree. An ``ID`` read from a document is
only ever compared as a string (:func:`element_by_id`) and must be an XML NCName
(:func:`require_ncname`); it is never evaluated as XPath or any other expression.
The instants of SAML (:mod:`.instants`) are re-exported here.
"""

from __future__ import annotations

import functools
import re
import secrets
import threading
from typing import Any, Final

import attrs
from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.saml.errors import SamlError, refuse
from sso_bridge.saml.instants import MAX_INSTANT, MIN_INSTANT, format_instant, parse_instant

__all__ = [
    "DEFAULT_LIMITS",
    "DS_NS",
    "MAX_DOCUMENT_BYTES",
    "MAX_INSTANT",
    "MD_NS",
    "METADATA_LIMITS",
    "MIN_INSTANT",
    "NS",
    "SAMLP_NS",
    "SAML_NS",
    "XENC_NS",
    "XINCLUDE_NS",
    "XmlLimits",
    "check_shape",
    "element_by_id",
    "element_text",
    "format_instant",
    "is_ncname",
    "new_id",
    "parse_instant",
    "parse_xml",
    "refuse_dtd",
    "require_ncname",
    "require_unique_id",
]

SAML_NS: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP_NS: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
MD_NS: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
XENC_NS: Final = "http://www.w3.org/2001/04/xmlenc#"
XINCLUDE_NS: Final = "http://www.w3.org/2001/XInclude"
XINCLUDE_2003_NS: Final = "http://www.w3.org/2003/XInclude"
NS: Final = {"saml": SAML_NS, "samlp": SAMLP_NS, "md": MD_NS, "ds": DS_NS, "xenc": XENC_NS}
"""Prefixes used in the library's ``find`` paths."""

MAX_DOCUMENT_BYTES: Final = 256 * 1024
"""Default size limit of a SAML document, in bytes."""


@attrs.frozen
class XmlLimits:
    """The largest shape :func:`parse_xml` accepts; anything beyond is ``saml.too_complex``.

    The defaults are far above real responses (ESIA, AD FS and Shibboleth send a few
    hundred nodes, under 10 attributes and 10 namespace declarations on any element,
    depth under 10, text nodes of a few kilobytes) and low enough that the worst document
    within them costs libxmlsec a few milliseconds: its canonicalization sorts each
    element's attributes and namespaces by insertion, so that cost grows with their square.

    ``max_nodes`` counts elements, text, comments and processing instructions;
    ``max_text`` is in characters, for one text, comment or attribute value.
    """

    max_nodes: int = 4096
    max_depth: int = 32
    max_attributes: int = 4096
    max_attributes_per_element: int = 32
    max_namespaces: int = 1024
    max_namespaces_per_element: int = 32
    max_text: int = 64 * 1024

    def __attrs_post_init__(self) -> None:
        for field in attrs.fields(type(self)):
            if getattr(self, field.name) < 1:
                raise ValueError(f"XmlLimits.{field.name} must be positive")


DEFAULT_LIMITS: Final = XmlLimits()
"""The shape limits of SAML messages."""

METADATA_LIMITS: Final = XmlLimits(
    max_nodes=1 << 22, max_attributes=1 << 22, max_namespaces=1 << 16, max_text=1 << 20
)
"""The shape limits of metadata, which may describe many entities (never signed-checked
here); the per-element limits and the depth stay those of messages."""


MAX_ID_LENGTH: Final = 256

# XML 1.0 (5th edition) NameStartChar and NameChar, without the colon: an NCName.
_START: Final = (
    "A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_NCNAME: Final = re.compile(f"[{_START}][{_START}\\-.0-9\u00b7\u0300-\u036f\u203f-\u2040]*")


def new_id() -> str:
    """A fresh message or assertion ID: 160 random bits, an NCName (never a leading digit)."""
    return "_" + secrets.token_hex(20)


# Fixed expressions, compiled once. The ID sought is bound to the variable ``$id`` as a
# string and compared by string equality; it is never part of an expression's text. Four
# counts, not one union: libxml2 merges a union's node-sets in quadratic time.
_ID_COUNT: Final = etree.XPath(
    "count(//@ID[. = $id]) + count(//@Id[. = $id]) + count(//@id[. = $id])"
    " + count(//@xml:id[. = $id])"
)
_ELEMENT_WITH_ID: Final = etree.XPath("//*[@ID = $id]")
_NODES: Final = etree.XPath("count(//node())")
_ATTRIBUTES: Final = etree.XPath("count(//@*)")
_XINCLUDE: Final = etree.XPath("boolean(//*[namespace-uri() = $old or namespace-uri() = $new])")
# Encodings in which markup is plain ASCII, so byte counts bound what the tree holds.
_ASCII_MARKUP: Final = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_LIBXML2_MAX_DEPTH: Final = 256
_UNPARSED_FACTOR: Final = 4


def is_ncname(value: str) -> bool:
    """Whether ``value`` is an XML NCName (what an ``ID`` attribute must be)."""
    return len(value) <= MAX_ID_LENGTH and _NCNAME.fullmatch(value) is not None


def require_ncname(value: str | None, what: str = "the element") -> str:
    """``value`` if it is an NCName; else ``saml.missing_id`` or ``saml.invalid_id``."""
    if not value:
        raise refuse("saml.missing_id", f"{what} has no ID")
    if not is_ncname(value):
        raise refuse("saml.invalid_id", f"{what} has an ID that is not an XML NCName")
    return value


_PARSERS: Final = threading.local()


def _parser() -> Any:
    """This thread's parser (lxml parsers must not be shared by threads running at once;
    making one costs a tenth of parsing a response)."""
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=False,
            remove_pis=False,
        )
    return parser


def parse_xml(
    document: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES, limits: XmlLimits = DEFAULT_LIMITS
) -> Any:
    """Parse ``document`` safely and return its root element.

    Refuses documents over ``max_bytes`` (``saml.too_large``), with any DOCTYPE
    (``saml.dtd_forbidden``), those that are not well-formed (``saml.xml_invalid``), with
    an XInclude element (``saml.external_reference``) and those beyond ``limits``
    (``saml.too_complex``, the message names the limit). Nothing is ever fetched: no DTD,
    entity, XInclude or network access.
    """
    if len(document) > max_bytes:
        raise refuse("saml.too_large", f"the document exceeds {max_bytes} bytes")
    # Checked before parsing as well, so an entity bomb is never even read.
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise refuse("saml.dtd_forbidden", "XML with a DTD is not accepted")
    _refuse_hopeless(document, limits)
    try:
        root = etree.fromstring(document, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        # ValueError: lxml refuses some inputs (e.g. unicode with an encoding declaration).
        raise refuse("saml.xml_invalid", f"not well-formed XML: {_one_line(exc)}") from None
    refuse_dtd(root)
    check_shape(root, limits, document)
    return root


def check_shape(root: Any, limits: XmlLimits = DEFAULT_LIMITS, document: bytes = b"") -> None:
    """Refuse (``saml.too_complex``) a tree beyond ``limits`` and (``saml.external_reference``)
    one with an XInclude element. ``document``, the bytes ``root`` was parsed from, lets
    byte counts skip the checks that cannot fail; each check is one pass in libxml2."""
    ascii_markup = _ascii_markup(root, document)

    def too_complex(what: str, limit: int) -> SamlError:
        return refuse("saml.too_complex", f"the document has more than {limit} {what}")

    # The usual case, within all of these limits, is answered by one evaluation; which
    # limit a document breaks is found out only when it breaks one.
    if _beyond_limits(limits)(root):
        if _NODES(root) > limits.max_nodes:
            raise too_complex("nodes", limits.max_nodes)
        if _ATTRIBUTES(root) > limits.max_attributes:
            raise too_complex("attributes", limits.max_attributes)
        per_element = limits.max_attributes_per_element
        if _nth_attribute(per_element + 1)(root):
            raise too_complex("attributes on one element", per_element)
        raise too_complex("levels of nesting", limits.max_depth)
    # A character takes at least one byte: no value is longer than the whole document.
    if (not document or len(document) > limits.max_text) and _longer_than(limits.max_text)(root):
        raise too_complex("characters in one text or attribute value", limits.max_text)
    declarations = document.count(b"xmlns") if ascii_markup else None
    if declarations is None or declarations > min(
        limits.max_namespaces, limits.max_namespaces_per_element
    ):
        _check_namespaces(root, limits)
    # A namespace name can be spelt with character references, hence the "&#".
    maybe_xinclude = not ascii_markup or b"XInclude" in document or b"&#" in document
    if maybe_xinclude and _XINCLUDE(root, old=XINCLUDE_NS, new=XINCLUDE_2003_NS):
        raise refuse("saml.external_reference", "XInclude is not accepted")


def _refuse_hopeless(document: bytes, limits: XmlLimits) -> None:
    """Refuse, before parsing it, a document with four times more ``<`` than ``max_nodes``
    or ``xmlns`` than ``max_namespaces``: each node starts with a ``<`` and each
    declaration with ``xmlns``, and a real message has no such runs of them in text."""
    size = len(document)  # a shorter document cannot hold that many
    nodes = _UNPARSED_FACTOR * limits.max_nodes
    if size > nodes and document.count(b"<") > nodes:
        raise refuse("saml.too_complex", f"the document has more than {limits.max_nodes} nodes")
    namespaces = _UNPARSED_FACTOR * limits.max_namespaces
    if size > 5 * namespaces and document.count(b"xmlns") > namespaces:
        raise refuse(
            "saml.too_complex",
            f"the document has more than {limits.max_namespaces} namespace declarations",
        )


def _ascii_markup(root: Any, document: bytes) -> bool:
    """Whether ``document`` spells its markup in ASCII bytes (UTF-8 or ASCII): lxml names
    UTF-8 for some UTF-16 documents too, which the NUL bytes give away."""
    encoding = root.getroottree().docinfo.encoding
    head = document.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return (
        head.startswith(b"<")
        and b"\x00" not in document
        and isinstance(encoding, str)
        and encoding.lower() in _ASCII_MARKUP
    )


@functools.lru_cache(maxsize=16)
def _beyond_limits(limits: XmlLimits) -> Any:
    """Whether the tree breaks the node, attribute or depth limits, in one evaluation.
    libxml2 itself refuses documents deeper than 256 (``huge_tree`` is off)."""
    depth = (
        f" or boolean(/{'*/' * limits.max_depth}*)" if limits.max_depth < _LIBXML2_MAX_DEPTH else ""
    )
    return etree.XPath(
        f"count(//node()) > {limits.max_nodes:d} or count(//@*) > {limits.max_attributes:d}"
        f" or boolean(//@*[{limits.max_attributes_per_element + 1:d}]){depth}"
    )


@functools.lru_cache(maxsize=16)
def _nth_attribute(position: int) -> Any:
    """Whether some element has a ``position``-th attribute."""
    return etree.XPath(f"boolean(//@*[{position:d}])")


@functools.lru_cache(maxsize=16)
def _longer_than(length: int) -> Any:
    """Whether some text, comment, processing instruction or attribute value is longer
    than ``length`` characters."""
    return etree.XPath(
        f"boolean(//node()[not(self::*)][string-length() > {length:d}])"
        f" or boolean(//@*[string-length() > {length:d}])"
    )


def _check_namespaces(root: Any, limits: XmlLimits) -> None:
    """Count namespace declarations exactly: in all and on each element."""
    total = here = 0
    for event, _ in etree.iterwalk(root, events=("start-ns", "start")):
        if event == "start":
            here = 0
            continue
        total += 1
        here += 1
        if here > limits.max_namespaces_per_element:
            raise refuse(
                "saml.too_complex",
                "the document has more than "
                f"{limits.max_namespaces_per_element} namespace declarations on one element",
            )
        if total > limits.max_namespaces:
            raise refuse(
                "saml.too_complex",
                f"the document has more than {limits.max_namespaces} namespace declarations",
            )


def refuse_dtd(element: Any) -> None:
    """Refuse (``saml.dtd_forbidden``) an element of a tree that came with a DTD."""
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise refuse("saml.dtd_forbidden", "XML with a DTD is not accepted")


def element_text(element: Any) -> str:
    """The whole text content of ``element`` (comments and their splits ignored)."""
    if not len(element):  # no child, not even a comment: the text is all there is
        return str(element.text or "")
    return "".join(element.itertext())


def element_by_id(root: Any, element_id: str) -> Any:
    """The one element of ``root``'s tree whose ``ID`` is ``element_id``, compared as a
    string; ``saml.invalid_id``, ``saml.element_not_found`` or ``saml.duplicate_id``."""
    require_ncname(element_id, "the requested element")
    require_unique_id(root, element_id)
    for node in _ELEMENT_WITH_ID(root, id=element_id):
        if node.get("ID") == element_id:
            return node
    raise refuse("saml.element_not_found", "no element carries the requested ID")


def require_unique_id(root: Any, element_id: str) -> None:
    """Refuse (``saml.duplicate_id``) an ID that occurs more than once in any ID attribute."""
    if _ID_COUNT(root, id=element_id) > 1:
        raise refuse("saml.duplicate_id", "the ID occurs more than once in the document")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
