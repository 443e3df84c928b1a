"""Decrypting an EncryptedAssertion without dereferencing anything.

The two base64 values (the EncryptedKey's RSA-OAEP ciphertext, the EncryptedData's AES-GCM
ciphertext) are decrypted with ``cryptography``; libxmlsec never sees the encrypted part.
Before anything is decrypted, whatever names another resource is refused
(``saml.external_reference``): a ``CipherReference``, a ``RetrievalMethod``, any ``URI``
but a ``ReferenceList``'s same-document ``#id``. EncryptedData's ``KeyInfo`` may hold only
inline EncryptedKeys, an EncryptedKey's ``KeyInfo`` only hints (``X509Data``, ``KeyName``,
``KeyValue``, never used), and at most :data:`MAX_ENCRYPTED_KEYS` keys are read.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import Any, Final

import xmlsec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sso_bridge.saml.errors import refuse
from sso_bridge.saml.xml import DS_NS, NS, XENC_NS, element_text, is_ncname

__all__ = ["MAX_ENCRYPTED_KEYS", "decrypt_assertion"]

_C = xmlsec.constants
# AES-CBC is left out on purpose: it gives an attacker a padding oracle on the ciphertext.
_DATA_ENCRYPTION: Final = {
    _C.TransformAes128Gcm.href: 16,
    _C.TransformAes192Gcm.href: 24,
    _C.TransformAes256Gcm.href: 32,
}
_KEY_TRANSPORT: Final = _C.TransformRsaOaep.href  # RSA-OAEP, MGF1 with SHA-1
_OAEP_DIGESTS: Final[Mapping[str, type[hashes.HashAlgorithm]]] = {
    _C.TransformSha1.href: hashes.SHA1,
    _C.TransformSha256.href: hashes.SHA256,
    _C.TransformSha384.href: hashes.SHA384,
    _C.TransformSha512.href: hashes.SHA512,
}
_GCM_IV_BYTES: Final = 12
_GCM_TAG_BYTES: Final = 16
# What an EncryptedKey's KeyInfo may say about the key it was made for (never used).
_KEY_HINTS: Final = frozenset(
    {f"{{{DS_NS}}}X509Data", f"{{{DS_NS}}}KeyName", f"{{{DS_NS}}}KeyValue"}
)

MAX_ENCRYPTED_KEYS: Final = 4
"""The most EncryptedKey elements an encrypted assertion may carry: each costs an RSA
private-key operation (about 1 ms at 2048 bits, 6 ms at 4096). An IdP sends one."""


def decrypt_assertion(wrapper: Any, private_key: rsa.RSAPrivateKey) -> bytes:
    """The plaintext of the EncryptedAssertion ``wrapper`` (an element of a tree parsed by
    :func:`~sso_bridge.saml.xml.parse_xml`): RSA-OAEP key transport, AES-GCM content.

    ``saml.external_reference``, ``saml.malformed_encryption``, ``saml.bad_algorithm``,
    ``saml.too_complex`` (more than :data:`MAX_ENCRYPTED_KEYS`) or ``saml.decrypt_failed``.
    """
    _refuse_references(wrapper)
    data = wrapper.findall("xenc:EncryptedData", NS)
    if len(data) != 1:
        raise refuse("saml.malformed_encryption", "expected one EncryptedData")
    key_bytes = _DATA_ENCRYPTION.get(_encryption_method(data[0]))
    if key_bytes is None:
        raise refuse("saml.bad_algorithm", "content encryption algorithm not allowed")
    for encrypted_key in _encrypted_keys(wrapper, data[0]):
        session_key = _unwrap(encrypted_key, private_key)
        if session_key is not None and len(session_key) == key_bytes:
            break
    else:
        raise refuse("saml.decrypt_failed", "the assertion cannot be decrypted")
    ciphertext = _cipher_value(data[0])
    if len(ciphertext) < _GCM_IV_BYTES + _GCM_TAG_BYTES:
        raise refuse("saml.decrypt_failed", "the assertion cannot be decrypted")
    try:
        # XML Encryption 1.1, AES-GCM: the IV, then the ciphertext with the tag at its end.
        return AESGCM(session_key).decrypt(
            ciphertext[:_GCM_IV_BYTES], ciphertext[_GCM_IV_BYTES:], None
        )
    except InvalidTag:
        raise refuse("saml.decrypt_failed", "the assertion cannot be decrypted") from None


_CIPHER_REFERENCE: Final = f"{{{XENC_NS}}}CipherReference"
_RETRIEVAL_METHOD: Final = f"{{{DS_NS}}}RetrievalMethod"
_LOCAL_REFERENCES: Final = frozenset({f"{{{XENC_NS}}}DataReference", f"{{{XENC_NS}}}KeyReference"})


def _refuse_references(wrapper: Any) -> None:
    """Refuse (``saml.external_reference``) anything in the encrypted part that names
    another resource: ``CipherReference``, ``RetrievalMethod``, any ``URI`` attribute but a
    ``ReferenceList``'s same-document ``#id`` (which is never followed either)."""
    for node in wrapper.iter(_CIPHER_REFERENCE, _RETRIEVAL_METHOD):
        name = "CipherReference" if node.tag == _CIPHER_REFERENCE else "RetrievalMethod"
        raise refuse("saml.external_reference", f"{name} is not accepted in an assertion")
    for uri in wrapper.xpath(".//@URI"):
        local = uri.startswith("#") and is_ncname(uri[1:])
        if not local or uri.getparent().tag not in _LOCAL_REFERENCES:
            raise refuse("saml.external_reference", "the encrypted assertion names a URI")


def _encrypted_keys(wrapper: Any, data: Any) -> list[Any]:
    """The EncryptedKeys: inline in EncryptedData's KeyInfo, or beside EncryptedData."""
    key_infos = data.findall("ds:KeyInfo", NS)
    if len(key_infos) > 1:
        raise refuse("saml.malformed_encryption", "EncryptedData has more than one KeyInfo")
    inline = list(key_infos[0]) if key_infos else []
    if any(node.tag != f"{{{XENC_NS}}}EncryptedKey" for node in inline):
        raise refuse("saml.malformed_encryption", "EncryptedData's KeyInfo holds more than keys")
    keys: list[Any] = [*inline, *wrapper.findall("xenc:EncryptedKey", NS)]
    if not keys:
        raise refuse("saml.malformed_encryption", "the assertion carries no EncryptedKey")
    if len(keys) > MAX_ENCRYPTED_KEYS:
        raise refuse(
            "saml.too_complex", f"the assertion has more than {MAX_ENCRYPTED_KEYS} EncryptedKeys"
        )
    for key in keys:
        if _encryption_method(key) != _KEY_TRANSPORT:
            raise refuse("saml.bad_algorithm", "key transport algorithm not allowed")
        for key_info in key.findall("ds:KeyInfo", NS):
            if any(hint.tag not in _KEY_HINTS for hint in key_info):
                raise refuse("saml.malformed_encryption", "unexpected KeyInfo in EncryptedKey")
    return keys


def _unwrap(encrypted_key: Any, private_key: rsa.RSAPrivateKey) -> bytes | None:
    """The session key in ``encrypted_key``, or None if ``private_key`` does not open it."""
    method = encrypted_key.find("xenc:EncryptionMethod", NS)
    digest: type[hashes.HashAlgorithm] = hashes.SHA1
    label = None
    for parameter in method:
        if parameter.tag == f"{{{DS_NS}}}DigestMethod" and len(parameter) == 0:
            found = _OAEP_DIGESTS.get(parameter.get("Algorithm", ""))
            if found is None:
                raise refuse("saml.bad_algorithm", "OAEP digest algorithm not allowed")
            digest = found
        elif parameter.tag == f"{{{XENC_NS}}}OAEPparams" and len(parameter) == 0:
            label = _base64(element_text(parameter)) or None
        else:
            raise refuse("saml.malformed_encryption", "unexpected EncryptionMethod parameter")
    ciphertext = _cipher_value(encrypted_key)
    if len(ciphertext) != (private_key.key_size + 7) // 8:
        return None  # not made for this key: no RSA operation spent on it
    # rsa-oaep-mgf1p fixes MGF1 to SHA-1; it is a mask function here, not a signature hash.
    mask = padding.MGF1(hashes.SHA1())  # noqa: S303
    try:
        return private_key.decrypt(ciphertext, padding.OAEP(mask, digest(), label))
    except ValueError:
        return None


def _cipher_value(node: Any) -> bytes:
    """The bytes of ``node``'s ``CipherData/CipherValue`` (base64), its only content."""
    cipher_data = node.findall("xenc:CipherData", NS)
    children = list(cipher_data[0]) if len(cipher_data) == 1 else []
    if len(children) != 1 or children[0].tag != f"{{{XENC_NS}}}CipherValue" or len(children[0]):
        raise refuse("saml.malformed_encryption", "expected one CipherData with a CipherValue")
    return _base64(element_text(children[0]))


def _base64(text: str) -> bytes:
    try:
        return binascii.a2b_base64("".join(text.split()).encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise refuse("saml.malformed_encryption", "a value is not base64") from None


def _encryption_method(node: Any) -> str:
    methods = node.findall("xenc:EncryptionMethod", NS)
    return str(methods[0].get("Algorithm", "")) if len(methods) == 1 else ""
