"""The pysaml2 crypto backend: signatures and encryption made in process with
python-xmlsec, verification by the library's hardened verifier."""

from __future__ import annotations

import os
import uuid
from importlib.metadata import version as distribution_version
from typing import TYPE_CHECKING, Any

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree  # type: ignore[import-untyped]
from saml2 import SamlBase
from saml2.sigver import ASSERT_XPATH, CryptoBackend, pre_encrypt_assertion

from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.integrations.pysaml2.algorithms import (
    AES128_GCM,
    DATA_ENCRYPTION_METHODS,
    DIGEST_METHODS,
    NS,
    RSA_SHA256,
    SHA256,
    SIGNATURE_METHODS,
)
from sso_bridge.integrations.pysaml2.documents import (
    EncryptionHints,
    encryption_hints,
    is_element,
    load_private_key,
    node_to_sign,
    parse,
    read_pem,
    serialize,
    signature_position,
    signature_template,
    statement_bytes,
    template_certificate,
)
from sso_bridge.integrations.pysaml2.errors import SamlCryptoError
from sso_bridge.saml.verify import verify_enveloped

if TYPE_CHECKING:
    from xmlsec.constants import __Transform as Transform

__all__ = ["XmlSecBackend"]

_C = xmlsec.constants


class XmlSecBackend(CryptoBackend):  # type: ignore[misc]
    """A pysaml2 crypto backend that signs and encrypts with python-xmlsec, in process.

    ``signature_algorithm`` and ``digest_algorithm`` are used when pysaml2's signature
    template names no algorithm, or one outside :data:`SIGNATURE_METHODS` /
    :data:`DIGEST_METHODS` (pysaml2 falls back to RSA-SHA1 in several places).
    ``data_encryption`` is the content encryption of encrypted assertions.
    """

    def __init__(
        self,
        *,
        signature_algorithm: str = RSA_SHA256,
        digest_algorithm: str = SHA256,
        data_encryption: str = AES128_GCM,
    ) -> None:
        super().__init__()
        if signature_algorithm not in SIGNATURE_METHODS:
            raise ConfigError(f"signature algorithm not allowed: {signature_algorithm}")
        if digest_algorithm not in DIGEST_METHODS:
            raise ConfigError(f"digest algorithm not allowed: {digest_algorithm}")
        if data_encryption not in DATA_ENCRYPTION_METHODS:
            raise ConfigError(f"data encryption algorithm not allowed: {data_encryption}")
        self.signature_algorithm = signature_algorithm
        self.digest_algorithm = digest_algorithm
        self.data_encryption = data_encryption

    @property
    def version(self) -> str:
        """Version of the python-xmlsec binding."""
        return distribution_version("xmlsec")

    # -- signing -------------------------------------------------------------------------

    def sign_statement(
        self,
        statement: str | bytes | SamlBase,
        node_name: str,
        key_file: str | bytes | os.PathLike[str],
        node_id: str | None,
    ) -> str:
        """Sign the element ``node_name`` with ID ``node_id`` inside ``statement``.

        ``node_name`` is pysaml2's class name (``"<namespace>:<local name>"``);
        ``key_file`` is the PEM private key (a path, or the PEM text itself). A signature
        template already in the element (pysaml2's ``pre_signature_part``) chooses the
        algorithms and the certificate for ``KeyInfo``; the signature itself is rebuilt.
        Returns the whole document, signed.
        """
        root = parse(statement_bytes(statement))
        node = node_to_sign(root, node_name, node_id)
        element_id = node.get("ID")

        template = signature_template(node)
        signature_method, digest_method, certificate = self._signature_plan(template)
        private_key_pem, private_key = load_private_key(key_file)
        if certificate is not None and certificate.public_key() != private_key.public_key():
            raise SamlCryptoError(
                "the certificate in the signature template does not belong to the signing key",
                code="saml.key_invalid",
            )

        position = signature_position(node) if template is None else node.index(template)
        signature_id = None if template is None else template.get("Id")
        if template is not None:
            node.remove(template)

        try:
            signature = xmlsec.template.create(
                node, _C.TransformExclC14N, signature_method, id=signature_id, ns="ds"
            )
            node.insert(position, signature)
            _add_enveloped_reference(signature, digest_method, element_id)
            key = _signing_key(private_key_pem, certificate, signature)
            context = xmlsec.SignatureContext()
            context.key = key
            context.register_id(node, "ID")
            context.sign(signature)
        except xmlsec.Error as exc:
            raise SamlCryptoError(
                f"libxmlsec could not sign {node_name} {element_id}: {exc}",
                code="saml.sign_failed",
            ) from exc
        return serialize(root)

    def _signature_plan(
        self, template: Any
    ) -> tuple[Transform, Transform, x509.Certificate | None]:
        """Algorithms and KeyInfo certificate for a signature, from pysaml2's template."""
        signature_uri = digest_uri = None
        certificate = None
        if template is not None:
            method = template.find("ds:SignedInfo/ds:SignatureMethod", NS)
            signature_uri = None if method is None else method.get("Algorithm")
            digest = template.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS)
            digest_uri = None if digest is None else digest.get("Algorithm")
            certificate = template_certificate(template)
        signature_method = SIGNATURE_METHODS.get(
            signature_uri or "", SIGNATURE_METHODS[self.signature_algorithm]
        )
        digest_method = DIGEST_METHODS.get(digest_uri or "", DIGEST_METHODS[self.digest_algorithm])
        return signature_method, digest_method, certificate

    # -- encryption ----------------------------------------------------------------------

    def encrypt_assertion(
        self,
        statement: str | bytes | SamlBase,
        enc_key: str | bytes | os.PathLike[str],
        template: str | SamlBase | None,
        key_type: str = "",
        node_xpath: str | None = None,
        node_id: str | None = None,
    ) -> str:
        """Encrypt the assertion inside ``statement`` to the certificate ``enc_key``.

        ``statement`` is a Response whose assertion sits in an ``EncryptedAssertion``
        (pysaml2's ``pre_encrypt_assertion``; a Response object is wrapped here if it still
        has a plain assertion). ``node_xpath`` selects the assertion (default: the one in
        ``Response/EncryptedAssertion``), ``node_id`` narrows it to one ID. ``enc_key`` is a
        PEM certificate (path or text). From ``template`` only the element IDs and key name
        are used; ``key_type`` (pysaml2 passes "des-192") is ignored in favour of
        :attr:`data_encryption`. Returns the whole document.
        """
        if (
            isinstance(statement, SamlBase)
            and getattr(statement, "assertion", None) is not None
            and getattr(statement, "encrypted_assertion", None) is None
        ):
            statement = pre_encrypt_assertion(statement)
        root = parse(statement_bytes(statement))
        targets = [n for n in root.xpath(node_xpath or ASSERT_XPATH) if is_element(n)]
        if node_id is not None:
            targets = [n for n in targets if n.get("ID") == node_id]
        if len(targets) != 1:
            raise SamlCryptoError(
                f"expected exactly one assertion to encrypt, found {len(targets)}",
                code="saml.encrypt_failed",
            )
        self._encrypt_element(targets[0], enc_key, encryption_hints(template))
        return serialize(root)

    def encrypt(
        self,
        text: str | bytes,
        recv_key: str | bytes | os.PathLike[str],
        template: str | SamlBase | None,
        session_key_type: str = "",
        xpath: str = "",
    ) -> str:
        """Encrypt the element ``xpath`` selects in ``text`` (default: the root element).

        Arguments are those of pysaml2's ``CryptoBackendXmlSec1.encrypt``; as in
        :meth:`encrypt_assertion`, ``session_key_type`` is ignored. Returns the document
        with the element replaced by ``xenc:EncryptedData`` (just that element when the
        root was encrypted).
        """
        if not recv_key:
            raise SamlCryptoError("no recipient certificate given", code="saml.encrypt_failed")
        root = parse(statement_bytes(text))
        if xpath:
            targets = [n for n in root.xpath(xpath) if is_element(n)]
            if len(targets) != 1:
                raise SamlCryptoError(
                    f"expected exactly one element to encrypt, found {len(targets)}",
                    code="saml.encrypt_failed",
                )
            target = targets[0]
        else:
            target = root
        encrypted = self._encrypt_element(target, recv_key, encryption_hints(template))
        return serialize(encrypted if target is root else root)

    def _encrypt_element(
        self,
        target: Any,
        certificate_source: str | bytes | os.PathLike[str],
        hints: EncryptionHints,
    ) -> Any:
        """Replace ``target`` by its ``xenc:EncryptedData``; return the new element.

        The plaintext is lxml's serialization of ``target``, which declares every namespace
        the element inherits and keeps its prefixes. libxmlsec's own ``encrypt_xml`` leaves
        inherited declarations out, and moving a copy into place with lxml renames
        prefixes to the ancestors' ones; either would break a signature inside (exclusive
        canonicalization keeps prefixes) or leave the decrypted element unparseable alone.
        """
        plaintext = etree.tostring(target, encoding="UTF-8", with_tail=False)
        certificate_pem = read_pem(certificate_source, what="recipient certificate")
        data_method, key_bits = DATA_ENCRYPTION_METHODS[self.data_encryption]
        try:
            transport_key = xmlsec.Key.from_memory(certificate_pem, _C.KeyDataFormatCertPem)
        except xmlsec.Error as exc:
            raise SamlCryptoError(
                f"cannot load the recipient certificate: {exc}", code="saml.key_invalid"
            ) from exc
        try:
            if hints.key_name:
                # xmlsec looks the transport key up by the template's KeyName.
                transport_key.name = hints.key_name
            manager = xmlsec.KeysManager()
            manager.add_key(transport_key)
            data = _encrypted_data_template(target, data_method, hints)
            context = xmlsec.EncryptionContext(manager)
            context.key = xmlsec.Key.generate(_C.KeyDataAes, key_bits, _C.KeyDataTypeSession)
            context.encrypt_binary(data, plaintext)
        except xmlsec.Error as exc:
            raise SamlCryptoError(
                f"libxmlsec could not encrypt: {exc}", code="saml.encrypt_failed"
            ) from exc
        parent = target.getparent()
        if parent is not None:
            data.tail = target.tail
            parent.replace(target, data)
        return data

    # -- not provided yet ----------------------------------------------------------------

    def decrypt(self, enctext: str, key_file: str) -> str:
        """Not provided: this backend serves identity providers for now."""
        raise SamlCryptoError("XmlSecBackend does not decrypt", code="saml.unsupported")

    def validate_signature(
        self,
        signedtext: str | bytes,
        cert_file: str,
        cert_type: str,
        node_name: str,
        node_id: str | None,
    ) -> bool:
        """Verify the enveloped signature of the element ``node_id`` with ``cert_file``.

        Runs :func:`sso_bridge.saml.verify.verify_enveloped`: exactly one Reference to the
        element, only the enveloped and exclusive-c14n transforms, no ``ds:Object``, the
        key from ``cert_file`` only (never KeyInfo). Unlike pysaml2's ``XMLSecurity``
        backend it checks the signature of that element and no other. Failures raise
        :class:`SamlCryptoError` (a pysaml2 ``XmlsecError``), so pysaml2 tries the IdP's
        next certificate and finally refuses the message.
        """
        if not node_id:
            raise SamlCryptoError("no element ID to verify", code="saml.missing_id")
        pem = read_pem(cert_file, what="certificate")
        try:
            if cert_type == "der" or b"-----BEGIN" not in pem:
                certificate = x509.load_der_x509_certificate(pem)
            else:
                certificate = x509.load_pem_x509_certificate(pem)
        except ValueError as exc:
            raise SamlCryptoError(
                f"unreadable certificate: {exc}", code="saml.key_invalid"
            ) from exc
        document = signedtext.encode("utf-8") if isinstance(signedtext, str) else signedtext
        try:
            verify_enveloped(document, node_id, [certificate])
        except BridgeError as exc:
            raise SamlCryptoError(exc.message, code=exc.code) from exc
        return True


def _add_enveloped_reference(signature: Any, digest_method: Any, element_id: str) -> None:
    reference = xmlsec.template.add_reference(signature, digest_method, uri=f"#{element_id}")
    xmlsec.template.add_transform(reference, _C.TransformEnveloped)
    xmlsec.template.add_transform(reference, _C.TransformExclC14N)


def _signing_key(
    private_key_pem: bytes, certificate: x509.Certificate | None, signature: Any
) -> Any:
    """The signing key; with ``certificate``, also put into the signature's ``KeyInfo``."""
    key = xmlsec.Key.from_memory(private_key_pem, _C.KeyDataFormatPem)
    if certificate is not None:
        key.load_cert_from_memory(certificate.public_bytes(Encoding.DER), _C.KeyDataFormatCertDer)
        key_info = xmlsec.template.ensure_key_info(signature)
        x509_data = xmlsec.template.add_x509_data(key_info)
        xmlsec.template.x509_data_add_certificate(x509_data)
    return key


def _encrypted_data_template(target: Any, data_method: Any, hints: EncryptionHints) -> Any:
    """The ``xenc:EncryptedData`` template for ``target``, with its RSA-OAEP key transport."""
    data = xmlsec.template.encrypted_data_create(
        target,
        data_method,
        id=hints.data_id or f"ED_{uuid.uuid4().hex}",
        type=_C.TypeEncElement,
        ns="xenc",
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(data)
    data_key_info = xmlsec.template.encrypted_data_ensure_key_info(data, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(
        data_key_info, _C.TransformRsaOaep, id=hints.key_id or f"EK_{uuid.uuid4().hex}"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(encrypted_key, ns="ds")
    if hints.key_name:
        xmlsec.template.add_key_name(key_info, hints.key_name)
    xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(key_info))
    return data
