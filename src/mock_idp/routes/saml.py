"""The SAML endpoints over HTTP: the IdP's metadata, single sign-on (which opens the same
login page as OIDC, or answers at once from the browser's IdP session) and single logout
both ways, over the HTTP-Redirect and HTTP-POST bindings."""

from __future__ import annotations

from saml2 import samlp
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mock_idp.control import MockIdP
from mock_idp.routes.pages import BrowserBinding, language, page, refusal_page
from mock_idp.saml import AuthnRequestInfo, Redirect, SamlRequestError
from mock_idp.sso import reauthentication

__all__ = ["SamlHandlers"]


class SamlHandlers:
    """The SAML endpoints of ``idp``; refusals are error pages, never sent to an SP."""

    def __init__(self, idp: MockIdP, browsers: BrowserBinding) -> None:
        self.idp = idp
        self.provider = idp.provider
        self.browsers = browsers

    async def metadata(self, request: Request) -> Response:
        return Response(self.idp.saml.metadata(), media_type="application/samlmetadata+xml")

    async def sso(self, request: Request) -> Response:
        lang = language(request)
        try:
            if request.method == "GET":
                info = self.idp.saml.parse_authn_request(
                    "redirect", dict(request.query_params), query_string=request.url.query
                )
            else:
                form = {k: str(v) for k, v in (await request.form()).items()}
                lang = language(request, form)
                info = self.idp.saml.parse_authn_request("post", form)
        except SamlRequestError as exc:
            return refusal_page(request, lang, 400, detail=str(exc))
        browser, fresh = self.browsers.browser(request)
        answer = self._from_session(info, browser)
        if answer is not None:
            return answer
        txn = self.provider.begin_saml(info, info.acs_url, info.relay_state or "", browser=browser)
        return self.browsers.login_page(request, lang, txn, info.sp_entity_id, fresh)

    def _from_session(self, info: AuthnRequestInfo, browser: str) -> Response | None:
        """The Response for the browser's IdP session when it may answer (no
        ``ForceAuthn``); ``NoPassive`` for ``IsPassive`` when it may not; else None."""
        now = self.provider.clock.now()
        session = self.idp.sessions.current(browser, now)
        person = None if session is None else self.provider.people.get(session.person_oid)
        need = reauthentication(session if person else None, now, force=info.force_authn)
        if session is not None and person is not None and not need.fresh:
            self.idp.sessions.joined(session.sid, info.sp_entity_id)
            form = self.idp.saml.login_response(
                info,
                person,
                faults=self.idp.take_saml_faults(),
                session_index=session.sid,
                authn_instant=session.auth_time,
            )
            return HTMLResponse(form.html(), headers={"Cache-Control": "no-store"})
        if info.is_passive:
            form = self.idp.saml.error_response(
                info, samlp.STATUS_NO_PASSIVE, "the person must log in at the IdP"
            )
            return HTMLResponse(form.html(), headers={"Cache-Control": "no-store"})
        return None

    async def slo(self, request: Request) -> Response:
        """An SP's LogoutRequest (the IdP session it names ends, the other OIDC participants
        are told, the SP gets a LogoutResponse) or an SP's LogoutResponse to the IdP's own
        LogoutRequest (checked and recorded)."""
        if request.method == "GET":
            binding, params = "redirect", dict(request.query_params)
            query: str | None = request.url.query
        else:
            binding, query = "post", None
            params = {k: str(v) for k, v in (await request.form()).items()}
        try:
            if "SAMLResponse" in params and "SAMLRequest" not in params:
                self.idp.saml.logout_response(binding, params, query_string=query)
                return page(request, "logged_out.html", language(request))
            result = self.idp.saml.logout(binding, params, query_string=query)
        except SamlRequestError as exc:
            return refusal_page(request, language(request), 400, detail=str(exc))
        if result.sid is not None:
            self.idp.end_session(result.sid, initiator=result.sp_entity_id)
        if isinstance(result.answer, Redirect):
            return RedirectResponse(result.answer.url, status_code=303)
        return HTMLResponse(result.answer.html())
