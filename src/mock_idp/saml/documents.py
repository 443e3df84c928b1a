"""XML plumbing of the SAML IdP: namespace prefixes for pysaml2's serializer, the names
of signed elements, and turning documents and certificates between their forms."""

from __future__ import annotations

import base64
from typing import Any, Final

from cryptography import x509
from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.saml.xml import (
    DS_NS,
    MAX_DOCUMENT_BYTES,
    MD_NS,
    METADATA_LIMITS,
    SAML_NS,
    SAMLP_NS,
    parse_xml,
)

__all__ = [
    "ASSERTION_NODE",
    "ASSERTION_NS",
    "ENTITY_DESCRIPTOR_NODE",
    "LOGOUT_REQUEST_NODE",
    "LOGOUT_RESPONSE_NODE",
    "METADATA_NS",
    "PROTOCOL_NS",
    "RESPONSE_NODE",
    "certificate",
    "certificate_pem",
    "document",
    "element_bytes",
    "parse_own",
]

# prefixes for serializing pysaml2 objects, without touching ElementTree's global registry
PROTOCOL_NS: Final = {"saml2p": SAMLP_NS, "saml2": SAML_NS, "ds": DS_NS}
ASSERTION_NS: Final = {"saml2": SAML_NS, "ds": DS_NS}
METADATA_NS: Final = {"md": MD_NS, "saml2": SAML_NS, "ds": DS_NS}
# pysaml2's names of the elements the IdP signs ("<namespace>:<local name>")
ASSERTION_NODE: Final = f"{SAML_NS}:Assertion"
RESPONSE_NODE: Final = f"{SAMLP_NS}:Response"
LOGOUT_RESPONSE_NODE: Final = f"{SAMLP_NS}:LogoutResponse"
LOGOUT_REQUEST_NODE: Final = f"{SAMLP_NS}:LogoutRequest"
ENTITY_DESCRIPTOR_NODE: Final = f"{MD_NS}:EntityDescriptor"


def document(xml: bytes) -> bytes:
    """A serialized element as a document, with the XML declaration."""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml


def element_bytes(element: Any, *, declaration: bool = False) -> bytes:
    """An lxml element serialized as UTF-8."""
    return bytes(etree.tostring(element, encoding="UTF-8", xml_declaration=declaration))


def parse_own(xml: bytes) -> Any:
    """Parse a document this IdP has just made; not input, so no size limit applies and
    the shape limits are metadata's generous ones."""
    return parse_xml(xml, max_bytes=max(len(xml), MAX_DOCUMENT_BYTES), limits=METADATA_LIMITS)


def certificate_pem(body: str) -> str:
    """A certificate given as base64 DER (as in metadata) as PEM text."""
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def certificate(body: str) -> x509.Certificate:
    """A certificate given as base64 DER; ``ValueError`` unless it parses."""
    return x509.load_der_x509_certificate(base64.b64decode(body))
