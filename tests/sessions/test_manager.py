"""SessionManager: tokens, lifetimes, IP binding, rotation, revocation, CSRF, touches."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any

import pytest

from helpers.clock import NOW
from sessions.support import CSRF_KEY, CountingStore
from sso_bridge import base64url
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import BridgeError, ConfigError, InvalidInput
from sso_bridge.sessions import (
    IpBinding,
    Session,
    SessionError,
    SessionExpired,
    SessionIpChanged,
    SessionManager,
    SessionPolicy,
)
from sso_bridge.store.memory import InMemoryEphemeralStore

IP = "192.0.2.10"
AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
ISSUER = "https://esia.example/"
SUBJECT = "1000123456"


def start(manager: SessionManager, account: str = "acc-1", **kw: object) -> tuple[str, Session]:
    fields: dict[str, object] = {
        "ip": IP,
        "user_agent": AGENT,
        "now": NOW,
        "issuer": ISSUER,
        "subject": SUBJECT,
    }
    fields.update(kw)
    return manager.start(account, **fields)  # type: ignore[arg-type]


def code_of(error: pytest.ExceptionInfo[BridgeError]) -> str:
    return error.value.code


# -- tokens ---------------------------------------------------------------------------------


def test_token_is_256_random_bits_and_the_id_its_sha256(manager: SessionManager) -> None:
    token, session = start(manager)
    other, _ = start(manager)
    assert len(base64url.decode(token)) == 32
    assert token != other
    assert session.session_id == hashlib.sha256(token.encode()).hexdigest()


def test_token_is_never_stored_only_its_hash(manager: SessionManager, store: CountingStore) -> None:
    token, session = start(manager)
    manager.validate(token, ip=IP, now=NOW + timedelta(minutes=5))  # a touch writes again
    manager.rotate(token, now=NOW + timedelta(minutes=6))
    raw = base64url.decode(token)
    assert store.written
    assert store.written[0][0] == session.session_id
    for key, value in store.written:
        assert token not in key
        assert token.encode() not in value
        assert raw not in value


def test_validate_returns_the_session(manager: SessionManager) -> None:
    token, started = start(manager, accounts=("acc-2",), second_factor=True)
    session = manager.validate(token, ip=IP, now=NOW + timedelta(seconds=1))
    assert session == started
    assert session.account_id == "acc-1"
    assert (session.issuer, session.subject, session.method) == (ISSUER, SUBJECT, "federated")
    assert session.accounts == ("acc-1", "acc-2")
    assert session.second_factor is True
    assert session.user_agent == AGENT


def test_local_login_has_no_issuer(manager: SessionManager) -> None:
    token, _ = start(manager, issuer=None, subject=None, method="local")
    session = manager.validate(token, ip=IP, now=NOW)
    assert (session.issuer, session.subject, session.method) == (None, None, "local")


@pytest.mark.parametrize(
    "token", [None, "", "garbage", "!" * 43, "A" * 42, "A" * 44, "é" * 43, "A" * 42 + "="]
)
def test_missing_or_malformed_token(manager: SessionManager, token: str | None) -> None:
    with pytest.raises(SessionError) as error:
        manager.validate(token, ip=IP, now=NOW)
    assert code_of(error) == "session.missing"


def test_unknown_token(manager: SessionManager) -> None:
    start(manager)
    with pytest.raises(SessionError) as error:
        manager.validate(base64url.encode(bytes(32)), ip=IP, now=NOW)
    assert code_of(error) == "session.unknown"


def test_garbage_in_the_store_is_no_session(manager: SessionManager, store: CountingStore) -> None:
    token, session = start(manager)
    store.put("session", session.session_id, b'{"not": "a session"}', NOW + timedelta(hours=1), NOW)
    with pytest.raises(SessionError) as error:
        manager.validate(token, ip=IP, now=NOW)
    assert code_of(error) == "session.unknown"


# -- lifetimes ------------------------------------------------------------------------------


def test_absolute_lifetime_ends_a_session_in_constant_use(manager: SessionManager) -> None:
    token, _ = start(manager)
    now = NOW
    while now + timedelta(minutes=20) < NOW + timedelta(hours=8):
        now += timedelta(minutes=20)
        assert manager.validate(token, ip=IP, now=now).account_id == "acc-1"
    with pytest.raises(SessionExpired) as error:
        manager.validate(token, ip=IP, now=NOW + timedelta(hours=8))
    assert code_of(error) == "session.expired"
    assert error.value.account_id == "acc-1"


def test_idle_timeout(manager: SessionManager) -> None:
    token, _ = start(manager)
    seen = manager.validate(token, ip=IP, now=NOW + timedelta(minutes=29))
    assert seen.idle_expires_at == NOW + timedelta(minutes=59)
    manager.validate(token, ip=IP, now=NOW + timedelta(minutes=58, seconds=59))
    with pytest.raises(SessionExpired) as error:
        manager.validate(
            token, ip=IP, now=NOW + timedelta(minutes=58, seconds=59) + timedelta(minutes=30)
        )
    assert code_of(error) == "session.idle_expired"
    assert error.value.account_id == "acc-1"
    assert error.value.session.issuer == ISSUER


def test_idle_deadline_itself_has_passed(manager: SessionManager) -> None:
    token, session = start(manager)
    with pytest.raises(SessionExpired) as error:
        manager.validate(token, ip=IP, now=session.idle_expires_at)
    assert code_of(error) == "session.idle_expired"


def test_expired_session_is_remembered_for_the_grace_only(manager: SessionManager) -> None:
    token, session = start(manager)
    ended = session.idle_expires_at
    with pytest.raises(SessionExpired):
        manager.validate(token, ip=IP, now=ended + timedelta(hours=23))
    with pytest.raises(SessionError) as error:
        manager.validate(token, ip=IP, now=ended + timedelta(hours=24))
    assert code_of(error) == "session.unknown"


def test_idp_session_end_caps_the_absolute_lifetime(manager: SessionManager) -> None:
    cap = NOW + timedelta(hours=1)
    token, session = start(manager, not_on_or_after=cap)
    assert session.expires_at == cap
    manager.validate(token, ip=IP, now=cap - timedelta(minutes=35))
    manager.validate(token, ip=IP, now=cap - timedelta(minutes=10))
    with pytest.raises(SessionExpired) as error:
        manager.validate(token, ip=IP, now=cap)
    assert code_of(error) == "session.expired"


def test_a_later_idp_session_end_does_not_extend(manager: SessionManager) -> None:
    _, session = start(manager, not_on_or_after=NOW + timedelta(days=2))
    assert session.expires_at == NOW + timedelta(hours=8)


def test_an_idp_session_that_has_ended_starts_nothing(manager: SessionManager) -> None:
    with pytest.raises(InvalidInput):
        start(manager, not_on_or_after=NOW)


def test_custom_lifetimes(store: CountingStore) -> None:
    policy = SessionPolicy(absolute_lifetime=timedelta(hours=1), idle_timeout=timedelta(minutes=5))
    manager = SessionManager(store, policy, CSRF_KEY)
    _, session = start(manager)
    assert session.expires_at == NOW + timedelta(hours=1)
    assert session.idle_expires_at == NOW + timedelta(minutes=5)


# -- IP binding -----------------------------------------------------------------------------


def test_another_ip_ends_the_session(manager: SessionManager) -> None:
    token, _ = start(manager)
    with pytest.raises(SessionIpChanged) as error:
        manager.validate(token, ip="198.51.100.7", now=NOW)
    assert code_of(error) == "session.ip_changed"
    assert error.value.session.ip == error.value.bound_ip == IP
    assert error.value.seen_ip == "198.51.100.7"
    assert error.value.session.account_id == "acc-1"
    with pytest.raises(SessionError) as again:
        manager.validate(token, ip=IP, now=NOW)
    assert code_of(again) == "session.unknown"


def test_a_malformed_ip_is_refused_without_ending_the_session(manager: SessionManager) -> None:
    token, _ = start(manager)
    with pytest.raises(InvalidInput) as error:
        manager.validate(token, ip="not-an-ip", now=NOW)
    assert code_of(error) == "input.bad_ip"
    manager.validate(token, ip=IP, now=NOW)


def test_ipv4_mapped_ipv6_is_the_same_client(manager: SessionManager) -> None:
    token, session = start(manager, ip="::ffff:192.0.2.10")
    assert session.ip == IP
    manager.validate(token, ip="::ffff:192.0.2.10", now=NOW)
    manager.validate(token, ip=IP, now=NOW)


@pytest.mark.parametrize(
    ("bound", "same", "other"),
    [
        ("192.0.2.10", "192.0.2.200", "192.0.3.10"),
        ("2001:db8:1:2::10", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:3::10"),
        ("2001:db8:1:2::10", "2001:db8:1:2::10", "192.0.2.10"),
    ],
)
def test_prefix_binding(store: CountingStore, bound: str, same: str, other: str) -> None:
    policy = SessionPolicy(binding=IpBinding(ipv4_prefix=24, ipv6_prefix=64))
    manager = SessionManager(store, policy, CSRF_KEY)
    token, _ = start(manager, ip=bound)
    manager.validate(token, ip=same, now=NOW)
    with pytest.raises(SessionIpChanged):
        manager.validate(token, ip=other, now=NOW)


def test_exact_binding_refuses_a_neighbour(manager: SessionManager) -> None:
    token, _ = start(manager)
    with pytest.raises(SessionIpChanged):
        manager.validate(token, ip="192.0.2.11", now=NOW)


# -- rotation -------------------------------------------------------------------------------


def test_rotation_kills_the_old_token_at_once(manager: SessionManager) -> None:
    token, first = start(manager)
    later = NOW + timedelta(minutes=10)
    new_token, second = manager.rotate(token, now=later)
    assert new_token != token
    assert second.session_id != first.session_id
    assert (second.created_at, second.expires_at) == (first.created_at, first.expires_at)
    assert second.idle_expires_at == later + timedelta(minutes=30)
    assert manager.validate(new_token, ip=IP, now=later) == second
    with pytest.raises(SessionError) as error:
        manager.validate(token, ip=IP, now=later)
    assert code_of(error) == "session.unknown"
    with pytest.raises(SessionError):
        manager.rotate(token, now=later)


class _RotateDuringRead:
    """After the second read of a session entry (the one a rotation takes it with), runs
    ``hook`` once: a second rotation of the same token arriving at that very moment."""

    def __init__(self, inner: EphemeralStore) -> None:
        self.inner = inner
        self.reads = 0
        self.hook: Callable[[], None] | None = None

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name not in ("get", "consume"):
            return method

        def read(*args: Any, **kwargs: Any) -> Any:
            value = method(*args, **kwargs)
            self.reads += 1
            if self.reads == 2 and self.hook is not None:
                hook, self.hook = self.hook, None
                hook()
            return value

        return read


def test_concurrent_rotations_leave_one_successor() -> None:
    store = _RotateDuringRead(InMemoryEphemeralStore())
    manager = SessionManager(store, SessionPolicy(), CSRF_KEY)
    token, _ = start(manager)
    refused: list[str] = []

    def second_rotation() -> None:
        try:
            manager.rotate(token, now=NOW)
        except SessionError as exc:
            refused.append(exc.code)

    store.hook = second_rotation
    store.reads = 0
    manager.rotate(token, now=NOW)
    assert refused == ["session.unknown"]
    assert len(manager.sessions_of("acc-1", NOW)) == 1


def test_rotation_after_the_second_factor(manager: SessionManager) -> None:
    token, _ = start(manager)
    new_token, session = manager.rotate(token, now=NOW, second_factor=True)
    assert session.second_factor is True
    assert manager.validate(new_token, ip=IP, now=NOW).second_factor is True
    _, again = manager.rotate(new_token, now=NOW)
    assert again.second_factor is True


def test_account_switch_rotates_and_moves_the_session(manager: SessionManager) -> None:
    token, _ = start(manager, accounts=("acc-2",), second_factor=True)
    new_token, session = manager.rotate(token, now=NOW, account_id="acc-2")
    assert session.account_id == "acc-2"
    assert session.second_factor is False
    assert session.accounts == ("acc-1", "acc-2")
    assert manager.validate(new_token, ip=IP, now=NOW).account_id == "acc-2"
    assert [s.session_id for s in manager.sessions_of("acc-2", NOW)] == [session.session_id]
    assert manager.sessions_of("acc-1", NOW) == []
    with pytest.raises(SessionError):
        manager.validate(token, ip=IP, now=NOW)
    back_token, back = manager.rotate(new_token, now=NOW, account_id="acc-1")
    assert back.account_id == "acc-1"
    manager.validate(back_token, ip=IP, now=NOW)


def test_switch_to_an_account_not_offered(manager: SessionManager) -> None:
    token, _ = start(manager, accounts=("acc-2",))
    with pytest.raises(SessionError) as error:
        manager.rotate(token, now=NOW, account_id="acc-3")
    assert code_of(error) == "session.account_not_offered"
    assert manager.validate(token, ip=IP, now=NOW).account_id == "acc-1"


def test_an_expired_session_is_not_rotated(manager: SessionManager) -> None:
    token, session = start(manager)
    with pytest.raises(SessionExpired):
        manager.rotate(token, now=session.idle_expires_at)
    with pytest.raises(SessionExpired):
        manager.validate(token, ip=IP, now=session.idle_expires_at)


# -- revocation and listing -----------------------------------------------------------------


def test_revoke_one(manager: SessionManager) -> None:
    token, session = start(manager)
    assert manager.revoke(session.session_id) is True
    assert manager.revoke(session.session_id) is False
    with pytest.raises(SessionError) as error:
        manager.validate(token, ip=IP, now=NOW)
    assert code_of(error) == "session.unknown"


def test_revoke_token(manager: SessionManager) -> None:
    token, session = start(manager)
    assert manager.revoke_token(token, now=NOW) == session
    assert manager.revoke_token(token, now=NOW) is None
    assert manager.revoke_token("garbage", now=NOW) is None
    assert manager.revoke_token(None, now=NOW) is None
    with pytest.raises(SessionError):
        manager.validate(token, ip=IP, now=NOW)


def test_revoke_all_of_an_account(manager: SessionManager) -> None:
    tokens = [start(manager, now=NOW + timedelta(seconds=i))[0] for i in range(3)]
    other, _ = start(manager, "acc-2")
    assert manager.revoke_account("acc-1") == 3
    for token in tokens:
        with pytest.raises(SessionError):
            manager.validate(token, ip=IP, now=NOW + timedelta(seconds=5))
    assert manager.validate(other, ip=IP, now=NOW).account_id == "acc-2"
    assert manager.revoke_account("acc-1") == 0


def test_sessions_of_lists_the_live_ones_oldest_first(manager: SessionManager) -> None:
    _, old = start(manager, now=NOW - timedelta(minutes=40))  # idle past NOW
    _, first = start(manager, now=NOW - timedelta(minutes=20))
    _, second = start(manager, now=NOW - timedelta(minutes=10), ip="198.51.100.7")
    start(manager, "acc-2")
    listed = manager.sessions_of("acc-1", NOW)
    assert listed == [first, second]
    assert old not in listed
    assert manager.sessions_of("nobody", NOW) == []


# -- CSRF -----------------------------------------------------------------------------------


def test_csrf_token_of_a_session(manager: SessionManager) -> None:
    _, session = start(manager)
    _, other = start(manager)
    token = manager.csrf_token(session)
    assert len(base64url.decode(token)) == 32
    manager.check_csrf(session, token)
    for bad in (None, "", "x", manager.csrf_token(other), token[:-1] + "A", "ж" * 43):
        if bad == token:
            continue
        with pytest.raises(SessionError) as error:
            manager.check_csrf(session, bad)
        assert code_of(error) == "session.csrf_invalid"


def test_csrf_token_depends_on_the_key(store: CountingStore) -> None:
    _, session = start(SessionManager(store, SessionPolicy(), CSRF_KEY))
    other_key = SessionManager(store, SessionPolicy(), bytes(32))
    with pytest.raises(SessionError):
        other_key.check_csrf(
            session, SessionManager(store, SessionPolicy(), CSRF_KEY).csrf_token(session)
        )


def test_csrf_token_before_login_is_bound_to_the_browser(manager: SessionManager) -> None:
    token = manager.csrf_token_for("browser-a")
    manager.check_csrf_for("browser-a", token)
    with pytest.raises(SessionError) as error:
        manager.check_csrf_for("browser-b", token)
    assert code_of(error) == "session.csrf_invalid"
    with pytest.raises(SessionError):
        manager.check_csrf_for("browser-a", None)


def test_browser_and_session_tokens_do_not_stand_in_for_each_other(
    manager: SessionManager,
) -> None:
    _, session = start(manager)
    with pytest.raises(SessionError):
        manager.check_csrf(session, manager.csrf_token_for(session.session_id))
    with pytest.raises(SessionError):
        manager.check_csrf_for(session.session_id, manager.csrf_token(session))


# -- one read per validation, a write per touch interval -------------------------------------


def test_validation_is_one_store_read(manager: SessionManager, store: CountingStore) -> None:
    token, _ = start(manager)
    store.calls.clear()
    for seconds in range(0, 59, 7):
        manager.validate(token, ip=IP, now=NOW + timedelta(seconds=seconds))
    assert dict(store.calls) == {"get": 9}


def test_touch_writes_once_per_interval_and_moves_the_idle_deadline(
    manager: SessionManager, store: CountingStore
) -> None:
    token, _ = start(manager)
    store.calls.clear()
    writes = []
    for seconds in (10, 59, 60, 61, 90, 119, 120, 150):
        manager.validate(token, ip=IP, now=NOW + timedelta(seconds=seconds))
        writes.append(store.writes())
    assert writes == [0, 0, 1, 1, 1, 1, 2, 2]
    assert store.calls["get"] == 8
    touched = NOW + timedelta(seconds=120)
    session = manager.validate(token, ip=IP, now=touched + timedelta(minutes=29))
    assert session.last_seen_at == touched + timedelta(minutes=29)
    assert session.idle_expires_at == touched + timedelta(minutes=59)


def test_without_touches_the_idle_deadline_stays(store: CountingStore) -> None:
    policy = SessionPolicy(touch_interval=timedelta(minutes=29))
    manager = SessionManager(store, policy, CSRF_KEY)
    token, _ = start(manager)
    manager.validate(token, ip=IP, now=NOW + timedelta(minutes=28))
    with pytest.raises(SessionExpired):
        manager.validate(token, ip=IP, now=NOW + timedelta(minutes=30))


# -- bad input and configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"issuer": None},
        {"subject": ""},
        {"method": "local"},
        {"method": "magic"},
        {"accounts": ("",)},
        {"now": NOW.replace(tzinfo=None)},
    ],
)
def test_start_refuses_inconsistent_logins(
    manager: SessionManager, fields: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        start(manager, **fields)  # type: ignore[arg-type]


def test_start_refuses_a_malformed_ip(manager: SessionManager) -> None:
    with pytest.raises(InvalidInput) as error:
        start(manager, ip="192.0.2.300")
    assert code_of(error) == "input.bad_ip"


def test_start_keeps_a_long_user_agent_short(manager: SessionManager) -> None:
    _, session = start(manager, user_agent="x" * 5000)
    assert session.user_agent == "x" * 512
    _, without = start(manager, user_agent=None)
    assert without.user_agent == ""


def test_times_in_another_zone_are_the_same_moments(manager: SessionManager) -> None:
    moscow = NOW.astimezone(timezone(timedelta(hours=3)))
    token, _ = start(manager, now=moscow)
    assert manager.validate(token, ip=IP, now=NOW).created_at == NOW


@pytest.mark.parametrize(
    "fields",
    [
        {"absolute_lifetime": timedelta(0)},
        {"idle_timeout": -timedelta(minutes=1)},
        {"touch_interval": timedelta(minutes=30)},
        {"grace": -timedelta(seconds=1)},
    ],
)
def test_policy_refuses_bad_settings(fields: dict[str, timedelta]) -> None:
    with pytest.raises(ConfigError) as error:
        SessionPolicy(**fields)  # type: ignore[arg-type]
    assert code_of(error) == "config.invalid"


def test_manager_refuses_a_short_csrf_key(store: CountingStore) -> None:
    with pytest.raises(ConfigError):
        SessionManager(store, SessionPolicy(), bytes(31))
