"""The SAML 2.0 service provider: checking a login Response from the IdP (HTTP-POST).

:func:`process_response` turns the ``SAMLResponse`` form field into a
:class:`~sso_bridge.model.FederatedIdentity`, or refuses it with a
:class:`~sso_bridge.saml.verify.SamlVerificationError` whose ``code`` says why. The
assertion must be signed by a key of the configured IdP metadata, must answer a request
this service provider sent (unless IdP-initiated login is enabled), and is accepted once.
Every value is read from the verified assertion element only.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import heapq
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Protocol

import attrs
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sso_bridge.clock import Clock
from sso_bridge.errors import ConfigError
from sso_bridge.model import FederatedIdentity
from sso_bridge.saml.verify import (
    DS_NS,
    MAX_DOCUMENT_BYTES,
    SamlVerificationError,
    element_text,
    parse_xml,
    verify_enveloped,
)

__all__ = [
    "ESIA_ATTRIBUTES",
    "ESIA_ATTRIBUTE_NAMES",
    "IDENTITY_FIELDS",
    "OID_ATTRIBUTE_NAMES",
    "InMemoryReplayCache",
    "InMemoryRequestStore",
    "ReplayCache",
    "RequestStore",
    "ServiceProviderConfig",
    "identity_from_attributes",
    "idp_certificates_from_metadata",
    "idp_endpoints_from_metadata",
    "process_response",
]

SAML_NS: Final = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP_NS: Final = "urn:oasis:names:tc:SAML:2.0:protocol"
MD_NS: Final = "urn:oasis:names:tc:SAML:2.0:metadata"
STATUS_SUCCESS: Final = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER: Final = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
BINDING_REDIRECT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
XENC_NS: Final = "http://www.w3.org/2001/04/xmlenc#"
_NS: Final = {"saml": SAML_NS, "samlp": SAMLP_NS, "md": MD_NS, "ds": DS_NS, "xenc": XENC_NS}
_C = xmlsec.constants
# AES-CBC is left out on purpose: it gives an attacker a padding oracle on the ciphertext.
_DATA_ENCRYPTION: Final = {
    _C.TransformAes128Gcm.href: 16,
    _C.TransformAes192Gcm.href: 24,
    _C.TransformAes256Gcm.href: 32,
}
_KEY_TRANSPORT: Final = frozenset({_C.TransformRsaOaep.href})

ESIA_ATTRIBUTES: Final = (
    "userId",
    "lastName",
    "firstName",
    "middleName",
    "birthDate",
    "personSNILS",
    "trusted",
    "personEMail",
    "personMobilePhone",
)
"""The ESIA attribute names read into a :class:`FederatedIdentity`."""

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


def _refuse(code: str, message: str) -> SamlVerificationError:
    return SamlVerificationError(message, code=code)


# -- configuration ----------------------------------------------------------------------------


def _metadata_entities(metadata_xml: str | bytes, entity_id: str) -> list[Any]:
    """The EntityDescriptors for ``entity_id`` in safely parsed metadata."""
    data = metadata_xml.encode("utf-8") if isinstance(metadata_xml, str) else metadata_xml
    try:
        root = parse_xml(data, max_bytes=max(len(data), 1))
    except SamlVerificationError as exc:
        raise ConfigError(
            f"IdP metadata refused: {exc.message}", code="saml.bad_metadata"
        ) from None
    entities = [root] if root.tag == f"{{{MD_NS}}}EntityDescriptor" else []
    entities += root.findall(".//md:EntityDescriptor", _NS)
    return [entity for entity in entities if entity.get("entityID") == entity_id]


def idp_certificates_from_metadata(
    metadata_xml: str | bytes, idp_entity_id: str
) -> tuple[x509.Certificate, ...]:
    """The signing certificates of ``idp_entity_id``'s IDPSSODescriptor in its metadata.

    KeyDescriptors without ``use`` count as signing keys. Raises ``ConfigError`` when the
    metadata does not parse or names no signing certificate for the entity.
    """
    entities = _metadata_entities(metadata_xml, idp_entity_id)
    bodies = [
        text
        for entity in entities
        for descriptor in entity.findall("md:IDPSSODescriptor/md:KeyDescriptor", _NS)
        if descriptor.get("use") in (None, "signing")
        for text in descriptor.xpath(
            "ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=_NS
        )
    ]
    certificates = []
    for body in bodies:
        try:
            der = base64.b64decode("".join(str(body).split()), validate=True)
            certificates.append(x509.load_der_x509_certificate(der))
        except (ValueError, binascii.Error) as exc:
            raise ConfigError(
                f"bad certificate in the IdP metadata: {exc}", code="saml.bad_metadata"
            ) from None
    if not certificates:
        raise ConfigError(
            f"the metadata has no signing certificate for {idp_entity_id}",
            code="saml.bad_metadata",
        )
    return tuple(certificates)


def idp_endpoints_from_metadata(
    metadata_xml: str | bytes, idp_entity_id: str
) -> tuple[str | None, str | None]:
    """The HTTP-Redirect SingleSignOnService and SingleLogoutService URLs of
    ``idp_entity_id`` in its metadata (None where it has none)."""
    entities = _metadata_entities(metadata_xml, idp_entity_id)

    def location(service: str) -> str | None:
        for entity in entities:
            for endpoint in entity.findall(f"md:IDPSSODescriptor/md:{service}", _NS):
                if endpoint.get("Binding") == BINDING_REDIRECT and endpoint.get("Location"):
                    return str(endpoint.get("Location"))
        return None

    return location("SingleSignOnService"), location("SingleLogoutService")


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
        raise ConfigError(f"cannot load the signing key: {exc}", code="saml.bad_config") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError("the signing key must be an RSA key", code="saml.bad_config")
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
    ``request_lifetime`` is how long an issued request stays answerable.
    """

    entity_id: str
    acs_url: str
    idp_entity_id: str
    idp_certificates: tuple[x509.Certificate, ...] = attrs.field(converter=_certificates)
    clock_skew: timedelta = timedelta(seconds=60)
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

    def __attrs_post_init__(self) -> None:
        if not self.idp_certificates:
            raise ConfigError("at least one IdP certificate is needed", code="saml.bad_config")
        unknown = set(self.attribute_names) - IDENTITY_FIELDS
        if unknown:
            raise ConfigError(
                f"attribute_names maps unknown fields: {sorted(unknown)}", code="saml.bad_config"
            )
        if self.signing_key_pem is not None:
            if self.signing_certificate_pem is None:
                raise ConfigError("a signing key needs its certificate", code="saml.bad_config")
            key = _rsa_private_key(self.signing_key_pem)
            certificate = _pem_certificate(self.signing_certificate_pem, "signing")
            if certificate.public_key() != key.public_key():
                raise ConfigError(
                    "the signing certificate is not for the signing key", code="saml.bad_config"
                )
        if self.encryption_certificate_pem is not None:
            _pem_certificate(self.encryption_certificate_pem, "encryption")
        if self.request_lifetime <= timedelta(0):
            raise ConfigError("request lifetime must be positive", code="saml.bad_config")
        if self.decryption_key_pem is not None:
            _private_key(self.decryption_key_pem)
        if self.clock_skew < timedelta(0) or self.clock_skew > timedelta(minutes=5):
            raise ConfigError("clock skew must be between 0 and 5 minutes", code="saml.bad_config")

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


def _pem_certificate(pem: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise ConfigError(
            f"cannot load the {what} certificate: {exc}", code="saml.bad_config"
        ) from None


# -- request IDs and replay -------------------------------------------------------------------


class RequestStore(Protocol):
    """Server-side record of the AuthnRequest IDs this service provider issued."""

    def add(self, request_id: str, expires_at: datetime) -> None:
        """Remember an issued request until ``expires_at``."""
        ...

    def consume(self, request_id: str, now: datetime) -> bool:
        """Forget the request; True only if it was known and not expired."""
        ...


class _ExpiringIds:
    """IDs with expiry times; expired ones are dropped oldest first (a heap), not by scan."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def purge(self, now: datetime) -> None:
        while self._heap and self._heap[0][0] <= now:
            until, key = heapq.heappop(self._heap)
            if self._until.get(key) == until:
                del self._until[key]

    def put(self, key: str, until: datetime) -> None:
        self._until[key] = until
        heapq.heappush(self._heap, (until, key))

    def pop(self, key: str) -> datetime | None:
        return self._until.pop(key, None)  # its heap entry goes when it expires

    def __contains__(self, key: str) -> bool:
        return key in self._until

    def __len__(self) -> int:
        return len(self._until)


class InMemoryRequestStore:
    """A thread-safe :class:`RequestStore` for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = _ExpiringIds()

    def add(self, request_id: str, expires_at: datetime) -> None:
        with self._lock:
            self._requests.put(request_id, expires_at)

    def consume(self, request_id: str, now: datetime) -> bool:
        with self._lock:
            expires_at = self._requests.pop(request_id)
            self._requests.purge(now)
        return expires_at is not None and now < expires_at


class ReplayCache(Protocol):
    """Assertion IDs already accepted, kept until the assertion's NotOnOrAfter."""

    def add_if_new(self, assertion_id: str, keep_until: datetime, now: datetime) -> bool:
        """Record the ID; False if it was already recorded (a replay)."""
        ...


class InMemoryReplayCache:
    """A thread-safe :class:`ReplayCache` for one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = _ExpiringIds()

    def add_if_new(self, assertion_id: str, keep_until: datetime, now: datetime) -> bool:
        with self._lock:
            self._seen.purge(now)
            if assertion_id in self._seen:
                return False
            self._seen.put(assertion_id, keep_until)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


# -- the response -----------------------------------------------------------------------------


def process_response(
    saml_response: str | bytes,
    config: ServiceProviderConfig,
    *,
    request_store: RequestStore,
    replay_cache: ReplayCache,
    clock: Clock,
) -> FederatedIdentity:
    """Check a base64 ``SAMLResponse`` and return the identity its assertion asserts.

    Raises :class:`SamlVerificationError` with a stable ``code``; nothing is consumed
    or recorded unless the signatures verify.
    """
    now = clock.now()
    limit = config.max_response_bytes
    root = parse_xml(_decode(saml_response, limit), max_bytes=limit)
    if root.tag != f"{{{SAMLP_NS}}}Response":
        raise _refuse("saml.not_a_response", "the message is not a SAML Response")
    if root.get("Version") != "2.0":
        raise _refuse("saml.bad_version", "only SAML 2.0 is accepted")
    if config.want_signed_response or root.find("ds:Signature", _NS) is not None:
        verify_enveloped(root, _required_id(root), config.idp_certificates)

    if root.get("Destination") != config.acs_url:
        raise _refuse("saml.wrong_destination", "the Response is addressed elsewhere")
    _check_issuer(root, config, required=False)
    status = root.find("samlp:Status/samlp:StatusCode", _NS)
    if status is None or status.get("Value") != STATUS_SUCCESS:
        raise _refuse("saml.status_not_success", "the IdP reports that the login failed")

    assertion = _verified_assertion(root, config)
    if assertion.get("Version") != "2.0":
        raise _refuse("saml.bad_version", "only SAML 2.0 assertions are accepted")
    _check_issuer(assertion, config, required=True)
    in_response_to = root.get("InResponseTo")
    confirmed_until, name_id = _check_subject(assertion, config, in_response_to, now)
    not_on_or_after = _check_conditions(assertion, config, now)

    if in_response_to is None:
        if not config.allow_idp_initiated:
            raise _refuse("saml.unsolicited", "IdP-initiated login is not enabled")
    elif not request_store.consume(in_response_to, now):
        raise _refuse("saml.in_response_to_mismatch", "the Response answers no pending request")
    keep_until = max(not_on_or_after, confirmed_until) + config.clock_skew
    if not replay_cache.add_if_new(_required_id(assertion), keep_until, now):
        raise _refuse("saml.replayed", "this assertion was accepted before")
    return _identity(assertion, config, name_id)


def _decode(saml_response: str | bytes, max_bytes: int) -> bytes:
    text = (
        saml_response.encode("ascii", "replace")
        if isinstance(saml_response, str)
        else saml_response
    )
    # base64 is 4/3 the size of its content: refuse before decoding anything huge.
    if len(text) > max_bytes * 4 // 3 + 1024:
        raise _refuse("saml.too_large", f"the Response exceeds {max_bytes} bytes")
    try:
        data = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _refuse("saml.bad_encoding", "SAMLResponse is not base64") from None
    if len(data) > max_bytes:
        raise _refuse("saml.too_large", f"the Response exceeds {max_bytes} bytes")
    return data


def _required_id(element: Any) -> str:
    value = element.get("ID")
    if not value:
        raise _refuse("saml.missing_id", "the element has no ID")
    return str(value)


def _check_issuer(element: Any, config: ServiceProviderConfig, *, required: bool) -> None:
    issuers = element.findall("saml:Issuer", _NS)
    if not issuers and not required:
        return
    if len(issuers) != 1 or element_text(issuers[0]).strip() != config.idp_entity_id:
        raise _refuse("saml.wrong_issuer", "the message is not from the configured IdP")


def _verified_assertion(root: Any, config: ServiceProviderConfig) -> Any:
    """The one assertion (decrypted if need be), as returned by signature verification."""
    # Counted anywhere in the document: a second assertion is always a wrapping attempt.
    found = root.findall(".//saml:Assertion", _NS) + root.findall(".//saml:EncryptedAssertion", _NS)
    if len(found) != 1:
        raise _refuse("saml.assertion_count", f"expected one assertion, found {len(found)}")
    node = found[0]
    if node.getparent() is not root:
        raise _refuse("saml.assertion_misplaced", "the assertion is not a child of the Response")
    if node.tag == f"{{{SAML_NS}}}Assertion":
        return verify_enveloped(root, _required_id(node), config.idp_certificates)
    document = parse_xml(_decrypt(node, config), max_bytes=config.max_response_bytes)
    if (
        document.tag != f"{{{SAML_NS}}}Assertion"
        or document.find(".//saml:Assertion", _NS) is not None
        or document.find(".//saml:EncryptedAssertion", _NS) is not None
    ):
        raise _refuse("saml.assertion_count", "the encrypted content is not one assertion")
    return verify_enveloped(document, _required_id(document), config.idp_certificates)


def _decrypt(wrapper: Any, config: ServiceProviderConfig) -> bytes:
    """The plaintext of an EncryptedAssertion: RSA-OAEP key transport, AES-GCM content."""
    if config.decryption_key_pem is None:
        raise _refuse("saml.no_decryption_key", "no key is configured to decrypt assertions")
    data = wrapper.findall("xenc:EncryptedData", _NS)
    if len(data) != 1:
        raise _refuse("saml.malformed_encryption", "expected one EncryptedData")
    key_bytes = _DATA_ENCRYPTION.get(_encryption_method(data[0]))
    if key_bytes is None:
        raise _refuse("saml.bad_algorithm", "content encryption algorithm not allowed")
    encrypted_keys = data[0].findall("ds:KeyInfo/xenc:EncryptedKey", _NS) + wrapper.findall(
        "xenc:EncryptedKey", _NS
    )
    if not encrypted_keys:
        raise _refuse("saml.malformed_encryption", "the assertion carries no EncryptedKey")
    if any(_encryption_method(k) not in _KEY_TRANSPORT for k in encrypted_keys):
        raise _refuse("saml.bad_algorithm", "key transport algorithm not allowed")
    private_key = _private_key(config.decryption_key_pem)
    for encrypted_key in encrypted_keys:
        context = xmlsec.EncryptionContext()
        context.key = private_key
        try:
            session_key = context.decrypt(encrypted_key)
        except xmlsec.Error:
            continue
        if isinstance(session_key, bytes) and len(session_key) == key_bytes:
            break
    else:
        raise _refuse("saml.decrypt_failed", "the assertion cannot be decrypted")
    # Without Type, libxmlsec hands back bytes instead of parsing them into the tree;
    # the bytes then go through the same safe parser as the Response.
    encrypted = copy.deepcopy(data[0])
    encrypted.attrib.pop("Type", None)
    context = xmlsec.EncryptionContext()
    try:
        context.key = xmlsec.Key.from_binary_data(_C.KeyDataAes, session_key)
        plaintext = context.decrypt(encrypted)
    except xmlsec.Error:
        raise _refuse("saml.decrypt_failed", "the assertion cannot be decrypted") from None
    if not isinstance(plaintext, bytes):
        raise _refuse("saml.decrypt_failed", "the assertion cannot be decrypted")
    return plaintext


def _encryption_method(node: Any) -> str:
    methods = node.findall("xenc:EncryptionMethod", _NS)
    return str(methods[0].get("Algorithm", "")) if len(methods) == 1 else ""


def _private_key(pem: bytes) -> xmlsec.Key:
    try:
        return xmlsec.Key.from_memory(pem, _C.KeyDataFormatPem)
    except xmlsec.Error as exc:
        raise ConfigError(
            f"cannot load the decryption key: {exc}", code="saml.bad_config"
        ) from None


def _check_subject(
    assertion: Any, config: ServiceProviderConfig, in_response_to: str | None, now: datetime
) -> tuple[datetime, str]:
    """Check the bearer confirmation; return its NotOnOrAfter and the NameID."""
    name_ids = assertion.findall("saml:Subject/saml:NameID", _NS)
    if len(name_ids) != 1 or not element_text(name_ids[0]).strip():
        raise _refuse("saml.no_subject", "the assertion has no NameID")
    confirmations = [
        c
        for c in assertion.findall("saml:Subject/saml:SubjectConfirmation", _NS)
        if c.get("Method") == BEARER
    ]
    if len(confirmations) != 1:
        raise _refuse("saml.no_bearer", "expected one bearer SubjectConfirmation")
    data = confirmations[0].find("saml:SubjectConfirmationData", _NS)
    if data is None:
        raise _refuse("saml.no_bearer", "the bearer confirmation has no data")
    if data.get("Recipient") != config.acs_url:
        raise _refuse("saml.wrong_recipient", "the assertion is for another recipient")
    if data.get("InResponseTo") != in_response_to:
        raise _refuse("saml.in_response_to_mismatch", "the assertion answers another request")
    until = _instant(data.get("NotOnOrAfter"), "SubjectConfirmationData NotOnOrAfter")
    if now >= until + config.clock_skew:
        raise _refuse("saml.expired", "the bearer confirmation has expired")
    not_before = data.get("NotBefore")
    if not_before is not None and now + config.clock_skew < _instant(not_before, "NotBefore"):
        raise _refuse("saml.not_yet_valid", "the bearer confirmation is not valid yet")
    return until, element_text(name_ids[0]).strip()


def _check_conditions(assertion: Any, config: ServiceProviderConfig, now: datetime) -> datetime:
    """Check the time window and audience; return NotOnOrAfter."""
    conditions = assertion.findall("saml:Conditions", _NS)
    if len(conditions) != 1:
        raise _refuse("saml.no_conditions", "the assertion has no Conditions")
    condition = conditions[0]
    not_before = condition.get("NotBefore")
    if not_before is not None and now + config.clock_skew < _instant(not_before, "NotBefore"):
        raise _refuse("saml.not_yet_valid", "the assertion is not valid yet")
    until = _instant(condition.get("NotOnOrAfter"), "Conditions NotOnOrAfter")
    if now >= until + config.clock_skew:
        raise _refuse("saml.expired", "the assertion has expired")
    restrictions = condition.findall("saml:AudienceRestriction", _NS)
    if not restrictions:
        raise _refuse("saml.wrong_audience", "the assertion names no audience")
    for restriction in restrictions:  # each restriction must admit us
        audiences = {element_text(a).strip() for a in restriction.findall("saml:Audience", _NS)}
        if config.entity_id not in audiences:
            raise _refuse("saml.wrong_audience", "the assertion is for another audience")
    return until


def _instant(value: str | None, what: str) -> datetime:
    if not value:
        raise _refuse("saml.missing_time", f"{what} is missing")
    try:
        if "T" not in value:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _refuse("saml.bad_time", f"{what} is not a dateTime: {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _identity(assertion: Any, config: ServiceProviderConfig, name_id: str) -> FederatedIdentity:
    attributes: dict[str, list[str]] = {}
    for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", _NS):
        name = attribute.get("Name")
        if name:
            values = attributes.setdefault(name, [])
            values += [
                element_text(v).strip() for v in attribute.findall("saml:AttributeValue", _NS)
            ]

    return identity_from_attributes(
        attributes,
        issuer=config.idp_entity_id,
        name_id=name_id,
        attribute_names=config.attribute_names,
    )


def identity_from_attributes(
    attributes: Mapping[str, Sequence[str]],
    *,
    issuer: str,
    name_id: str,
    attribute_names: Mapping[str, str] = ESIA_ATTRIBUTE_NAMES,
) -> FederatedIdentity:
    """The identity described by assertion ``attributes`` (values by attribute name).

    ``attribute_names`` maps :data:`IDENTITY_FIELDS` to attribute names; the subject falls
    back to the NameID, ``verified`` is true only for the value ``true``, a birth date is
    ``DD.MM.YYYY`` or ``YYYY-MM-DD``. Raises ``SamlVerificationError`` (``saml.bad_attribute``).
    """

    def first(field: str) -> str | None:
        name = attribute_names.get(field)
        if name is None:
            return None
        values = [v for v in attributes.get(name, ()) if v]
        return values[0] if values else None

    verified = first("verified")
    return FederatedIdentity(
        issuer=issuer,
        subject=first("subject") or name_id,
        verified=verified is not None and verified.lower() == "true",
        last_name=first("last_name"),
        first_name=first("first_name"),
        middle_name=first("middle_name"),
        birth_date=_birth_date(first("birth_date")),
        snils=first("snils"),
        email=first("email"),
        phone=first("phone"),
        claims={"name_id": name_id, "attributes": {k: list(v) for k, v in attributes.items()}},
    )


def _birth_date(value: str | None) -> date | None:
    if value is None:
        return None
    for pattern in ("%d.%m.%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    raise _refuse(
        "saml.bad_attribute", f"the birth date is not DD.MM.YYYY or YYYY-MM-DD: {value!r}"
    )
