"""The mock IdP as an ASGI application (Starlette): ESIA's paths, a login page, an
admin API for tests.

    app = create_app(MockIdP.from_config(Path("idp.yaml"), base_url="http://127.0.0.1:8900"))

The mock runs on shared networks, in integration tests and demos, so it protects itself
(see ``docs/mock-idp.md``):

* ``/admin/*`` and ``/outbox`` answer only requests that carry the IdP's admin token
  (:attr:`MockIdP.admin_token`, made at start) in an ``X-Mock-IdP-Admin`` or
  ``Authorization: Bearer`` header; a browser form cannot send either, so they cannot be
  driven by cross-site requests;
* a login transaction is bound to the browser that was shown its login page (a cookie),
  and posts from another browser are refused;
* every request body is read with a limit while it streams (chunked ones too): past the
  limit the answer is 413 before the handler runs;
* every response carries framing, sniffing, referrer and caching headers;
* forms post to the configured base URL, never to one taken from the ``Host`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Mapping, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_idp import person_api
from mock_idp.archive import certificates_archive
from mock_idp.errors import ESIA_BAD_REQUEST
from mock_idp.keys import KeyRing, certificate_pem
from mock_idp.provider import (
    Client,
    EsiaError,
    Provider,
    RedirectableError,
    Transaction,
    WrongCode,
    client_from_dict,
)
from mock_idp.saml_idp import (
    ENTITY_ID_PATH,
    SLO_PATHS,
    SSO_PATHS,
    Redirect,
    SamlFault,
    SamlIdP,
    SamlRequestError,
    SamlSigningKey,
)
from mock_idp.tokens import TokenFault
from mock_idp.users import Directory, Person, SecondFactor, load_config, person_from_dict
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.jsonparse import parse_json

AUTHORIZE_PATHS = ("/aas/oauth2/ac", "/aas/oauth2/v2/ac")
TOKEN_PATHS = ("/aas/oauth2/te", "/aas/oauth2/v3/te")
CERTIFICATES_PATH = "/aas/oauth2/certificates"
"""The mock's convenience: its GOST certificates as a JSON list of PEM texts."""
CERTIFICATES_ARCHIVE_PATH = "/aas/oauth2/certificates.zip"
"""ESIA's way: the signing certificates as a ZIP of certificate files (see
:mod:`mock_idp.archive`)."""
ORGANISATION_PATH = "/rs/orgs/{oid}"
"""ESIA's organisation document (scope ``usr_org``; INN and KPP are here, not in roles)."""
MAX_ADMIN_BODY_BYTES = 1024 * 1024
"""Largest body of an ``/admin/*`` request (a person or client as JSON)."""
MAX_SAML_BODY_BYTES = 512 * 1024
"""Largest body posted to the SAML endpoints: a 256 KB message, base64 and form-encoded."""
MAX_FORM_BODY_BYTES = 64 * 1024
"""Largest body of any other request (token requests, the login forms)."""
ADMIN_HEADER = "X-Mock-IdP-Admin"
"""The header that carries the admin token (``Authorization: Bearer`` works as well)."""
BROWSER_COOKIE = "mock_idp_browser"
"""The cookie that binds login transactions to the browser that opened them (with the
``__Host-`` prefix when the IdP is served over HTTPS)."""
_BROWSER_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_SAML_POST_ONLOAD = "document.forms[0].submit()"  # the SAML POST binding's auto-submit
_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'unsafe-inline'",  # the pages' one <style> block
        "script-src 'unsafe-hashes' 'sha256-"
        + base64.b64encode(hashlib.sha256(_SAML_POST_ONLOAD.encode()).digest()).decode()
        + "'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: Mapping[str, str] = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": _CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Headers on every response of the mock; ``Cache-Control: no-store`` is added to every
response that does not set its own."""

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
        "mock_notice": "Тестовый поставщик удостоверений. Не вводите настоящие данные.",
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
        "mock_notice": "A mock identity provider for tests. Do not enter real data.",
    },
}

_templates = Environment(
    loader=PackageLoader("mock_idp", "templates"), autoescape=select_autoescape(["html"])
)


class MockIdP:
    """A running mock IdP's state and the Python API that tests drive it with."""

    def __init__(
        self,
        provider: Provider,
        base_url: str,
        saml: SamlIdP | None = None,
        *,
        admin_token: str | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        """The token ``/admin/*`` and ``/outbox`` require (see :attr:`admin_headers`)."""
        self.saml = saml or SamlIdP(self.base_url, clock=provider.clock)
        self.saml_faults: list[set[SamlFault]] = []
        # Keeps a temporary directory of config-given SAML keys alive as long as the IdP.
        self._key_dir: tempfile.TemporaryDirectory[str] | None = None
        self._initial_people = list(provider.people)
        self._initial_clients = dict(provider.clients)
        # GOST keys the IdP made for esia_gost clients registered without a certificate
        self._client_keys: dict[str, gost.GostPrivateKey] = {}

    @classmethod
    def from_config(
        cls,
        config: Path | None,
        base_url: str,
        state_dir: Path | None = None,
        *,
        admin_token: str | None = None,
    ) -> MockIdP:
        """People and clients from ``config`` (YAML/JSON), keys from ``state_dir``; a new
        random admin token unless ``admin_token`` is given."""
        data = load_config(config) if config else {}
        people = Directory(person_from_dict(p) for p in data.get("users") or ())
        generated: dict[str, gost.GostPrivateKey] = {}
        clients = {
            c.client_id: c
            for c in (_client(entry, generated) for entry in data.get("clients") or ())
        }
        given = data.get("keys") or {}
        if given.get("oidc"):
            keys = KeyRing.from_config(list(given["oidc"]))
        else:
            keys = KeyRing.load_or_create(state_dir) if state_dir else KeyRing.generate()
        issuer = base_url.rstrip("/") + "/"
        provider = Provider(issuer, people, keys, clients)
        saml_dir = state_dir
        holder = None
        if given.get("saml"):
            if saml_dir is None:
                holder = tempfile.TemporaryDirectory(prefix="mock-idp-")
                saml_dir = Path(holder.name)
            write_saml_key(saml_dir, given["saml"])
        saml = SamlIdP(base_url.rstrip("/"), saml_dir, clock=provider.clock)
        for sp in data.get("saml_service_providers") or ():
            add_service_provider(saml, sp, config.parent if config else Path())
        idp = cls(provider, base_url, saml, admin_token=admin_token)
        idp._key_dir = holder
        idp._client_keys.update(generated)
        return idp

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header that admits a request to ``/admin/*`` and ``/outbox``."""
        return {ADMIN_HEADER: self.admin_token}

    def is_admin(self, headers: Mapping[str, str]) -> bool:
        """Whether ``headers`` carry the admin token (``X-Mock-IdP-Admin`` or Bearer)."""
        given = headers.get(ADMIN_HEADER.lower()) or ""
        authorization = headers.get("authorization") or ""
        if not given and authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), self.admin_token.encode())

    # -- test controls ----------------------------------------------------------------------

    def add_user(self, data: dict[str, Any]) -> None:
        self.provider.people.put(person_from_dict(data))

    def add_client(self, client: Client | dict[str, Any]) -> Client:
        """Add or replace a client; an ``esia_gost`` one without ``certificate_pem`` gets a
        new GOST key and self-signed certificate (see :meth:`client_signer`)."""
        if isinstance(client, dict):
            client = _client(client, self._client_keys)
        self.provider.clients[client.client_id] = client
        return client

    def client_signer(self, client_id: str) -> InProcessGostSigner:
        """A signer with the GOST key the IdP made for ``client_id`` (an ``esia_gost``
        client registered without a certificate)."""
        client = self.provider.clients[client_id]
        return InProcessGostSigner(self._client_keys[client_id], client.gost_certificate())

    def certificates(self) -> list[str]:
        """The IdP's GOST certificates (PEM), as ``/aas/oauth2/certificates`` lists them."""
        return self.provider.keys.certificates()

    def certificates_archive(self) -> bytes:
        """The ZIP that ``/aas/oauth2/certificates.zip`` serves: the published GOST
        certificates (DER, ``.cer``) and each RS256 key's self-signed certificate (PEM,
        ``.pem``)."""
        return certificates_archive(self.provider.keys)

    def add_service_provider(self, settings: dict[str, Any]) -> None:
        """Know a SAML service provider: ``metadata`` (XML) or ``entity_id`` + ``acs_url``."""
        add_service_provider(self.saml, settings, Path())

    def inject(self, *faults: TokenFault | SamlFault | str, responses: int = 1) -> None:
        """Apply these faults to each of the next ``responses`` token or SAML responses.

        Strings name token faults first (``"expired"`` is the token's); write SAML faults
        as ``"saml:expired"``, or pass :class:`SamlFault` members.
        """
        tokens: set[TokenFault] = set()
        saml: set[SamlFault] = set()
        for fault in faults:
            if isinstance(fault, SamlFault):
                saml.add(fault)
            elif isinstance(fault, TokenFault):
                tokens.add(fault)
            elif fault.startswith("saml:"):
                saml.add(SamlFault(fault.removeprefix("saml:")))
            elif fault in set(TokenFault):
                tokens.add(TokenFault(fault))
            else:
                saml.add(SamlFault(fault))
        _enqueue(self.provider.faults, tokens, responses)
        _enqueue(self.saml_faults, saml, responses)

    def take_saml_faults(self) -> set[SamlFault]:
        return self.saml_faults.pop(0) if self.saml_faults else set()

    def authorization_code(self, client_id: str, oid: int, **options: Any) -> str:
        """A code for ``oid`` as if the person had just logged in (see ``Provider.grant_for``)."""
        return self.provider.grant_for(client_id, oid, **options).code

    def rotate_keys(self, alg: str = "RS256") -> str:
        return self.provider.keys.rotate(alg).kid

    @property
    def outbox(self) -> list[dict[str, str]]:
        return [
            {"phone": m.phone, "text": m.text, "code": m.code, "sent_at": m.sent_at.isoformat()}
            for m in self.provider.outbox
        ]

    def last_code(self) -> str:
        """The code of the newest SMS."""
        return self.provider.outbox[-1].code

    def reset(self) -> None:
        """Back to the configured people and clients; no faults, empty outbox."""
        self.provider.people = Directory(self._initial_people)
        self.provider.clients = dict(self._initial_clients)
        self.provider.faults.clear()
        self.saml_faults.clear()
        self.saml.reset()
        self.provider.outbox.clear()

    # -- pages ------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "issuer": self.issuer,
            "authorization_endpoint": base + AUTHORIZE_PATHS[1],
            "token_endpoint": base + TOKEN_PATHS[1],
            "userinfo_endpoint": base + "/userinfo",
            "jwks_uri": base + "/jwks",
            "end_session_endpoint": base + "/idp/ext/Logout",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", gost.GOST_JWT_ALG],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "esia_cms",
                "esia_gost",
            ],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "scopes_supported": sorted(
                {
                    "openid",
                    "fullname",
                    "birthdate",
                    "gender",
                    "snils",
                    "id_doc",
                    "contacts",
                    "usr_org",
                }
            ),
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "at_hash",
                "acr",
                "amr",
            ],
            "authorization_response_iss_parameter_supported": True,
        }


_Fault = TypeVar("_Fault", TokenFault, SamlFault)


def _client(data: Mapping[str, Any], generated: dict[str, gost.GostPrivateKey]) -> Client:
    """A client from its config form; an ``esia_gost`` client without a certificate gets a
    new key (kept in ``generated``) and a self-signed certificate."""
    if data.get("auth_method") != "esia_gost" or data.get("certificate_pem"):
        return client_from_dict(data)
    client_id = str(data["client_id"])
    key = generated.get(client_id) or gost.generate_private_key()
    certificate = gost.self_signed_certificate(key, client_id, datetime.now(UTC), days=3650)
    client = client_from_dict({**data, "certificate_pem": certificate_pem(certificate)})
    generated[client_id] = key
    return client


def _enqueue(queue: list[set[_Fault]], faults: set[_Fault], responses: int) -> None:
    """Add ``faults`` to each of the next ``responses`` entries of a per-response queue."""
    if not faults:
        return
    for index in range(responses):
        if index < len(queue):
            queue[index] |= faults
        else:
            queue.append(set(faults))


def write_saml_key(directory: Path, given: Mapping[str, Any]) -> None:
    """Put a SAML key and certificate from the config where the SAML IdP loads them."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / SamlSigningKey.KEY_FILE
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(str(given["private_key_pem"]))
    (directory / SamlSigningKey.CERTIFICATE_FILE).write_text(
        str(given["certificate_pem"]), encoding="ascii"
    )


def add_service_provider(saml: SamlIdP, settings: Mapping[str, Any], base: Path) -> None:
    """Register an SP from config: ``metadata_file``/``metadata``, or its settings."""
    encrypt = bool(settings.get("encrypt_assertions", False))
    if settings.get("metadata_file"):
        xml = (base / str(settings["metadata_file"])).read_text(encoding="utf-8")
        saml.register_sp(xml, encrypt_assertions=encrypt)
    elif settings.get("metadata"):
        saml.register_sp(str(settings["metadata"]), encrypt_assertions=encrypt)
    else:
        saml.register_sp_settings(
            str(settings["entity_id"]),
            settings["acs_url"],
            certificate_pem=settings.get("certificate_pem"),
            encrypt_assertions=encrypt,
            slo_url=settings.get("slo_url"),
            want_signed_requests=bool(settings.get("want_signed_requests", False)),
        )


def _lang(request: Request, form: dict[str, Any] | None = None) -> str:
    lang = (form or {}).get("lang") or request.query_params.get("lang") or "ru"
    return lang if lang in TEXTS else "ru"


def _page(request: Request, name: str, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
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


def _redirect_error(exc: RedirectableError, issuer: str) -> RedirectResponse:
    params = {"error": exc.error, "error_description": exc.description, "state": exc.state}
    params["iss"] = issuer
    return RedirectResponse(_with_query(exc.redirect_uri, params), status_code=302)


def _with_query(url: str, params: dict[str, str]) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _json_error(exc: EsiaError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status if exc.status != 302 else 400,
        headers={"Cache-Control": "no-store"},
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    """Whatever went wrong, the answer is an ESIA-style error, never a stack trace."""
    refusal = EsiaError("the service cannot handle this request", code="esia.server_error")
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        return _page(
            request, "error.html", _lang(request), refusal.status, description=refusal.description
        )
    return _json_error(refusal)


class _Handlers:
    def __init__(self, idp: MockIdP) -> None:
        self.idp = idp
        self.provider = idp.provider
        self.secure = idp.base_url.startswith("https://")
        self.cookie = ("__Host-" if self.secure else "") + BROWSER_COOKIE

    def _browser(self, request: Request) -> tuple[str, bool]:
        """This browser's id from its cookie, or a new one (True: the cookie must be set)."""
        value = request.cookies.get(self.cookie, "")
        if _BROWSER_RE.fullmatch(value):
            return value, False
        return secrets.token_urlsafe(32), True

    def _login_page(
        self, request: Request, lang: str, txn: Transaction, client_id: str, fresh: bool
    ) -> Response:
        page = _page(request, "login.html", lang, txn=txn.id, client_id=client_id)
        if fresh:
            page.set_cookie(
                self.cookie,
                txn.browser,
                path="/",
                secure=self.secure,
                httponly=True,
                samesite="lax",
            )
        return page

    def _transaction(self, request: Request, form: Mapping[str, Any]) -> Transaction:
        """The form's login transaction, if it belongs to this browser."""
        return self.provider.transaction(
            str(form.get("txn", "")), browser=request.cookies.get(self.cookie, "")
        )

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
        lang = _lang(request)
        browser, fresh = self._browser(request)
        try:
            txn = self.provider.authorize(dict(request.query_params), browser=browser)
        except RedirectableError as exc:
            return _redirect_error(exc, self.idp.issuer)
        except EsiaError as exc:
            return _page(request, "error.html", lang, 400, description=exc.description)
        client_id = txn.client.client_id if txn.client else ""
        return self._login_page(request, lang, txn, client_id, fresh)

    async def login(self, request: Request) -> Response:
        form = dict(await request.form())
        lang = _lang(request, form)
        try:
            txn = self._transaction(request, form)
            person = self.provider.check_password(
                txn, str(form.get("login", "")), str(form.get("password", ""))
            )
        except RedirectableError as exc:
            return _redirect_error(exc, self.idp.issuer)
        except EsiaError as exc:
            return _page(request, "error.html", lang, exc.status, description=exc.description)
        return self._code_page(request, txn, lang, person.second_factor)

    def _code_page(
        self, request: Request, txn: Transaction, lang: str, method: SecondFactor, message: str = ""
    ) -> Response:
        return _page(request, "code.html", lang, txn=txn.id, method=method.value, message=message)

    async def second_factor(self, request: Request) -> Response:
        form = dict(await request.form())
        lang = _lang(request, form)
        try:
            txn = self._transaction(request, form)
            person = self.provider.check_second_factor(txn, str(form.get("code", "")))
            if txn.saml_request is not None:
                return self._saml_login_response(request, txn, person)
            grant = self.provider.grant_after_login(txn, person)
        except WrongCode as exc:
            method = txn.person.second_factor if txn.person else SecondFactor.SMS
            message = TEXTS[lang]["wrong_code"].format(left=exc.attempts_left)
            return self._code_page(request, txn, lang, method, message)
        except RedirectableError as exc:
            return _redirect_error(exc, self.idp.issuer)
        except EsiaError as exc:
            return _page(request, "error.html", lang, exc.status, description=exc.description)
        params = {"code": grant.code, "state": txn.state, "iss": self.idp.issuer}
        return RedirectResponse(_with_query(grant.redirect_uri, params), status_code=302)

    async def resend(self, request: Request) -> Response:
        form = dict(await request.form())
        lang = _lang(request, form)
        try:
            txn = self._transaction(request, form)
            sent = self.provider.send_sms(txn)
        except EsiaError as exc:
            return _page(request, "error.html", lang, exc.status, description=exc.description)
        message = TEXTS[lang]["resent" if sent else "cooldown"]
        return self._code_page(request, txn, lang, SecondFactor.SMS, message)

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
            return _json_error(exc)
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def userinfo(self, request: Request) -> Response:
        try:
            access = self.provider.access(request.headers.get("authorization"))
            return JSONResponse(self.provider.userinfo(access))
        except EsiaError as exc:
            return _json_error(exc)

    def _person_for(self, request: Request) -> tuple[Person, set[str]]:
        access = self.provider.access(request.headers.get("authorization"))
        collection = request.path_params.get("collection")
        if collection is not None and collection not in person_api.COLLECTIONS:
            raise EsiaError("no such collection", code="esia.not_found")
        oid = request.path_params["oid"]
        # ASCII digits of a 64-bit number only: int() of thousands of digits is a ValueError
        if not (oid.isascii() and oid.isdigit() and len(oid) <= 19) or int(oid) != access.oid:
            raise EsiaError("the token belongs to someone else", code="esia.forbidden")
        person = self.provider.people.get(access.oid)
        if person is None:
            raise EsiaError("no such person", code="esia.not_found")
        return person, set(access.scopes)

    async def person(self, request: Request) -> Response:
        try:
            person, scopes = self._person_for(request)
        except EsiaError as exc:
            return _json_error(exc)
        embed = person_api.parse_embed(request.query_params.get("embed"))
        return JSONResponse(person_api.embedded_person(person, scopes, self.idp.base_url, embed))

    async def roles(self, request: Request) -> Response:
        """The organisations the token's owner works for (scope ``usr_org``)."""
        try:
            person, scopes = self._person_for(request)
            if person_api.ROLES_SCOPE not in scopes:
                raise EsiaError("the token lacks the usr_org scope", code="esia.forbidden")
        except EsiaError as exc:
            return _json_error(exc)
        return JSONResponse(person_api.roles_document(person))

    async def organisation(self, request: Request) -> Response:
        """An organisation the token's owner works for (scope ``usr_org``)."""
        try:
            access = self.provider.access(request.headers.get("authorization"))
            person = self.provider.people.get(access.oid)
            if person is None:
                raise EsiaError("the person is gone", code="esia.invalid_token")
            doc = person_api.organisation(
                self.provider.people, person, access.scopes, request.path_params["oid"]
            )
        except EsiaError as exc:
            return _json_error(exc)
        return JSONResponse(doc)

    async def collection(self, request: Request) -> Response:
        try:
            person, scopes = self._person_for(request)
        except EsiaError as exc:
            return _json_error(exc)
        name = request.path_params["collection"]
        embed = "elements" in person_api.parse_embed(request.query_params.get("embed"))
        return JSONResponse(
            person_api.collection_document(person, name, scopes, self.idp.base_url, embed)
        )

    async def element(self, request: Request) -> Response:
        try:
            person, scopes = self._person_for(request)
        except EsiaError as exc:
            return _json_error(exc)
        items = person_api.elements(person, request.path_params["collection"], scopes)
        wanted = request.path_params["item"]
        for item in items:
            if str(item["id"]) == wanted:
                return JSONResponse(item)
        return _json_error(EsiaError("no such element", code="esia.not_found"))

    async def saml_metadata(self, request: Request) -> Response:
        return Response(self.idp.saml.metadata(), media_type="application/samlmetadata+xml")

    async def saml_sso(self, request: Request) -> Response:
        lang = _lang(request)
        try:
            if request.method == "GET":
                info = self.idp.saml.parse_authn_request(
                    "redirect", dict(request.query_params), query_string=request.url.query
                )
            else:
                form = {k: str(v) for k, v in (await request.form()).items()}
                lang = _lang(request, form)
                info = self.idp.saml.parse_authn_request("post", form)
        except SamlRequestError as exc:
            return _page(request, "error.html", lang, 400, description=str(exc))
        browser, fresh = self._browser(request)
        txn = self.provider.begin_saml(info, info.acs_url, info.relay_state or "", browser=browser)
        return self._login_page(request, lang, txn, info.sp_entity_id, fresh)

    def _saml_login_response(self, request: Request, txn: Transaction, person: Person) -> Response:
        form = self.idp.saml.login_response(
            txn.saml_request, person, faults=self.idp.take_saml_faults()
        )
        return HTMLResponse(form.html(), headers={"Cache-Control": "no-store"})

    async def saml_slo(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                result = self.idp.saml.logout(
                    "redirect", dict(request.query_params), query_string=request.url.query
                )
            else:
                form = {k: str(v) for k, v in (await request.form()).items()}
                result = self.idp.saml.logout("post", form)
        except SamlRequestError as exc:
            return _page(request, "error.html", _lang(request), 400, description=str(exc))
        if isinstance(result.answer, Redirect):
            return RedirectResponse(result.answer.url, status_code=303)
        return HTMLResponse(result.answer.html())

    async def logout(self, request: Request) -> Response:
        client = self.provider.clients.get(request.query_params.get("client_id", ""))
        target = request.query_params.get("redirect_url", "")
        if client is None or target not in client.redirect_uris:
            refusal = EsiaError("redirect_url is not registered", code="esia.bad_redirect_uri")
            return _page(
                request,
                "error.html",
                _lang(request),
                refusal.status,
                description=refusal.description,
            )
        return RedirectResponse(target, status_code=302)

    async def outbox(self, request: Request) -> Response:
        if not self.idp.is_admin(request.headers):  # the guard refused it already
            return _admin_refusal()
        return JSONResponse(self.idp.outbox)

    async def admin(self, request: Request) -> Response:
        if not self.idp.is_admin(request.headers):  # the guard refused it already
            return _admin_refusal()
        action = request.path_params["action"]
        try:
            body = await request.body()  # at most MAX_ADMIN_BODY_BYTES: the guard counted
            data = parse_json(body, max_bytes=MAX_ADMIN_BODY_BYTES) if body else {}
            if not isinstance(data, dict):
                raise TypeError("the body must be a JSON object")
            if action == "users":
                self.idp.add_user(data)
            elif action == "clients":
                self.idp.add_client(data)
            elif action == "faults":
                faults = data.get("faults", [])
                if not isinstance(faults, list) or len(faults) > MAX_FAULTS:
                    raise ValueError(f"faults must be a list of at most {MAX_FAULTS} names")
                self.idp.inject(*faults, responses=_responses(data.get("responses", 1)))
            elif action == "rotate":
                return JSONResponse({"kid": self.idp.rotate_keys(data.get("alg", "RS256"))})
            elif action == "reset":
                self.idp.reset()
            else:
                return JSONResponse({"error": "unknown admin action"}, status_code=404)
        except (BridgeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, 400)
        return JSONResponse({"ok": True})


MAX_FAULTS = 32
"""Most fault names one ``/admin/faults`` request may give."""
MAX_FAULT_RESPONSES = 100
"""Most responses one ``/admin/faults`` request may apply its faults to."""


def _responses(value: object) -> int:
    """``responses`` of ``/admin/faults``: a whole number from 1 to MAX_FAULT_RESPONSES."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("responses must be a whole number")
    if not 1 <= value <= MAX_FAULT_RESPONSES:
        raise ValueError(f"responses must be between 1 and {MAX_FAULT_RESPONSES}")
    return value


def _admin_refusal() -> Response:
    return JSONResponse(
        {
            "error": "unauthorized",
            "error_description": f"this endpoint needs the admin token in {ADMIN_HEADER}",
        },
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )


class _BodyTooLarge(Exception):
    pass


class _Guard:
    """The outermost layer of the mock's application: the admin token, bounded bodies
    and the security headers (see the module's docstring)."""

    def __init__(self, app: ASGIApp, idp: MockIdP) -> None:
        self.app = app
        self.idp = idp
        self.saml_paths = frozenset((*SSO_PATHS.values(), *SLO_PATHS.values()))

    def limit(self, path: str) -> int:
        """The largest body accepted for ``path``."""
        if path.startswith("/admin/"):
            return MAX_ADMIN_BODY_BYTES
        if path in self.saml_paths:
            return MAX_SAML_BODY_BYTES
        return MAX_FORM_BODY_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_headers(send)
        path = str(scope.get("path", ""))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        admin_only = path.startswith("/admin/") or path == "/outbox"
        if admin_only and not self.idp.is_admin(headers):
            await _admin_refusal()(scope, receive, send)
            return
        limit = self.limit(path)
        try:
            declared = int(headers.get("content-length", "0") or "0")
        except ValueError:
            declared = -1
        if declared < 0 or declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        try:
            body = await _read_body(receive, limit)
        except _BodyTooLarge:
            await _too_large(limit)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, counted while it streams; past ``limit`` bytes the reading
    stops (:class:`_BodyTooLarge`), whatever Content-Length said or did not say."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the counted body once, then waits on the real one."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_headers(send: Send) -> Send:
    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            for name, value in SECURITY_HEADERS.items():
                if name.lower().encode() not in present:
                    headers.append((name.lower().encode(), value.encode()))
            if b"cache-control" not in present:
                headers.append((b"cache-control", b"no-store"))
            message["headers"] = headers
        await send(message)

    return sending


def _too_large(limit: int) -> Response:
    description = f"{ESIA_BAD_REQUEST}: the request body is larger than {limit} bytes"
    return Response(
        json.dumps({"error": "invalid_request", "error_description": description}),
        status_code=413,
        media_type="application/json",
        headers={"Connection": "close"},
    )


class _MockApp(Starlette):
    """Starlette with :class:`_Guard` outside everything, error pages included."""

    def build_middleware_stack(self) -> ASGIApp:
        return _Guard(super().build_middleware_stack(), self.state.idp)


def create_app(idp: MockIdP) -> Starlette:
    """The ASGI application serving ``idp``."""
    h = _Handlers(idp)
    routes = [
        Route("/.well-known/openid-configuration", h.discovery),
        Route("/jwks", h.jwks),
        Route(CERTIFICATES_PATH, h.certificates),
        Route(CERTIFICATES_ARCHIVE_PATH, h.certificates_archive),
        *(Route(path, h.authorize) for path in AUTHORIZE_PATHS),
        Route("/login", h.login, methods=["POST"]),
        Route("/login/code", h.second_factor, methods=["POST"]),
        Route("/login/resend", h.resend, methods=["POST"]),
        *(Route(path, h.token, methods=["POST"]) for path in TOKEN_PATHS),
        Route("/userinfo", h.userinfo, methods=["GET", "POST"]),
        Route("/rs/prns/{oid}", h.person),
        Route("/rs/prns/{oid}/roles", h.roles),
        Route("/rs/prns/{oid}/{collection:str}", h.collection),
        Route("/rs/prns/{oid}/{collection:str}/{item}", h.element),
        Route(ORGANISATION_PATH, h.organisation),
        Route("/idp/ext/Logout", h.logout),
        Route(ENTITY_ID_PATH, h.saml_metadata),
        *(Route(path, h.saml_sso, methods=["GET", "POST"]) for path in SSO_PATHS.values()),
        *(Route(path, h.saml_slo, methods=["GET", "POST"]) for path in SLO_PATHS.values()),
        Route("/outbox", h.outbox),
        Route("/admin/{action}", h.admin, methods=["POST"]),
    ]
    app = _MockApp(routes=routes, exception_handlers={Exception: _unexpected})
    app.state.idp = idp
    return app
