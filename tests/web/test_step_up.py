"""Step-up over HTTP (docs/reauthentication.md): ``POST /auth/step-up`` sends a logged-in
person to the IdP with ``prompt=login`` and back to ``return_to``; the host's check
(:meth:`AuthRoutes.fresh_or_step_up`) passes only after that. On each framework."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from sso_bridge.model import AuditAction
from sso_bridge.sessions import Session
from sso_bridge.web import WebConfig
from sso_bridge.web.core import AuthRoutes
from sso_bridge.web.http import WebResponse
from web.support import World, fields

SESSION_COOKIE = "sso_session"


def _session(world: World) -> Session:
    token = world.browser.cookies.get(SESSION_COOKIE)
    assert token
    return world.broker.sessions.validate(token, ip="127.0.0.1", now=world.clock.now())


def test_a_step_up_goes_to_the_idp_afresh_and_comes_back(world: World) -> None:
    world.link(world.oidc.issuer)
    assert world.oidc_login().status_code == 302
    routes = AuthRoutes(world.broker, WebConfig())
    session = _session(world)
    page = routes.fresh_or_step_up(session, max_age=300, return_to="/grades")
    assert isinstance(page, WebResponse)
    form = dict(page.context["fields"])
    assert form["return_to"] == "/grades" and form["max_age"] == "300"
    csrf = world.csrf()
    to_idp = world.browser.post(
        "/auth/step-up", data={"csrf_token": csrf, "max_age": "0", "return_to": "/grades"}
    )
    assert to_idp.status_code in (302, 303), to_idp.text
    location = to_idp.headers["location"]
    query = dict(parse_qsl(urlsplit(location).query))
    assert (query["prompt"], query["max_age"]) == ("login", "0")
    back = world.oidc_login_at(location)
    assert back.status_code in (302, 303), back.text
    assert back.headers["location"] == "/grades"
    assert routes.fresh_or_step_up(session, max_age=300, return_to="/grades") is None
    assert AuditAction.STEP_UP in [e.action for e in world.audit.tail(50)]


def test_a_step_up_form_without_its_csrf_token_or_with_a_foreign_return_is_refused(
    world: World,
) -> None:
    world.link(world.oidc.issuer)
    assert world.oidc_login().status_code == 302
    refused = world.browser.post("/auth/step-up", data={"return_to": "/grades"})
    assert refused.status_code == 403, refused.text
    csrf = world.csrf()
    foreign = world.browser.post(
        "/auth/step-up", data={"csrf_token": csrf, "return_to": "//evil.example/"}
    )
    assert foreign.status_code == 400
    assert "input.invalid" in foreign.text
    bad_age = world.browser.post("/auth/step-up", data={"csrf_token": csrf, "max_age": "-1"})
    assert bad_age.status_code == 400
    assert not [k for k, _ in fields(foreign.text) if k == "SAMLRequest"]
