"""The mock IdP's pages and error answers: the login pages' texts in Russian and English,
the Jinja2 templates, redirects back to the client and JSON errors, and the cookie that
binds a login transaction to the browser that was shown its login page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mock_idp.errors import EsiaError, RedirectableError
from mock_idp.grants import Transaction
from mock_idp.paths import BROWSER_COOKIE

if TYPE_CHECKING:
    from mock_idp.control import MockIdP

__all__ = [
    "TEXTS",
    "BrowserBinding",
    "esia_refusal_page",
    "json_error",
    "language",
    "page",
    "redirect_error",
    "refusal_page",
    "unexpected",
    "with_query",
]

_BROWSER_RE = re.compile(r"[A-Za-z0-9_-]{43}")

TEXTS = {
    "ru": {
        "title": "Вход — тестовый ЕСИА",
        "other_language": "English",
        "login_heading": "Вход",
        "login_for": "для системы",
        "login_label": "Телефон, почта или СНИЛС",
        "password_label": "Пароль",
        "login_button": "Войти",
        "code_heading": "Подтверждение входа",
        "code_sms": "Мы отправили код в SMS.",
        "code_totp": "Введите код из приложения-аутентификатора.",
        "code_label": "Код",
        "code_button": "Продолжить",
        "resend_button": "Отправить код ещё раз",
        "resent": "Код отправлен ещё раз.",
        "cooldown": "Повторно отправить код можно чуть позже.",
        "wrong_code": "Неверный код. Осталось попыток: {left}.",
        "error_heading": "Ошибка",
        "logged_out_heading": "Вы вышли",
        "logged_out": "Сеанс в тестовом ЕСИА завершён.",
        "mock_notice": "Тестовый поставщик удостоверений. Не вводите настоящие данные.",
        "cancel_button": "Отменить вход",
        "error_number": "Код ошибки",
        "error_detail": "Подробности для администратора",
    },
    "en": {
        "title": "Sign in — mock ESIA",
        "other_language": "Русский",
        "login_heading": "Sign in",
        "login_for": "to",
        "login_label": "Phone, e-mail or SNILS",
        "password_label": "Password",
        "login_button": "Sign in",
        "code_heading": "Confirm your sign-in",
        "code_sms": "We sent you a code by SMS.",
        "code_totp": "Enter the code from your authenticator app.",
        "code_label": "Code",
        "code_button": "Continue",
        "resend_button": "Send the code again",
        "resent": "The code was sent again.",
        "cooldown": "You can ask for another code a little later.",
        "wrong_code": "Wrong code. Attempts left: {left}.",
        "error_heading": "Error",
        "logged_out_heading": "Signed out",
        "logged_out": "Your session at the mock ESIA has ended.",
        "mock_notice": "A mock identity provider for tests. Do not enter real data.",
        "cancel_button": "Cancel sign-in",
        "error_number": "Error code",
        "error_detail": "Details for the administrator",
    },
}

_START_AGAIN = {
    "ru": "Вернитесь в систему, через которую входили, и начните вход заново.",
    "en": "Go back to the service you were signing in to and start again.",
}

REFUSAL_TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "esia.login_over": "Эта попытка входа уже завершена.",
        "esia.login_timed_out": "Время на вход истекло.",
        "esia.login_wrong_browser": "Вход был начат в другом браузере.",
        "esia.wrong_credentials": "Неверный логин или пароль.",
        "esia.not_confirmed": "Для входа в эту систему нужна подтверждённая учётная запись.",
        "esia.second_factor_failed": "Слишком много неверных кодов подтверждения.",
        "esia.login_cancelled": "Вход отменён.",
        "esia.server_error": "Сервис временно не может обработать запрос.",
        "other": "Запрос на вход не принят: система, через которую вы входите, настроена "
        "неверно. Сообщите об этом её администратору.",
    },
    "en": {
        "esia.login_over": "This sign-in attempt is already over.",
        "esia.login_timed_out": "The time for signing in ran out.",
        "esia.login_wrong_browser": "The sign-in was started in another browser.",
        "esia.wrong_credentials": "Wrong login or password.",
        "esia.not_confirmed": "This service needs a confirmed account.",
        "esia.second_factor_failed": "Too many wrong confirmation codes.",
        "esia.login_cancelled": "The sign-in was cancelled.",
        "esia.server_error": "The service cannot handle the request right now.",
        "other": "The sign-in request was refused: the service you are signing in to is "
        "misconfigured. Tell its administrator.",
    },
}
"""What a refusal's page tells the person, by language and ``esia.*`` code; ``other`` for
a request the person cannot put right (the relying party's configuration)."""

_templates = Environment(
    loader=PackageLoader("mock_idp", "templates"), autoescape=select_autoescape(["html"])
)


def language(request: Request, form: dict[str, Any] | None = None) -> str:
    """The page language the form or the query asks for: ``ru`` (the default) or ``en``."""
    chosen = (form or {}).get("lang") or request.query_params.get("lang") or "ru"
    return chosen if chosen in TEXTS else "ru"


def page(request: Request, name: str, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
    """The template ``name`` in ``lang``; a GET page links to itself in the other language."""
    switch_url = None
    if request.method == "GET":  # pages reached by POST keep the language chosen before
        query = dict(request.query_params)
        query["lang"] = "en" if lang == "ru" else "ru"
        switch_url = f"{request.url.path}?{urlencode(query)}"
    idp: MockIdP = request.app.state.idp
    html = _templates.get_template(name).render(
        t=TEXTS[lang],
        lang=lang,
        base=idp.base_url,  # the configured address, never the request's Host header
        switch_url=switch_url,
        **values,
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def refusal_page(
    request: Request,
    lang: str,
    status: int,
    *,
    code: str = "other",
    number: str | None = None,
    detail: str = "",
) -> HTMLResponse:
    """The error page of a refusal ``code`` in ``lang``: what happened and how to start
    again, ESIA's ``number`` and, for a request the person cannot put right, ``detail``."""
    texts = REFUSAL_TEXTS[lang]
    known = code in texts and code != "other"
    return page(
        request,
        "error.html",
        lang,
        status,
        message=texts[code] if known else texts["other"],
        advice=_START_AGAIN[lang],
        number=number,
        detail="" if known else detail,
    )


def esia_refusal_page(request: Request, lang: str, refusal: EsiaError) -> HTMLResponse:
    """:func:`refusal_page` of an ``esia.*`` refusal."""
    status = refusal.status if refusal.status != 302 else 400
    return refusal_page(
        request, lang, status, code=refusal.code, number=refusal.esia_code, detail=refusal.message
    )


def redirect_error(exc: RedirectableError, issuer: str) -> RedirectResponse:
    """The refusal back to the client's redirect URI, with ``state`` and ``iss``."""
    params = {"error": exc.error, "error_description": exc.description, "state": exc.state}
    params["iss"] = issuer
    return RedirectResponse(with_query(exc.redirect_uri, params), status_code=302)


def with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def json_error(exc: EsiaError) -> JSONResponse:
    """The refusal as an OAuth JSON error (a redirectable one answers 400 here)."""
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status if exc.status != 302 else 400,
        headers={"Cache-Control": "no-store"},
    )


async def unexpected(request: Request, exc: Exception) -> Response:
    """Whatever went wrong, the answer is an ESIA-style error, never a stack trace."""
    refusal = EsiaError("the service cannot handle this request", code="esia.server_error")
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return esia_refusal_page(request, language(request), refusal)
    return json_error(refusal)


class BrowserBinding:
    """The cookie that binds login transactions to a browser (``__Host-`` over HTTPS)."""

    def __init__(self, idp: MockIdP) -> None:
        self.provider = idp.provider
        self.secure = idp.base_url.startswith("https://")
        self.cookie = ("__Host-" if self.secure else "") + BROWSER_COOKIE

    def browser(self, request: Request) -> tuple[str, bool]:
        """This browser's id from its cookie, or a new one (True: the cookie must be set)."""
        value = request.cookies.get(self.cookie, "")
        if _BROWSER_RE.fullmatch(value):
            return value, False
        return secrets.token_urlsafe(32), True

    def login_page(
        self, request: Request, lang: str, txn: Transaction, client_id: str, fresh: bool
    ) -> Response:
        """The login page of ``txn``; sets the cookie when the browser had none."""
        answer = page(request, "login.html", lang, txn=txn.id, client_id=client_id)
        if fresh:
            answer.set_cookie(
                self.cookie,
                txn.browser,
                path="/",
                secure=self.secure,
                httponly=True,
                samesite="lax",
            )
        return answer

    def transaction(self, request: Request, form: Mapping[str, Any]) -> Transaction:
        """The form's login transaction, if it belongs to this browser."""
        return self.provider.transaction(
            str(form.get("txn", "")), browser=request.cookies.get(self.cookie, "")
        )
