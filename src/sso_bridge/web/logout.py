"""The logout routes (docs/logout.md): the person's logout and "log out everywhere", the
IdP sending the browser back from a logout, the SAML single logout endpoint, and the
OpenID Connect back-channel logout endpoint that the IdP calls server to server."""

from __future__ import annotations

import json
from typing import Final

from sso_bridge.broker.logout import LoggedOut
from sso_bridge.errors import BridgeError, InvalidInput
from sso_bridge.sessions import Session, SessionError, clear_cookie_header
from sso_bridge.web.base import RoutesBase, Visit
from sso_bridge.web.http import WebResponse

__all__ = ["AT_IDP_FIELD", "LogoutPages"]

AT_IDP_FIELD: Final = "at_idp"
"""The logout form's field with the person's choice where the IdP logout is offered:
``"1"`` to log out at the IdP too, ``"0"`` (or nothing) for here only."""

_JSON_HEADERS: Final = (("Content-Type", "application/json"),)


def _choice(value: str) -> bool | None:
    return {"1": True, "0": False}.get(value)


class LogoutPages(RoutesBase):
    """Logout routes of :class:`~sso_bridge.web.core.AuthRoutes`."""

    def logout(self, visit: Visit) -> WebResponse:
        """POST /logout: end the session (its CSRF token is needed while it lives), then
        to the IdP when the logout goes on there; else to the login page."""
        session = self._live_session(visit)
        if session is not None:
            self.check_csrf(session, visit.request)
        at_idp = _choice(visit.request.field(AT_IDP_FIELD))
        return self._logged_out(visit, self.broker.logout(visit.token, visit.client, at_idp=at_idp))

    def logout_everywhere(self, visit: Visit) -> WebResponse:
        """POST /logout/everywhere: end every session of every account of the person."""
        session = self.guard(visit)
        if isinstance(session, WebResponse):
            return session
        at_idp = _choice(visit.request.field(AT_IDP_FIELD))
        result = self.broker.logout_everywhere(visit.token or "", visit.client, at_idp=at_idp)
        return self._logged_out(visit, result)

    def logout_return(self, visit: Visit, provider: str) -> WebResponse:
        """GET /logout/done/{provider}: the IdP sends the browser back from a logout."""
        self.broker.finish_logout(provider, visit.request.query, visit.client)
        return self.redirect(visit, self.config.url("/login?done=logged_out"))

    def saml_slo(self, visit: Visit, provider: str) -> WebResponse:
        """GET /slo/{provider}: a SAML message over HTTP-Redirect (a LogoutRequest from the
        IdP, or its LogoutResponse to ours)."""
        request = visit.request
        return self._slo(visit, provider, dict(request.query), request.query_string)

    def saml_slo_post(self, visit: Visit, provider: str) -> WebResponse:
        """POST /slo/{provider}: a SAML message over HTTP-POST."""
        form: dict[str, str] = {}
        for name, value in visit.request.form:
            form.setdefault(name, value)
        return self._slo(visit, provider, form, None)

    def backchannel_logout(self, visit: Visit, provider: str) -> WebResponse:
        """POST /backchannel-logout/{provider}: the IdP's logout token (form field
        ``logout_token``). 200 when accepted (sessions ended, or none left to end); 400
        with ``{"error": "invalid_request", ...}`` otherwise. Never cached."""
        token = visit.request.field("logout_token")
        try:
            if not token:
                raise InvalidInput("no logout_token was posted", code="input.invalid")
            self.broker.backchannel_logout(provider, token, visit.client)
        except BridgeError as exc:
            body = {"error": "invalid_request", "error_description": exc.message, "code": exc.code}
            return WebResponse(400, body=json.dumps(body), headers=_JSON_HEADERS)
        return WebResponse(200, body="{}", headers=_JSON_HEADERS)

    # -- shared steps ---------------------------------------------------------------------------

    def _slo(
        self, visit: Visit, provider: str, params: dict[str, str], query: str | None
    ) -> WebResponse:
        if "SAMLRequest" in params:
            answer = self.broker.idp_logout_request(
                provider, params, visit.client, query_string=query
            )
            if answer.fields:
                return self.page("post_to_idp.html", action=answer.url, fields=answer.fields)
            return self.redirect(visit, answer.url)
        self.broker.finish_logout(provider, params, visit.client, query_string=query)
        return self.redirect(visit, self.config.url("/login?done=logged_out"))

    def _live_session(self, visit: Visit) -> Session | None:
        if not visit.token:
            return None
        try:
            return self.broker.authenticate(visit.token, visit.client)
        except SessionError:
            return None  # already over: nothing left to protect

    def _logged_out(self, visit: Visit, result: LoggedOut) -> WebResponse:
        settings = self.config.cookies
        cleared = clear_cookie_header(settings, settings.session_name)
        go = result.go
        if go is None:
            response = self.redirect(visit, self.config.url("/login?done=logged_out"))
        elif go.fields:  # the IdP takes the logout request as a POST
            response = self.page("post_to_idp.html", action=go.url, fields=go.fields)
        else:
            response = self.redirect(visit, go.url)
        return response.with_cookies(cleared)
