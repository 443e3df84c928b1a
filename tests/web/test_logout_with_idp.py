"""Logout between the broker's routes and the mock IdP, over HTTP both ways, on each
framework: the person's logout that goes on to the IdP (OpenID Connect RP-initiated, SAML
single logout) and comes back, and the logouts the IdP starts (a back-channel logout
token, an IdP-initiated SAML LogoutRequest)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from mock_idp.saml.pages import Redirect
from sso_bridge.model import AuditAction
from web.support import SUBJECT, World, field

SETTINGS = "/auth/settings"
OID = int(SUBJECT)


def _logged_in(world: World, protocol: str, session_index: str | None = None) -> None:
    if protocol == "oidc":
        world.link(world.mock.idp.issuer)
        assert world.oidc_login().status_code in (302, 303)
    else:
        world.link(world.saml.issuer)
        to_idp = world.browser.get("/auth/login/saml")
        answer = world.saml_answer(to_idp.headers["location"], session_index=session_index)
        assert world.browser.post("/auth/acs/saml", data=answer).status_code in (302, 303)
    assert world.browser.get(SETTINGS).status_code == 200


def _log_out(world: World) -> httpx.Response:
    token = field(world.browser.get(SETTINGS).text, "csrf_token")
    return world.browser.post("/auth/logout", data={"csrf_token": token})


def _audited(world: World, action: AuditAction) -> list[tuple[str | None, str | None]]:
    return [(e.code, e.detail) for e in world.audit.events() if e.action is action]


SENT_AND_CONFIRMED = [(None, "sent to the IdP"), (None, "the IdP confirmed")]


def test_oidc_logout_ends_the_idp_session_and_comes_back(world: World) -> None:
    _logged_in(world, "oidc")
    assert world.mock.idp.sessions.of_person(OID, world.clock.now())
    out = _log_out(world)
    assert out.status_code in (302, 303), out.text
    to_idp = urlsplit(out.headers["location"])
    query = parse_qs(to_idp.query)
    assert out.headers["location"].startswith(world.mock.idp.provider.issuer.rstrip("/"))
    assert query["post_logout_redirect_uri"] == [world.post_logout_redirect_uri]
    assert "id_token_hint" in query and "state" in query
    assert world.browser.get(SETTINGS).status_code == 302  # ended here before the IdP
    with httpx.Client(timeout=10) as idp_browser:  # the IdP's own pages
        back = idp_browser.get(out.headers["location"])
    assert back.status_code in (302, 303), back.text
    assert back.headers["location"].startswith(world.post_logout_redirect_uri)
    assert not world.mock.idp.sessions.of_person(OID, world.clock.now())
    done = world.browser.get(back.headers["location"])
    assert done.status_code in (302, 303), done.text
    assert urlsplit(done.headers["location"]).path == "/auth/login"
    assert _audited(world, AuditAction.LOGOUT_AT_IDP) == SENT_AND_CONFIRMED
    # the state is good once: the same return again is refused, and audited
    again = world.browser.get(back.headers["location"])
    assert again.status_code >= 400
    assert _audited(world, AuditAction.LOGOUT_AT_IDP)[-1][0] == "broker.logout_unknown"


def test_a_back_channel_logout_from_the_idp_ends_the_session(world: World) -> None:
    _logged_in(world, "oidc")
    before = len(world.mock.idp.backchannel_deliveries)
    assert world.mock.idp.end_sessions_of(OID)
    deliveries = world.mock.idp.backchannel.wait(before + 1)
    assert deliveries[-1].status == 200, deliveries[-1]
    assert world.browser.get(SETTINGS).status_code == 302
    assert [c for c, _ in _audited(world, AuditAction.LOGOUT_FROM_IDP)] == [None]


def test_saml_logout_goes_to_the_idp_and_its_answer_is_checked(world: World) -> None:
    _logged_in(world, "saml", session_index="sid-of-the-idp-session")
    out = _log_out(world)
    assert out.status_code in (302, 303), out.text
    assert "SAMLRequest=" in out.headers["location"]
    with httpx.Client(timeout=10) as idp_browser:
        answered = idp_browser.get(out.headers["location"])
    assert answered.status_code in (302, 303), answered.text
    assert "SAMLResponse=" in answered.headers["location"]
    back = urlsplit(answered.headers["location"])
    done = world.browser.get(f"{back.path}?{back.query}")
    assert done.status_code in (302, 303), done.text
    assert urlsplit(done.headers["location"]).path == "/auth/login"
    assert world.browser.get(SETTINGS).status_code == 302
    assert _audited(world, AuditAction.LOGOUT_AT_IDP) == SENT_AND_CONFIRMED


def test_an_idp_initiated_saml_logout_ends_the_session_and_is_answered(world: World) -> None:
    sid = "the-idp-session-to-end"
    _logged_in(world, "saml", session_index=sid)
    message = world.mock.idp.saml_logout_request(
        world.saml.config.entity_id, sid, binding="redirect", end_session=False
    )
    assert isinstance(message, Redirect)
    to_us = urlsplit(message.url)
    assert to_us.path == "/auth/slo/saml"
    answer = world.browser.get(f"{to_us.path}?{to_us.query}")  # the person's browser
    assert answer.status_code in (302, 303), answer.text
    assert "SAMLResponse=" in answer.headers["location"]
    with httpx.Client(timeout=10) as idp_browser:
        checked = idp_browser.get(answer.headers["location"])
    assert checked.status_code < 400, checked.text
    outcome = world.mock.idp.saml.logout_outcomes[-1]
    assert outcome.sp_entity_id == world.saml.config.entity_id
    assert outcome.success, outcome
    assert world.browser.get(SETTINGS).status_code == 302
    assert [c for c, _ in _audited(world, AuditAction.LOGOUT_FROM_IDP)] == [None]
