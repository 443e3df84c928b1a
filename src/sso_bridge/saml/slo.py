"""Single logout for :class:`~sso_bridge.broker.providers.SamlProvider`: a LogoutRequest
sent through the browser and its LogoutResponse checked
(:class:`~sso_bridge.logout.LogsOutAtIdp`), and the IdP's own LogoutRequest read and
answered (docs/logout.md)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from sso_bridge.idp import Answer, PostTo, RedirectTo, Remembered
from sso_bridge.logout import IdpLogoutNotice, LoggedOutAtIdp, LogoutStarted
from sso_bridge.model import IdpSession
from sso_bridge.saml.config import ServiceProviderConfig
from sso_bridge.saml.errors import SamlLogoutError, refuse
from sso_bridge.saml.logout import (
    IncomingLogout,
    logout_request_post,
    logout_response,
    read_logout_request,
)
from sso_bridge.saml.requests import build_logout_request, process_logout_response
from sso_bridge.saml.stores import ReplayCache, RequestStore

__all__ = ["SamlLogout"]


class _Stopped:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


class SamlLogout:
    """Single logout of a SAML provider, over its ``config`` and stores.

    ``logout_binding`` is how the LogoutRequest goes to the IdP: ``"redirect"`` to
    ``config.idp_slo_url``, ``"post"`` to ``idp_slo_post_url``. An IdP's LogoutRequest is
    answered over the binding it came by (over Redirect when no ``idp_slo_post_url`` is set).
    """

    name: str
    config: ServiceProviderConfig
    request_store: RequestStore
    replay_cache: ReplayCache
    idp_slo_post_url: str | None
    logout_binding: Literal["redirect", "post"]

    def can_log_out(self) -> bool:
        """Whether this SP has an SLO URL and the IdP one for the chosen binding."""
        target = self.idp_slo_post_url if self.logout_binding == "post" else self.config.idp_slo_url
        return bool(self.config.slo_url and target)

    def start_logout(self, idp: IdpSession, *, now: datetime) -> LogoutStarted:
        """A signed LogoutRequest for the session's NameID and SessionIndex."""
        if not idp.name_id:
            raise SamlLogoutError("the session knows no NameID to log out", code="saml.no_name_id")
        if not self.can_log_out():
            raise SamlLogoutError(
                "single logout needs the IdP's SLO URL and this SP's slo_url", code="saml.no_slo"
            )
        relay = secrets.token_urlsafe(32)
        if self.logout_binding == "post" and self.idp_slo_post_url is not None:
            encoded, request_id = logout_request_post(
                self.config,
                self.idp_slo_post_url,
                idp.name_id,
                request_store=self.request_store,
                now=now,
                session_index=idp.sid,
                name_id_format=idp.name_id_format,
            )
            fields = (("SAMLRequest", encoded), ("RelayState", relay))
            return LogoutStarted(
                PostTo(self.idp_slo_post_url, fields), relay, {"request_id": request_id}
            )
        request = build_logout_request(
            self.config,
            idp.name_id,
            request_store=self.request_store,
            clock=_Stopped(now),
            session_index=idp.sid,
            relay_state=relay,
        )
        return LogoutStarted(RedirectTo(request.url), relay, {"request_id": request.request_id})

    def logout_state(self, answer: Answer) -> str | None:
        """The RelayState of the IdP's LogoutResponse (None: none)."""
        return answer.get("RelayState") or None

    def finish_logout(
        self,
        answer: Answer,
        remembered: Remembered | None,
        *,
        now: datetime,
        query_string: str | None = None,
    ) -> LoggedOutAtIdp:
        """Check the LogoutResponse: over Redirect when ``query_string`` is given (its
        signature over that query), else over POST; it must answer the request sent."""
        answered = process_logout_response(
            answer,
            self.config,
            binding="post" if query_string is None else "redirect",
            request_store=self.request_store,
            clock=_Stopped(now),
            query_string=query_string,
        )
        if remembered is not None and answered != remembered.get("request_id"):
            raise refuse(
                "saml.in_response_to_mismatch", "the LogoutResponse answers another request"
            )
        return LoggedOutAtIdp(self.name)

    def read_idp_logout(
        self, params: Answer, *, now: datetime, query_string: str | None = None
    ) -> tuple[IdpLogoutNotice, IncomingLogout]:
        """The IdP's LogoutRequest (over Redirect when ``query_string`` is given, else
        POST), checked: the sessions it ends, and the request to answer."""
        incoming = read_logout_request(
            params,
            self.config,
            binding="post" if query_string is None else "redirect",
            replay_cache=self.replay_cache,
            now=now,
            query_string=query_string,
        )
        notice = IdpLogoutNotice(
            issuer=self.config.idp_entity_id,
            sids=incoming.session_indexes,
            name_id=incoming.name_id,
        )
        return notice, incoming

    def answer_idp_logout(self, incoming: IncomingLogout, *, now: datetime) -> RedirectTo | PostTo:
        """The signed LogoutResponse (Success) to send the browser back with."""
        url, fields = logout_response(
            self.config, incoming, now=now, post_url=self.idp_slo_post_url
        )
        return PostTo(url, fields) if fields else RedirectTo(url)
