"""The login pages: the password, then the second factor (SMS, with resending, or TOTP);
a finished login opens (or renews) the browser's IdP session and goes back to the OIDC
client with a code or to the SAML service provider with a signed Response. A login that
ends without success (wrong password, too many wrong codes, timed out, cancelled) goes back
too: to the OIDC client with ``error=``, to the SAML service provider as a signed Response
with a failure status."""

from __future__ import annotations

from saml2 import samlp
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mock_idp.control import MockIdP
from mock_idp.errors import EsiaError, RedirectableError, SamlLoginFailed, WrongCode
from mock_idp.grants import Transaction
from mock_idp.routes.pages import (
    TEXTS,
    BrowserBinding,
    esia_refusal_page,
    language,
    page,
    redirect_error,
    with_query,
)
from mock_idp.users import Person, SecondFactor

__all__ = ["LoginHandlers"]


class LoginHandlers:
    """The login pages of ``idp``; a transaction is only used from its own browser."""

    def __init__(self, idp: MockIdP, browsers: BrowserBinding) -> None:
        self.idp = idp
        self.provider = idp.provider
        self.browsers = browsers

    async def login(self, request: Request) -> Response:
        form = dict(await request.form())
        lang = language(request, form)
        try:
            txn = self.browsers.transaction(request, form)
            person = self.provider.check_password(
                txn, str(form.get("login", "")), str(form.get("password", ""))
            )
        except EsiaError as exc:
            return self._refusal(request, lang, exc)
        return self._code_page(request, txn, lang, person.second_factor)

    def _code_page(
        self, request: Request, txn: Transaction, lang: str, method: SecondFactor, message: str = ""
    ) -> Response:
        return page(request, "code.html", lang, txn=txn.id, method=method.value, message=message)

    async def second_factor(self, request: Request) -> Response:
        form = dict(await request.form())
        lang = language(request, form)
        try:
            txn = self.browsers.transaction(request, form)
            person = self.provider.check_second_factor(txn, str(form.get("code", "")))
            if txn.saml_request is not None:
                return self._saml_login_response(txn, person)
            client_id = txn.client.client_id if txn.client else ""
            session = self.idp.sign_in(txn.browser, person, client_id)
            grant = self.provider.grant_after_login(txn, person, session)
        except WrongCode as exc:
            method = txn.person.second_factor if txn.person else SecondFactor.SMS
            message = TEXTS[lang]["wrong_code"].format(left=exc.attempts_left)
            return self._code_page(request, txn, lang, method, message)
        except EsiaError as exc:
            return self._refusal(request, lang, exc)
        params = {"code": grant.code, "state": txn.state, "iss": self.idp.issuer}
        return RedirectResponse(with_query(grant.redirect_uri, params), status_code=302)

    async def resend(self, request: Request) -> Response:
        form = dict(await request.form())
        lang = language(request, form)
        try:
            txn = self.browsers.transaction(request, form)
            sent = self.provider.send_sms(txn)
        except EsiaError as exc:
            return self._refusal(request, lang, exc)
        message = TEXTS[lang]["resent" if sent else "cooldown"]
        return self._code_page(request, txn, lang, SecondFactor.SMS, message)

    async def cancel(self, request: Request) -> Response:
        """The person gives up on the login: it ends and the refusal goes back."""
        form = dict(await request.form())
        lang = language(request, form)
        try:
            txn = self.browsers.transaction(request, form)
            raise self.provider.cancel(txn)
        except EsiaError as exc:
            return self._refusal(request, lang, exc)

    def _refusal(self, request: Request, lang: str, exc: EsiaError) -> Response:
        """A refusal goes back where the login came from when it can, else on a page."""
        if isinstance(exc, SamlLoginFailed):
            form = self.idp.saml.error_response(
                exc.saml_request, samlp.STATUS_AUTHN_FAILED, exc.description
            )
            return HTMLResponse(form.html(), headers={"Cache-Control": "no-store"})
        if isinstance(exc, RedirectableError):
            return redirect_error(exc, self.idp.issuer)
        return esia_refusal_page(request, lang, exc)

    def _saml_login_response(self, txn: Transaction, person: Person) -> Response:
        session = self.idp.sign_in(txn.browser, person, txn.saml_request.sp_entity_id)
        form = self.idp.saml.login_response(
            txn.saml_request,
            person,
            faults=self.idp.take_saml_faults(),
            session_index=session.sid,
            authn_instant=session.auth_time,
        )
        return HTMLResponse(form.html(), headers={"Cache-Control": "no-store"})
