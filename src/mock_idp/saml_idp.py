"""The mock IdP's SAML 2.0 identity provider, without HTTP: metadata, single sign-on over
the HTTP-Redirect and HTTP-POST bindings, single logout, and faults for tests.

The IdP looks like ESIA's Shibboleth: entity ID and metadata at ``<base>/idp/shibboleth``,
single sign-on at ``<base>/idp/profile/SAML2/{Redirect,POST}/SSO``, single logout at
``<base>/idp/profile/SAML2/{Redirect,POST}/SLO``. Responses go to the service provider's
assertion consumer service over HTTP-POST; Response and Assertion are both signed (RSA-SHA256,
exclusive canonicalization, one enveloped reference), the assertion is encrypted for service
providers registered with ``encrypt_assertions=True``, the subject is a transient NameID and
the attributes carry ESIA's names (:data:`ESIA_ATTRIBUTES`).

What the web layer does for each endpoint::

    saml = SamlIdP("https://idp.example", state_dir=Path("state"))
    saml.register_sp(sp_metadata_xml)

    # GET  /idp/shibboleth                      -> saml.metadata(), application/samlmetadata+xml
    # GET  /idp/profile/SAML2/Redirect/SSO      -> saml.parse_authn_request(
    #          "redirect", request.query_params, query_string=request.url.query)
    # POST /idp/profile/SAML2/POST/SSO          -> saml.parse_authn_request("post", form)
    #      ... keep the AuthnRequestInfo through the login pages, then
    #      form = saml.login_response(info, person)           # a PostForm
    #      HTMLResponse(form.html())                          # auto-submits to the ACS
    # GET  /idp/profile/SAML2/Redirect/SLO      -> saml.logout("redirect", query, query_string=...)
    # POST /idp/profile/SAML2/POST/SLO          -> saml.logout("post", form)
    #      result.answer is a Redirect (303 to .url) or a PostForm (.html())

Refusals are :class:`SamlRequestError` with a stable ``code``; they belong on an error page,
never in a response to an address taken from an unverified request.

pysaml2 builds the metadata and the protocol objects and reads incoming messages;
signatures and encryption are made in process by
:class:`sso_bridge.integrations.pysaml2.XmlSecBackend`. Everything else is the library's:
messages are decoded by :mod:`sso_bridge.saml.codec`, parsed by
:func:`sso_bridge.saml.xml.parse_xml`, and their signatures checked by
:func:`sso_bridge.saml.verify.verify_enveloped` (POST) or
:func:`sso_bridge.saml.codec.verify_redirect_signature` (Redirect), against the certificates
of the service provider's metadata only; pysaml2 would only ask for signatures globally, not
per service provider. A refusal of the library becomes the mock's :class:`SamlRequestError`.
"""

from __future__ import annotations

import base64
import enum
import html
import os
import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import attrs
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree  # type: ignore[import-untyped]
from saml2 import md, saml, samlp
from saml2 import xmldsig as ds
from saml2.authn_context import PASSWORDPROTECTEDTRANSPORT
from saml2.mdstore import InMemoryMetaData
from saml2.metadata import entity_descriptor
from saml2.server import Server
from saml2.sigver import pre_signature_part
from saml2.validate import valid_instance

from mock_idp.users import ContactType, Person
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.errors import InvalidInput
from sso_bridge.integrations.pysaml2 import (
    RSA_SHA256,
    SHA256,
    XmlSecBackend,
    create_server,
    load_config,
)
from sso_bridge.saml.codec import (
    BINDING_POST,
    BINDING_REDIRECT,
    decode_post,
    decode_redirect,
    encode_post,
    redirect_query,
    verify_redirect_signature,
)
from sso_bridge.saml.errors import SamlError
from sso_bridge.saml.verify import verify_enveloped
from sso_bridge.saml.xml import (
    DS_NS,
    MAX_DOCUMENT_BYTES,
    MD_NS,
    METADATA_LIMITS,
    SAML_NS,
    SAMLP_NS,
    format_instant,
    new_id,
    parse_instant,
    parse_xml,
)

__all__ = [
    "ENTITY_ID_PATH",
    "ESIA_ATTRIBUTES",
    "SLO_PATHS",
    "SSO_PATHS",
    "AuthnRequestInfo",
    "Endpoint",
    "LogoutResult",
    "PostForm",
    "Redirect",
    "SamlFault",
    "SamlIdP",
    "SamlRequestError",
    "SamlSigningKey",
    "ServiceProvider",
    "esia_attributes",
]

ENTITY_ID_PATH: Final = "/idp/shibboleth"
SSO_PATHS: Final[Mapping[str, str]] = {
    BINDING_REDIRECT: "/idp/profile/SAML2/Redirect/SSO",
    BINDING_POST: "/idp/profile/SAML2/POST/SSO",
}
SLO_PATHS: Final[Mapping[str, str]] = {
    BINDING_REDIRECT: "/idp/profile/SAML2/Redirect/SLO",
    BINDING_POST: "/idp/profile/SAML2/POST/SLO",
}

ESIA_ATTRIBUTES: Final = (
    "userId",
    "lastName",
    "firstName",
    "middleName",
    "birthDate",
    "gender",
    "personSNILS",
    "trusted",
    "personEMail",
    "personMobilePhone",
)
"""Attribute names as ESIA sends them (NameFormat basic, FriendlyName the same)."""

ASSERTION_LIFETIME: Final = timedelta(minutes=5)
FAULT_TIME_SHIFT: Final = timedelta(hours=1)  # far outside any clock skew a relying party allows
MAX_MESSAGE_BYTES: Final = MAX_DOCUMENT_BYTES  # an incoming request, decoded
MAX_METADATA_BYTES: Final = 4 * 1024 * 1024
MAX_SESSIONS: Final = 10_000

# prefixes for serializing pysaml2 objects, without touching ElementTree's global registry
_PROTOCOL_NS: Final = {"saml2p": SAMLP_NS, "saml2": SAML_NS, "ds": DS_NS}
_ASSERTION_NS: Final = {"saml2": SAML_NS, "ds": DS_NS}
_METADATA_NS: Final = {"md": MD_NS, "saml2": SAML_NS, "ds": DS_NS}
_ASSERTION_NODE: Final = f"{SAML_NS}:Assertion"
_RESPONSE_NODE: Final = f"{SAMLP_NS}:Response"
_LOGOUT_RESPONSE_NODE: Final = f"{SAMLP_NS}:LogoutResponse"
_ENTITY_DESCRIPTOR_NODE: Final = f"{MD_NS}:EntityDescriptor"
_REQUEST_PARSERS: Final = {
    "AuthnRequest": samlp.authn_request_from_string,
    "LogoutRequest": samlp.logout_request_from_string,
}
_BINDING_NAMES: Final[Mapping[str, str]] = {
    "redirect": BINDING_REDIRECT,
    "post": BINDING_POST,
    BINDING_REDIRECT.lower(): BINDING_REDIRECT,
    BINDING_POST.lower(): BINDING_POST,
}


class SamlRequestError(SamlError):
    """A SAML message refused by the IdP, with a stable ``code``.

    ``saml.bad_request`` (missing, undecodable, too large, not well-formed, with a DTD, of
    the wrong kind or invalid), ``saml.unknown_sp``, ``saml.bad_request_signature`` (missing
    where required, not following the SAML signature profile, or not verifying with the
    service provider's metadata), ``saml.bad_destination``, ``saml.bad_acs``,
    ``saml.unsupported_binding``, ``saml.no_logout_endpoint``, ``saml.nothing_to_replay``.

    When the library refused the message, the message ends with the library's own code in
    parentheses, e.g. ``(saml.bad_canonicalization)``.
    """

    code = "saml.bad_request"


class SamlFault(enum.StrEnum):
    """Defects a test can ask for in a login response; each is exactly one defect."""

    UNSIGNED = "unsigned"  # neither Response nor Assertion signed
    UNSIGNED_ASSERTION = "unsigned_assertion"  # Response signed, Assertion not
    OTHER_KEY = "other_key"  # signed by a key not in the metadata, its certificate in KeyInfo
    EXPIRED = "expired"  # NotOnOrAfter an hour ago (SubjectConfirmationData and Conditions)
    NOT_YET_VALID = "not_yet_valid"  # Conditions NotBefore an hour ahead
    WRONG_AUDIENCE = "wrong_audience"  # Audience is the SP entity ID + "/other"
    WRONG_RECIPIENT = "wrong_recipient"  # SubjectConfirmationData Recipient is ACS + "/other"
    WRONG_DESTINATION = "wrong_destination"  # Response Destination is ACS + "/other"
    WRONG_IN_RESPONSE_TO = "wrong_in_response_to"  # another request's ID, Response and Subject
    REPLAYED_ASSERTION = "replayed_assertion"  # the SP's previous assertion, byte for byte


# -- value types ------------------------------------------------------------------------------


@attrs.frozen
class Endpoint:
    """A service provider endpoint from its metadata."""

    binding: str
    location: str
    response_location: str | None = None
    index: int | None = None
    is_default: bool = False


@attrs.frozen
class ServiceProvider:
    """A service provider known to the IdP, as read from its metadata."""

    entity_id: str
    assertion_consumer_services: tuple[Endpoint, ...]  # HTTP-POST only
    logout_services: tuple[Endpoint, ...] = ()
    signing_certificates: tuple[str, ...] = ()  # base64 DER
    encryption_certificate: str | None = None  # base64 DER
    want_signed_requests: bool = False
    encrypt_assertions: bool = False

    @property
    def default_acs(self) -> Endpoint:
        """The ``isDefault`` ACS, else the one with the lowest index, else the first."""
        services = self.assertion_consumer_services
        flagged = [s for s in services if s.is_default]
        if flagged:
            return flagged[0]
        indexed = sorted((s for s in services if s.index is not None), key=lambda s: s.index or 0)
        return indexed[0] if indexed else services[0]

    def logout_service(self, binding: str) -> Endpoint | None:
        """The SLO endpoint for ``binding``, else any SLO endpoint, else None."""
        same = [s for s in self.logout_services if s.binding == binding]
        candidates = same or list(self.logout_services)
        return candidates[0] if candidates else None


@attrs.frozen
class AuthnRequestInfo:
    """An accepted AuthnRequest: what the login response needs, kept by the web layer."""

    id: str
    sp_entity_id: str
    acs_url: str
    binding: str  # the binding the request came over
    relay_state: str | None = None
    force_authn: bool = False
    is_passive: bool = False
    name_id_format: str | None = None  # requested; the answer is always transient
    signed: bool = False


@attrs.frozen
class PostForm:
    """An HTTP-POST binding message: a form to auto-submit to ``action``."""

    action: str
    fields: Mapping[str, str]

    def html(self) -> str:
        """A page that posts the form on load (a button when scripts are off)."""
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in self.fields.items()
        )
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>SAML</title></head>'
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(self.action)}">{inputs}'
            '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
        )


@attrs.frozen
class Redirect:
    """An HTTP-Redirect binding message: send the browser to ``url`` (303)."""

    url: str


@attrs.frozen
class LogoutResult:
    """The answer to a LogoutRequest and whom it was about."""

    answer: PostForm | Redirect
    sp_entity_id: str
    name_id: str | None
    oid: int | None  # the person this IdP issued the NameID for, if it did


# -- keys -------------------------------------------------------------------------------------


@attrs.frozen
class SamlSigningKey:
    """An RSA 2048 key with its self-signed certificate, kept as PEM files."""

    KEY_FILE: ClassVar[str] = "saml-signing.key"
    CERTIFICATE_FILE: ClassVar[str] = "saml-signing.crt"

    private_key: rsa.RSAPrivateKey = attrs.field(repr=False)
    certificate: x509.Certificate

    @classmethod
    def generate(cls, common_name: str, now: datetime | None = None) -> SamlSigningKey:
        """A new key; the certificate is valid for ten years around both ``now`` (a test
        clock's time) and the real time, as verifiers may check either."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        real = datetime.now(UTC)
        now = now or real
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now, real) - timedelta(days=1))
            .not_valid_after(max(now, real) + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def certificate_body(self) -> str:
        """The certificate as in metadata and KeyInfo: base64 DER on one line."""
        return base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()

    def save(self, directory: Path) -> None:
        """Write the key (mode 0600) and the certificate into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        key_path = directory / self.KEY_FILE
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(self.key_pem())
        (directory / self.CERTIFICATE_FILE).write_bytes(self.certificate_pem())

    @classmethod
    def load(cls, directory: Path) -> SamlSigningKey:
        try:
            key = serialization.load_pem_private_key(
                (directory / cls.KEY_FILE).read_bytes(), password=None
            )
            certificate = x509.load_pem_x509_certificate(
                (directory / cls.CERTIFICATE_FILE).read_bytes()
            )
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidInput(
                f"{directory}: cannot load the SAML signing key: {exc}", code="mock_idp.bad_key"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey) or certificate.public_key() != key.public_key():
            raise InvalidInput(
                f"{directory}: the SAML certificate does not belong to an RSA signing key",
                code="mock_idp.bad_key",
            )
        return cls(key, certificate)

    @classmethod
    def load_or_create(
        cls, directory: Path, common_name: str, now: datetime | None = None
    ) -> SamlSigningKey:
        """The key kept in ``directory``, made and saved there on first use."""
        if (directory / cls.KEY_FILE).exists() or (directory / cls.CERTIFICATE_FILE).exists():
            return cls.load(directory)
        key = cls.generate(common_name, now)
        key.save(directory)
        return key


# -- attributes -------------------------------------------------------------------------------


def esia_attributes(person: Person) -> dict[str, list[str]]:
    """The person's SAML attributes by ESIA name; absent values are left out.

    Contacts are sent only when verified. ``trusted`` is ``"true"`` for a confirmed account.
    """
    values: dict[str, list[str]] = {
        "userId": [str(person.oid)],
        "lastName": [person.last_name],
        "firstName": [person.first_name],
        "middleName": [person.middle_name] if person.middle_name else [],
        "birthDate": [person.birth_date],
        "gender": [person.gender.value],
        "personSNILS": [person.snils] if person.snils else [],
        "trusted": ["true" if person.trusted else "false"],
        "personEMail": [
            c.value for c in person.contacts if c.verified and c.type is ContactType.EMAIL
        ],
        "personMobilePhone": [
            c.value for c in person.contacts if c.verified and c.type is ContactType.MOBILE
        ],
    }
    return {name: value for name, value in values.items() if value}


# -- the identity provider --------------------------------------------------------------------


class SamlIdP:
    """The SAML 2.0 side of the mock IdP; thread-safe.

    ``base_url`` is where the web layer serves it. The signing key and certificate live in
    ``state_dir`` (made on first use); without one they are new for each instance. ``clock``
    dates every message.
    """

    def __init__(
        self,
        base_url: str,
        state_dir: Path | None = None,
        clock: Clock | None = None,
        *,
        assertion_lifetime: timedelta = ASSERTION_LIFETIME,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.entity_id = self.base_url + ENTITY_ID_PATH
        self.clock = clock or SystemClock()
        self.assertion_lifetime = assertion_lifetime
        common_name = urlsplit(self.base_url).hostname or "mock-idp"
        if state_dir is not None:
            key_dir = state_dir
            self.signing_key = SamlSigningKey.load_or_create(
                state_dir, common_name, self.clock.now()
            )
        else:
            # pysaml2 reads the key and the certificate from files
            key_dir = Path(tempfile.mkdtemp(prefix="mock-idp-saml-"))
            weakref.finalize(self, shutil.rmtree, key_dir, ignore_errors=True)
            self.signing_key = SamlSigningKey.generate(common_name, self.clock.now())
            self.signing_key.save(key_dir)
        self._backend = XmlSecBackend()
        self._config = load_config(
            {
                "entityid": self.entity_id,
                "key_file": str(key_dir / SamlSigningKey.KEY_FILE),
                "cert_file": str(key_dir / SamlSigningKey.CERTIFICATE_FILE),
                "metadata": {},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (self.base_url + path, binding)
                                for binding, path in SSO_PATHS.items()
                            ],
                            "single_logout_service": [
                                (self.base_url + path, binding)
                                for binding, path in SLO_PATHS.items()
                            ],
                        },
                        "name_id_format": [saml.NAMEID_FORMAT_TRANSIENT],
                        "want_authn_requests_signed": False,
                        "signing_algorithm": RSA_SHA256,
                        "digest_algorithm": SHA256,
                    }
                },
            }
        )
        self.server: Server = create_server(self._config, self._backend)
        self._lock = threading.RLock()
        self._sps: dict[str, ServiceProvider] = {}
        self._last_assertion: dict[str, bytes] = {}
        self._sessions: dict[tuple[str, str], int] = {}
        self._other_key: SamlSigningKey | None = None

    # -- endpoints and metadata ---------------------------------------------------------------

    def sso_url(self, binding: str) -> str:
        """The single sign-on endpoint for ``binding`` ("redirect", "post" or the URN)."""
        return self.base_url + SSO_PATHS[_binding(binding)]

    def slo_url(self, binding: str) -> str:
        """The single logout endpoint for ``binding``."""
        return self.base_url + SLO_PATHS[_binding(binding)]

    def metadata(self, *, signed: bool = False) -> str:
        """The IdP's metadata: signing certificate, SSO and SLO endpoints, NameID format and
        the attributes it releases; signed (enveloped, by the IdP key) if asked."""
        descriptor = entity_descriptor(self._config)
        descriptor.idpsso_descriptor.attribute = [
            saml.Attribute(name=name, name_format=saml.NAME_FORMAT_BASIC, friendly_name=name)
            for name in ESIA_ATTRIBUTES
        ]
        if not signed:
            return _document(descriptor.to_string_force_namespace(_METADATA_NS)).decode("utf-8")
        descriptor.id = new_id()
        descriptor.signature = self._signature_template(descriptor.id, self.signing_key)
        xml = _document(descriptor.to_string_force_namespace(_METADATA_NS))
        return self._sign(xml, _ENTITY_DESCRIPTOR_NODE, descriptor.id, self.signing_key).decode()

    # -- service providers --------------------------------------------------------------------

    def register_sp(
        self,
        metadata_xml: str | bytes,
        *,
        encrypt_assertions: bool = False,
        want_signed_requests: bool | None = None,
    ) -> ServiceProvider:
        """Know the one service provider described by ``metadata_xml`` (or replace it).

        Its HTTP-POST assertion consumer services, SLO endpoints and certificates come from
        the metadata; ``want_signed_requests`` overrides its ``AuthnRequestsSigned``.
        Raises ``InvalidInput`` (code ``saml.bad_metadata``).
        """
        data = metadata_xml.encode("utf-8") if isinstance(metadata_xml, str) else metadata_xml
        try:
            parse_xml(data, max_bytes=MAX_METADATA_BYTES, limits=METADATA_LIMITS)
        except SamlError as exc:
            raise _bad_metadata(_reason(exc)) from None
        store = InMemoryMetaData(self._config.attribute_converters, data.decode("utf-8"))
        try:
            store.load()
        except Exception as exc:  # pysaml2 raises many kinds while reading metadata
            raise _bad_metadata(f"metadata does not parse: {_one_line(exc)}") from None
        entity_ids = [eid for eid, entity in store.items() if entity.get("spsso_descriptor")]
        if len(entity_ids) != 1:
            raise _bad_metadata(
                f"expected one service provider in the metadata, found {len(entity_ids)}"
            )
        sp = _service_provider(store, str(entity_ids[0]), encrypt_assertions, want_signed_requests)
        with self._lock:
            self._sps[sp.entity_id] = sp
            self._last_assertion.pop(sp.entity_id, None)
            if self.server.metadata is not None:
                self.server.metadata.metadata[sp.entity_id] = store
        return sp

    def register_sp_settings(
        self,
        entity_id: str,
        acs_url: str | Sequence[str],
        *,
        certificate_pem: str | bytes | None = None,
        encrypt_assertions: bool = False,
        slo_url: str | None = None,
        want_signed_requests: bool = False,
    ) -> ServiceProvider:
        """Know a service provider without metadata of its own.

        ``acs_url`` are its HTTP-POST assertion consumer services (the first is the default);
        ``certificate_pem`` verifies its signed requests and receives encrypted assertions;
        ``slo_url`` serves single logout over both bindings.
        """
        urls = [acs_url] if isinstance(acs_url, str) else list(acs_url)
        if not urls:
            raise _bad_metadata("at least one ACS URL is needed")
        key_descriptors = []
        if certificate_pem is not None:
            pem = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
            try:
                certificate = x509.load_pem_x509_certificate(pem)
            except ValueError as exc:
                raise _bad_metadata(f"bad certificate: {_one_line(exc)}") from None
            body = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
            key_descriptors.append(
                md.KeyDescriptor(
                    key_info=ds.KeyInfo(
                        x509_data=[ds.X509Data(x509_certificate=ds.X509Certificate(text=body))]
                    )
                )
            )
        logout = [
            md.SingleLogoutService(binding=binding, location=slo_url)
            for binding in SLO_PATHS
            if slo_url
        ]
        descriptor = md.EntityDescriptor(
            entity_id=entity_id,
            spsso_descriptor=[
                md.SPSSODescriptor(
                    protocol_support_enumeration=samlp.NAMESPACE,
                    authn_requests_signed="true" if want_signed_requests else "false",
                    want_assertions_signed="true",
                    key_descriptor=key_descriptors,
                    single_logout_service=logout,
                    name_id_format=[md.NameIDFormat(text=saml.NAMEID_FORMAT_TRANSIENT)],
                    assertion_consumer_service=[
                        md.AssertionConsumerService(
                            binding=BINDING_POST,
                            location=url,
                            index=str(index),
                            is_default="true" if index == 0 else None,
                        )
                        for index, url in enumerate(urls)
                    ],
                )
            ],
        )
        return self.register_sp(
            _document(descriptor.to_string_force_namespace(_METADATA_NS)),
            encrypt_assertions=encrypt_assertions,
        )

    def service_provider(self, entity_id: str) -> ServiceProvider:
        """A registered service provider; ``saml.unknown_sp`` if there is none so called."""
        with self._lock:
            sp = self._sps.get(entity_id)
        if sp is None:
            raise SamlRequestError(
                f"unknown service provider {entity_id!r}", code="saml.unknown_sp"
            )
        return sp

    @property
    def service_providers(self) -> dict[str, ServiceProvider]:
        """The registered service providers by entity ID (a copy)."""
        with self._lock:
            return dict(self._sps)

    def reset(self) -> None:
        """Forget the assertions kept for replay and the SLO sessions; SPs stay."""
        with self._lock:
            self._last_assertion.clear()
            self._sessions.clear()

    # -- single sign-on -----------------------------------------------------------------------

    def parse_authn_request(
        self,
        binding: str,
        params: Mapping[str, str],
        *,
        query_string: str | None = None,
    ) -> AuthnRequestInfo:
        """Check an AuthnRequest arriving at the SSO endpoint of ``binding``.

        ``binding`` is ``"redirect"``, ``"post"`` or the binding URN; ``params`` the query
        (Redirect: ``SAMLRequest`` deflated and base64, ``RelayState``, ``SigAlg``,
        ``Signature``) or the form (POST: ``SAMLRequest`` base64, ``RelayState``). With
        ``query_string`` (the raw query, Redirect only) the signature is checked over the
        octets as sent, else over a re-encoding of ``params`` (pysaml2's way).

        The request must be signed if the service provider wants signed requests, and its
        signature is checked whenever it carries one. The ACS must be one of the SP's HTTP-POST
        assertion consumer services (by URL or index; the default when neither is given).
        """
        binding = _binding(binding)
        request, sp, signed = self._receive(binding, params, query_string, "AuthnRequest")
        if request.destination and request.destination != self.sso_url(binding):
            raise SamlRequestError(
                f"Destination {request.destination!r} is not this endpoint",
                code="saml.bad_destination",
            )
        if request.protocol_binding and request.protocol_binding != BINDING_POST:
            raise SamlRequestError(
                f"responses are sent over HTTP-POST only, not {request.protocol_binding}",
                code="saml.unsupported_binding",
            )
        acs_url = _chosen_acs(sp, request)
        policy = request.name_id_policy
        return AuthnRequestInfo(
            id=request.id,
            sp_entity_id=sp.entity_id,
            acs_url=acs_url,
            binding=binding,
            relay_state=params.get("RelayState"),
            force_authn=_true(request.force_authn),
            is_passive=_true(request.is_passive),
            name_id_format=None if policy is None else policy.format,
            signed=signed,
        )

    def login_response(
        self,
        request: AuthnRequestInfo | None,
        person: Person,
        *,
        faults: Collection[SamlFault | str] = (),
        sp_entity_id: str | None = None,
        relay_state: str | None = None,
    ) -> PostForm:
        """The signed Response to ``request`` saying ``person`` logged in.

        ``request=None`` with ``sp_entity_id`` (and optionally ``relay_state``) makes an
        IdP-initiated response to the SP's default ACS. ``faults`` each add one defect.
        ``replayed_assertion`` sends, in a new Response, the assertion of the SP's last
        fault-free response; that assertion still names its own request in
        ``SubjectConfirmationData/@InResponseTo`` (none when that login was IdP-initiated),
        so pin a refusal on the replay cache with two IdP-initiated logins.
        """
        chosen = frozenset(SamlFault(f) for f in faults)
        if request is not None:
            if sp_entity_id is not None and sp_entity_id != request.sp_entity_id:
                raise ValueError("sp_entity_id differs from the request's service provider")
            sp = self.service_provider(request.sp_entity_id)
            acs_url, in_response_to = request.acs_url, request.id
            relay_state = request.relay_state
        elif sp_entity_id is None:
            raise ValueError("an IdP-initiated response needs sp_entity_id")
        else:
            sp = self.service_provider(sp_entity_id)
            acs_url, in_response_to = sp.default_acs.location, None

        if SamlFault.WRONG_IN_RESPONSE_TO in chosen:
            in_response_to = new_id()
        now = self.clock.now()
        key = self._other() if SamlFault.OTHER_KEY in chosen else self.signing_key

        name_id: str | None = None
        if SamlFault.REPLAYED_ASSERTION in chosen:
            if len(chosen) > 1:
                raise ValueError("replayed_assertion cannot be combined with other faults")
            with self._lock:
                assertion_xml = self._last_assertion.get(sp.entity_id)
            if assertion_xml is None:
                raise SamlRequestError(
                    f"no assertion was sent to {sp.entity_id} yet", code="saml.nothing_to_replay"
                )
        else:
            name_id = "_" + secrets.token_hex(16)
            assertion = self._assertion(person, sp, acs_url, in_response_to, name_id, now, chosen)
            if not chosen & {SamlFault.UNSIGNED, SamlFault.UNSIGNED_ASSERTION}:
                assertion.signature = self._signature_template(assertion.id, key)
            assertion_xml = _document(assertion.to_string_force_namespace(_ASSERTION_NS))
            if assertion.signature is not None:
                assertion_xml = self._sign(assertion_xml, _ASSERTION_NODE, assertion.id, key)
            assertion_xml = _element_bytes(_parse_own(assertion_xml))

        destination = acs_url + "/other" if SamlFault.WRONG_DESTINATION in chosen else acs_url
        response = samlp.Response(
            id=new_id(),
            in_response_to=in_response_to,
            version="2.0",
            issue_instant=format_instant(now),
            destination=destination,
            issuer=self._issuer(),
            status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
        )
        sign_response = SamlFault.UNSIGNED not in chosen
        xml = self._seal(response, assertion_xml, sp, key if sign_response else None)

        with self._lock:
            if not chosen:
                self._last_assertion[sp.entity_id] = assertion_xml
            if name_id is not None:
                self._sessions[(sp.entity_id, name_id)] = person.oid
                while len(self._sessions) > MAX_SESSIONS:
                    del self._sessions[next(iter(self._sessions))]
        return _post_form(acs_url, "SAMLResponse", xml, relay_state)

    def error_response(
        self,
        request: AuthnRequestInfo,
        status: str = samlp.STATUS_AUTHN_FAILED,
        message: str | None = None,
    ) -> PostForm:
        """A signed Response without assertion: the login failed or was cancelled.

        ``status`` is the second-level status code (``AuthnFailed``, ``NoPassive``,
        ``RequestDenied``, ...) under ``Responder``.
        """
        sp = self.service_provider(request.sp_entity_id)
        response = samlp.Response(
            id=new_id(),
            in_response_to=request.id,
            version="2.0",
            issue_instant=format_instant(self.clock.now()),
            destination=request.acs_url,
            issuer=self._issuer(),
            status=samlp.Status(
                status_code=samlp.StatusCode(
                    value=samlp.STATUS_RESPONDER, status_code=samlp.StatusCode(value=status)
                ),
                status_message=None if message is None else samlp.StatusMessage(text=message),
            ),
        )
        xml = self._seal(response, None, sp, self.signing_key)
        return _post_form(request.acs_url, "SAMLResponse", xml, request.relay_state)

    # -- single logout ------------------------------------------------------------------------

    def logout(
        self,
        binding: str,
        params: Mapping[str, str],
        *,
        query_string: str | None = None,
    ) -> LogoutResult:
        """Accept a LogoutRequest at the SLO endpoint of ``binding``; answer Success.

        Checked like an AuthnRequest. The LogoutResponse goes to the SP's SLO endpoint of the
        same binding if it has one (else its other one): over Redirect signed in the query
        (``SigAlg``, ``Signature``), over POST with an enveloped signature. The web layer ends
        its own session for ``result.oid``.
        """
        binding = _binding(binding)
        request, sp, _ = self._receive(binding, params, query_string, "LogoutRequest")
        if request.destination and request.destination != self.slo_url(binding):
            raise SamlRequestError(
                f"Destination {request.destination!r} is not this endpoint",
                code="saml.bad_destination",
            )
        endpoint = sp.logout_service(binding)
        if endpoint is None:
            raise SamlRequestError(
                f"{sp.entity_id} has no SingleLogoutService", code="saml.no_logout_endpoint"
            )
        name_id = None if request.name_id is None else (request.name_id.text or "").strip()
        with self._lock:
            oid = self._sessions.pop((sp.entity_id, name_id or ""), None)
        location = endpoint.response_location or endpoint.location
        response = samlp.LogoutResponse(
            id=new_id(),
            in_response_to=request.id,
            version="2.0",
            issue_instant=format_instant(self.clock.now()),
            destination=location,
            issuer=self._issuer(),
            status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
        )
        relay_state = params.get("RelayState")
        answer: PostForm | Redirect
        if endpoint.binding == BINDING_POST:
            response.signature = self._signature_template(response.id, self.signing_key)
            xml = _document(response.to_string_force_namespace(_PROTOCOL_NS))
            xml = self._sign(xml, _LOGOUT_RESPONSE_NODE, response.id, self.signing_key)
            answer = _post_form(location, "SAMLResponse", xml, relay_state)
        else:
            xml = _document(response.to_string_force_namespace(_PROTOCOL_NS))
            answer = Redirect(
                redirect_query(
                    location, "SAMLResponse", xml, relay_state, self.signing_key.private_key
                )
            )
        return LogoutResult(answer, sp.entity_id, name_id, oid)

    # -- internals ----------------------------------------------------------------------------

    def _receive(
        self,
        binding: str,
        params: Mapping[str, str],
        query_string: str | None,
        kind: str,
    ) -> tuple[Any, ServiceProvider, bool]:
        """Decode, parse and check the issuer and signature of a request of type ``kind``."""
        encoded = params.get("SAMLRequest")
        if not encoded:
            raise SamlRequestError("SAMLRequest is missing", code="saml.bad_request")
        try:
            if binding == BINDING_REDIRECT:
                xml = decode_redirect(encoded, MAX_MESSAGE_BYTES)
            else:
                xml = decode_post(encoded, MAX_MESSAGE_BYTES)
            root = parse_xml(xml, max_bytes=MAX_MESSAGE_BYTES)
        except SamlError as exc:
            raise _refused(exc, "saml.bad_request") from None
        if root.tag != f"{{{SAMLP_NS}}}{kind}":
            raise SamlRequestError(f"expected a {kind}", code="saml.bad_request")
        try:  # range-checked here: pysaml2 below only checks the form
            parse_instant(root.get("IssueInstant"), f"the {kind}'s IssueInstant")
        except SamlError as exc:
            raise _refused(exc, "saml.bad_request") from None
        try:
            message = _REQUEST_PARSERS[kind](xml)
            valid_instance(message)
        except Exception as exc:  # pysaml2 raises many kinds on invalid content
            raise SamlRequestError(
                f"invalid {kind}: {_one_line(exc)}", code="saml.bad_request"
            ) from None
        if message.version != "2.0":
            raise SamlRequestError("only SAML 2.0 is spoken here", code="saml.bad_request")
        issuer = "" if message.issuer is None else (message.issuer.text or "").strip()
        if not issuer:
            raise SamlRequestError(f"the {kind} names no Issuer", code="saml.bad_request")
        sp = self.service_provider(issuer)
        signed = _check_request_signature(binding, params, query_string, root, sp)
        return message, sp, signed

    def _assertion(
        self,
        person: Person,
        sp: ServiceProvider,
        acs_url: str,
        in_response_to: str | None,
        name_id: str,
        now: datetime,
        faults: frozenset[SamlFault],
    ) -> Any:
        not_before, not_on_or_after = now, now + self.assertion_lifetime
        confirmation_until = not_on_or_after
        if SamlFault.EXPIRED in faults:
            confirmation_until = not_on_or_after = now - FAULT_TIME_SHIFT
            not_before = not_on_or_after - self.assertion_lifetime
        if SamlFault.NOT_YET_VALID in faults:
            not_before = now + FAULT_TIME_SHIFT
            not_on_or_after = not_before + self.assertion_lifetime
        audience = sp.entity_id + "/other" if SamlFault.WRONG_AUDIENCE in faults else sp.entity_id
        recipient = acs_url + "/other" if SamlFault.WRONG_RECIPIENT in faults else acs_url
        return saml.Assertion(
            id=new_id(),
            version="2.0",
            issue_instant=format_instant(now),
            issuer=self._issuer(),
            subject=saml.Subject(
                name_id=saml.NameID(
                    format=saml.NAMEID_FORMAT_TRANSIENT,
                    name_qualifier=self.entity_id,
                    sp_name_qualifier=sp.entity_id,
                    text=name_id,
                ),
                subject_confirmation=[
                    saml.SubjectConfirmation(
                        method=saml.SCM_BEARER,
                        subject_confirmation_data=saml.SubjectConfirmationData(
                            in_response_to=in_response_to,
                            recipient=recipient,
                            not_on_or_after=format_instant(confirmation_until),
                        ),
                    )
                ],
            ),
            conditions=saml.Conditions(
                not_before=format_instant(not_before),
                not_on_or_after=format_instant(not_on_or_after),
                audience_restriction=[
                    saml.AudienceRestriction(audience=[saml.Audience(text=audience)])
                ],
            ),
            authn_statement=[
                saml.AuthnStatement(
                    authn_instant=format_instant(now),
                    session_index=new_id(),
                    authn_context=saml.AuthnContext(
                        authn_context_class_ref=saml.AuthnContextClassRef(
                            text=PASSWORDPROTECTEDTRANSPORT
                        )
                    ),
                )
            ],
            attribute_statement=[
                saml.AttributeStatement(
                    attribute=[
                        saml.Attribute(
                            name=name,
                            name_format=saml.NAME_FORMAT_BASIC,
                            friendly_name=name,
                            attribute_value=[_attribute_value(v) for v in values],
                        )
                        for name, values in esia_attributes(person).items()
                    ]
                )
            ],
        )

    def _seal(
        self,
        response: Any,
        assertion_xml: bytes | None,
        sp: ServiceProvider,
        key: SamlSigningKey | None,
    ) -> bytes:
        """Put the (signed) assertion into ``response``, encrypt it if the SP wants that,
        then sign the response with ``key`` (unless None)."""
        if key is not None:
            response.signature = self._signature_template(response.id, key)
        root = _parse_own(_document(response.to_string_force_namespace(_PROTOCOL_NS)))
        if assertion_xml is not None:
            assertion = _parse_own(assertion_xml)
            if sp.encrypt_assertions and sp.encryption_certificate:
                wrapper = etree.SubElement(root, f"{{{SAML_NS}}}EncryptedAssertion")
                wrapper.append(assertion)
                xml = self._backend.encrypt_assertion(
                    _element_bytes(root, declaration=True),
                    _certificate_pem(sp.encryption_certificate),
                    None,
                )
                root = _parse_own(xml.encode("utf-8"))
            else:
                root.append(assertion)
        xml_bytes = _element_bytes(root, declaration=True)
        if key is None:
            return xml_bytes
        return self._sign(xml_bytes, _RESPONSE_NODE, response.id, key)

    def _sign(self, xml: bytes, node_name: str, node_id: str, key: SamlSigningKey) -> bytes:
        return self._backend.sign_statement(xml, node_name, key.key_pem(), node_id).encode("utf-8")

    def _signature_template(self, element_id: str, key: SamlSigningKey) -> Any:
        return pre_signature_part(
            element_id, key.certificate_body(), sign_alg=RSA_SHA256, digest_alg=SHA256
        )

    def _issuer(self) -> Any:
        return saml.Issuer(format=saml.NAMEID_FORMAT_ENTITY, text=self.entity_id)

    def _other(self) -> SamlSigningKey:
        with self._lock:
            if self._other_key is None:
                self._other_key = SamlSigningKey.generate("not-the-mock-idp", self.clock.now())
            return self._other_key


# -- helpers ----------------------------------------------------------------------------------


def _binding(name: str) -> str:
    try:
        return _BINDING_NAMES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown binding {name!r}; use 'redirect' or 'post'") from None


def _bad_metadata(message: str) -> InvalidInput:
    return InvalidInput(message, code="saml.bad_metadata")


def _true(value: object) -> bool:
    return str(value).strip().lower() in ("true", "1")


def _attribute_value(value: str) -> Any:
    attribute_value = saml.AttributeValue()
    attribute_value.set_text(value)  # typed xs:string
    return attribute_value


def _document(xml: bytes) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml


def _element_bytes(element: Any, *, declaration: bool = False) -> bytes:
    return bytes(etree.tostring(element, encoding="UTF-8", xml_declaration=declaration))


def _certificate_pem(body: str) -> str:
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _parse_own(xml: bytes) -> Any:
    """Parse a document this IdP has just made; not input, so no size limit applies and
    the shape limits are metadata's generous ones."""
    return parse_xml(xml, max_bytes=max(len(xml), MAX_DOCUMENT_BYTES), limits=METADATA_LIMITS)


def _post_form(action: str, name: str, xml: bytes, relay_state: str | None) -> PostForm:
    fields = {name: encode_post(xml)}
    if relay_state is not None:
        fields["RelayState"] = relay_state
    return PostForm(action, fields)


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _reason(exc: SamlError) -> str:
    """The library's refusal as one line: its message and, in parentheses, its code."""
    return _one_line(f"{exc.message} ({exc.code})")


def _refused(exc: SamlError, code: str) -> SamlRequestError:
    """A refusal of the library as the IdP's own refusal ``code``."""
    return SamlRequestError(_reason(exc), code=code)


def _service_provider(
    store: Any, entity_id: str, encrypt_assertions: bool, want_signed_requests: bool | None
) -> ServiceProvider:
    def endpoints(service: str, binding: str) -> list[Endpoint]:
        found = store.service(entity_id, "spsso_descriptor", service, binding) or []
        return [
            Endpoint(
                binding=binding,
                location=str(s["location"]),
                response_location=s.get("response_location"),
                index=int(s["index"]) if str(s.get("index", "")).isdigit() else None,
                is_default=_true(s.get("is_default")),
            )
            for s in found
        ]

    acs = endpoints("assertion_consumer_service", BINDING_POST)
    if not acs:
        raise _bad_metadata(f"{entity_id} has no HTTP-POST AssertionConsumerService")
    logout = [e for b in SLO_PATHS for e in endpoints("single_logout_service", b)]
    signing = [
        _certificate_body(entity_id, c) for _, c in store.certs(entity_id, "spsso", "signing")
    ]
    encryption = [
        _certificate_body(entity_id, c) for _, c in store.certs(entity_id, "spsso", "encryption")
    ]
    if encrypt_assertions and not encryption:
        raise _bad_metadata(f"{entity_id} has no encryption certificate")
    if want_signed_requests is None:
        descriptors = store[entity_id]["spsso_descriptor"]
        want_signed_requests = any(_true(d.get("authn_requests_signed")) for d in descriptors)
    return ServiceProvider(
        entity_id=entity_id,
        assertion_consumer_services=tuple(acs),
        logout_services=tuple(logout),
        signing_certificates=tuple(signing),
        encryption_certificate=encryption[0] if encryption else None,
        want_signed_requests=want_signed_requests,
        encrypt_assertions=encrypt_assertions,
    )


def _certificate_body(entity_id: str, text: object) -> str:
    """A metadata certificate as one line of base64 DER; refused unless it parses."""
    body = "".join(str(text).split())
    try:
        _certificate(body)
    except ValueError as exc:
        raise _bad_metadata(f"{entity_id} has a bad certificate: {_one_line(exc)}") from None
    return body


def _chosen_acs(sp: ServiceProvider, request: Any) -> str:
    url = request.assertion_consumer_service_url
    index = request.assertion_consumer_service_index
    if url:
        if url not in {s.location for s in sp.assertion_consumer_services}:
            raise SamlRequestError(
                f"{url!r} is not an HTTP-POST ACS of {sp.entity_id}", code="saml.bad_acs"
            )
        return str(url)
    if index is not None:
        for service in sp.assertion_consumer_services:
            if service.index is not None and str(service.index) == str(index).strip():
                return service.location
        raise SamlRequestError(f"{sp.entity_id} has no ACS with index {index}", code="saml.bad_acs")
    return sp.default_acs.location


def _check_request_signature(
    binding: str,
    params: Mapping[str, str],
    query_string: str | None,
    root: Any,
    sp: ServiceProvider,
) -> bool:
    """Whether the request was signed; ``saml.bad_request_signature`` when a signature is
    missing but required, or present and not made by one of the SP's metadata keys under
    the library's checks (the SAML signature profile for an enveloped signature)."""
    if binding == BINDING_REDIRECT:
        signed = "Signature" in params or "SigAlg" in params
    else:
        signed = root.find(f"{{{DS_NS}}}Signature") is not None
    if not signed:
        if sp.want_signed_requests:
            raise SamlRequestError(
                f"{sp.entity_id} must sign its requests", code="saml.bad_request_signature"
            )
        return False
    certificates = [_certificate(body) for body in sp.signing_certificates]
    if not certificates:
        raise SamlRequestError(
            "the service provider's metadata has no signing certificate",
            code="saml.bad_request_signature",
        )
    try:
        if binding == BINDING_REDIRECT:
            verify_redirect_signature("SAMLRequest", params, query_string, certificates)
        else:
            verify_enveloped(root, root.get("ID") or "", certificates)
    except SamlError as exc:
        raise _refused(exc, "saml.bad_request_signature") from None
    return True


def _certificate(body: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(body))
