"""The part of :class:`mock_idp.control.MockIdP` that opens and ends the IdP's own sessions
and tells the relying parties: single sign-on (:mod:`mock_idp.sso`), back-channel logout
tokens to OIDC clients (:mod:`mock_idp.backchannel`), and the SAML sessions kept for
single logout.

Whenever an IdP session ends — ESIA's logout, the OIDC end-session endpoint, a SAML
LogoutRequest, :meth:`SessionControl.end_sessions_of`, a new login of another person in the
same browser — every participant that is an OIDC client with a ``backchannel_logout_uri``
gets a logout token, except the one that asked for the logout over SAML. SAML service
providers that took part are not told over the front channel; start an IdP-initiated
logout for them with :meth:`SessionControl.saml_logout_request`.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from typing import Any

from mock_idp.backchannel import (
    BackchannelNotifier,
    Delivery,
    LogoutTokenFault,
    logout_token_claims,
    sign_logout_token,
)
from mock_idp.provider import Provider
from mock_idp.saml import PostForm, Redirect, SamlIdP
from mock_idp.sso import IdpSession, IdpSessions, session_acr
from mock_idp.users import Person

__all__ = ["SessionControl"]


class SessionControl:
    """IdP sessions, logout and back-channel notices; mixed into ``MockIdP``."""

    provider: Provider
    saml: SamlIdP
    sessions: IdpSessions
    backchannel: BackchannelNotifier

    # -- single sign-on -----------------------------------------------------------------------

    def sign_in(self, browser: str, person: Person, participant: str) -> IdpSession:
        """``person`` authenticated in ``browser`` (password and second factor) to log in
        to ``participant`` (a client id or an SP entity id): the browser's session is
        renewed if it is the same person's, else replaced (the old one ends, with notices)."""
        now = self.provider.clock.now()
        acr = session_acr(person.level.value)
        current = self.sessions.current(browser, now)
        session = None
        if current is not None and current.person_oid == person.oid:
            session = self.sessions.renew(current.sid, now, acr=acr)
        elif current is not None:
            self.end_session(current.sid)
        if session is None:
            session = self.sessions.open(browser, person.oid, now, acr=acr)
        self.sessions.joined(session.sid, participant)
        return session

    def authorization_code(self, client_id: str, oid: int, **options: Any) -> str:
        """A code for ``oid`` as if the person had just logged in (see
        ``Provider.grant_for``): an IdP session is opened for it (in ``browser``, else in a
        browser of its own; from ``auth_time``, else now) and its sid and auth_time go into
        the tokens."""
        browser = str(options.pop("browser", None) or "api-" + secrets.token_urlsafe(16))
        auth_time = options.pop("auth_time", None) or self.provider.clock.now()
        person = self.provider.people.get(oid)
        level = person.level.value if person is not None else "simplified"
        acr = options.pop("acr", None) or session_acr(level)
        session = self.sessions.open(browser, oid, auth_time, acr=acr)
        self.sessions.joined(session.sid, client_id)
        grant = self.provider.grant_for(
            client_id, oid, sid=session.sid, auth_time=auth_time, acr=acr, **options
        )
        return grant.code

    # -- ending sessions ----------------------------------------------------------------------

    def end_session(self, sid: str, *, initiator: str | None = None) -> IdpSession | None:
        """End IdP session ``sid`` and tell its participants (all but ``initiator``)."""
        session = self.sessions.end(sid)
        if session is not None:
            self._ended(session, initiator)
        return session

    def end_browser_session(self, browser: str) -> IdpSession | None:
        """End the browser's IdP session, if it has one, and tell its participants."""
        session = self.sessions.end_browser(browser)
        if session is not None:
            self._ended(session, None)
        return session

    def end_sessions_of(self, login: str | int) -> list[IdpSession]:
        """End every IdP session of the person with this login (or oid), on every
        browser, and tell the participants; the sessions ended."""
        if isinstance(login, int):
            oid = login
        else:
            person = self.provider.people.by_login(login)
            if person is None:
                raise KeyError(f"no person logs in as {login!r}")
            oid = person.oid
        ended = self.sessions.end_person(oid)
        for session in ended:
            self._ended(session, None)
        return ended

    def _ended(self, session: IdpSession, initiator: str | None) -> None:
        self.saml.forget_session(session.sid)
        for participant in sorted(session.participants):
            client = self.provider.clients.get(participant)
            if participant == initiator or client is None or not client.backchannel_logout_uri:
                continue
            token = self.logout_token(participant, sid=session.sid, sub=str(session.person_oid))
            self.backchannel.send(
                participant,
                client.backchannel_logout_uri,
                token,
                sid=session.sid,
                sub=str(session.person_oid),
            )

    # -- back-channel logout ------------------------------------------------------------------

    def logout_token(
        self,
        client_id: str,
        *,
        sid: str | None = None,
        sub: str | None = None,
        faults: Collection[LogoutTokenFault | str] = (),
    ) -> str:
        """A logout token for ``client_id`` (signed as its ID tokens are), about ``sid``
        and/or ``sub``, with ``faults`` (:class:`LogoutTokenFault` names) each adding one
        defect; a test may POST it to the client itself."""
        if sid is None and sub is None:
            raise ValueError("a logout token names sid, sub or both")
        client = self.provider.clients[client_id]
        claims = logout_token_claims(
            issuer=self.provider.issuer,
            client_id=client_id,
            sub=sub,
            sid=sid,
            now=self.provider.clock.now(),
        )
        chosen = {LogoutTokenFault(f) for f in faults}
        token = sign_logout_token(
            claims,
            self.provider.signing_key(client),
            kid=client.token_kid,
            faults=chosen,
            last_jti=self.backchannel.last_jti(client_id),
        )
        if LogoutTokenFault.REPLAYED_JTI not in chosen:
            self.backchannel.remember_jti(client_id, claims["jti"])
        return token

    @property
    def backchannel_deliveries(self) -> list[Delivery]:
        """Every back-channel logout delivery so far (see ``backchannel.wait``)."""
        return self.backchannel.deliveries

    # -- SAML IdP-initiated logout ------------------------------------------------------------

    def saml_logout_request(
        self,
        sp_entity_id: str,
        sid: str,
        *,
        binding: str = "redirect",
        relay_state: str | None = None,
        end_session: bool = True,
    ) -> PostForm | Redirect:
        """A signed LogoutRequest to the SP's SLO endpoint of ``binding`` for what it got in
        IdP session ``sid`` (its NameID, SessionIndex ``sid``); the IdP session ends first
        (and the OIDC participants are told) unless ``end_session`` is False. The SP's
        LogoutResponse, checked at the IdP's SLO endpoint, lands in
        ``saml.logout_outcomes``."""
        message = self.saml.logout_request(
            sp_entity_id, sid, binding=binding, relay_state=relay_state
        )
        if end_session:
            self.end_session(sid, initiator=sp_entity_id)
        return message
