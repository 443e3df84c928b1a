"""Logout at the mock IdP over HTTP: ESIA's ``/idp/ext/Logout`` and the OIDC end-session
endpoint (RP-Initiated Logout 1.0). Both end the browser's IdP session, whose OIDC
participants then get back-channel logout tokens (:mod:`mock_idp.session_control`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mock_idp import end_session
from mock_idp.control import MockIdP
from mock_idp.errors import EsiaError
from mock_idp.routes.pages import BrowserBinding, esia_refusal_page, language, page

__all__ = ["LogoutHandlers"]


class LogoutHandlers:
    """The logout endpoints of ``idp``; refusals are pages, never redirects."""

    def __init__(self, idp: MockIdP, browsers: BrowserBinding) -> None:
        self.idp = idp
        self.provider = idp.provider
        self.browsers = browsers

    async def esia_logout(self, request: Request) -> Response:
        """ESIA's ``/idp/ext/Logout?client_id=...&redirect_url=...``: the browser's IdP
        session ends, then the browser goes to ``redirect_url`` (one of the client's
        ``redirect_uris`` or ``post_logout_redirect_uris``). Without ``redirect_url`` but
        with RP-Initiated Logout's parameters it is the end-session endpoint."""
        query = dict(request.query_params)
        if "redirect_url" not in query and (
            "id_token_hint" in query or "post_logout_redirect_uri" in query
        ):
            return await self.end_session(request)
        client = self.provider.clients.get(query.get("client_id", ""))
        target = query.get("redirect_url", "")
        allowed = (
            () if client is None else (*client.redirect_uris, *client.post_logout_redirect_uris)
        )
        if target not in allowed:
            refusal = EsiaError("redirect_url is not registered", code="esia.bad_redirect_uri")
            return self._refusal(request, refusal)
        self._end_browser_session(request)
        return RedirectResponse(target, status_code=302)

    async def end_session(self, request: Request) -> Response:
        """OIDC RP-Initiated Logout (GET or a form POST): the browser's IdP session ends
        (without one, the session the ``id_token_hint`` names); then the browser goes to
        the registered ``post_logout_redirect_uri`` with ``state``, or sees the IdP's page.
        The mock does not ask the person to confirm."""
        if request.method == "POST":
            params = {k: str(v) for k, v in (await request.form()).items()}
        else:
            params = dict(request.query_params)
        try:
            accepted = end_session.check(
                params, self.provider.clients, self.provider.issued_id_tokens
            )
        except EsiaError as exc:
            return self._refusal(request, exc)
        ended = self._end_browser_session(request)
        if not ended and accepted.hint is not None and accepted.hint.sid is not None:
            self.idp.end_session(accepted.hint.sid)
        if accepted.redirect_to is not None:
            return RedirectResponse(accepted.redirect_to, status_code=302)
        return page(request, "logged_out.html", language(request))

    def _end_browser_session(self, request: Request) -> bool:
        browser, fresh = self.browsers.browser(request)
        return not fresh and self.idp.end_browser_session(browser) is not None

    @staticmethod
    def _refusal(request: Request, refusal: EsiaError) -> Response:
        return esia_refusal_page(request, language(request), refusal)
