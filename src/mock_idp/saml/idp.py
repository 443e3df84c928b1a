"""The SAML 2.0 identity provider of the mock: its state (key, service providers, the
assertions kept for replay, the sessions for logout) and the operations the web layer calls."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from saml2 import saml, samlp
from saml2.metadata import entity_descriptor
from saml2.server import Server

from mock_idp.saml.assertions import MessageSigner, build_assertion, issuer, success_response
from mock_idp.saml.documents import ENTITY_DESCRIPTOR_NODE, METADATA_NS, document
from mock_idp.saml.errors import SamlRequestError
from mock_idp.saml.faults import SamlFault
from mock_idp.saml.keys import SamlSigningKey
from mock_idp.saml.model import (
    ASSERTION_LIFETIME,
    ENTITY_ID_PATH,
    ESIA_ATTRIBUTES,
    MAX_SESSIONS,
    SLO_PATHS,
    SSO_PATHS,
    AuthnRequestInfo,
    LogoutOutcome,
    SamlLogin,
    ServiceProvider,
    binding_urn,
    pysaml2_settings,
)
from mock_idp.saml.pages import PostForm, post_form
from mock_idp.saml.registry import read_metadata, settings_metadata
from mock_idp.saml.requests import authn_request_info, check_destination, receive
from mock_idp.saml.slo import SingleLogout
from mock_idp.users import Person
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.integrations.pysaml2 import XmlSecBackend, create_server, load_config
from sso_bridge.saml.xml import format_instant, new_id

__all__ = ["SamlIdP"]


class SamlIdP(SingleLogout):
    """The SAML 2.0 side of the mock IdP; thread-safe; single logout is
    :class:`~mock_idp.saml.slo.SingleLogout`'s.

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
        self._signer = MessageSigner(self._backend)
        self._config = load_config(
            pysaml2_settings(
                self.entity_id,
                self.base_url,
                key_file=key_dir / SamlSigningKey.KEY_FILE,
                cert_file=key_dir / SamlSigningKey.CERTIFICATE_FILE,
            )
        )
        self.server: Server = create_server(self._config, self._backend)
        self._lock = threading.RLock()
        self._sps: dict[str, ServiceProvider] = {}
        self._last_assertion: dict[str, bytes] = {}
        self._sessions: dict[tuple[str, str], SamlLogin] = {}
        self._pending_logouts: dict[str, tuple[str, datetime]] = {}
        self._logout_outcomes: list[LogoutOutcome] = []
        self._other_key: SamlSigningKey | None = None

    # -- endpoints and metadata ---------------------------------------------------------------

    def sso_url(self, binding: str) -> str:
        """The single sign-on endpoint for ``binding`` ("redirect", "post" or the URN)."""
        return self.base_url + SSO_PATHS[binding_urn(binding)]

    def slo_url(self, binding: str) -> str:
        """The single logout endpoint for ``binding``."""
        return self.base_url + SLO_PATHS[binding_urn(binding)]

    def metadata(self, *, signed: bool = False) -> str:
        """The IdP's metadata: signing certificate, SSO and SLO endpoints, NameID format and
        the attributes it releases; signed (enveloped, by the IdP key) if asked."""
        descriptor = entity_descriptor(self._config)
        descriptor.idpsso_descriptor.attribute = [
            saml.Attribute(name=name, name_format=saml.NAME_FORMAT_BASIC, friendly_name=name)
            for name in ESIA_ATTRIBUTES
        ]
        if not signed:
            return document(descriptor.to_string_force_namespace(METADATA_NS)).decode("utf-8")
        descriptor.id = new_id()
        descriptor.signature = self._signer.template(descriptor.id, self.signing_key)
        xml = document(descriptor.to_string_force_namespace(METADATA_NS))
        signed_xml = self._signer.sign(xml, ENTITY_DESCRIPTOR_NODE, descriptor.id, self.signing_key)
        return signed_xml.decode()

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
        sp, store = read_metadata(
            data,
            self._config.attribute_converters,
            encrypt_assertions=encrypt_assertions,
            want_signed_requests=want_signed_requests,
        )
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
        metadata_xml = settings_metadata(
            entity_id,
            acs_url,
            certificate_pem=certificate_pem,
            slo_url=slo_url,
            want_signed_requests=want_signed_requests,
        )
        return self.register_sp(metadata_xml, encrypt_assertions=encrypt_assertions)

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
            self._pending_logouts.clear()
            self._logout_outcomes.clear()

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
        binding = binding_urn(binding)
        request, sp, signed = receive(
            binding, params, query_string, "AuthnRequest", self.service_provider
        )
        check_destination(request, self.sso_url(binding))
        return authn_request_info(binding, params, request, sp, signed)

    def login_response(
        self,
        request: AuthnRequestInfo | None,
        person: Person,
        *,
        faults: Collection[SamlFault | str] = (),
        sp_entity_id: str | None = None,
        relay_state: str | None = None,
        session_index: str | None = None,
        authn_instant: datetime | None = None,
    ) -> PostForm:
        """The signed Response to ``request`` saying ``person`` logged in.

        ``session_index`` and ``authn_instant`` are the IdP session's sid and
        authentication time (a new index and now when None). ``request=None`` with
        ``sp_entity_id`` (and optionally ``relay_state``) makes an IdP-initiated response
        to the SP's default ACS. ``faults`` each add one defect. ``replayed_assertion``
        sends, in a new Response, the assertion of the SP's last fault-free response; that
        assertion still names its own request in ``SubjectConfirmationData/@InResponseTo``
        (none when that login was IdP-initiated), so pin a refusal on the replay cache
        with two IdP-initiated logins.
        """
        chosen = frozenset(SamlFault(f) for f in faults)
        sp, acs_url, in_response_to, relay_state = self._addressee(
            request, sp_entity_id, relay_state
        )
        if SamlFault.WRONG_IN_RESPONSE_TO in chosen:
            in_response_to = new_id()
        now = self.clock.now()
        key = self._other() if SamlFault.OTHER_KEY in chosen else self.signing_key

        name_id: str | None = None
        session_index = session_index or new_id()
        if SamlFault.REPLAYED_ASSERTION in chosen:
            assertion_xml = self._replayed_assertion(sp, chosen)
        else:
            name_id, assertion_xml = self._fresh_assertion(
                person, sp, acs_url, in_response_to, now, chosen, key, authn_instant, session_index
            )
        destination = acs_url + "/other" if SamlFault.WRONG_DESTINATION in chosen else acs_url
        response = success_response(self.entity_id, in_response_to, now, destination)
        sign_response = SamlFault.UNSIGNED not in chosen
        xml = self._signer.seal(response, assertion_xml, sp, key if sign_response else None)
        self._remember(sp, chosen, assertion_xml, person, name_id, session_index)
        return post_form(acs_url, "SAMLResponse", xml, relay_state)

    def _fresh_assertion(
        self,
        person: Person,
        sp: ServiceProvider,
        acs_url: str,
        in_response_to: str | None,
        now: datetime,
        chosen: frozenset[SamlFault],
        key: SamlSigningKey,
        authn_instant: datetime | None,
        session_index: str,
    ) -> tuple[str, bytes]:
        """A new assertion and its transient NameID; signed by ``key`` unless a fault
        leaves it unsigned."""
        name_id = "_" + secrets.token_hex(16)
        assertion = build_assertion(
            idp_entity_id=self.entity_id,
            person=person,
            sp=sp,
            acs_url=acs_url,
            in_response_to=in_response_to,
            name_id=name_id,
            now=now,
            lifetime=self.assertion_lifetime,
            faults=chosen,
            authn_instant=authn_instant,
            session_index=session_index,
        )
        unsigned = chosen & {SamlFault.UNSIGNED, SamlFault.UNSIGNED_ASSERTION}
        return name_id, self._signer.assertion_bytes(assertion, None if unsigned else key)

    def _addressee(
        self,
        request: AuthnRequestInfo | None,
        sp_entity_id: str | None,
        relay_state: str | None,
    ) -> tuple[ServiceProvider, str, str | None, str | None]:
        """The SP, its ACS URL, the request answered and the relay state of a response."""
        if request is not None:
            if sp_entity_id is not None and sp_entity_id != request.sp_entity_id:
                raise ValueError("sp_entity_id differs from the request's service provider")
            sp = self.service_provider(request.sp_entity_id)
            return sp, request.acs_url, request.id, request.relay_state
        if sp_entity_id is None:
            raise ValueError("an IdP-initiated response needs sp_entity_id")
        sp = self.service_provider(sp_entity_id)
        return sp, sp.default_acs.location, None, relay_state

    def _replayed_assertion(self, sp: ServiceProvider, chosen: frozenset[SamlFault]) -> bytes:
        if len(chosen) > 1:
            raise ValueError("replayed_assertion cannot be combined with other faults")
        with self._lock:
            assertion_xml = self._last_assertion.get(sp.entity_id)
        if assertion_xml is None:
            raise SamlRequestError(
                f"no assertion was sent to {sp.entity_id} yet", code="saml.nothing_to_replay"
            )
        return assertion_xml

    def _remember(
        self,
        sp: ServiceProvider,
        chosen: frozenset[SamlFault],
        assertion_xml: bytes,
        person: Person,
        name_id: str | None,
        session_index: str,
    ) -> None:
        """Keep a fault-free assertion for a replay, and the login for logging out."""
        with self._lock:
            if not chosen:
                self._last_assertion[sp.entity_id] = assertion_xml
            if name_id is not None:
                self._sessions[(sp.entity_id, name_id)] = SamlLogin(
                    person.oid, session_index, name_id
                )
                while len(self._sessions) > MAX_SESSIONS:
                    del self._sessions[next(iter(self._sessions))]

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
            issuer=issuer(self.entity_id),
            status=samlp.Status(
                status_code=samlp.StatusCode(
                    value=samlp.STATUS_RESPONDER, status_code=samlp.StatusCode(value=status)
                ),
                status_message=None if message is None else samlp.StatusMessage(text=message),
            ),
        )
        xml = self._signer.seal(response, None, sp, self.signing_key)
        return post_form(request.acs_url, "SAMLResponse", xml, request.relay_state)

    # -- internals ----------------------------------------------------------------------------

    def _other(self) -> SamlSigningKey:
        with self._lock:
            if self._other_key is None:
                self._other_key = SamlSigningKey.generate("not-the-mock-idp", self.clock.now())
            return self._other_key
