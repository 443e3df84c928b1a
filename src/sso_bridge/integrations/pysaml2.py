"""In-process XML signatures and encryption for pysaml2, built on python-xmlsec.

pysaml2 normally runs the ``xmlsec1`` program for every signature and every encrypted
assertion. :class:`XmlSecBackend` does the same work inside the process with libxmlsec1,
which the ``xmlsec`` wheels bundle, so the program is never needed.

Plugging it into an identity provider::

    config = load_config(settings)  # IdPConfig, loaded without looking for xmlsec1
    server = create_server(config)  # saml2.server.Server signing with XmlSecBackend
    server.create_authn_response(..., sign_response=True, sign_assertion=True)

An entity built elsewhere gets the backend with ``install_backend(entity)``. pysaml2
builds security contexts while loading metadata and while constructing an entity, and its
default ``crypto_backend`` ("xmlsec1") fails there when the program is missing; so the
settings must name pysaml2's program-free "XMLSecurity" backend (:func:`load_config` does
that), whose context :func:`install_backend` then replaces on the entity.

Signatures are enveloped, with exclusive canonicalization, exactly one reference
(``#`` + the ID of the signed element) and the signer's certificate in ``KeyInfo``.
Assertions are encrypted with a fresh AES session key (AES-128-GCM unless chosen
otherwise), which is itself encrypted with RSA-OAEP to the recipient's certificate.

Verification (``validate_signature``, which pysaml2 service providers call) runs
:func:`sso_bridge.saml.verify.verify_enveloped`: the signature of the named element and
no other, every structural check of the SAML signature profile, keys only from metadata.
Where the ``xmlsec1`` program is installed, pysaml2's own backend remains available by
setting ``crypto_backend: "xmlsec1"``.
"""

from __future__ import annotations

import base64
import functools
import os
import uuid
from collections.abc import Mapping
from importlib.metadata import version as distribution_version
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import xmlsec
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from lxml import etree  # type: ignore[import-untyped]
from saml2 import SamlBase
from saml2.config import Config, IdPConfig
from saml2.entity import Entity
from saml2.server import Server
from saml2.sigver import (
    ASSERT_XPATH,
    CryptoBackend,
    RSACrypto,
    SecurityContext,
    XmlsecError,
    import_rsa_key_from_file,
    pre_encrypt_assertion,
)

from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.saml.verify import verify_enveloped

if TYPE_CHECKING:
    # python-xmlsec's stubs name the transform type but do not export it.
    from xmlsec.constants import __Transform as Transform

__all__ = [
    "AES128_CBC",
    "AES128_GCM",
    "AES256_CBC",
    "AES256_GCM",
    "DATA_ENCRYPTION_METHODS",
    "DIGEST_METHODS",
    "RSA_SHA256",
    "RSA_SHA384",
    "RSA_SHA512",
    "SHA256",
    "SHA384",
    "SHA512",
    "SIGNATURE_METHODS",
    "SamlCryptoError",
    "XmlSecBackend",
    "create_server",
    "install_backend",
    "load_config",
    "security_context",
]

_C = xmlsec.constants

RSA_SHA256: Final = _C.TransformRsaSha256.href
RSA_SHA384: Final = _C.TransformRsaSha384.href
RSA_SHA512: Final = _C.TransformRsaSha512.href
SHA256: Final = _C.TransformSha256.href
SHA384: Final = _C.TransformSha384.href
SHA512: Final = _C.TransformSha512.href
AES128_GCM: Final = _C.TransformAes128Gcm.href
AES256_GCM: Final = _C.TransformAes256Gcm.href
AES128_CBC: Final = _C.TransformAes128Cbc.href
AES256_CBC: Final = _C.TransformAes256Cbc.href

SIGNATURE_METHODS: Final[Mapping[str, Transform]] = {
    t.href: t for t in (_C.TransformRsaSha256, _C.TransformRsaSha384, _C.TransformRsaSha512)
}
"""Signature algorithms this backend produces (and will accept), by URI."""

DIGEST_METHODS: Final[Mapping[str, Transform]] = {
    t.href: t for t in (_C.TransformSha256, _C.TransformSha384, _C.TransformSha512)
}
"""Digest algorithms this backend produces (and will accept), by URI."""

DATA_ENCRYPTION_METHODS: Final[Mapping[str, tuple[Transform, int]]] = {
    AES128_GCM: (_C.TransformAes128Gcm, 128),
    AES256_GCM: (_C.TransformAes256Gcm, 256),
    AES128_CBC: (_C.TransformAes128Cbc, 128),
    AES256_CBC: (_C.TransformAes256Cbc, 256),
}
"""Content encryption algorithms by URI, with their key sizes in bits."""

_DS: Final = _C.DSigNs
_XENC: Final = _C.EncNs
_NS: Final = {"ds": _DS, "xenc": _XENC}


class SamlCryptoError(BridgeError, XmlsecError):  # type: ignore[misc]
    """Signing or encryption of a SAML message failed.

    It is also a pysaml2 ``XmlsecError``, so pysaml2 treats it like a failure of its own
    backends (for instance by trying the next certificate of the recipient).
    """

    code = "saml.crypto_failed"


class _EncryptionHints(NamedTuple):
    """What a pysaml2 encryption template may contribute: identifiers and a key name."""

    data_id: str | None = None
    key_id: str | None = None
    key_name: str | None = None


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
        root = _parse(_statement_bytes(statement))
        node = _node_to_sign(root, node_name, node_id)
        element_id = node.get("ID")

        template = _signature_template(node)
        signature_method, digest_method, certificate = self._signature_plan(template)
        private_key_pem, private_key = _load_private_key(key_file)
        if certificate is not None and certificate.public_key() != private_key.public_key():
            raise SamlCryptoError(
                "the certificate in the signature template does not belong to the signing key",
                code="saml.key_invalid",
            )

        position = _signature_position(node) if template is None else node.index(template)
        signature_id = None if template is None else template.get("Id")
        if template is not None:
            node.remove(template)

        try:
            signature = xmlsec.template.create(
                node, _C.TransformExclC14N, signature_method, id=signature_id, ns="ds"
            )
            node.insert(position, signature)
            reference = xmlsec.template.add_reference(
                signature, digest_method, uri=f"#{element_id}"
            )
            xmlsec.template.add_transform(reference, _C.TransformEnveloped)
            xmlsec.template.add_transform(reference, _C.TransformExclC14N)

            key = xmlsec.Key.from_memory(private_key_pem, _C.KeyDataFormatPem)
            if certificate is not None:
                key.load_cert_from_memory(
                    certificate.public_bytes(Encoding.DER), _C.KeyDataFormatCertDer
                )
                key_info = xmlsec.template.ensure_key_info(signature)
                x509_data = xmlsec.template.add_x509_data(key_info)
                xmlsec.template.x509_data_add_certificate(x509_data)

            context = xmlsec.SignatureContext()
            context.key = key
            context.register_id(node, "ID")
            context.sign(signature)
        except xmlsec.Error as exc:
            raise SamlCryptoError(
                f"libxmlsec could not sign {node_name} {element_id}: {exc}",
                code="saml.sign_failed",
            ) from exc
        return _serialize(root)

    def _signature_plan(
        self, template: Any
    ) -> tuple[Transform, Transform, x509.Certificate | None]:
        """Algorithms and KeyInfo certificate for a signature, from pysaml2's template."""
        signature_uri = digest_uri = None
        certificate = None
        if template is not None:
            method = template.find("ds:SignedInfo/ds:SignatureMethod", _NS)
            signature_uri = None if method is None else method.get("Algorithm")
            digest = template.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", _NS)
            digest_uri = None if digest is None else digest.get("Algorithm")
            certificate = _template_certificate(template)
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
        root = _parse(_statement_bytes(statement))
        targets = [n for n in root.xpath(node_xpath or ASSERT_XPATH) if _is_element(n)]
        if node_id is not None:
            targets = [n for n in targets if n.get("ID") == node_id]
        if len(targets) != 1:
            raise SamlCryptoError(
                f"expected exactly one assertion to encrypt, found {len(targets)}",
                code="saml.encrypt_failed",
            )
        self._encrypt_element(targets[0], enc_key, _encryption_hints(template))
        return _serialize(root)

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
        root = _parse(_statement_bytes(text))
        if xpath:
            targets = [n for n in root.xpath(xpath) if _is_element(n)]
            if len(targets) != 1:
                raise SamlCryptoError(
                    f"expected exactly one element to encrypt, found {len(targets)}",
                    code="saml.encrypt_failed",
                )
            target = targets[0]
        else:
            target = root
        encrypted = self._encrypt_element(target, recv_key, _encryption_hints(template))
        return _serialize(encrypted if target is root else root)

    def _encrypt_element(
        self,
        target: Any,
        certificate_source: str | bytes | os.PathLike[str],
        hints: _EncryptionHints,
    ) -> Any:
        """Replace ``target`` by its ``xenc:EncryptedData``; return the new element.

        The plaintext is lxml's serialization of ``target``, which declares every namespace
        the element inherits and keeps its prefixes. libxmlsec's own ``encrypt_xml`` leaves
        inherited declarations out, and moving a copy into place with lxml renames
        prefixes to the ancestors' ones; either would break a signature inside (exclusive
        canonicalization keeps prefixes) or leave the decrypted element unparseable alone.
        """
        plaintext = etree.tostring(target, encoding="UTF-8", with_tail=False)
        certificate_pem = _read_pem(certificate_source, what="recipient certificate")
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
        raise BridgeError("XmlSecBackend does not decrypt", code="saml.unsupported")

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
        pem = _read_pem(cert_file, what="certificate")
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


# -- plugging into pysaml2 -------------------------------------------------------------------


def load_config(settings: Mapping[str, Any], config_class: type[Config] = IdPConfig) -> Config:
    """Load pysaml2 ``settings`` into ``config_class`` without needing the xmlsec1 program.

    Unless the settings choose a ``crypto_backend``, pysaml2's "XMLSecurity" is named so
    that loading metadata does not look for the program; entities built from the result
    still need :func:`install_backend` (or :func:`create_server`) to sign.
    """
    return config_class().load({"crypto_backend": "XMLSecurity", **settings})


def security_context(config: Config, backend: XmlSecBackend | None = None) -> SecurityContext:
    """A pysaml2 ``SecurityContext`` for ``config`` whose crypto backend is ``backend``.

    Mirrors ``saml2.sigver.security_context`` without looking for the xmlsec1 program, and
    also sets up the RSA signer pysaml2 uses for HTTP-Redirect signatures.
    """
    backend = backend or XmlSecBackend()
    key_file = config.key_file
    redirect_signer = None
    if key_file:
        try:
            redirect_signer = RSACrypto(import_rsa_key_from_file(key_file))
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigError(f"cannot load the SAML signing key {key_file}: {exc}") from exc
    keypairs = config.encryption_keypairs or ()
    return SecurityContext(
        backend,
        key_file,
        cert_file=config.cert_file,
        metadata=getattr(config, "metadata", None),
        only_use_keys_in_metadata=config.only_use_keys_in_metadata,
        cert_handler_extra_class=config.cert_handler_extra_class,
        generate_cert_info=config.generate_cert_info,
        tmp_cert_file=config.tmp_cert_file,
        tmp_key_file=config.tmp_key_file,
        validate_certificate=config.validate_certificate,
        enc_key_files=[pair["key_file"] for pair in keypairs if "key_file" in pair],
        encryption_keypairs=config.encryption_keypairs,
        sec_backend=redirect_signer,
        delete_tmpfiles=config.delete_tmpfiles,
    )


def install_backend(entity: Entity, backend: XmlSecBackend | None = None) -> XmlSecBackend:
    """Make the pysaml2 ``entity`` (a Server, a Saml2Client, ...) sign with ``backend``.

    Also settles the entity's default signature and digest algorithms: the configured
    ones if any (rejected with :class:`ConfigError` if outside the allowed lists), else
    the backend's, instead of pysaml2's RSA-SHA1 fallback.
    """
    backend = backend or XmlSecBackend()
    config = entity.config
    entity.signing_algorithm = _configured_algorithm(
        config, "signing_algorithm", SIGNATURE_METHODS, backend.signature_algorithm
    )
    entity.digest_algorithm = _configured_algorithm(
        config, "digest_algorithm", DIGEST_METHODS, backend.digest_algorithm
    )
    entity.sec = security_context(config, backend)
    return backend


def create_server(
    config: Config, backend: XmlSecBackend | None = None, **server_args: Any
) -> Server:
    """A ``saml2.server.Server`` for ``config`` that signs and encrypts with ``backend``.

    Sets ``config.crypto_backend`` to "XMLSecurity" (when it is "xmlsec1") so constructing
    the server does not look for the xmlsec1 program; a config with metadata must have
    been loaded that way already (see :func:`load_config`). ``server_args`` go to
    ``Server``.
    """
    if config.crypto_backend == "xmlsec1":
        config.crypto_backend = "XMLSecurity"
    server = Server(config=config, **server_args)
    install_backend(server, backend)
    return server


def _configured_algorithm(
    config: Config, name: str, allowed: Mapping[str, Transform], default: str
) -> str:
    # pysaml2 reads these per service ("service" -> "idp"), ignoring a top-level setting.
    configured = config.getattr(name) or getattr(config, name, None)
    if configured is None:
        return default
    if configured not in allowed:
        raise ConfigError(f"{name} not allowed: {configured}; use one of {sorted(allowed)}")
    return str(configured)


# -- XML helpers -----------------------------------------------------------------------------


def _statement_bytes(statement: str | bytes | SamlBase) -> bytes:
    if isinstance(statement, bytes):
        return statement
    if isinstance(statement, str):
        return statement.encode("utf-8")
    if isinstance(statement, SamlBase):
        return bytes(statement.to_string())
    raise SamlCryptoError(
        f"cannot sign or encrypt a {type(statement).__name__}", code="saml.xml_invalid"
    )


def _parse(document: bytes) -> Any:
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


def _serialize(element: Any) -> str:
    """``element`` as a UTF-8 document (declaration included, as xmlsec1 writes it)."""
    return str(etree.tostring(element, xml_declaration=True, encoding="UTF-8").decode("utf-8"))


def _is_element(node: object) -> bool:
    return isinstance(node, etree._Element) and isinstance(node.tag, str)


def _clark_name(node_name: str) -> str:
    namespace, _, local = node_name.rpartition(":")
    return f"{{{namespace}}}{local}"


def _node_to_sign(root: Any, node_name: str, node_id: str | None) -> Any:
    """The one element called ``node_name`` with ID ``node_id`` (or the only one so named)."""
    tag = _clark_name(node_name)
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


def _signature_template(node: Any) -> Any:
    templates = node.findall("ds:Signature", _NS)
    if len(templates) > 1:
        raise SamlCryptoError(
            f"{node.get('ID')} already has {len(templates)} signatures", code="saml.sign_failed"
        )
    return templates[0] if templates else None


def _signature_position(node: Any) -> int:
    """Where a new signature goes: after a leading ``Issuer``, as the SAML schemas want."""
    first = next(iter(node), None)
    if (
        first is not None
        and isinstance(first.tag, str)
        and etree.QName(first).localname == "Issuer"
    ):
        return 1
    return 0


def _template_certificate(template: Any) -> x509.Certificate | None:
    texts = [
        "".join(text.split())
        for text in template.xpath(
            "ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=_NS
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


def _read_pem(source: str | bytes | os.PathLike[str], *, what: str) -> bytes:
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


def _load_private_key(source: str | bytes | os.PathLike[str]) -> tuple[bytes, rsa.RSAPrivateKey]:
    pem = _read_pem(source, what="signing key")
    return pem, _parse_private_key(pem)


@functools.lru_cache(maxsize=32)
def _parse_private_key(pem: bytes) -> rsa.RSAPrivateKey:
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


def _encryption_hints(template: str | SamlBase | None) -> _EncryptionHints:
    if isinstance(template, SamlBase):
        template = str(template)
    if not isinstance(template, str) or not template.lstrip().startswith("<"):
        return _EncryptionHints()  # None, or the path of pysaml2's default template
    root = _parse(template.encode("utf-8"))
    key = root.find(".//xenc:EncryptedKey", _NS)
    key_name = root.findtext(".//xenc:EncryptedKey/ds:KeyInfo/ds:KeyName", namespaces=_NS)
    return _EncryptionHints(
        data_id=root.get("Id"),
        key_id=None if key is None else key.get("Id"),
        key_name=(key_name or "").strip() or None,
    )
