"""The session and kept-request rules over every EphemeralStore backend: in memory and
SQLite always, PostgreSQL and Redis when their URLs are set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.clock import NOW
from sessions.support import CSRF_KEY, KEEP_KEY
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.sessions import (
    RequestKeeper,
    SavedRequest,
    SessionError,
    SessionExpired,
    SessionIpChanged,
    SessionManager,
    SessionPolicy,
)

IP = "192.0.2.10"


def login(manager: SessionManager, account: str = "acc-1") -> str:
    token, _ = manager.start(
        account, ip=IP, user_agent="UA", now=NOW, issuer="iss", subject="sub", accounts=("acc-2",)
    )
    return token


def code(exc: pytest.ExceptionInfo[SessionError]) -> str:
    return exc.value.code


def test_lifecycle(backend: EphemeralStore) -> None:
    manager = SessionManager(backend, SessionPolicy(), CSRF_KEY)
    token = login(manager)
    assert manager.validate(token, ip=IP, now=NOW + timedelta(minutes=2)).account_id == "acc-1"
    rotated, session = manager.rotate(token, now=NOW + timedelta(minutes=3), account_id="acc-2")
    with pytest.raises(SessionError) as old:
        manager.validate(token, ip=IP, now=NOW + timedelta(minutes=3))
    assert code(old) == "session.unknown"
    assert manager.sessions_of("acc-2", NOW + timedelta(minutes=3)) == [session]
    with pytest.raises(SessionExpired) as ended:
        manager.validate(rotated, ip=IP, now=session.idle_expires_at)
    assert ended.value.account_id == "acc-2"


def test_ip_change_and_revocation(backend: EphemeralStore) -> None:
    manager = SessionManager(backend, SessionPolicy(), CSRF_KEY)
    token = login(manager)
    with pytest.raises(SessionIpChanged):
        manager.validate(token, ip="198.51.100.1", now=NOW)
    with pytest.raises(SessionError) as gone:
        manager.validate(token, ip=IP, now=NOW)
    assert code(gone) == "session.unknown"
    tokens = [login(manager, "acc-3") for _ in range(3)]
    assert manager.revoke_account("acc-3") == 3
    for each in tokens:
        with pytest.raises(SessionError):
            manager.validate(each, ip=IP, now=NOW)


def test_kept_request(backend: EphemeralStore) -> None:
    keeper = RequestKeeper(backend, KEEP_KEY)
    kept = SavedRequest("POST", "/marks", (("m", "пять"), ("m", "четыре")), "acc-1")
    keep_id = keeper.keep(kept, browser_id="b1", now=NOW)
    with pytest.raises(SessionError):
        keeper.restore(keep_id, browser_id="b2", account_id="acc-1", now=NOW)
    assert keeper.restore(keep_id, browser_id="b1", account_id="acc-1", now=NOW) == kept
    other = keeper.keep(kept, browser_id="b1", now=NOW)
    with pytest.raises(SessionError) as error:
        keeper.restore(other, browser_id="b1", account_id="acc-2", now=NOW)
    assert code(error) == "session.kept_request_other_account"
    with pytest.raises(SessionError):
        keeper.restore(other, browser_id="b1", account_id="acc-1", now=NOW)
