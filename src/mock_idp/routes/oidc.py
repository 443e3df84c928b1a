"""The mock IdP's OIDC / OAuth 2.0 endpoints: discovery, keys and certificates, the
authorization request (which opens the login page), the token endpoint, userinfo and
ESIA's logout redirect."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mock_idp.control import MockIdP
from mock_idp.errors import EsiaError, RedirectableError
from mock_idp.routes.pages import BrowserBinding, json_error, language, page, redirect_error

__all__ = ["OidcHandlers"]


class OidcHandlers:
    """The OIDC endpoints of ``idp``."""

    def __init__(self, idp: MockIdP, browsers: BrowserBinding) -> None:
        self.idp = idp
        self.provider = idp.provider
        self.browsers = browsers

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(self.idp.discovery())

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.provider.keys.jwks())

    async def certificates(self, request: Request) -> Response:
        return JSONResponse({"certificates": self.idp.certificates()})

    async def certificates_archive(self, request: Request) -> Response:
        return Response(
            self.idp.certificates_archive(),
            media_type="application/zip",
            headers={"Content-Disposition": 'attachment; filename="certificates.zip"'},
        )

    async def authorize(self, request: Request) -> Response:
        lang = language(request)
        browser, fresh = self.browsers.browser(request)
        try:
            txn = self.provider.authorize(dict(request.query_params), browser=browser)
        except RedirectableError as exc:
            return redirect_error(exc, self.idp.issuer)
        except EsiaError as exc:
            return page(request, "error.html", lang, 400, description=exc.description)
        client_id = txn.client.client_id if txn.client else ""
        return self.browsers.login_page(request, lang, txn, client_id, fresh)

    async def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            # the audience of a client assertion: the configured address, not the Host header
            endpoint = self.idp.base_url + request.url.path
            client = self.provider.authenticate_client(
                form, request.headers.get("authorization"), endpoint
            )
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                body = self.provider.exchange_code(client, form)
            elif grant_type == "refresh_token":
                body = self.provider.refresh(client, form)
            else:
                raise EsiaError("unsupported grant_type", code="esia.unsupported_grant_type")
        except EsiaError as exc:
            return json_error(exc)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def userinfo(self, request: Request) -> Response:
        try:
            access = self.provider.access(request.headers.get("authorization"))
            return JSONResponse(self.provider.userinfo(access))
        except EsiaError as exc:
            return json_error(exc)

    async def logout(self, request: Request) -> Response:
        client = self.provider.clients.get(request.query_params.get("client_id", ""))
        target = request.query_params.get("redirect_url", "")
        if client is None or target not in client.redirect_uris:
            refusal = EsiaError("redirect_url is not registered", code="esia.bad_redirect_uri")
            return page(
                request,
                "error.html",
                language(request),
                refusal.status,
                description=refusal.description,
            )
        return RedirectResponse(target, status_code=302)
