"""The mock IdP's OIDC / OAuth 2.0 endpoints: discovery, keys and certificates, the
authorization request (which opens the login page, or answers at once from the browser's
IdP session), the token endpoint and userinfo. Logout is :mod:`mock_idp.routes.logout`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mock_idp.control import MockIdP
from mock_idp.errors import EsiaError, RedirectableError
from mock_idp.grants import Transaction
from mock_idp.routes.pages import (
    BrowserBinding,
    esia_refusal_page,
    json_error,
    language,
    redirect_error,
    with_query,
)
from mock_idp.sso import parse_max_age, reauthentication

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
        """The login page, or at once a code when the browser's IdP session may answer
        (single sign-on: see :func:`mock_idp.sso.reauthentication`)."""
        lang = language(request)
        browser, fresh = self.browsers.browser(request)
        params = dict(request.query_params)
        try:
            txn = self.provider.authorize(params, browser=browser)
            answer = self._from_session(txn, params, browser)
        except RedirectableError as exc:
            return redirect_error(exc, self.idp.issuer)
        except EsiaError as exc:
            return esia_refusal_page(request, lang, exc)
        if answer is not None:
            return answer
        client_id = txn.client.client_id if txn.client else ""
        return self.browsers.login_page(request, lang, txn, client_id, fresh)

    def _from_session(
        self, txn: Transaction, params: dict[str, str], browser: str
    ) -> Response | None:
        """The code for the session's person when the browser's session may answer; None
        when the login page must be shown; ``esia.login_required`` for ``prompt=none``."""
        now = self.provider.clock.now()
        session = self.idp.sessions.current(browser, now)
        person = None if session is None else self.provider.people.get(session.person_oid)
        if person is None:
            session = None
        try:
            need = reauthentication(
                session,
                now,
                prompt=params.get("prompt", ""),
                max_age=parse_max_age(params.get("max_age")),
            )
        except ValueError as exc:
            raise self._refuse(txn, str(exc), "esia.invalid_request") from None
        client = txn.client
        if session is not None and person is not None and client is not None and not need.fresh:
            if client.require_trusted and not person.trusted:
                raise self._refuse(
                    txn, "the client requires a confirmed account", "esia.not_confirmed"
                )
            txn.dead = True
            self.idp.sessions.joined(session.sid, client.client_id)
            grant = self.provider.grant_after_login(txn, person, session)
            back = {"code": grant.code, "state": txn.state, "iss": self.idp.issuer}
            return RedirectResponse(with_query(grant.redirect_uri, back), status_code=302)
        if need.passive:
            raise self._refuse(txn, "the person must log in at the IdP", "esia.login_required")
        return None

    @staticmethod
    def _refuse(txn: Transaction, message: str, code: str) -> RedirectableError:
        txn.dead = True
        return RedirectableError(message, code=code, redirect_uri=txn.redirect_uri, state=txn.state)

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
