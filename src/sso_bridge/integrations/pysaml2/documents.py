"""The XML work of the pysaml2 integration: parsing without DTDs or entities, finding the
element to sign and pysaml2's signature and encryption templates, reading PEM keys and
certificates given as text or as a file."""

from __future__ import annotations

import base64
import functools
import os
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from lxml import etree  # type: ignore[import-untyped]
from saml2 import SamlBase

from sso_bridge.integrations.pysaml2.algorithms import NS
from sso_bridge.integrations.pysaml2.errors import SamlCryptoError

__all__ = [
    "EncryptionHints",
    "encryption_hints",
    "is_element",
    "load_private_key",
    "node_to_sign",
    "parse",
    "read_pem",
    "serialize",
    "signature_position",
    "signature_template",
    "statement_bytes",
    "template_certificate",
]


class EncryptionHints(NamedTuple):
    """What a pysaml2 encryption template may contribute: identifiers and a key name."""

    data_id: str | None = None
    key_id: str | None = None
    key_name: str | None = None


def statement_bytes(statement: str | bytes | SamlBase) -> bytes:
    if isinstance(statement, bytes):
        return statement
    if isinstance(statement, str):
        return statement.encode("utf-8")
    if isinstance(statement, SamlBase):
        return bytes(statement.to_string())
    raise SamlCryptoError(
        f"cannot sign or encrypt a {type(statement).__name__}", code="saml.xml_invalid"
    )


def parse(document: bytes) -> Any:
    """Parse without DTDs, entity expansion or network access."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        tree = etree.fromstring(document, parser).getroottree()
    except etree.XMLSyntaxError as exc:
        raise SamlCryptoError(f"not well-formed XML: {exc}", code="saml.xml_invalid") from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise SamlCryptoError("XML with a DTD is not accepted", code="saml.xml_invalid")
    return tree.getroot()


def serialize(element: Any) -> str:
    """``element`` as a UTF-8 document (declaration included, as xmlsec1 writes it)."""
    return str(etree.tostring(element, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


def is_element(node: object) -> bool:
    return isinstance(node, etree._Element) and isinstance(node.tag, str)


def clark_name(node_name: str) -> str:
    namespace, _, local = node_name.rpartition(":")
    return f"{{{namespace}}}{local}"


def node_to_sign(root: Any, node_name: str, node_id: str | None) -> Any:
    """The one element called ``node_name`` with ID ``node_id`` (or the only one so named)."""
    tag = clark_name(node_name)
    if node_id is not None:
        candidates = root.xpath("//*[@ID=$id]", id=node_id)
        if len(candidates) != 1:
            raise SamlCryptoError(
                f"ID {node_id!r} occurs {len(candidates)} times; need exactly one",
                code="saml.sign_failed",
            )
        node = candidates[0]
        if node.tag != tag:
            raise SamlCryptoError(
                f"ID {node_id!r} names a {etree.QName(node).localname}, not {node_name}",
                code="saml.sign_failed",
            )
        return node
    candidates = [root] if root.tag == tag else list(root.iter(tag))
    if len(candidates) != 1 or not candidates[0].get("ID"):
        raise SamlCryptoError(
            f"cannot tell which {node_name} to sign without its ID", code="saml.sign_failed"
        )
    return candidates[0]


def signature_template(node: Any) -> Any:
    templates = node.findall("ds:Signature", NS)
    if len(templates) > 1:
        raise SamlCryptoError(
            f"{node.get('ID')} already has {len(templates)} signatures", code="saml.sign_failed"
        )
    return templates[0] if templates else None


def signature_position(node: Any) -> int:
    """Where a new signature goes: after a leading ``Issuer``, as the SAML schemas want."""
    first = next(iter(node), None)
    if (
        first is not None
        and isinstance(first.tag, str)
        and etree.QName(first).localname == "Issuer"
    ):
        return 1
    return 0


def template_certificate(template: Any) -> x509.Certificate | None:
    texts = [
        "".join(text.split())
        for text in template.xpath(
            "ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=NS
        )
    ]
    texts = [text for text in texts if text]
    if not texts:
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode(texts[0], validate=True))
    except ValueError as exc:
        raise SamlCryptoError(
            f"bad certificate in the signature template: {exc}", code="saml.key_invalid"
        ) from exc


def read_pem(source: str | bytes | os.PathLike[str], *, what: str) -> bytes:
    """PEM bytes from PEM text or from the file it names."""
    if isinstance(source, bytes) and b"-----BEGIN" in source:
        return source
    if isinstance(source, str) and "-----BEGIN" in source:
        return source.encode("ascii")
    try:
        with open(source, "rb") as pem_file:
            return pem_file.read()
    except OSError as exc:
        raise SamlCryptoError(f"cannot read the {what}: {exc}", code="saml.key_invalid") from exc


def load_private_key(source: str | bytes | os.PathLike[str]) -> tuple[bytes, rsa.RSAPrivateKey]:
    pem = read_pem(source, what="signing key")
    return pem, parse_private_key(pem)


@functools.lru_cache(maxsize=32)
def parse_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    # Loading validates the RSA key, ~40 ms each time; the same key signs every response.
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SamlCryptoError(
            f"cannot load the signing key: {exc}", code="saml.key_invalid"
        ) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SamlCryptoError("the signing key is not an RSA key", code="saml.key_invalid")
    return key


def encryption_hints(template: str | SamlBase | None) -> EncryptionHints:
    if isinstance(template, SamlBase):
        template = str(template)
    if not isinstance(template, str) or not template.lstrip().startswith("<"):
        return EncryptionHints()  # None, or the path of pysaml2's default template
    root = parse(template.encode("utf-8"))
    key = root.find(".//xenc:EncryptedKey", NS)
    key_name = root.findtext(".//xenc:EncryptedKey/ds:KeyInfo/ds:KeyName", namespaces=NS)
    return EncryptionHints(
        data_id=root.get("Id"),
        key_id=None if key is None else key.get("Id"),
        key_name=(key_name or "").strip() or None,
    )
