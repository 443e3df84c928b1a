"""What the adapters do beyond the shared scenarios: views of every shape behind
require_session, the Flask extension's two set-ups (and the deprecated blueprint), and a
clear failure when the auth routes were never mounted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask
import pytest
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from helpers.accounts import KEY, ORGS
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.broker import Broker
from sso_bridge.errors import ConfigError
from sso_bridge.mfa import InMemoryCredentialStore, OutboxSender
from sso_bridge.sessions import CookieSettings
from sso_bridge.store import InMemoryEphemeralStore, open_store
from sso_bridge.web import WebConfig
from sso_bridge.web import flask as web_flask
from sso_bridge.web import starlette as web_starlette
from web.support import SECRET

CONFIG = WebConfig(cookies=CookieSettings(secure=False))


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    store = open_store(f"sqlite:///{tmp_path / 'adapters.db'}", KEY)
    store.import_accounts([], ORGS)
    yield Broker(
        directory=store,
        links=store,
        audit=InMemoryAuditLog(),
        store=InMemoryEphemeralStore(),
        credentials=InMemoryCredentialStore(),
        sender=OutboxSender(),
        secret=SECRET,
    )
    store.close()


@web_starlette.require_session
def plain_view(request: Request) -> Response:
    return PlainTextResponse("plain")


class Grades(HTTPEndpoint):
    @web_starlette.require_session
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("grades")


def test_starlette_guards_plain_functions_and_endpoint_classes(broker: Broker) -> None:
    app = Starlette(
        routes=[
            web_starlette.auth_routes(broker, CONFIG),
            Route("/plain", plain_view),
            Route("/grades", Grades),
        ]
    )
    for path in ("/plain", "/grades"):
        client = TestClient(app, follow_redirects=False, client=("127.0.0.1", 50000))
        answer = client.get(path)
        assert answer.status_code == 302
        assert answer.headers["location"] == f"/auth/login?next=%2F{path[1:]}"
        assert "sso_browser=" in answer.headers["set-cookie"]


def test_starlette_without_the_auth_routes_fails_clearly() -> None:
    client = TestClient(Starlette(routes=[Route("/plain", plain_view)]))
    with pytest.raises(ConfigError, match="auth_routes"):
        client.get("/plain")


def test_flask_without_the_blueprint_fails_clearly() -> None:
    app = flask.Flask("bare")

    @app.route("/plain")
    @web_flask.require_session
    def plain() -> str:
        return "plain"

    app.testing = True
    with pytest.raises(ConfigError, match="SsoBridge"):
        app.test_client().get("/plain")


def test_flask_extension_with_an_application_factory(broker: Broker) -> None:
    bridge = web_flask.SsoBridge(broker=broker, config=CONFIG)
    app = flask.Flask("factory")
    auth = bridge.init_app(app)
    assert app.extensions[web_flask.EXTENSION] is auth
    assert app.config["MAX_CONTENT_LENGTH"] == CONFIG.max_form_bytes
    assert app.test_client().get("/auth/login").status_code == 200
    with pytest.raises(ConfigError, match="broker"):
        web_flask.SsoBridge(flask.Flask("no_broker"))


def test_the_deprecated_flask_blueprint_still_works(broker: Broker) -> None:
    app = flask.Flask("old")
    with pytest.deprecated_call():
        app.register_blueprint(web_flask.auth_blueprint(broker, CONFIG))

    @app.route("/plain")
    @web_flask.require_session
    def plain() -> str:
        return "plain"

    assert app.test_client().get("/plain").headers["Location"] == "/auth/login?next=%2Fplain"


def test_flask_routes_sit_under_the_prefix(broker: Broker) -> None:
    app = flask.Flask("prefixed")
    web_flask.SsoBridge(app, broker=broker, config=WebConfig(prefix="/sso"))
    rules = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("sso_")}
    assert "/sso/login/<provider>" in rules
    assert "/sso/second-factor/resend" in rules
    page = app.test_client().get("/sso/login")
    assert page.status_code == 200
    assert 'action="/sso/local"' in page.get_data(as_text=True)
