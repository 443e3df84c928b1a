"""A session ended from elsewhere tells its browser why (``session.ended_elsewhere``),
for as long as the session would have lived; one ended by its own logout, or unknown, does
not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.clock import NOW
from sessions.test_manager import IP, ISSUER, start
from sso_bridge.model import IdpSession
from sso_bridge.sessions import SessionManager
from sso_bridge.sessions.ended import ENDED_KIND, EndedSessions
from sso_bridge.sessions.errors import SessionEnded, SessionUnknown
from sso_bridge.store.memory import InMemoryEphemeralStore

LATER = NOW + timedelta(minutes=1)


def test_a_session_ended_from_another_device_says_so(manager: SessionManager) -> None:
    token, session = start(manager)
    assert manager.revoke(session.session_id, reason="elsewhere", now=NOW)
    with pytest.raises(SessionEnded) as ended:
        manager.validate(token, ip=IP, now=LATER)
    assert ended.value.code == "session.ended_elsewhere"
    assert ended.value.reason == "elsewhere"
    assert isinstance(ended.value, SessionUnknown)  # handled wherever an unknown one is


def test_the_mark_lasts_no_longer_than_the_session_would_have(manager: SessionManager) -> None:
    token, session = start(manager)
    manager.revoke(session.session_id, reason="elsewhere", now=NOW)
    with pytest.raises(SessionUnknown) as gone:
        manager.validate(token, ip=IP, now=session.expires_at + timedelta(seconds=1))
    assert not isinstance(gone.value, SessionEnded)


@pytest.mark.parametrize("how", ["plain revoke", "own logout", "unknown token"])
def test_other_ends_are_plain_unknown_sessions(manager: SessionManager, how: str) -> None:
    token, session = start(manager)
    if how == "plain revoke":
        manager.revoke(session.session_id)
    elif how == "own logout":
        manager.revoke_token(token, now=NOW)
    else:
        token = start(manager)[0][:-4] + "AAAA"
    with pytest.raises(SessionUnknown) as gone:
        manager.validate(token, ip=IP, now=LATER)
    assert type(gone.value) is SessionUnknown


def test_log_out_everywhere_and_the_idp_mark_their_sessions(manager: SessionManager) -> None:
    first, _ = start(manager, account="acc-7")
    second, _ = start(manager, account="acc-7")
    assert manager.revoke_account("acc-7", now=NOW) == 2
    for token in (first, second):
        with pytest.raises(SessionEnded) as ended:
            manager.validate(token, ip=IP, now=LATER)
        assert ended.value.reason == "elsewhere"
    token, _ = start(manager, idp=IdpSession("esia", sid="sid-1"), method="federated")
    assert manager.end_named(ISSUER, "sid", "sid-1", NOW)
    with pytest.raises(SessionEnded) as ended:
        manager.validate(token, ip=IP, now=LATER)
    assert ended.value.reason == "idp"


def test_a_mark_holds_only_a_known_reason() -> None:
    store = InMemoryEphemeralStore()
    marks = EndedSessions(store)
    with pytest.raises(ValueError, match="unknown reason"):
        marks.mark("s1", "because", NOW + timedelta(hours=1), NOW)
    store.put(ENDED_KIND, "s2", b"\xff<script>", NOW + timedelta(hours=1), NOW)
    assert marks.reason("s2", NOW) is None  # whatever else is stored is no reason
    marks.mark("s3", "idp", NOW + timedelta(days=30), NOW)
    assert marks.reason("s3", NOW + timedelta(hours=23)) == "idp"
    assert marks.reason("s3", NOW + timedelta(days=2)) is None  # a day at most
