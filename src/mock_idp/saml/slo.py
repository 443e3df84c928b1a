"""Single logout at the SAML IdP, both ways: a service provider's LogoutRequest (answered
with a signed LogoutResponse) and the IdP's own LogoutRequest to a service provider, whose
LogoutResponse the IdP checks and records.

Each NameID the IdP issues is kept with the person and the SessionIndex it went out with
(the IdP session's sid): a LogoutRequest names both, and the IdP session is the one to end
when they match. An IdP-initiated LogoutRequest carries the NameID as issued (format,
NameQualifier, SPNameQualifier), the SessionIndex, ``NotOnOrAfter``
(:data:`LOGOUT_REQUEST_LIFETIME`) and ``Destination``, and is signed: in the query over
HTTP-Redirect, enveloped over HTTP-POST. The answer must come back signed by one of the
service provider's metadata keys, to the IdP's SLO endpoint, in response to a request still
pending; the IdP records its status (:class:`~mock_idp.saml.model.LogoutOutcome`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from saml2 import saml, samlp

from mock_idp.saml.assertions import MessageSigner, issuer
from mock_idp.saml.documents import LOGOUT_REQUEST_NODE, PROTOCOL_NS, certificate, document
from mock_idp.saml.errors import SamlRequestError, refused
from mock_idp.saml.keys import SamlSigningKey
from mock_idp.saml.logout import logout_answer, logout_endpoint
from mock_idp.saml.model import (
    MAX_MESSAGE_BYTES,
    LogoutOutcome,
    LogoutResult,
    SamlLogin,
    ServiceProvider,
    binding_urn,
)
from mock_idp.saml.pages import PostForm, Redirect, post_form
from mock_idp.saml.requests import check_destination, receive
from sso_bridge.clock import Clock
from sso_bridge.saml.codec import (
    BINDING_POST,
    BINDING_REDIRECT,
    decode_post,
    decode_redirect,
    redirect_query,
    verify_redirect_signature,
)
from sso_bridge.saml.errors import SamlError
from sso_bridge.saml.verify import verify_enveloped
from sso_bridge.saml.xml import SAML_NS, SAMLP_NS, format_instant, new_id, parse_xml

__all__ = ["LOGOUT_REQUEST_LIFETIME", "MAX_PENDING_LOGOUTS", "SingleLogout"]

LOGOUT_REQUEST_LIFETIME: Final = timedelta(minutes=5)
"""How long an IdP-initiated LogoutRequest is good for (its ``NotOnOrAfter``); its answer
is accepted as long."""
MAX_PENDING_LOGOUTS: Final = 10_000


class SingleLogout:
    """Single logout, mixed into :class:`~mock_idp.saml.idp.SamlIdP` (whose state it uses)."""

    entity_id: str
    clock: Clock
    signing_key: SamlSigningKey
    _signer: MessageSigner
    _lock: threading.RLock
    _sessions: dict[tuple[str, str], SamlLogin]
    _pending_logouts: dict[str, tuple[str, datetime]]
    _logout_outcomes: list[LogoutOutcome]
    service_provider: Callable[[str], ServiceProvider]
    slo_url: Callable[[str], str]

    # -- SP-initiated -------------------------------------------------------------------------

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
        (``SigAlg``, ``Signature``), over POST with an enveloped signature. ``result.sid`` is
        the IdP session to end: the one the NameID was issued in, when the request names no
        SessionIndex or names that one.
        """
        binding = binding_urn(binding)
        request, sp, _ = receive(
            binding, params, query_string, "LogoutRequest", self.service_provider
        )
        check_destination(request, self.slo_url(binding))
        endpoint = logout_endpoint(sp, binding)
        name_id = None if request.name_id is None else (request.name_id.text or "").strip()
        indexes = {(i.text or "").strip() for i in request.session_index or ()}
        with self._lock:
            login = self._sessions.get((sp.entity_id, name_id or ""))
            if login is not None and (not indexes or login.session_index in indexes):
                del self._sessions[(sp.entity_id, login.name_id)]
            else:
                login = None
        answer = logout_answer(
            self._signer,
            idp_entity_id=self.entity_id,
            in_response_to=request.id,
            endpoint=endpoint,
            relay_state=params.get("RelayState"),
            now=self.clock.now(),
            key=self.signing_key,
        )
        oid = None if login is None else login.oid
        sid = None if login is None else login.session_index
        return LogoutResult(answer, sp.entity_id, name_id, oid, sid)

    def forget_session(self, sid: str) -> None:
        """Forget the NameIDs issued in IdP session ``sid`` (it ended)."""
        with self._lock:
            for key in [k for k, v in self._sessions.items() if v.session_index == sid]:
                del self._sessions[key]

    def saml_login(self, sp_entity_id: str, sid: str) -> SamlLogin | None:
        """The NameID issued to the SP in IdP session ``sid``, if any (the newest)."""
        with self._lock:
            found = [
                login
                for (entity_id, _), login in self._sessions.items()
                if entity_id == sp_entity_id and login.session_index == sid
            ]
        return found[-1] if found else None

    # -- IdP-initiated ------------------------------------------------------------------------

    def logout_request(
        self,
        sp_entity_id: str,
        sid: str,
        *,
        binding: str = "redirect",
        relay_state: str | None = None,
    ) -> PostForm | Redirect:
        """A signed LogoutRequest to the SP's SLO endpoint of ``binding`` (else its other)
        for the NameID it got in IdP session ``sid``; ``saml.no_saml_session`` when it got
        none, ``saml.no_logout_endpoint`` when it has no SLO endpoint."""
        sp = self.service_provider(sp_entity_id)
        login = self.saml_login(sp.entity_id, sid)
        if login is None:
            raise SamlRequestError(
                f"{sp.entity_id} got no login in that IdP session", code="saml.no_saml_session"
            )
        endpoint = logout_endpoint(sp, binding_urn(binding))
        now = self.clock.now()
        request = samlp.LogoutRequest(
            id=new_id(),
            version="2.0",
            issue_instant=format_instant(now),
            destination=endpoint.location,
            issuer=issuer(self.entity_id),
            not_on_or_after=format_instant(now + LOGOUT_REQUEST_LIFETIME),
            name_id=saml.NameID(
                format=saml.NAMEID_FORMAT_TRANSIENT,
                name_qualifier=self.entity_id,
                sp_name_qualifier=sp.entity_id,
                text=login.name_id,
            ),
            session_index=[samlp.SessionIndex(text=login.session_index)],
        )
        with self._lock:
            self._pending_logouts[request.id] = (sp.entity_id, now + LOGOUT_REQUEST_LIFETIME)
            while len(self._pending_logouts) > MAX_PENDING_LOGOUTS:
                del self._pending_logouts[next(iter(self._pending_logouts))]
        key = self.signing_key
        if endpoint.binding == BINDING_POST:
            request.signature = self._signer.template(request.id, key)
            xml = document(request.to_string_force_namespace(PROTOCOL_NS))
            xml = self._signer.sign(xml, LOGOUT_REQUEST_NODE, request.id, key)
            return post_form(endpoint.location, "SAMLRequest", xml, relay_state)
        xml = document(request.to_string_force_namespace(PROTOCOL_NS))
        return Redirect(
            redirect_query(endpoint.location, "SAMLRequest", xml, relay_state, key.private_key)
        )

    def logout_response(
        self,
        binding: str,
        params: Mapping[str, str],
        *,
        query_string: str | None = None,
    ) -> LogoutOutcome:
        """Check a service provider's LogoutResponse arriving at the SLO endpoint of
        ``binding`` and record it; ``saml.bad_logout_response`` (or ``saml.unknown_sp``,
        ``saml.bad_destination``) when it cannot be taken."""
        binding = binding_urn(binding)
        root = _decode(binding, params.get("SAMLResponse", ""))
        element = root.find(f"{{{SAML_NS}}}Issuer")
        sp = self.service_provider("" if element is None else (element.text or "").strip())
        certificates = [certificate(body) for body in sp.signing_certificates]
        if not certificates:
            raise _bad(f"{sp.entity_id}'s metadata has no signing certificate")
        try:
            if binding == BINDING_REDIRECT:
                if "Signature" not in params:
                    raise _bad("the LogoutResponse is not signed")
                verify_redirect_signature("SAMLResponse", params, query_string, certificates)
            else:
                verify_enveloped(root, root.get("ID") or "", certificates)
        except SamlError as exc:
            raise refused(exc, "saml.bad_logout_response") from None
        destination = root.get("Destination")
        if destination and destination != self.slo_url(binding):
            raise SamlRequestError(
                f"Destination {destination!r} is not this endpoint", code="saml.bad_destination"
            )
        answered = root.get("InResponseTo") or ""
        with self._lock:
            pending = self._pending_logouts.get(answered)
            if pending is None or pending[0] != sp.entity_id:
                raise _bad("the LogoutResponse answers no pending LogoutRequest of this SP")
            del self._pending_logouts[answered]
        if self.clock.now() > pending[1]:
            raise _bad("the LogoutResponse came after its request expired")
        outcome = LogoutOutcome(answered, sp.entity_id, *_status(root))
        with self._lock:
            self._logout_outcomes.append(outcome)
        return outcome

    @property
    def logout_outcomes(self) -> list[LogoutOutcome]:
        """The checked answers to IdP-initiated LogoutRequests, in order (a copy)."""
        with self._lock:
            return list(self._logout_outcomes)


def _bad(message: str) -> SamlRequestError:
    return SamlRequestError(message, code="saml.bad_logout_response")


def _decode(binding: str, encoded: str) -> Any:
    """The parsed LogoutResponse; ``saml.bad_logout_response`` for anything else."""
    if not encoded:
        raise _bad("SAMLResponse is missing")
    try:
        if binding == BINDING_REDIRECT:
            xml = decode_redirect(encoded, MAX_MESSAGE_BYTES)
        else:
            xml = decode_post(encoded, MAX_MESSAGE_BYTES)
        root = parse_xml(xml, max_bytes=MAX_MESSAGE_BYTES)
    except SamlError as exc:
        raise refused(exc, "saml.bad_logout_response") from None
    if root.tag != f"{{{SAMLP_NS}}}LogoutResponse" or root.get("Version") != "2.0":
        raise _bad("expected a SAML 2.0 LogoutResponse")
    return root


def _status(root: Any) -> tuple[str, str | None]:
    code = root.find(f"{{{SAMLP_NS}}}Status/{{{SAMLP_NS}}}StatusCode")
    if code is None or not code.get("Value"):
        raise _bad("the LogoutResponse has no StatusCode")
    inner = code.find(f"{{{SAMLP_NS}}}StatusCode")
    return str(code.get("Value")), None if inner is None else inner.get("Value")
