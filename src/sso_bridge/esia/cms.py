"""ESIA v1 client authentication: the signed ``client_secret`` and its timestamp.

ESIA v1 (``/aas/oauth2/ac``, ``/aas/oauth2/te``) authenticates a client by a detached CMS
(PKCS#7, RFC 5652) SignedData over the UTF-8 bytes of ``scope + timestamp + client_id +
state``, DER encoded and sent base64url without padding as ``client_secret``; the IdP
checks it against the X.509 certificate the client registered. Real ESIA uses GOST
R 34.10-2012 with Streebog digests; this module uses RSA (PKCS#1 v1.5) with SHA-256 and
ECDSA on P-256 with SHA-256 instead, and accepts nothing else.

Verification policy: the signature must be detached (a SignedData that embeds content is
``esia.secret_not_detached`` even when the content equals the message, so that a secret
has one form); the signer is always the certificate given by the caller (certificates
embedded in the SignedData are ignored; chain, validity and revocation are the caller's
decision); unsigned attributes are ignored. RSA keys and certificates must have at least
2048 bits (:mod:`sso_bridge.keysize`); smaller ones are ``esia.weak_key``, when signing and
when verifying.

Every failure is a :class:`~sso_bridge.errors.BridgeError` with one of these codes:
``esia.weak_key``, ``esia.secret_malformed``, ``esia.secret_not_detached``,
``esia.secret_wrong_signer``, ``esia.secret_unsupported_algorithm``, ``esia.secret_bad_digest``,
``esia.secret_bad_signature``, ``esia.timestamp_invalid``, ``esia.timestamp_stale``; and, when
signing, ``esia.unsupported_key`` and ``esia.key_mismatch`` (as
:class:`~sso_bridge.errors.ConfigError`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Any, Final

# asn1crypto has no type information; mypy reports that once, at the first import.
from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from asn1crypto import core as asn1_core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from sso_bridge import base64url
from sso_bridge.errors import BridgeError
from sso_bridge.esia.cms_timestamp import check_timestamp, esia_timestamp, parse_esia_timestamp
from sso_bridge.esia.errors import (
    EsiaClientAuthError,
    EsiaConfigError,
    EsiaError,
)
from sso_bridge.keysize import MAX_RSA_KEY_BITS, MIN_RSA_KEY_BITS, rsa_key_acceptable
from sso_bridge.keytypes import PrivateKey

__all__ = [
    "MAX_SECRET_LENGTH",
    "check_timestamp",
    "client_secret_message",
    "esia_timestamp",
    "parse_esia_timestamp",
    "sign_client_secret",
    "verify_client_secret",
]


MAX_SECRET_LENGTH: Final = 64 * 1024
"""Longest ``client_secret`` (in characters) that is parsed at all."""

_ID_DATA: Final = "1.2.840.113549.1.7.1"
_ID_SIGNED_DATA: Final = "1.2.840.113549.1.7.2"
_ID_CONTENT_TYPE: Final = "1.2.840.113549.1.9.3"
_ID_MESSAGE_DIGEST: Final = "1.2.840.113549.1.9.4"
_ID_SHA256: Final = "2.16.840.1.101.3.4.2.1"
_RSA_ENCRYPTION: Final = "1.2.840.113549.1.1.1"
_SHA256_WITH_RSA: Final = "1.2.840.113549.1.1.11"
_ECDSA_WITH_SHA256: Final = "1.2.840.10045.4.3.2"
_DER_NULL: Final = b"\x05\x00"

_BASE64URL_RE: Final = re.compile(r"[A-Za-z0-9_-]+={0,2}")


# --- signing ------------------------------------------------------------------------------


def client_secret_message(scope: str, timestamp: str, client_id: str, state: str) -> bytes:
    """The bytes ESIA signs: ``scope + timestamp + client_id + state`` in UTF-8."""
    return (scope + timestamp + client_id + state).encode("utf-8")


def sign_client_secret(
    message: bytes, certificate: x509.Certificate, private_key: PrivateKey
) -> str:
    """Sign ``message`` as a detached CMS SignedData; return it DER, base64url, unpadded.

    RSA keys sign with PKCS#1 v1.5, EC keys must be on P-256; the digest is SHA-256. The
    signer certificate is embedded in the SignedData (verification here does not use it).
    """
    rsa_padding: padding.PKCS1v15 | None = None
    if isinstance(private_key, rsa.RSAPrivateKey):
        if not rsa_key_acceptable(private_key):
            raise EsiaConfigError(
                f"the RSA key has {private_key.key_size} bits; at least {MIN_RSA_KEY_BITS} "
                "are required",
                code="esia.weak_key",
            )
        rsa_padding = padding.PKCS1v15()
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise EsiaConfigError(
                f"EC keys must be on P-256, not {private_key.curve.name}",
                code="esia.unsupported_key",
            )
    else:
        raise EsiaConfigError(
            f"unsupported private key type {type(private_key).__name__}; use RSA or EC P-256",
            code="esia.unsupported_key",
        )
    # The builder would happily sign with a key that does not belong to the certificate.
    if certificate.public_key() != private_key.public_key():
        raise EsiaConfigError(
            "the private key does not belong to the certificate", code="esia.key_mismatch"
        )
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(message)
        .add_signer(certificate, private_key, hashes.SHA256(), rsa_padding=rsa_padding)
        .sign(
            serialization.Encoding.DER,
            # Binary: sign the bytes as given, without MIME canonical line endings.
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )
    return base64url.encode(der)


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Algorithm:
    oid: str
    parameters: bytes | None  # DER of the parameters, None when absent

    @property
    def null_or_absent_parameters(self) -> bool:
        return self.parameters is None or self.parameters == _DER_NULL


@dataclass(frozen=True, slots=True)
class _Signer:
    """What verification needs from a SignedData, as plain values."""

    issuer: bytes | None  # DER Name of issuerAndSerialNumber
    serial_number: int | None
    key_identifier: bytes | None  # subjectKeyIdentifier
    listed_digests: tuple[_Algorithm, ...]  # SignedData.digestAlgorithms
    digest: _Algorithm
    signature_algorithm: _Algorithm
    signed_attrs: bytes | None  # DER, re-tagged as SET OF
    content_types: tuple[tuple[str, ...], ...]  # values of each content-type attribute
    message_digests: tuple[tuple[bytes, ...], ...]  # values of each message-digest attribute
    signature: bytes


def verify_client_secret(secret: str, message: bytes, certificate: x509.Certificate) -> None:
    """Check that ``secret`` is a detached CMS signature over ``message`` by ``certificate``.

    ``secret`` is base64url DER, with or without padding. Returns nothing on success and
    raises :class:`~sso_bridge.errors.BridgeError` otherwise (codes in the module docstring).
    """
    if not rsa_key_acceptable(certificate):
        raise EsiaError(
            f"the registered certificate's RSA key is under {MIN_RSA_KEY_BITS} bits (or over "
            f"{MAX_RSA_KEY_BITS}); it is not used",
            code="esia.weak_key",
        )
    signer = _read_signer(_decode_base64url(secret))
    _check_signer_identifier(signer, certificate)
    public_key = certificate.public_key()
    _check_algorithms(signer, public_key)
    if signer.signed_attrs is None:
        signed_bytes = message
    else:
        _check_signed_attributes(signer, message)
        signed_bytes = signer.signed_attrs
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signer.signature, signed_bytes, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signer.signature, signed_bytes, ec.ECDSA(hashes.SHA256()))
        else:  # pragma: no cover - _check_algorithms refused other key types
            raise _unsupported(f"certificate key type {type(public_key).__name__}")
    except InvalidSignature:
        raise EsiaClientAuthError(
            "the client_secret signature does not verify", code="esia.secret_bad_signature"
        ) from None


def _malformed(reason: str) -> BridgeError:
    return EsiaClientAuthError(
        f"client_secret is malformed: {reason}", code="esia.secret_malformed"
    )


def _decode_base64url(secret: str) -> bytes:
    if len(secret) > MAX_SECRET_LENGTH:
        raise _malformed(f"longer than {MAX_SECRET_LENGTH} characters")
    if _BASE64URL_RE.fullmatch(secret) is None:
        raise _malformed("not base64url")
    body = secret.rstrip("=")
    if (body != secret and len(secret) % 4) or len(body) % 4 == 1:
        raise _malformed("bad base64url length or padding")
    raw = base64url.decode(body)
    # Nonzero unused bits in the last character would give a second spelling of one secret.
    if base64url.encode(raw) != body:
        raise _malformed("non-canonical base64url")
    return raw


def _read_signer(der: bytes) -> _Signer:
    try:
        return _read_signer_unguarded(der)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        # asn1crypto parses lazily and reports bad input with assorted exception types.
        raise _malformed(f"not a DER CMS SignedData ({type(exc).__name__})") from None


def _read_signer_unguarded(der: bytes) -> _Signer:
    info = asn1_cms.ContentInfo.load(der, strict=True)
    if info["content_type"].dotted != _ID_SIGNED_DATA:
        raise _malformed("the content type is not signedData")
    signed_data = info["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].dotted != _ID_DATA:
        raise _malformed("the encapsulated content type is not id-data")
    if not isinstance(encap["content"], asn1_core.Void):
        raise EsiaError(
            "client_secret embeds the signed content; a detached signature is required",
            code="esia.secret_not_detached",
        )
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise _malformed(f"{len(signer_infos)} signers instead of exactly one")
    signer_info = signer_infos[0]

    sid = signer_info["sid"]
    issuer = serial_number = key_identifier = None
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"].dump()
        serial_number = int(sid.chosen["serial_number"].native)
    else:
        key_identifier = bytes(sid.chosen.native)

    signed_attrs, content_types, message_digests = _signed_attributes(signer_info["signed_attrs"])
    return _Signer(
        issuer=issuer,
        serial_number=serial_number,
        key_identifier=key_identifier,
        listed_digests=tuple(_algorithm(alg) for alg in signed_data["digest_algorithms"]),
        digest=_algorithm(signer_info["digest_algorithm"]),
        signature_algorithm=_algorithm(signer_info["signature_algorithm"]),
        signed_attrs=signed_attrs,
        content_types=content_types,
        message_digests=message_digests,
        signature=bytes(signer_info["signature"].native),
    )


def _signed_attributes(
    attrs: Any,
) -> tuple[bytes | None, tuple[tuple[str, ...], ...], tuple[tuple[bytes, ...], ...]]:
    """The signed attributes as the signature covers them, and the values of their
    content-type and message-digest attributes (none of either without attributes)."""
    signed_attrs = None
    content_types: list[tuple[str, ...]] = []
    message_digests: list[tuple[bytes, ...]] = []
    if not isinstance(attrs, asn1_core.Void):
        # RFC 5652 5.4: the signature covers the attributes with the EXPLICIT SET OF tag,
        # not the [0] IMPLICIT tag they are sent with; untag() keeps the received contents.
        signed_attrs = bytes(attrs.untag().dump())
        for attr in attrs:
            oid = attr["type"].dotted
            if oid == _ID_CONTENT_TYPE:
                content_types.append(tuple(str(value.dotted) for value in attr["values"]))
            elif oid == _ID_MESSAGE_DIGEST:
                message_digests.append(tuple(bytes(value.native) for value in attr["values"]))
    return signed_attrs, tuple(content_types), tuple(message_digests)


def _algorithm(value: Any) -> _Algorithm:
    parameters = bytes(value["parameters"].dump())
    return _Algorithm(oid=str(value["algorithm"].dotted), parameters=parameters or None)


def _check_signer_identifier(signer: _Signer, certificate: x509.Certificate) -> None:
    if signer.issuer is not None:
        matches = signer.serial_number == certificate.serial_number and _same_name(
            signer.issuer, certificate.issuer.public_bytes()
        )
    else:
        expected = _subject_key_identifier(certificate)
        matches = expected is not None and signer.key_identifier == expected
    if not matches:
        raise EsiaError(
            "client_secret was not signed with the registered certificate",
            code="esia.secret_wrong_signer",
        )


def _same_name(received: bytes, expected: bytes) -> bool:
    if received == expected:
        return True
    try:
        # Name comparison as in RFC 5280 7.1 (case and white space in strings).
        return bool(asn1_x509.Name.load(received) == asn1_x509.Name.load(expected))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False


def _subject_key_identifier(certificate: x509.Certificate) -> bytes | None:
    try:
        ext = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ext.value.digest


def _unsupported(reason: str) -> BridgeError:
    return EsiaError(
        f"client_secret uses an unsupported algorithm: {reason}",
        code="esia.secret_unsupported_algorithm",
    )


def _check_algorithms(signer: _Signer, public_key: object) -> None:
    for digest in (signer.digest, *signer.listed_digests):
        if digest.oid != _ID_SHA256 or not digest.null_or_absent_parameters:
            raise _unsupported(f"digest {digest.oid} (only SHA-256 is accepted)")
    sig = signer.signature_algorithm
    if isinstance(public_key, rsa.RSAPublicKey):
        # rsaEncryption is what OpenSSL and cryptography write; both mean PKCS#1 v1.5 here.
        if sig.oid not in (_RSA_ENCRYPTION, _SHA256_WITH_RSA) or not sig.null_or_absent_parameters:
            raise _unsupported(f"signature {sig.oid} with an RSA certificate")
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ec.SECP256R1):
            raise _unsupported(f"certificate curve {public_key.curve.name} (only P-256)")
        if sig.oid != _ECDSA_WITH_SHA256 or sig.parameters is not None:
            raise _unsupported(f"signature {sig.oid} with an EC certificate")
    else:
        raise _unsupported(f"certificate key type {type(public_key).__name__}")


def _check_signed_attributes(signer: _Signer, message: bytes) -> None:
    # RFC 5652 11.1, 11.2: each must occur once, with one value.
    if len(signer.content_types) != 1 or len(signer.content_types[0]) != 1:
        raise _malformed("signed attributes need exactly one content-type value")
    if signer.content_types[0][0] != _ID_DATA:
        raise _malformed("the content-type attribute is not id-data")
    if len(signer.message_digests) != 1 or len(signer.message_digests[0]) != 1:
        raise _malformed("signed attributes need exactly one message-digest value")
    if not hmac.compare_digest(signer.message_digests[0][0], hashlib.sha256(message).digest()):
        raise EsiaError(
            "the message-digest attribute does not match the message",
            code="esia.secret_bad_digest",
        )
