"""The SAML endpoints over HTTP: the IdP's metadata, single sign-on (which opens the same
login page as OIDC) and single logout, over the HTTP-Redirect and HTTP-POST bindings."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mock_idp.control import MockIdP
from mock_idp.routes.pages import BrowserBinding, language, page
from mock_idp.saml import Redirect, SamlRequestError

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
            return page(request, "error.html", lang, 400, description=str(exc))
        browser, fresh = self.browsers.browser(request)
        txn = self.provider.begin_saml(info, info.acs_url, info.relay_state or "", browser=browser)
        return self.browsers.login_page(request, lang, txn, info.sp_entity_id, fresh)

    async def slo(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                result = self.idp.saml.logout(
                    "redirect", dict(request.query_params), query_string=request.url.query
                )
            else:
                form = {k: str(v) for k, v in (await request.form()).items()}
                result = self.idp.saml.logout("post", form)
        except SamlRequestError as exc:
            return page(request, "error.html", language(request), 400, description=str(exc))
        if isinstance(result.answer, Redirect):
            return RedirectResponse(result.answer.url, status_code=303)
        return HTMLResponse(result.answer.html())
