"""The logout routes over each framework: the back-channel logout endpoint (200, or 400
with an error JSON; never cached), "log out everywhere", and an IdP's answer to no
logout of ours."""

from __future__ import annotations

import json
from typing import Any

from mock_idp.tokens import sign_token
from sso_bridge.model import AuditAction
from sso_bridge.oidc.logout import BACKCHANNEL_EVENT
from sso_bridge.saml.xml import new_id
from web.support import CLIENT_ID, SUBJECT, World

SESSION_COOKIE = "sso_session"


def logout_token(world: World, **claims: Any) -> str:
    now = int(world.clock.now().timestamp())
    body = {
        "iss": world.mock.idp.issuer,
        "aud": CLIENT_ID,
        "iat": now,
        "jti": new_id(),
        "events": {BACKCHANNEL_EVENT: {}},
        **claims,
    }
    return sign_token(body, world.mock.idp.provider.keys.active("RS256"))


def test_the_back_channel_endpoint_ends_the_persons_sessions(world: World) -> None:
    world.link(world.mock.idp.issuer)
    assert world.oidc_login().status_code in (302, 303)
    assert world.browser.get("/auth/settings").status_code == 200
    idp = world.browser.__class__(base_url=world.base_url)  # the IdP's own client: no cookies
    try:
        answer = idp.post(
            "/auth/backchannel-logout/esia", data={"logout_token": logout_token(world, sub=SUBJECT)}
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-type"].startswith("application/json")
        again = idp.post(
            "/auth/backchannel-logout/esia", data={"logout_token": logout_token(world, nonce="n")}
        )
        assert again.status_code == 400
        assert again.headers["cache-control"] == "no-store"
        error = json.loads(again.text)
        assert error["error"] == "invalid_request"
        assert error["code"] == "oidc.logout_token_nonce"
        missing = idp.post("/auth/backchannel-logout/esia", data={})
        assert missing.status_code == 400 and json.loads(missing.text)["code"] == "input.invalid"
    finally:
        idp.close()
    assert world.browser.get("/auth/settings").status_code == 302  # to the login page
    recorded = [(e.action, e.code) for e in world.audit.events()]
    assert (AuditAction.LOGOUT_FROM_IDP, None) in recorded
    assert (AuditAction.LOGOUT_FROM_IDP, "oidc.logout_token_nonce") in recorded


def test_log_out_everywhere_needs_the_csrf_token_and_ends_the_session(world: World) -> None:
    assert world.local_login().status_code == 303
    refused = world.browser.post("/auth/logout/everywhere", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    assert world.browser.get("/auth/settings").status_code == 200
    out = world.browser.post("/auth/logout/everywhere", data={"csrf_token": world.csrf()})
    assert out.status_code == 303
    assert out.headers["location"] == "/auth/login?done=logged_out"
    assert SESSION_COOKIE not in world.browser.cookies
    assert world.browser.get("/auth/settings").status_code == 302


def test_an_idp_answer_to_no_logout_of_ours_is_refused(world: World) -> None:
    page = world.browser.get("/auth/logout/done/esia", params={"state": "forged"})
    assert page.status_code == 400
    assert "broker.logout_unknown" in page.text
