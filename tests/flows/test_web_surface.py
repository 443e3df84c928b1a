"""What the web adapters ask the broker for, through its public methods only: CSRF
tokens, browser ids, the organisations of the login form, an account's label, whether an
authenticator app is enrolled."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.broker import World, build_world
from sso_bridge.sessions import SessionError


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def test_csrf_tokens_belong_to_their_session_and_binding(world: World) -> None:
    logged_in = world.local_login("club", "ivanov")
    session = logged_in.session
    token = world.broker.csrf_token(session)
    world.broker.check_csrf(session, token)
    with pytest.raises(SessionError):
        world.broker.check_csrf(session, token + "x")
    sealed = world.broker.csrf_token(session, "secret|uri")
    world.broker.check_csrf(session, sealed, "secret|uri")
    with pytest.raises(SessionError):
        world.broker.check_csrf(session, sealed, "other|uri")


def test_browser_ids_are_signed_by_the_broker(world: World) -> None:
    browser, value = world.broker.issue_browser_id()
    assert world.broker.verify_browser_id(value) == browser
    assert world.broker.verify_browser_id(value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert world.broker.verify_browser_id(None) is None
    other = world.broker_like(secret=b"another key of at least thirty-two bytes!!")
    assert other.verify_browser_id(value) is None


def test_organisations_and_account_labels(world: World) -> None:
    every = {o.org_id for o in world.broker.organisations()}
    assert every == {"sch1", "sch2", "club"}
    assert [o.org_id for o in world.broker.organisations(["sch2", "nowhere"])] == ["sch2"]
    account, organisation = world.broker.account_and_organisation("a-anna") or (None, None)
    assert account is not None and account.org_id == "sch1"
    assert organisation is not None and organisation.org_id == "sch1"
    assert world.broker.account_and_organisation("no-such-account") is None
    assert world.broker.totp_enrolled("a-anna") is False
