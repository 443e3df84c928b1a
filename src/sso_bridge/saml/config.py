"""The service provider's configuration, and the attribute names it reads identities from."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sso_bridge.errors import ConfigError
from sso_bridge.keysize import MIN_RSA_KEY_BITS, rsa_minimum
from sso_bridge.saml.errors import SamlConfigError, SamlError
from sso_bridge.saml.metadata import idp_certificates_from_metadata, idp_endpoints_from_metadata
from sso_bridge.saml.verify import check_key_size
from sso_bridge.saml.xml import DEFAULT_LIMITS, MAX_DOCUMENT_BYTES, XmlLimits

__all__ = [
    "ESIA_ATTRIBUTES",
    "ESIA_ATTRIBUTE_NAMES",
    "IDENTITY_FIELDS",
    "OID_ATTRIBUTE_NAMES",
    "ServiceProviderConfig",
]

IDENTITY_FIELDS: Final = frozenset(
    {
        "subject",
        "verified",
        "last_name",
        "first_name",
        "middle_name",
        "birth_date",
        "snils",
        "email",
        "phone",
    }
)
"""The :class:`FederatedIdentity` fields an attribute can be mapped to."""

ESIA_ATTRIBUTE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "subject": "userId",
        "verified": "trusted",
        "last_name": "lastName",
        "first_name": "firstName",
        "middle_name": "middleName",
        "birth_date": "birthDate",
        "snils": "personSNILS",
        "email": "personEMail",
        "phone": "personMobilePhone",
    }
)
"""The default mapping of identity fields to attribute names: ESIA's."""

ESIA_ATTRIBUTES: Final = tuple(ESIA_ATTRIBUTE_NAMES.values())
"""The ESIA attribute names read into a :class:`FederatedIdentity`."""

OID_ATTRIBUTE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "last_name": "urn:oid:2.5.4.4",
        "first_name": "urn:oid:2.5.4.42",
        "email": "urn:oid:0.9.2342.19200300.100.1.3",
        "phone": "urn:oid:0.9.2342.19200300.100.1.41",
        "subject": "urn:oid:0.9.2342.19200300.100.1.1",
    }
)
"""A mapping for IdPs releasing the standard ``urn:oid`` attribute names (surname,
givenName, mail, mobile, uid)."""


def _certificates(value: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    return tuple(value)


def _attribute_names(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@functools.lru_cache(maxsize=16)
def _rsa_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    # Parsed once: loading validates the RSA key (~40 ms), and every request is signed.
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SamlConfigError(
            f"cannot load the signing key: {exc}", code="saml.bad_config"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SamlConfigError("the signing key must be an RSA key", code="saml.bad_config")
    return key


@attrs.frozen
class ServiceProviderConfig:
    """What the service provider knows about itself and the one IdP it trusts.

    ``idp_certificates`` are the only keys signatures are checked with (see
    :meth:`from_idp_metadata`). ``decryption_key_pem`` is for encrypted assertions.
    ``idp_sso_url`` and ``idp_slo_url`` are the IdP's HTTP-Redirect endpoints;
    ``slo_url`` is this service provider's own single logout endpoint.
    ``signing_key_pem`` (RSA) with ``signing_certificate_pem`` signs outgoing requests;
    ``encryption_certificate_pem`` is published for encrypted assertions.
    ``attribute_names`` maps :data:`IDENTITY_FIELDS` to attribute names (ESIA's by default);
    ``request_lifetime`` is how long an issued request stays answerable; ``skew`` is the
    clock tolerance on every time check (0 to 5 minutes). IdP RSA keys under
    ``min_rsa_key_bits`` are refused (``saml.weak_key``). ``max_response_bytes`` and
    ``xml_limits`` bound the size and the shape of every message read (see
    :class:`~sso_bridge.saml.xml.XmlLimits`).
    """

    entity_id: str
    acs_url: str
    idp_entity_id: str
    idp_certificates: tuple[x509.Certificate, ...] = attrs.field(converter=_certificates)
    skew: timedelta = timedelta(seconds=60)
    want_signed_response: bool = False
    allow_idp_initiated: bool = False
    decryption_key_pem: bytes | None = attrs.field(default=None, repr=False)
    max_response_bytes: int = MAX_DOCUMENT_BYTES
    idp_sso_url: str | None = None
    idp_slo_url: str | None = None
    slo_url: str | None = None
    signing_key_pem: bytes | None = attrs.field(default=None, repr=False)
    signing_certificate_pem: bytes | None = None
    encryption_certificate_pem: bytes | None = None
    attribute_names: Mapping[str, str] = attrs.field(
        default=ESIA_ATTRIBUTE_NAMES, converter=_attribute_names, hash=False
    )
    request_lifetime: timedelta = timedelta(minutes=10)
    min_rsa_key_bits: int = MIN_RSA_KEY_BITS
    xml_limits: XmlLimits = DEFAULT_LIMITS

    def __attrs_post_init__(self) -> None:
        if not self.idp_certificates:
            raise SamlConfigError("at least one IdP certificate is needed", code="saml.bad_config")
        unknown = set(self.attribute_names) - IDENTITY_FIELDS
        if unknown:
            raise SamlConfigError(
                f"attribute_names maps unknown fields: {sorted(unknown)}", code="saml.bad_config"
            )
        if self.signing_key_pem is not None:
            if self.signing_certificate_pem is None:
                raise SamlConfigError("a signing key needs its certificate", code="saml.bad_config")
            key = _rsa_private_key(self.signing_key_pem)
            certificate = _pem_certificate(self.signing_certificate_pem, "signing")
            if certificate.public_key() != key.public_key():
                raise SamlConfigError(
                    "the signing certificate is not for the signing key", code="saml.bad_config"
                )
        if self.encryption_certificate_pem is not None:
            _pem_certificate(self.encryption_certificate_pem, "encryption")
        if self.request_lifetime <= timedelta(0):
            raise SamlConfigError("request lifetime must be positive", code="saml.bad_config")
        if self.decryption_key_pem is not None:
            _decryption_key(self.decryption_key_pem)
        if self.skew < timedelta(0) or self.skew > timedelta(minutes=5):
            raise SamlConfigError("skew must be between 0 and 5 minutes", code="saml.bad_config")
        try:
            rsa_minimum(self.min_rsa_key_bits)
        except ConfigError as exc:
            raise SamlConfigError(exc.message, code="saml.bad_config") from None
        for certificate in self.idp_certificates:
            try:
                check_key_size(certificate, self.min_rsa_key_bits)
            except SamlError as exc:
                raise SamlConfigError(exc.message, code=exc.code) from None

    @classmethod
    def from_idp_metadata(
        cls,
        metadata_xml: str | bytes,
        *,
        entity_id: str,
        acs_url: str,
        idp_entity_id: str,
        **options: Any,
    ) -> ServiceProviderConfig:
        """A configuration whose IdP certificates and HTTP-Redirect SSO and SLO URLs come
        from the IdP's metadata (``options`` override the URLs)."""
        certificates = idp_certificates_from_metadata(metadata_xml, idp_entity_id)
        sso_url, slo_url = idp_endpoints_from_metadata(metadata_xml, idp_entity_id)
        options.setdefault("idp_sso_url", sso_url)
        options.setdefault("idp_slo_url", slo_url)
        return cls(entity_id, acs_url, idp_entity_id, certificates, **options)

    def signing_key(self) -> rsa.RSAPrivateKey | None:
        """The key that signs outgoing requests, if one is configured."""
        return None if self.signing_key_pem is None else _rsa_private_key(self.signing_key_pem)

    def decryption_key(self) -> rsa.RSAPrivateKey | None:
        """The RSA key that decrypts assertions, if one is configured."""
        pem = self.decryption_key_pem
        return None if pem is None else _decryption_key(pem)


def _pem_certificate(pem: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise SamlConfigError(
            f"cannot load the {what} certificate: {exc}", code="saml.bad_config"
        ) from None


@functools.lru_cache(maxsize=16)
def _decryption_key(pem: bytes) -> rsa.RSAPrivateKey:
    # Parsed once: loading validates the RSA key.
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SamlConfigError(
            f"cannot load the decryption key: {exc}", code="saml.bad_config"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SamlConfigError("the decryption key must be an RSA key", code="saml.bad_config")
    return key
