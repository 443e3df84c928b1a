"""Single sign-on at the mock IdP over OIDC: a browser's IdP session answers later
authorization requests at once, unless the client asks for a fresh authentication, and
the tokens report the session's sid and authentication time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.clock import FixedClock
from helpers.mock_idp_sso import (
    MARIA,
    OTHER,
    OTHER_LOGIN,
    OTHER_PASSWORD,
    authorize,
    back,
    browser,
    claims,
    finish_login,
    log_in,
    new_idp,
    tokens,
    txn_of,
)
from mock_idp.app import MockIdP
from mock_idp.sso import IdpSessions, parse_max_age, reauthentication, session_acr


@pytest.fixture
def idp() -> MockIdP:
    idp = new_idp()
    idp.provider.clock = FixedClock()  # type: ignore[assignment]
    return idp


def clock(idp: MockIdP) -> FixedClock:
    value = idp.provider.clock
    assert isinstance(value, FixedClock)
    return value


def test_a_second_authorization_is_answered_from_the_session(idp: MockIdP) -> None:
    http = browser(idp)
    one = claims(tokens(http, log_in(http, idp)["code"])["id_token"])
    sms_sent = len(idp.outbox)
    clock(idp).advance(timedelta(minutes=3))
    again = back(authorize(http, state="second"))
    assert again["state"] == "second"
    assert len(idp.outbox) == sms_sent  # no login page, no SMS
    two = claims(tokens(http, again["code"])["id_token"])
    assert one["sid"] == two["sid"]
    assert two["auth_time"] == one["auth_time"]  # the session's, not the token's iat
    assert two["iat"] - two["auth_time"] == 180
    assert two["sub"] == str(MARIA)
    # another browser has no session
    assert authorize(browser(idp)).status_code == 200


def test_tokens_carry_the_session(idp: MockIdP) -> None:
    http = browser(idp)
    got = tokens(http, log_in(http, idp)["code"])
    session = next(iter(idp.sessions.of_person(MARIA, clock(idp).now())))
    id_token = claims(got["id_token"])
    assert id_token["sid"] == session.sid == id_token["urn:esia:sid"]
    assert id_token["auth_time"] == int(session.auth_time.timestamp())
    assert id_token["acr"] == session_acr("confirmed") == session.acr
    assert claims(got["access_token"])["urn:esia:sid"] == session.sid
    assert session.participants == {"portal"}


def test_prompt_login_shows_the_login_page_and_renews_the_session(idp: MockIdP) -> None:
    http = browser(idp)
    first = claims(tokens(http, log_in(http, idp)["code"])["id_token"])
    clock(idp).advance(timedelta(minutes=5))
    page = authorize(http, prompt="login")
    txn_of(page)  # the login page, not a code
    second = claims(tokens(http, back(finish_login(http, idp, page))["code"])["id_token"])
    assert second["sid"] == first["sid"]  # the same person: the same session
    assert second["auth_time"] - first["auth_time"] == 300


def test_max_age(idp: MockIdP) -> None:
    http = browser(idp)
    log_in(http, idp)
    clock(idp).advance(timedelta(seconds=100))
    assert authorize(http, max_age="100").status_code == 302  # not older than max_age
    assert authorize(http, max_age="99").status_code == 200  # older: log in again
    assert authorize(http, max_age="0").status_code == 200  # always log in again
    refused = back(authorize(http, max_age="-1"))
    assert refused["error"] == "invalid_request"


def test_prompt_none(idp: MockIdP) -> None:
    http = browser(idp)
    refused = back(authorize(http, prompt="none", state="quiet"))
    assert refused["error"] == "login_required" and refused["state"] == "quiet"
    log_in(http, idp)
    assert "code" in back(authorize(http, prompt="none"))
    clock(idp).advance(timedelta(seconds=61))
    assert back(authorize(http, prompt="none", max_age="60"))["error"] == "login_required"
    assert back(authorize(http, prompt="none login"))["error"] == "invalid_request"


def test_another_person_replaces_the_session(idp: MockIdP) -> None:
    http = browser(idp)
    first = claims(tokens(http, log_in(http, idp)["code"])["id_token"])
    page = authorize(http, prompt="login")
    done = finish_login(http, idp, page, OTHER_LOGIN, OTHER_PASSWORD)
    second = claims(tokens(http, back(done)["code"])["id_token"])
    assert second["sub"] == str(OTHER) and second["sid"] != first["sid"]
    assert idp.sessions.get(first["sid"], clock(idp).now()) is None
    assert claims(tokens(http, back(authorize(http))["code"])["id_token"])["sub"] == str(OTHER)


def test_acr_values_are_accepted_and_the_achieved_acr_reported(idp: MockIdP) -> None:
    http = browser(idp)
    got = log_in(http, idp, acr_values="urn:esia:loa:confirmed urn:example:unmet")
    assert claims(tokens(http, got["code"])["id_token"])["acr"] == "urn:esia:loa:confirmed"


def test_the_api_code_opens_a_session(idp: MockIdP) -> None:
    when = clock(idp).now() - timedelta(minutes=7)
    code = idp.authorization_code("portal", MARIA, auth_time=when)
    id_token = claims(tokens(browser(idp), code)["id_token"])
    assert id_token["auth_time"] == int(when.timestamp())
    assert idp.sessions.get(id_token["sid"], clock(idp).now()) is not None


def test_discovery_advertises_logout() -> None:
    meta = browser(new_idp()).get("/.well-known/openid-configuration").json()
    assert meta["end_session_endpoint"] == "http://idp.test/oidc/end_session"
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True
    assert {"sid", "auth_time"} <= set(meta["claims_supported"])


def test_the_rules_without_http() -> None:
    sessions = IdpSessions()
    now = FixedClock().now()
    session = sessions.open("b", MARIA, now)
    assert reauthentication(None, now).fresh
    assert not reauthentication(session, now).fresh
    assert reauthentication(session, now, force=True).fresh
    assert reauthentication(session, now, max_age=0).fresh
    assert not reauthentication(session, now + timedelta(seconds=5), max_age=5).fresh
    assert reauthentication(session, now + timedelta(seconds=6), max_age=5).fresh
    assert reauthentication(session, now, prompt="none").passive
    for bad in ("-1", "1.5", "x", "٣"):
        with pytest.raises(ValueError, match="max_age"):
            parse_max_age(bad)
    assert parse_max_age(None) is None and parse_max_age("30") == 30
