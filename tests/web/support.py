"""A broker over in-memory stores and a SQLite directory, with the running mock IdP as
its OIDC and SAML provider, served by Starlette (uvicorn), Flask (werkzeug) or Django (its
own threaded WSGI server) on a loopback port, and a browser (httpx) that keeps cookies."""

from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import flask
import httpx
import uvicorn
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test.utils import override_settings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from werkzeug.serving import make_server

from helpers.accounts import KEY, ORGS, make_account
from helpers.broker import CHEAP_HASHER
from helpers.clock import FixedClock
from helpers.keys import make_key_pair
from mock_idp.server import RunningIdP, free_port
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.broker import Broker, BrokerPolicy, OidcProvider, SamlProvider
from sso_bridge.mfa import InMemoryCredentialStore, OutboxSender, SecondFactorPolicy
from sso_bridge.model import AuditAction, AuditEvent, Link, LinkMethod
from sso_bridge.oidc import HttpxClient, RelyingParty, discover
from sso_bridge.saml import InMemoryReplayCache, InMemoryRequestStore, ServiceProviderConfig
from sso_bridge.saml.requests import sp_metadata
from sso_bridge.sessions import CookieSettings
from sso_bridge.store import InMemoryEphemeralStore, open_store
from sso_bridge.store.sql import SqlStore
from sso_bridge.web import WebConfig
from sso_bridge.web import flask as web_flask
from sso_bridge.web import starlette as web_starlette
from web.django_host import restored_text  # configures Django for this process too

FRAMEWORKS = ("starlette", "flask", "django")
SECRET = b"web-tests-broker-secret-32-bytes!"
PASSWORD = "Uchitel-2024"
SUBJECT = "1000000101"
TEACHER = make_account("t1", "sch1", login="smirnova", roles=("teacher",), snils="123-456-789 64")
DIRECTOR = make_account(
    "d1",
    "sch2",
    login="ivanov",
    roles=("director",),
    last_name="Иванов",
    first_name="Пётр",
    middle_name=None,
    birth_date=date(1970, 1, 2),
)
DIRECTOR_PHONE = "+7 900 555-12-34"
CLIENT_ID = "web-tests"


def field(page: str, name: str) -> str:
    """The value of the (first) input called ``name`` in ``page``."""
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found is not None, f"no field {name!r} in:\n{page}"
    return html.unescape(found.group(1))


def fields(page: str) -> list[tuple[str, str]]:
    """Every ``name``/``value`` input pair of ``page``, in order."""
    pairs = re.findall(r'name="([^"]+)" value="([^"]*)"', page)
    return [(html.unescape(k), html.unescape(v)) for k, v in pairs]


# -- the host application's own protected view ------------------------------------------------


@web_starlette.require_session
async def _starlette_grades(request: Request) -> Response:
    if request.method == "POST":
        form = await request.form()
        saved = [f"{k}={v}" for k, v in form.multi_items() if k != "csrf_token"]
        return PlainTextResponse("saved " + "&".join(saved))
    token = request.state.sso_csrf_token
    account = request.state.sso_session.account_id
    return HTMLResponse(f'<p>grades of {account}</p><input name="csrf_token" value="{token}">')


@web_starlette.require_session
async def _starlette_notes(request: Request) -> Response:
    if request.method == "POST":
        return PlainTextResponse("saved")
    return PlainTextResponse(restored_text(request.state.sso_restored))


def starlette_app(config: WebConfig, broker: Broker) -> Starlette:
    routes = [
        web_starlette.auth_routes(broker, config),
        Route("/grades", _starlette_grades, methods=["GET", "POST"]),
        Route("/notes", _starlette_notes, methods=["GET", "POST"]),
        Route("/", lambda request: PlainTextResponse("home")),
    ]
    return Starlette(routes=routes)


def flask_app(config: WebConfig, broker: Broker) -> flask.Flask:
    app = flask.Flask("web_tests")
    web_flask.SsoBridge(app, broker=broker, config=config)

    @app.route("/grades", methods=["GET", "POST"])
    @web_flask.require_session
    def grades() -> str:
        if flask.request.method == "POST":
            form = flask.request.form.items(multi=True)
            return "saved " + "&".join(f"{k}={v}" for k, v in form if k != "csrf_token")
        token = flask.g.sso_csrf_token
        account = flask.g.sso_session.account_id
        return f'<p>grades of {account}</p><input name="csrf_token" value="{token}">'

    @app.route("/notes", methods=["GET", "POST"])
    @web_flask.require_session
    def notes() -> str:
        return "saved" if flask.request.method == "POST" else restored_text(flask.g.sso_restored)

    @app.route("/")
    def home() -> str:
        return "home"

    return app


class Server:
    """An app served on 127.0.0.1:``port`` in a daemon thread."""

    def __init__(self, framework: str, app: Any, port: int) -> None:
        self.framework = framework
        self._wsgi: Any = None
        self._uvicorn: uvicorn.Server | None = None
        if framework == "flask":
            self._wsgi = make_server("127.0.0.1", port, app, threaded=True)
            target: Callable[[], None] = self._wsgi.serve_forever
        elif framework == "django":
            self._wsgi = ThreadedWSGIServer(("127.0.0.1", port), WSGIRequestHandler)
            self._wsgi.set_app(app)
            target = self._wsgi.serve_forever
        else:
            settings = uvicorn.Config(
                app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
            )
            self._uvicorn = uvicorn.Server(settings)
            target = self._uvicorn.run
        self._thread = threading.Thread(target=target, name=f"web-{framework}", daemon=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while self._uvicorn is not None and not self._uvicorn.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        if self._wsgi is not None:
            self._wsgi.shutdown()
            self._wsgi.server_close()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        self._thread.join(10)


class World:
    """Everything a web test needs; :meth:`close` stops the server and the stores."""

    def __init__(self, framework: str, mock: RunningIdP, tmp_path: Path) -> None:
        self.framework = framework
        self.mock = mock
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # the running mock IdP keeps real time: start from now, not from the session's start
        self.clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
        self.store: SqlStore = open_store(f"sqlite:///{tmp_path / 'web.db'}", KEY)
        self.store.import_accounts([TEACHER, DIRECTOR], ORGS)
        self.credentials = InMemoryCredentialStore()
        self.sender = OutboxSender()
        self.audit = InMemoryAuditLog()
        self._http = httpx.Client(timeout=10)
        self.oidc = self._oidc_provider()
        self.saml = self._saml_provider(tmp_path)
        self.broker = Broker(
            directory=self.store,
            links=self.store,
            audit=self.audit,
            store=InMemoryEphemeralStore(),
            credentials=self.credentials,
            sender=self.sender,
            secret=SECRET,
            providers=(self.oidc, self.saml),
            policy=BrokerPolicy(
                second_factor=SecondFactorPolicy(staff_roles={"director"}, for_local_logins=False)
            ),
            clock=self.clock,
            password_hasher=CHEAP_HASHER,
        )
        now = self.clock.now()
        self.broker.passwords.set_password(TEACHER.account_id, PASSWORD, now)
        self.broker.passwords.set_password(DIRECTOR.account_id, PASSWORD, now)
        self.credentials.set_contacts(DIRECTOR.account_id, phone=DIRECTOR_PHONE)
        self.config = WebConfig(
            cookies=CookieSettings(secure=False), after_login="/", restore_in_place=("/notes",)
        )
        self._django: override_settings | None = None
        if framework == "django":
            bridge = {"BROKER": self.broker, "CONFIG": self.config}
            self._django = override_settings(SSO_BRIDGE=bridge)
            self._django.enable()
            app: Any = WSGIHandler()
        else:
            app = (flask_app if framework == "flask" else starlette_app)(self.config, self.broker)
        self.server = Server(framework, app, self.port)
        self.server.start()
        self.browser = httpx.Client(base_url=self.base_url, timeout=10, follow_redirects=False)

    def close(self) -> None:
        self.browser.close()
        self.server.stop()
        if self._django is not None:
            self._django.disable()
        self._http.close()
        self.store.close()

    # -- providers -----------------------------------------------------------------------------

    def _oidc_provider(self) -> OidcProvider:
        redirect_uri = f"{self.base_url}/auth/callback/esia"
        self.mock.idp.add_client(
            {
                "client_id": CLIENT_ID,
                "redirect_uris": [redirect_uri],
                "post_logout_redirect_uris": [self.post_logout_redirect_uri],
                "backchannel_logout_uri": f"{self.base_url}/auth/backchannel-logout/esia",
                "auth_method": "client_secret_basic",
                "secret": "web-secret",
            }
        )
        http = HttpxClient(self._http)
        config = discover(
            http,
            self.mock.idp.issuer,
            client_id=CLIENT_ID,
            redirect_uri=redirect_uri,
            client_secret="web-secret",
            algorithms=("RS256",),
        )
        return OidcProvider(
            "esia",
            RelyingParty(config, http),
            post_logout_redirect_uri=self.post_logout_redirect_uri,
        )

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}/auth/logout/done/esia"

    def _saml_provider(self, keys: Path) -> SamlProvider:
        idp = self.mock.idp.saml
        signing = make_key_pair(keys, "sp")
        config = ServiceProviderConfig.from_idp_metadata(
            idp.metadata(),
            entity_id=f"{self.base_url}/saml/metadata",
            acs_url=f"{self.base_url}/auth/acs/saml",
            idp_entity_id=idp.entity_id,
            # single logout both ways: signed LogoutRequests and LogoutResponses
            slo_url=f"{self.base_url}/auth/slo/saml",
            signing_key_pem=signing.key_pem,
            signing_certificate_pem=signing.cert_pem,
        )
        self.mock.idp.add_service_provider({"metadata": sp_metadata(config)})
        return SamlProvider("saml", config, InMemoryRequestStore(), InMemoryReplayCache())

    def link(self, issuer: str, account_id: str = TEACHER.account_id) -> None:
        """Link the mock's person 101 at ``issuer`` to ``account_id``, as an admin would."""
        now = self.clock.now()
        link = Link(issuer, SUBJECT, account_id, LinkMethod.ADMIN, now, "admin")
        event = AuditEvent(AuditAction.LINK, now, "admin", issuer=issuer, subject=SUBJECT)
        self.store.create_link(link, event)

    # -- a person in the browser -----------------------------------------------------------------

    def oidc_login(self, path: str = "/auth/login/esia", oid: int = int(SUBJECT)) -> httpx.Response:
        """Through the IdP (its login page skipped, as ``oid``) back to the callback."""
        to_idp = self.browser.get(path)
        assert to_idp.status_code == 302, to_idp.text
        return self.oidc_login_at(to_idp.headers["location"], oid)

    def oidc_login_at(
        self, location: str, oid: int = int(SUBJECT), scopes: tuple[str, ...] = ()
    ) -> httpx.Response:
        """The callback's answer after the IdP at ``location`` let ``oid`` in (granting
        ``scopes`` too: the person's data, which linking compares with the account)."""
        query = dict(parse_qsl(urlsplit(location).query))
        code = self.mock.idp.authorization_code(
            CLIENT_ID,
            oid,
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce"),
            code_challenge=query.get("code_challenge"),
            scopes=(*query["scope"].split(), *scopes),
        )
        params = {"code": code, "state": query["state"], "iss": self.mock.idp.issuer}
        return self.browser.get("/auth/callback/esia", params=params)

    def saml_login(self, path: str = "/auth/login/saml") -> httpx.Response:
        """Through the SAML IdP (its login page skipped) back to the ACS; its answer."""
        to_idp = self.browser.get(path)
        assert to_idp.status_code == 302, to_idp.text
        return self.browser.post(
            "/auth/acs/saml", data=self.saml_answer(to_idp.headers["location"])
        )

    def saml_answer(self, location: str, session_index: str | None = None) -> dict[str, str]:
        """The form the SAML IdP at ``location`` posts back for person 101 (in the IdP
        session ``session_index``, if given)."""
        url = urlsplit(location)
        idp = self.mock.idp.saml
        request = idp.parse_authn_request(
            "redirect", dict(parse_qsl(url.query)), query_string=url.query
        )
        person = self.mock.idp.provider.people.get(int(SUBJECT))
        assert person is not None
        answer = idp.login_response(request, person, session_index=session_index)
        return dict(answer.fields)

    def local_login(
        self, login: str = "smirnova", password: str = PASSWORD, org: str = "sch1", query: str = ""
    ) -> httpx.Response:
        """The login page's local form, filled in and sent; its answer."""
        page = self.browser.get("/auth/login" + query)
        assert page.status_code == 200, page.text
        form = {
            "step_id": field(page.text, "step_id"),
            "org": org,
            "login": login,
            "password": password,
        }
        return self.browser.post("/auth/local", data=form)

    def post_pairs(self, path: str, pairs: list[tuple[str, str]]) -> httpx.Response:
        """POST a form whose fields keep their order (and may repeat)."""
        body = urlencode(pairs)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.browser.post(path, content=body, headers=headers)

    def csrf(self, path: str = "/auth/settings") -> str:
        page = self.browser.get(path)
        assert page.status_code == 200, page.text
        return field(page.text, "csrf_token")
