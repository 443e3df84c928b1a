"""The broker's limits end to end (docs/security.md, "Limits"): second-factor budgets across
logins, caps on codes sent, per-IP limits, each refused with its code, wait and audit
record; over Redis, two brokers share them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.broker import LOCAL_PASSWORD, World, build_world, phone_of
from sso_bridge.broker import Broker, BrokerPolicy, LocalLoginForm, LoggedIn, SecondFactorForm
from sso_bridge.broker.config import Client
from sso_bridge.errors import BridgeError
from sso_bridge.mfa.limits import Limit, LimitPolicy
from sso_bridge.model import AuditAction

REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"
TEACHER = ("sch1", "smirnova")  # t-maria, the first sample account: phone_of(0)


def _policy(**limits: object) -> BrokerPolicy:
    return BrokerPolicy(limits=LimitPolicy(**limits))  # type: ignore[arg-type]


def _to_code_form(broker: Broker, client: Client, login: tuple[str, str] = TEACHER) -> object:
    """A password login up to the second factor; the form, or the refusal's code."""
    form = broker.begin_local(client)
    try:
        return broker.local_login(form.step_id, *login, LOCAL_PASSWORD, client)
    except BridgeError as exc:
        return exc.code


def _wrong_codes(broker: Broker, form: SecondFactorForm, client: Client) -> list[str]:
    """Wrong codes until the login ends; the code of each answer."""
    answers = []
    step = form.step_id
    while True:
        try:
            reply = broker.second_factor(step, "000000", client)
        except BridgeError as exc:
            answers.append(exc.code)
            return answers
        assert isinstance(reply, SecondFactorForm) and reply.error is not None
        answers.append(reply.error.code)
        step = reply.step_id


def _limit_records(world: World) -> list[str | None]:
    return [e.code for e in world.store.events() if e.action is AuditAction.LIMIT_REACHED]


def test_ten_password_logins_in_two_seconds_do_not_send_ten_codes(tmp_path: Path) -> None:
    world = build_world(tmp_path)
    client = world.client()
    answers = []
    for _ in range(10):
        world.clock.advance(timedelta(milliseconds=200))
        reply = _to_code_form(world.broker, client)
        answers.append("form" if isinstance(reply, SecondFactorForm) else reply)
    assert answers == ["form"] * 5 + ["mfa.account_code_limit"] * 5
    assert len([m for m in world.sender.outbox if m.destination == phone_of(0)]) == 5
    assert _limit_records(world) == ["mfa.account_code_limit"] * 5


def test_wrong_codes_across_logins_lock_the_second_factor_until_unlocked(
    tmp_path: Path,
) -> None:
    world = build_world(tmp_path, policy=_policy(second_factor_lockout=None))
    client = world.client()
    first = _to_code_form(world.broker, client)
    assert isinstance(first, SecondFactorForm)
    assert _wrong_codes(world.broker, first, client) == ["mfa.wrong_code"] * 4 + [
        "mfa.too_many_attempts"
    ]
    second = _to_code_form(world.broker, client)
    assert isinstance(second, SecondFactorForm)
    assert _wrong_codes(world.broker, second, client) == ["mfa.wrong_code"] * 4 + [
        "mfa.second_factor_locked"
    ]
    # a new password login buys no fresh guesses
    assert _to_code_form(world.broker, client) == "mfa.second_factor_locked"
    assert "mfa.second_factor_locked" in _limit_records(world)
    world.broker.passwords.unlock("t-maria")  # what `sso-bridge accounts unlock` does
    world.clock.advance(timedelta(minutes=15))  # past the cap on codes sent
    assert isinstance(world.local_login(*TEACHER, client), LoggedIn)


def test_password_logins_are_limited_per_ip(tmp_path: Path) -> None:
    world = build_world(tmp_path, policy=_policy(logins_per_ip=Limit(3, timedelta(minutes=5))))
    here, there = world.client(ip="10.0.0.5"), world.client("browser-2", ip="10.0.0.6")
    for _ in range(3):
        form = world.broker.begin_local(here)
        reply = world.broker.local_login(form.step_id, "sch1", "smirnova", "wrong-pass", here)
        assert isinstance(reply, LocalLoginForm) and reply.error is not None
        assert reply.error.code == "auth.bad_password"
        world.clock.advance(timedelta(minutes=1))
    form = world.broker.begin_local(here)
    reply = world.broker.local_login(form.step_id, "sch1", "smirnova", LOCAL_PASSWORD, here)
    assert isinstance(reply, LocalLoginForm) and reply.error is not None
    assert reply.error.code == "auth.ip_login_limit"
    assert reply.error.retry_after == timedelta(minutes=2)
    assert _limit_records(world) == ["auth.ip_login_limit"]
    # another address is not held back
    assert isinstance(world.local_login("sch1", "smirnova", there), LoggedIn)


def test_logins_started_at_the_idp_are_limited_per_ip(tmp_path: Path) -> None:
    world = build_world(tmp_path, policy=_policy(idp_starts_per_ip=Limit(2, timedelta(minutes=5))))
    client = world.client()
    world.broker.begin_federated("esia", client)
    world.broker.begin_federated("esia-saml", client)
    with pytest.raises(BridgeError) as refused:
        world.broker.begin_federated("esia", client)
    assert refused.value.code == "broker.ip_start_limit"
    assert refused.value.retry_after == timedelta(minutes=5)
    assert _limit_records(world) == ["broker.ip_start_limit"]
    world.broker.begin_federated("esia", world.client(ip="10.0.0.9"))


def test_code_starts_are_limited_per_ip(tmp_path: Path) -> None:
    world = build_world(tmp_path, policy=_policy(code_starts_per_ip=Limit(2, timedelta(minutes=5))))
    client = world.client()
    first = _to_code_form(world.broker, client)
    assert isinstance(first, SecondFactorForm)
    world.clock.advance(timedelta(seconds=31))
    resent = world.broker.resend_code(first.step_id, client)  # a resend is a code start too
    assert resent.error is None
    assert _to_code_form(world.broker, client, ("sch2", "smirnova.m")) == "mfa.ip_code_limit"
    world.clock.advance(timedelta(seconds=31))
    again = world.broker.resend_code(resent.step_id, client)
    assert again.error is not None and again.error.code == "mfa.ip_code_limit"
    assert again.error.retry_after is not None
    assert _limit_records(world) == ["mfa.ip_code_limit"] * 2


def test_an_unknown_login_answers_like_a_wrong_password_lockout_included(
    tmp_path: Path,
) -> None:
    world = build_world(tmp_path)
    client = world.client()

    def answers(login: str) -> list[tuple[str, str]]:
        found = []
        for _ in range(7):
            form = world.broker.begin_local(client)
            reply = world.broker.local_login(form.step_id, "sch1", login, "wrong-pass", client)
            assert isinstance(reply, LocalLoginForm) and reply.error is not None
            found.append((reply.error.code, reply.error.message))
        return found

    real, unknown = answers("smirnova"), answers("nobody-here")
    assert real == unknown
    assert [code for code, _ in real] == ["auth.bad_password"] * 4 + ["auth.locked"] * 3


# -- two brokers over one Redis -----------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis server to test against")
    prefix = f"test:{uuid.uuid4().hex}:"
    yield url, prefix
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

    cleaner = RedisEphemeralStore.from_url(url, prefix)
    names = list(cleaner.client.scan_iter(match=f"{prefix}*", count=1000))
    if names:
        cleaner.client.delete(*names)
    cleaner.close()


def test_two_brokers_over_one_redis_share_the_budgets(
    tmp_path: Path, redis_prefix: tuple[str, str]
) -> None:
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

    url, prefix = redis_prefix
    first_store = RedisEphemeralStore.from_url(url, prefix)
    second_store = RedisEphemeralStore.from_url(url, prefix)
    try:
        policy = _policy(codes_per_account=Limit(3, timedelta(minutes=15)))
        world = build_world(tmp_path, ephemeral=first_store, policy=policy)
        one, two = world.broker, world.broker_like(store=second_store, policy=policy)
        client = world.client()
        form = _to_code_form(one, client)
        assert isinstance(form, SecondFactorForm)
        assert _wrong_codes(one, form, client)[-1] == "mfa.too_many_attempts"
        form = _to_code_form(two, client)
        assert isinstance(form, SecondFactorForm)
        # the second instance sees the five wrong codes of the first
        assert _wrong_codes(two, form, client)[-1] == "mfa.second_factor_locked"
        assert _to_code_form(one, client) == "mfa.second_factor_locked"
        # the cap on codes sent is shared too: two codes went out, one more is allowed
        other = ("sch2", "smirnova.m")  # p-maria shares no phone with t-maria
        assert isinstance(_to_code_form(two, client, other), SecondFactorForm)
        # and an administrator's unlock through either lifts the lock for both
        two.passwords.unlock("t-maria")
        assert isinstance(_to_code_form(one, client), SecondFactorForm)
        assert _to_code_form(two, client) == "mfa.account_code_limit"
    finally:
        first_store.close()
        second_store.close()
