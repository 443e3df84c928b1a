"""The arithmetic of an enveloped XML signature whose shape :mod:`sso_bridge.saml.verify`
has already checked against the SAML profile (one ``#id`` reference to the element, the
enveloped-signature and exclusive-c14n transforms, allow-listed algorithms).

The reference digest is taken over the exclusive canonical form of the signed element
without that one ``ds:Signature`` (XML-DSig's enveloped-signature transform), comments
left out (a bare ``#id`` reference); the signature over the exclusive canonical form of
``SignedInfo``; both canonical forms are libxml2's (through lxml), the PrefixLists as
given, and the signature is checked with ``cryptography`` against the one trusted key.
libxmlsec computes the same two forms through a node-set filter that costs about five
times a plain canonicalization of the subtree; the result is the same, and
``tests/saml/test_dsig.py`` compares the two on valid and tampered documents.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree  # type: ignore[import-untyped]

from sso_bridge.saml.xml import DS_NS

__all__ = [
    "DIGESTS",
    "SIGNATURES",
    "SignatureParts",
    "parts_hold",
    "signature_holds",
    "signature_parts",
]

_MORE: Final = "http://www.w3.org/2001/04/xmldsig-more#"
_ENC: Final = "http://www.w3.org/2001/04/xmlenc#"
_EXC_C14N_NS: Final = "http://www.w3.org/2001/10/xml-exc-c14n#"
_TRANSFORMS: Final = f"{{{DS_NS}}}Transforms"
_TRANSFORM: Final = f"{{{DS_NS}}}Transform"

DIGESTS: Final[dict[str, Callable[[bytes], Any]]] = {
    _ENC + "sha256": hashlib.sha256,
    _MORE + "sha384": hashlib.sha384,
    _ENC + "sha512": hashlib.sha512,
}
"""Digest methods, by URI (those of the profile's allow-list)."""

SIGNATURES: Final[dict[str, tuple[str, Callable[[], hashes.HashAlgorithm]]]] = {
    _MORE + "rsa-sha256": ("rsa", hashes.SHA256),
    _MORE + "rsa-sha384": ("rsa", hashes.SHA384),
    _MORE + "rsa-sha512": ("rsa", hashes.SHA512),
    _MORE + "ecdsa-sha256": ("ec", hashes.SHA256),
    _MORE + "ecdsa-sha384": ("ec", hashes.SHA384),
}
"""Signature methods, by URI: the key type and the hash."""


@functools.lru_cache(maxsize=64)
def _public_key(certificate: x509.Certificate) -> Any:
    return certificate.public_key()


class SignatureParts(NamedTuple):
    """The nodes of a ``ds:Signature`` the arithmetic reads, each the one of its kind."""

    signature: Any
    signed_info: Any
    canonicalization: Any
    """SignedInfo's CanonicalizationMethod."""
    reference: Any
    last_transform: Any
    """The reference's last transform: exclusive c14n, with its PrefixList if any."""
    value: Any
    """The SignatureValue."""


def signature_parts(signature: Any) -> SignatureParts | None:
    """The parts of ``signature``; None when one is missing or given twice."""
    signed_info = _one(signature, "SignedInfo")
    reference = _one(signed_info, "Reference") if signed_info is not None else None
    if signed_info is None or reference is None:
        return None
    transforms = [
        transform
        for parent in reference.iterchildren(_TRANSFORMS)
        for transform in parent.iterchildren(_TRANSFORM)
    ]
    method = _one(signed_info, "CanonicalizationMethod")
    value = _one(signature, "SignatureValue")
    if not transforms or method is None or value is None:
        return None
    return SignatureParts(signature, signed_info, method, reference, transforms[-1], value)


def signature_holds(
    element: Any,
    signature: Any,
    certificate: x509.Certificate,
    signature_method: str,
    digest_method: str,
) -> bool:
    """Whether ``signature`` (the profile-checked direct child ``ds:Signature`` of
    ``element``) signs ``element`` with ``certificate``'s key, by the given methods."""
    parts = signature_parts(signature)
    return parts is not None and parts_hold(
        element, parts, certificate, signature_method, digest_method
    )


def parts_hold(
    element: Any,
    parts: SignatureParts,
    certificate: x509.Certificate,
    signature_method: str,
    digest_method: str,
) -> bool:
    """:func:`signature_holds` for a signature whose parts are already found."""
    kind, hashing = SIGNATURES[signature_method]
    expected = _base64(_one(parts.reference, "DigestValue"))
    if expected is None:
        return False
    content = _canonical_without(element, parts.signature, _prefixes(parts.last_transform))
    if not hmac.compare_digest(DIGESTS[digest_method](content).digest(), expected):
        return False
    value = _base64(parts.value)
    if value is None:
        return False
    return _verifies(
        _public_key(certificate),
        kind,
        hashing(),
        value,
        _canonical(parts.signed_info, parts.canonicalization),
    )


def _one(parent: Any, name: str) -> Any:
    found = list(parent.iterchildren(f"{{{DS_NS}}}{name}"))
    return found[0] if len(found) == 1 else None


def _base64(node: Any) -> bytes | None:
    if node is None or len(node):
        return None
    try:
        return base64.b64decode("".join((node.text or "").split()), validate=True)
    except (ValueError, binascii.Error):
        return None


def _prefixes(method: Any) -> list[str] | None:
    """The PrefixList of an exclusive-c14n method's InclusiveNamespaces (None: none)."""
    for child in method:
        if child.tag == f"{{{_EXC_C14N_NS}}}InclusiveNamespaces":
            return child.get("PrefixList", "").split() or None
    return None


def _canonical(node: Any, method: Any) -> bytes:
    return bytes(
        etree.tostring(
            node,
            method="c14n",
            exclusive=True,
            with_comments=False,
            inclusive_ns_prefixes=_prefixes(method),
        )
    )


def _canonical_without(element: Any, signature: Any, prefixes: list[str] | None) -> bytes:
    """The exclusive canonical form of ``element`` without ``signature``; the text after
    the signature (its lxml ``tail``) stays, as the transform keeps it. The tree is put
    back as it was before returning."""
    previous = signature.getprevious()
    saved = element.text if previous is None else previous.tail
    tail = signature.tail
    index = element.index(signature)
    element.remove(signature)  # lxml takes the tail along
    try:
        if tail:
            if previous is None:
                element.text = (saved or "") + tail
            else:
                previous.tail = (saved or "") + tail
        return bytes(
            etree.tostring(
                element,
                method="c14n",
                exclusive=True,
                with_comments=False,
                inclusive_ns_prefixes=prefixes,
            )
        )
    finally:
        if previous is None:
            element.text = saved
        else:
            previous.tail = saved
        element.insert(index, signature)
        signature.tail = tail


def _verifies(
    key: Any, kind: str, hashing: hashes.HashAlgorithm, value: bytes, data: bytes
) -> bool:
    try:
        if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), hashing)
            return True
        if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(value) != 2 * size:  # XML-DSig's ECDSA value is r and s, side by side
                return False
            r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashing))
            return True
    except InvalidSignature:
        return False
    return False
