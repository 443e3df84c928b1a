"""Strict, in-process checking of enveloped XML signatures on SAML elements.

:func:`verify_enveloped` accepts only the shape of signature the SAML 2.0 profile of XML
Signature allows (one enveloped reference to the signed element, exclusive
canonicalization, allow-listed algorithms, no ``ds:Object``), verifies it against the
configured IdP certificates only (``KeyInfo`` is never trusted; the digest and signature
arithmetic is :mod:`sso_bridge.saml.dsig`, lxml's canonicalization and ``cryptography``),
and returns the signed element of the very tree that was verified. Callers read every
value from that element, so wrapped or re-parsed content never reaches them. The element
is named by its ``ID``, compared as a string (:func:`sso_bridge.saml.xml.element_by_id`).

Nothing is ever fetched. The profile refuses any ``URI`` but the one ``#id`` reference and
any ``RetrievalMethod`` before any digest is taken; the canonicalizer reads only the tree;
and, from the moment this module is imported, libxmlsec's I/O callbacks (libxmlsec is
kept as the reference verifier, :func:`xmlsec_verifies`) are replaced by one set that
opens nothing (:func:`refuse_xmlsec_io`), for the whole process.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.keysize import MAX_RSA_KEY_BITS, MIN_RSA_KEY_BITS, rsa_bits, rsa_key_acceptable
from sso_bridge.saml.dsig import SignatureParts, parts_hold, signature_holds
from sso_bridge.saml.errors import SamlError, refuse
from sso_bridge.saml.xml import (
    DS_NS,
    MAX_DOCUMENT_BYTES,
    element_by_id,
    element_text,
    parse_xml,
    refuse_dtd,
    require_ncname,
    require_unique_id,
)

if TYPE_CHECKING:
    # python-xmlsec's stubs name the transform type but do not export it.
    from xmlsec.constants import __Transform as Transform

__all__ = [
    "ALLOWED_DIGEST_METHODS",
    "ALLOWED_SIGNATURE_METHODS",
    "MAX_INCLUSIVE_PREFIXES",
    "MIN_RSA_KEY_BITS",
    "check_key_size",
    "refuse_xmlsec_io",
    "verify_element",
    "verify_enveloped",
]

_C = xmlsec.constants


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

MAX_INCLUSIVE_PREFIXES: Final = 16
"""The most prefixes an ``InclusiveNamespaces`` PrefixList may name: libxmlsec looks each
one up at every element it canonicalizes. IdPs name one to four (``xs``, ``xsd``)."""

MAX_OFFERED_CERTIFICATES: Final = 4
"""How many KeyInfo certificates are looked at to tell ``saml.wrong_key`` from a bad
signature; any further ones are ignored (each costs a certificate parse)."""

_EXC_C14N_NS: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
_ENVELOPED: Final = _C.TransformEnveloped.href
_EXC_C14N: Final = _C.TransformExclC14N.href
_NS: Final = {"ds": DS_NS}
_URI_COUNT: Final = etree.XPath("count(.//@URI)")


def _no_uri(uri: bytes) -> bool:
    return False


def _open_nothing(uri: bytes) -> None:
    return None


def _read_nothing(context: object, buffer: memoryview) -> int:
    return -1


def _close_nothing(context: object) -> None:
    return None


def refuse_xmlsec_io() -> None:
    """Make libxmlsec unable to open any URI, in this whole process.

    Its default I/O callbacks (files, and the network where libxml2 was built with it)
    are unregistered, and one set that matches no URI takes their place, so a
    ``CipherReference``, a ``RetrievalMethod`` or a ``Reference`` to anything but the
    document itself fails inside libxmlsec. Called when this module is imported; nothing
    in SAML needs libxmlsec to read from outside the document. Any other code in the
    process that calls ``xmlsec.register_default_callbacks()`` undoes it.
    """
    xmlsec.cleanup_callbacks()
    xmlsec.register_callbacks(_no_uri, _open_nothing, _read_nothing, _close_nothing)


refuse_xmlsec_io()


def verify_enveloped(
    document: bytes | Any,
    element_id: str,
    trusted_certificates: Sequence[x509.Certificate],
    *,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    min_rsa_bits: int = MIN_RSA_KEY_BITS,
) -> Any:
    """Verify the enveloped signature of the element ``element_id`` and return it.

    ``document`` is the XML (parsed here with :func:`~sso_bridge.saml.xml.parse_xml`) or an
    lxml element of an already safely parsed tree. ``element_id`` is compared as a string
    with each element's ``ID`` (it must be an NCName, unique in the document); it is never
    evaluated. The key comes only from ``trusted_certificates``, each tried in turn; RSA
    keys under ``min_rsa_bits`` are refused (``saml.weak_key``).

    The returned element belongs to the verified tree: read values from it (for text use
    :func:`~sso_bridge.saml.xml.element_text`), never from another parse of the document.
    """
    if isinstance(document, etree._Element):
        root = document.getroottree().getroot()
    elif isinstance(document, bytes):
        root = parse_xml(document, max_bytes=max_bytes)
    else:
        raise TypeError("document must be bytes or an lxml element")
    element = element_by_id(root, element_id)  # also checks that the ID is unique
    refuse_dtd(element)
    return _verify_unique(element, element_id, trusted_certificates, min_rsa_bits)


def verify_element(
    element: Any,
    trusted_certificates: Sequence[x509.Certificate],
    *,
    min_rsa_bits: int = MIN_RSA_KEY_BITS,
) -> Any:
    """Verify the enveloped signature of ``element`` itself (an element of a safely parsed
    tree) and return it; as :func:`verify_enveloped`, for a caller that already holds the
    element it is about to read (its ``ID`` must be an NCName, unique in the document)."""
    refuse_dtd(element)
    element_id = require_ncname(element.get("ID"), "the signed element")
    require_unique_id(element, element_id)
    return _verify_unique(element, element_id, trusted_certificates, min_rsa_bits)


def _verify_unique(
    element: Any,
    element_id: str,
    trusted_certificates: Sequence[x509.Certificate],
    min_rsa_bits: int,
) -> Any:
    """:func:`verify_element` once the element's ID is known to be an NCName, unique."""
    parts, (signature_method, digest_method) = _profile(element, element_id)
    if not trusted_certificates:
        raise refuse("saml.no_trusted_key", "no trusted certificate is configured")
    for certificate in trusted_certificates:
        check_key_size(certificate, min_rsa_bits)
    for certificate in trusted_certificates:
        if parts_hold(element, parts, certificate, signature_method.href, digest_method.href):
            return element
    raise _verification_failure(parts.signature, trusted_certificates)


def check_key_size(certificate: x509.Certificate, min_rsa_bits: int = MIN_RSA_KEY_BITS) -> None:
    """Refuse (``saml.weak_key``) a certificate whose RSA key is under ``min_rsa_bits``
    (never less than :data:`~sso_bridge.keysize.MIN_RSA_KEY_BITS`) or over
    :data:`~sso_bridge.keysize.MAX_RSA_KEY_BITS`."""
    if not _key_acceptable(certificate, min_rsa_bits):
        minimum = max(min_rsa_bits, MIN_RSA_KEY_BITS)
        raise refuse(
            "saml.weak_key",
            f"the IdP's RSA key has {rsa_bits(certificate)} bits; "
            f"{minimum} to {MAX_RSA_KEY_BITS} are accepted",
        )


@functools.lru_cache(maxsize=64)
def _key_acceptable(certificate: x509.Certificate, min_rsa_bits: int) -> bool:
    # A certificate's key does not change: looked at once per (certificate, minimum).
    return rsa_key_acceptable(certificate, min_rsa_bits)


_Algorithms = tuple["Transform", "Transform"]


@functools.cache
def _ds(path: str) -> str:
    """``path`` with ``ds:`` prefixes in Clark notation: lxml finds those faster than
    prefixes looked up in a namespace map on every call."""
    return path.replace("ds:", f"{{{DS_NS}}}")


def _check_profile(element: Any, element_id: str) -> tuple[Any, _Algorithms]:
    """The element's one signature, if it follows the SAML signature profile, with its
    signature and digest algorithms."""
    parts, algorithms = _profile(element, element_id)
    return parts.signature, algorithms


def _the_signature(element: Any) -> Any:
    """The element's one ``ds:Signature``, which carries no Object or RetrievalMethod."""
    signatures = list(element.iterchildren(_ds("ds:Signature")))
    if not signatures:
        raise refuse("saml.unsigned", "the element is not signed")
    if len(signatures) > 1:
        raise refuse("saml.multiple_signatures", "the element has more than one signature")
    signature = signatures[0]
    for node in signature.iter(_ds("ds:Object"), _ds("ds:RetrievalMethod")):
        if node.tag == _ds("ds:Object"):
            raise refuse("saml.object_forbidden", "the signature carries a ds:Object")
        raise refuse("saml.external_reference", "the signature carries a RetrievalMethod")
    return signature


def _profile(element: Any, element_id: str) -> tuple[SignatureParts, _Algorithms]:
    """:func:`_check_profile`, with the parts of the signature it found on the way."""
    signature = _the_signature(element)
    signed_info = _only(signature, "ds:SignedInfo")
    value = _only(signature, "ds:SignatureValue")
    canonicalization = _only(signed_info, "ds:CanonicalizationMethod")
    if canonicalization.get("Algorithm") != _EXC_C14N:
        raise refuse("saml.bad_canonicalization", "SignedInfo must use exclusive c14n")
    if not _plain_exclusive(canonicalization):
        raise refuse("saml.bad_canonicalization", "SignedInfo's c14n takes no parameters")
    signature_method = ALLOWED_SIGNATURE_METHODS.get(_algorithm(signed_info, "ds:SignatureMethod"))
    if signature_method is None:
        raise refuse("saml.bad_algorithm", "signature algorithm not allowed")
    references = list(signed_info.iterchildren(_ds("ds:Reference")))
    if len(references) != 1 or references[0].get("URI") != f"#{element_id}":
        raise refuse(
            "saml.reference_mismatch",
            "the signature must have exactly one reference, to the signed element",
        )
    if _URI_COUNT(signature) != 1:
        raise refuse("saml.external_reference", "the signature names a URI besides its reference")
    reference = references[0]
    digest_method = ALLOWED_DIGEST_METHODS.get(_algorithm(reference, "ds:DigestMethod"))
    if digest_method is None:
        raise refuse("saml.bad_algorithm", "digest algorithm not allowed")
    transforms = [
        transform
        for parent in reference.iterchildren(_ds("ds:Transforms"))
        for transform in parent.iterchildren(_ds("ds:Transform"))
    ]
    algorithms = [t.get("Algorithm") for t in transforms]
    if algorithms != [_ENVELOPED, _EXC_C14N] or not _plain_transforms(transforms):
        raise refuse(
            "saml.bad_transforms",
            "transforms must be enveloped-signature then exclusive c14n, nothing else",
        )
    if not element_text(value).strip():
        raise refuse("saml.empty_signature", "the SignatureValue is empty")
    parts = SignatureParts(
        signature, signed_info, canonicalization, reference, transforms[-1], value
    )
    return parts, (signature_method, digest_method)


def _plain_transforms(transforms: list[Any]) -> bool:
    """No parameters except exclusive c14n's InclusiveNamespaces."""
    enveloped, exclusive = transforms
    return len(enveloped) == 0 and _plain_exclusive(exclusive)


def _plain_exclusive(method: Any) -> bool:
    """Exclusive c14n with at most one InclusiveNamespaces, of at most
    :data:`MAX_INCLUSIVE_PREFIXES` prefixes (``saml.too_complex`` beyond)."""
    children = list(method)
    if len(children) > 1 or any(
        child.tag != f"{{{_EXC_C14N_NS}}}InclusiveNamespaces" or len(child) != 0
        for child in children
    ):
        return False
    for child in children:
        if len(child.get("PrefixList", "").split()) > MAX_INCLUSIVE_PREFIXES:
            raise refuse(
                "saml.too_complex",
                f"the PrefixList names more than {MAX_INCLUSIVE_PREFIXES} prefixes",
            )
    return True


def _only(parent: Any, tag: str) -> Any:
    """The one child of ``parent`` called ``tag`` (``ds:`` prefixed)."""
    found = list(parent.iterchildren(_ds(tag)))
    if len(found) != 1:
        raise refuse("saml.malformed_signature", f"expected exactly one {tag}")
    return found[0]


def _algorithm(parent: Any, tag: str) -> str:
    node = _only(parent, tag)
    return str(node.get("Algorithm", ""))


@functools.lru_cache(maxsize=64)
def _key(certificate: x509.Certificate) -> xmlsec.Key:
    # Loaded once per certificate; libxmlsec copies the key into each context it is set on.
    # The bare public key, not the certificate: copying a certificate key costs ~70 times more.
    try:
        return xmlsec.Key.from_memory(
            certificate.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            _C.KeyDataFormatPem,
        )
    except xmlsec.Error as exc:
        raise refuse("saml.key_invalid", f"cannot load a trusted certificate: {exc}") from None


def _verifies(
    element: Any, signature: Any, certificate: x509.Certificate, algorithms: _Algorithms
) -> bool:
    signature_method, digest_method = algorithms
    return signature_holds(
        element, signature, certificate, signature_method.href, digest_method.href
    )


def xmlsec_verifies(
    element: Any, signature: Any, certificate: x509.Certificate, algorithms: _Algorithms
) -> bool:
    """The same check done by libxmlsec (its node-set canonicalization costs about five
    times lxml's): the reference the tests hold :func:`_verifies` to."""
    context = xmlsec.SignatureContext()
    # A preset key makes libxmlsec skip KeyInfo altogether.
    context.key = _key(certificate)
    # Only what this signature was found to use (and the profile allows) is enabled.
    signature_method, digest_method = algorithms
    for transform in (_C.TransformEnveloped, _C.TransformExclC14N, digest_method):
        context.enable_reference_transform(transform)
    context.enable_signature_transform(_C.TransformExclC14N)
    context.enable_signature_transform(signature_method)
    context.register_id(element, "ID")
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True


def _verification_failure(signature: Any, trusted: Sequence[x509.Certificate]) -> SamlError:
    """``saml.wrong_key`` when KeyInfo names a key we do not trust, else a bad signature.

    KeyInfo only picks the error code here; it never supplies a key.
    """
    bodies = signature.xpath("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=_NS)
    trusted_keys = [c.public_key() for c in trusted]
    for node in bodies[:MAX_OFFERED_CERTIFICATES]:
        body = "".join(node.itertext())
        try:
            offered = x509.load_der_x509_certificate(
                base64.b64decode("".join(str(body).split()), validate=True)
            )
        except (ValueError, binascii.Error):
            continue
        if offered.public_key() not in trusted_keys:
            return refuse("saml.wrong_key", "signed with a key that is not trusted")
    return refuse("saml.signature_invalid", "the signature does not verify")
