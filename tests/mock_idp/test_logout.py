"""Logout at the mock IdP: ESIA's logout, OIDC RP-Initiated Logout and back-channel logout
tokens delivered to a loopback receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from jose import jwt

from helpers.clock import FixedClock
from helpers.mock_idp_sso import (
    AFTER_LOGOUT,
    MARIA,
    MARIA_LOGIN,
    OTHER_LOGIN,
    OTHER_PASSWORD,
    REDIRECT,
    Receiver,
    authorize,
    back,
    browser,
    claims,
    finish_login,
    header,
    log_in,
    new_idp,
    serve_receiver,
    tokens,
)
from mock_idp.app import MockIdP
from mock_idp.backchannel import BACKCHANNEL_EVENT, LogoutTokenFault

BAD_LOGOUT = "not registered"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from serve_receiver()


@pytest.fixture
def idp(receiver: Receiver) -> MockIdP:
    return new_idp(backchannel_logout_uri=receiver.url)


def logged_in(idp: MockIdP) -> tuple[Any, dict[str, Any], str]:
    """A browser with an IdP session; the tokens and the ID token's sid."""
    http = browser(idp)
    got = tokens(http, log_in(http, idp)["code"])
    return http, got, claims(got["id_token"])["sid"]


def verified(idp: MockIdP, token: str) -> dict[str, Any]:
    """A logout token's claims, its signature checked with the IdP's JWKS."""
    keys = browser(idp).get("/jwks").json()
    key = next(k for k in keys["keys"] if k["kid"] == header(token)["kid"])
    return dict(jwt.decode(token, key, algorithms=["RS256"], audience="portal"))


def test_end_session_with_a_registered_uri(idp: MockIdP, receiver: Receiver) -> None:
    http, got, sid = logged_in(idp)
    answer = http.get(
        "/oidc/end_session",
        params={
            "id_token_hint": got["id_token"],
            "post_logout_redirect_uri": AFTER_LOGOUT,
            "state": "s 1",
        },
    )
    assert answer.status_code == 302
    assert answer.headers["location"] == AFTER_LOGOUT + "?state=s+1"
    assert authorize(http).status_code == 200  # the session is over: the login page
    (delivery,) = idp.backchannel.wait(1)
    assert delivery.ok and delivery.sid == sid and delivery.uri == receiver.url
    assert receiver.content_types == ["application/x-www-form-urlencoded"]
    assert receiver.bodies[0]["logout_token"] == [delivery.logout_token]


def test_end_session_refuses_an_unregistered_uri(idp: MockIdP) -> None:
    http, got, _ = logged_in(idp)
    for params in (
        {"id_token_hint": got["id_token"], "post_logout_redirect_uri": REDIRECT},
        {"post_logout_redirect_uri": AFTER_LOGOUT},  # no client named
        {"client_id": "portal", "post_logout_redirect_uri": AFTER_LOGOUT + "/x"},
        {"id_token_hint": got["id_token"] + "x", "post_logout_redirect_uri": AFTER_LOGOUT},
        {"id_token_hint": got["id_token"], "client_id": "school-portal"},
    ):
        answer = http.get("/oidc/end_session", params=params)
        assert answer.status_code == 400 and "location" not in answer.headers, params
    assert back(authorize(http))["code"]  # nothing ended
    assert idp.backchannel_deliveries == []


def test_end_session_without_redirect_and_by_post(idp: MockIdP) -> None:
    http, _, _ = logged_in(idp)
    answer = http.post("/oidc/end_session", data={"client_id": "portal"})
    assert answer.status_code == 200 and "Сеанс в тестовом ЕСИА завершён" in answer.text
    assert authorize(http).status_code == 200


def test_an_expired_hint_still_ends_the_session_it_names(idp: MockIdP) -> None:
    clock = FixedClock()
    idp.provider.clock = clock  # type: ignore[assignment]
    code = idp.authorization_code("portal", MARIA, redirect_uri=REDIRECT)
    got = tokens(browser(idp), code)
    sid = claims(got["id_token"])["sid"]
    clock.advance(timedelta(days=1))  # the ID token is long expired, the session is not
    idp.sessions.renew(sid, clock.now())  # sessions last 8 hours: keep this one alive
    answer = browser(idp).get(
        "/oidc/end_session",
        params={"id_token_hint": got["id_token"], "post_logout_redirect_uri": AFTER_LOGOUT},
    )
    assert answer.status_code == 302
    assert idp.sessions.get(sid, clock.now()) is None


def test_esia_logout_ends_the_session(idp: MockIdP) -> None:
    http, _, sid = logged_in(idp)
    bad = http.get("/idp/ext/Logout", params={"client_id": "portal", "redirect_url": "https://x"})
    assert bad.status_code == 400
    assert back(authorize(http))["code"]  # a refused logout ends nothing
    answer = http.get("/idp/ext/Logout", params={"client_id": "portal", "redirect_url": REDIRECT})
    assert answer.status_code == 302 and answer.headers["location"] == REDIRECT
    assert authorize(http).status_code == 200
    (delivery,) = idp.backchannel.wait(1)
    assert delivery.sid == sid


def test_logout_token_claims(idp: MockIdP) -> None:
    _, got, sid = logged_in(idp)
    idp.end_sessions_of(MARIA_LOGIN)
    (delivery,) = idp.backchannel.wait(1)
    token = delivery.logout_token
    assert header(token)["typ"] == "logout+jwt"
    body = verified(idp, token)
    assert body["iss"] == idp.issuer and body["aud"] == "portal"
    assert body["sid"] == sid and body["sub"] == str(MARIA)
    assert body["events"] == {BACKCHANNEL_EVENT: {}}
    assert "nonce" not in body and len(body["jti"]) >= 16
    assert 0 < body["exp"] - body["iat"] <= 300
    assert header(token)["alg"] == header(got["id_token"])["alg"]


def test_deliveries_are_recorded_with_their_status(idp: MockIdP, receiver: Receiver) -> None:
    receiver.status[0] = 400
    logged_in(idp)
    logged_in(idp)  # a second browser: a second session
    idp.add_client({"client_id": "silent", "secret": "x", "redirect_uris": [REDIRECT]})
    ended = idp.end_sessions_of(MARIA)
    assert len(ended) == 2
    deliveries = idp.backchannel.wait(2)
    assert [d.status for d in deliveries] == [400, 400]
    assert {d.sid for d in deliveries} == {s.sid for s in ended}
    assert len({verified(idp, d.logout_token)["jti"] for d in deliveries}) == 2


def test_an_unreachable_receiver_is_recorded() -> None:
    idp = new_idp(backchannel_logout_uri="http://127.0.0.1:9/nothing-listens")
    idp.backchannel.timeout = 1.0
    logged_in(idp)
    idp.end_sessions_of(MARIA)
    (delivery,) = idp.backchannel.wait(1)
    assert delivery.status is None and delivery.error and not delivery.ok


def test_crafted_logout_tokens_with_faults(idp: MockIdP) -> None:
    good = verified(idp, idp.logout_token("portal", sid="abc", sub="1"))
    assert good["sid"] == "abc"
    with pytest.raises(jwt.JWTClaimsError):
        verified(idp, idp.logout_token("portal", sid="abc", faults=["wrong_aud"]))
    assert "nonce" in claims(idp.logout_token("portal", sid="a", faults=["with_nonce"]))
    assert "events" not in claims(idp.logout_token("portal", sid="a", faults=["no_events"]))
    good = claims(idp.logout_token("portal", sid="abc"))
    replayed = claims(idp.logout_token("portal", sid="a", faults=[LogoutTokenFault.REPLAYED_JTI]))
    assert replayed["jti"] == good["jti"]
    assert header(idp.logout_token("portal", sub="1", faults=["wrong_typ"]))["typ"] == "JWT"
    with pytest.raises(ValueError, match="sid, sub"):
        idp.logout_token("portal")


def test_the_admin_route_ends_a_persons_sessions(idp: MockIdP) -> None:
    http, _, sid = logged_in(idp)
    admin = browser(idp)
    assert admin.post("/admin/logout", json={"login": MARIA_LOGIN}).status_code == 401
    answer = admin.post("/admin/logout", json={"login": MARIA_LOGIN}, headers=idp.admin_headers)
    assert answer.json() == {"ended": [sid]}
    assert authorize(http).status_code == 200
    bad = admin.post("/admin/logout", json={"login": ["x"]}, headers=idp.admin_headers)
    assert bad.status_code == 400


def test_a_new_person_in_the_browser_ends_the_old_session_with_a_notice(idp: MockIdP) -> None:
    http, _, sid = logged_in(idp)
    page = authorize(http, prompt="login")
    back(finish_login(http, idp, page, OTHER_LOGIN, OTHER_PASSWORD))
    (delivery,) = idp.backchannel.wait(1)
    assert delivery.sid == sid and delivery.sub == str(MARIA)
