"""The one safe XML parser for SAML documents, and ID lookup by string.

:func:`parse_xml` reads every SAML document: no DTD, no entities, no network, no huge
trees, and a size limit. An ``ID`` read from a document is only ever compared as a string
(:func:`element_by_id`) and must be an XML NCName (:func:`require_ncname`); it is never
evaluated as XPath or any other expression.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any, Final

from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.saml.errors import refuse

__all__ = [
    "DS_NS",
    "MAX_DOCUMENT_BYTES",
    "MD_NS",
    "NS",
    "SAMLP_NS",
    "SAML_NS",
    "XENC_NS",
    "element_by_id",
    "element_text",
    "format_instant",
    "is_ncname",
    "new_id",
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
NS: Final = {"saml": SAML_NS, "samlp": SAMLP_NS, "md": MD_NS, "ds": DS_NS, "xenc": XENC_NS}
"""Prefixes used in the library's ``find`` paths."""

MAX_DOCUMENT_BYTES: Final = 256 * 1024
"""Default size limit of a SAML document, in bytes."""


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


def format_instant(moment: datetime) -> str:
    """``moment`` as SAML writes instants: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Two fixed expressions, compiled once: the value of every attribute a signature reference
# could resolve to (ID, Id, id, xml:id), and every element with an ID. The value sought is
# compared with their results in Python; it never becomes part of an expression.
_ID_VALUES: Final = etree.XPath("//@ID | //@Id | //@id | //@xml:id")
_ELEMENTS_WITH_ID: Final = etree.XPath("//*[@ID]")


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


def parse_xml(document: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Parse ``document`` safely and return its root element.

    Refuses documents over ``max_bytes`` (``saml.too_large``), with any DOCTYPE
    (``saml.dtd_forbidden``) and those that are not well-formed (``saml.xml_invalid``).
    """
    if len(document) > max_bytes:
        raise refuse("saml.too_large", f"the document exceeds {max_bytes} bytes")
    # Checked before parsing as well, so an entity bomb is never even read.
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise refuse("saml.dtd_forbidden", "XML with a DTD is not accepted")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )
    try:
        root = etree.fromstring(document, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        # ValueError: lxml refuses some inputs (e.g. unicode with an encoding declaration).
        raise refuse("saml.xml_invalid", f"not well-formed XML: {_one_line(exc)}") from None
    refuse_dtd(root)
    return root


def refuse_dtd(element: Any) -> None:
    """Refuse (``saml.dtd_forbidden``) an element of a tree that came with a DTD."""
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise refuse("saml.dtd_forbidden", "XML with a DTD is not accepted")


def element_text(element: Any) -> str:
    """The whole text content of ``element`` (comments and their splits ignored)."""
    return "".join(element.itertext())


def element_by_id(root: Any, element_id: str) -> Any:
    """The one element of ``root``'s tree whose ``ID`` is ``element_id``, compared as a
    string; ``saml.invalid_id``, ``saml.element_not_found`` or ``saml.duplicate_id``."""
    require_ncname(element_id, "the requested element")
    require_unique_id(root, element_id)
    for node in _ELEMENTS_WITH_ID(root):
        if node.get("ID") == element_id:
            return node
    raise refuse("saml.element_not_found", "no element carries the requested ID")


def require_unique_id(root: Any, element_id: str) -> None:
    """Refuse (``saml.duplicate_id``) an ID that occurs more than once in any ID attribute."""
    if _ID_VALUES(root).count(element_id) > 1:
        raise refuse("saml.duplicate_id", "the ID occurs more than once in the document")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
