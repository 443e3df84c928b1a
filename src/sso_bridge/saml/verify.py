"""Strict, in-process checking of enveloped XML signatures on SAML elements.

:func:`verify_enveloped` accepts only the shape of signature the SAML 2.0 profile of XML
Signature allows (one enveloped reference to the signed element, exclusive
canonicalization, allow-listed algorithms, no ``ds:Object``), verifies it with
python-xmlsec against the configured IdP certificates only (``KeyInfo`` is never trusted),
and returns the signed element of the very tree that was verified. Callers read every
value from that element, so wrapped or re-parsed content never reaches them.

:func:`parse_xml` is the safe parser used for every SAML document: no DTD, no entities,
no network, no huge trees, and a size limit.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.errors import BridgeError

if TYPE_CHECKING:
    # python-xmlsec's stubs name the transform type but do not export it.
    from xmlsec.constants import __Transform as Transform

__all__ = [
    "ALLOWED_DIGEST_METHODS",
    "ALLOWED_SIGNATURE_METHODS",
    "MAX_DOCUMENT_BYTES",
    "SamlVerificationError",
    "element_text",
    "parse_xml",
    "verify_enveloped",
]

_C = xmlsec.constants

MAX_DOCUMENT_BYTES: Final = 256 * 1024
"""Default size limit of a SAML document, in bytes."""

ALLOWED_SIGNATURE_METHODS: Final[Mapping[str, Transform]] = {
    t.href: t
    for t in (
        _C.TransformRsaSha256,
        _C.TransformRsaSha384,
        _C.TransformRsaSha512,
        _C.TransformEcdsaSha256,
        _C.TransformEcdsaSha384,
    )
}
"""Signature algorithms accepted, by URI."""

ALLOWED_DIGEST_METHODS: Final[Mapping[str, Transform]] = {
    t.href: t for t in (_C.TransformSha256, _C.TransformSha384, _C.TransformSha512)
}
"""Digest algorithms accepted, by URI."""

DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
_EXC_C14N_NS: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED: Final = _C.TransformEnveloped.href
_EXC_C14N: Final = _C.TransformExclC14N.href
_NS: Final = {"ds": DS_NS}
_ID_ATTRIBUTES: Final = ("ID", "Id", "id", "{http://www.w3.org/XML/1998/namespace}id")


class SamlVerificationError(BridgeError):
    """A SAML document or signature was refused; ``code`` says why."""

    code = "saml.invalid"


def _refuse(code: str, message: str) -> SamlVerificationError:
    return SamlVerificationError(message, code=code)


def parse_xml(document: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Any:
    """Parse ``document`` safely and return its root element.

    Refuses documents over ``max_bytes`` (``saml.too_large``), with any DOCTYPE
    (``saml.dtd_forbidden``) and those that are not well-formed (``saml.xml_invalid``).
    """
    if len(document) > max_bytes:
        raise _refuse("saml.too_large", f"the document exceeds {max_bytes} bytes")
    # Checked before parsing as well, so an entity bomb is never even read.
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        raise _refuse("saml.dtd_forbidden", "XML with a DTD is not accepted")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
    )
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        raise _refuse("saml.xml_invalid", f"not well-formed XML: {exc}") from None
    _refuse_dtd(root)
    return root


def _refuse_dtd(root: Any) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refuse("saml.dtd_forbidden", "XML with a DTD is not accepted")


def element_text(element: Any) -> str:
    """The whole text content of ``element`` (comments and their splits ignored)."""
    return "".join(element.itertext())


def verify_enveloped(
    document: bytes | Any,
    element_id_or_xpath: str,
    trusted_certificates: Sequence[x509.Certificate],
    *,
    namespaces: Mapping[str, str] | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> Any:
    """Verify the enveloped signature of one element and return that element.

    ``document`` is the XML (parsed here with :func:`parse_xml`) or an lxml element of an
    already safely parsed tree. ``element_id_or_xpath`` is the element's ``ID`` or, when it
    starts with ``/`` or ``.``, an XPath (with ``namespaces``) that must select exactly one
    element. The key comes only from ``trusted_certificates``; each is tried in turn.

    The returned element belongs to the verified tree: read values from it (for text use
    :func:`element_text`), never from another parse of the document.
    """
    root = document if isinstance(document, etree._Element) else None
    if root is None:
        if not isinstance(document, bytes):
            raise TypeError("document must be bytes or an lxml element")
        root = parse_xml(document, max_bytes=max_bytes)
    else:
        root = root.getroottree().getroot()
        _refuse_dtd(root)
    element = _target(root, element_id_or_xpath, namespaces)
    element_id = element.get("ID")
    if not element_id:
        raise _refuse("saml.missing_id", "the signed element has no ID attribute")
    _require_unique_id(root, element_id)
    signature = _check_profile(element, element_id)
    if not trusted_certificates:
        raise _refuse("saml.no_trusted_key", "no trusted certificate is configured")
    for certificate in trusted_certificates:
        if _verifies(element, signature, certificate):
            return element
    raise _verification_failure(signature, trusted_certificates)


def _target(root: Any, selector: str, namespaces: Mapping[str, str] | None) -> Any:
    if selector.startswith(("/", ".")):
        try:
            found = root.xpath(selector, namespaces=dict(namespaces or {}))
        except etree.XPathError as exc:
            raise ValueError(f"bad XPath {selector!r}: {exc}") from None
        elements = found if isinstance(found, list) else []
        elements = [n for n in elements if isinstance(n, etree._Element)]
    else:
        elements = [n for n in root.iter(etree.Element) if n.get("ID") == selector]
    if len(elements) != 1:
        raise _refuse(
            "saml.element_not_found",
            f"{selector!r} selects {len(elements)} elements; exactly one is needed",
        )
    return elements[0]


def _require_unique_id(root: Any, element_id: str) -> None:
    count = sum(
        1
        for node in root.iter(etree.Element)
        for name in _ID_ATTRIBUTES
        if node.get(name) == element_id
    )
    if count != 1:
        raise _refuse("saml.duplicate_id", f"ID {element_id!r} occurs {count} times")


def _check_profile(element: Any, element_id: str) -> Any:
    """The element's one signature, if it follows the SAML signature profile."""
    signatures = element.findall("ds:Signature", _NS)
    if not signatures:
        raise _refuse("saml.unsigned", "the element is not signed")
    if len(signatures) > 1:
        raise _refuse("saml.multiple_signatures", "the element has more than one signature")
    signature = signatures[0]
    if signature.find(".//ds:Object", _NS) is not None:
        raise _refuse("saml.object_forbidden", "the signature carries a ds:Object")
    signed_info = _only(signature, "ds:SignedInfo")
    _only(signature, "ds:SignatureValue")
    if _algorithm(signed_info, "ds:CanonicalizationMethod") != _EXC_C14N:
        raise _refuse("saml.bad_canonicalization", "SignedInfo must use exclusive c14n")
    if _algorithm(signed_info, "ds:SignatureMethod") not in ALLOWED_SIGNATURE_METHODS:
        raise _refuse("saml.bad_algorithm", "signature algorithm not allowed")
    references = signed_info.findall("ds:Reference", _NS)
    if len(references) != 1 or references[0].get("URI") != f"#{element_id}":
        raise _refuse(
            "saml.reference_mismatch",
            "the signature must have exactly one reference, to the signed element",
        )
    reference = references[0]
    if _algorithm(reference, "ds:DigestMethod") not in ALLOWED_DIGEST_METHODS:
        raise _refuse("saml.bad_algorithm", "digest algorithm not allowed")
    transforms = reference.findall("ds:Transforms/ds:Transform", _NS)
    algorithms = [t.get("Algorithm") for t in transforms]
    if algorithms != [_ENVELOPED, _EXC_C14N] or not _plain_transforms(transforms):
        raise _refuse(
            "saml.bad_transforms",
            "transforms must be enveloped-signature then exclusive c14n, nothing else",
        )
    value = _only(signature, "ds:SignatureValue")
    if not "".join(value.itertext()).strip():
        raise _refuse("saml.empty_signature", "the SignatureValue is empty")
    return signature


def _plain_transforms(transforms: list[Any]) -> bool:
    """No parameters except exclusive c14n's InclusiveNamespaces."""
    enveloped, exclusive = transforms
    if len(enveloped):
        return False
    children = list(exclusive)
    return all(
        child.tag == f"{{{_EXC_C14N_NS}}}InclusiveNamespaces" and len(child) == 0
        for child in children
    )


def _only(parent: Any, path: str) -> Any:
    found = parent.findall(path, _NS)
    if len(found) != 1:
        raise _refuse("saml.malformed_signature", f"expected exactly one {path}")
    return found[0]


def _algorithm(parent: Any, path: str) -> str:
    node = _only(parent, path)
    return str(node.get("Algorithm", ""))


def _verifies(element: Any, signature: Any, certificate: x509.Certificate) -> bool:
    try:
        key = xmlsec.Key.from_memory(
            certificate.public_bytes(Encoding.DER), _C.KeyDataFormatCertDer
        )
    except xmlsec.Error as exc:
        raise _refuse("saml.key_invalid", f"cannot load a trusted certificate: {exc}") from None
    digests = ALLOWED_DIGEST_METHODS.values()
    context = xmlsec.SignatureContext()
    # A preset key makes libxmlsec skip KeyInfo altogether.
    context.key = key
    for transform in (_C.TransformEnveloped, _C.TransformExclC14N, *digests):
        context.enable_reference_transform(transform)
    context.enable_signature_transform(_C.TransformExclC14N)
    for transform in ALLOWED_SIGNATURE_METHODS.values():
        context.enable_signature_transform(transform)
    context.register_id(element, "ID")
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True


def _verification_failure(
    signature: Any, trusted: Sequence[x509.Certificate]
) -> SamlVerificationError:
    """``saml.wrong_key`` when KeyInfo names a key we do not trust, else a bad signature.

    KeyInfo only picks the error code here; it never supplies a key.
    """
    bodies = signature.xpath("ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=_NS)
    trusted_keys = [c.public_key() for c in trusted]
    for body in bodies:
        try:
            offered = x509.load_der_x509_certificate(
                base64.b64decode("".join(str(body).split()), validate=True)
            )
        except (ValueError, binascii.Error):
            continue
        if offered.public_key() not in trusted_keys:
            return _refuse("saml.wrong_key", "signed with a key that is not trusted")
    return _refuse("saml.signature_invalid", "the signature does not verify")
