"""Recovery codes end to end: a person with an authenticator app makes a set in the
settings, logs in with one of them (locally and through the mock IdP), cannot use it
twice, and the audit trail says so without the code."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from helpers.broker import LOCAL_PASSWORD, MARIA, World, build_world
from sso_bridge.broker import LoggedIn, SecondFactorForm
from sso_bridge.errors import BridgeError
from sso_bridge.mfa import new_secret, totp
from sso_bridge.mfa.recovery import COUNT
from sso_bridge.model import AuditAction


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = build_world(tmp_path)
    world.credentials.set_totp("t-maria", new_secret("sha1"))
    return world


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def local(world: World, browser: str = "browser-1") -> SecondFactorForm:
    client = world.client(browser)
    form = world.broker.begin_local(client)
    asked = world.broker.local_login(form.step_id, "sch1", "smirnova", LOCAL_PASSWORD, client)
    assert isinstance(asked, SecondFactorForm)
    assert asked.challenge.channel == "totp"
    return asked


def make_codes(world: World) -> tuple[str, ...]:
    """Log in with the app and make a set in the settings, as the person would."""
    record = world.credentials.get("t-maria")
    assert record is not None and record.totp_secret is not None
    world.clock.advance(timedelta(seconds=30))  # each app code is taken once
    code = totp(record.totp_secret, int(world.clock.now().timestamp()))
    logged = world.broker.second_factor(local(world).step_id, code, world.client())
    assert isinstance(logged, LoggedIn) and logged.session.second_factor
    return world.broker.generate_recovery_codes(logged.token, world.client())


def records(world: World, action: AuditAction) -> list[tuple[str | None, str | None]]:
    return [(e.account_id, e.detail) for e in world.store.tail(500) if e.action is action]


def test_a_recovery_code_logs_in_once_and_is_audited(world: World) -> None:
    codes = make_codes(world)
    assert len(codes) == COUNT
    assert records(world, AuditAction.RECOVERY_CODES_GENERATED) == [
        ("t-maria", f"{COUNT} new recovery codes; any earlier ones are void")
    ]
    typed = codes[2].lower().replace("-", " ")
    result = world.broker.second_factor(local(world).step_id, typed, world.client())
    assert isinstance(result, LoggedIn)
    assert result.session.second_factor
    assert world.broker.recovery_codes_left(result.session) == COUNT - 1
    assert records(world, AuditAction.RECOVERY_CODE_USED) == [
        ("t-maria", f"{COUNT - 1} recovery code(s) left")
    ]
    again = world.broker.second_factor(local(world).step_id, codes[2], world.client())
    assert isinstance(again, SecondFactorForm)
    assert again.error is not None and again.error.code == "mfa.wrong_code"
    assert again.attempts_left == 4
    trail = repr(world.store.tail(500))
    for code in codes:
        assert code not in trail and code.replace("-", "") not in trail


def test_a_recovery_code_passes_the_second_factor_of_a_federated_login(world: World) -> None:
    codes = make_codes(world)
    world.link_admin(MARIA, "t-maria")
    world.link_admin(MARIA + 1, "p-maria")  # another subject's: never offered to her
    client = world.client("browser-2")
    redirect = world.broker.begin_federated("esia", client)
    asked = world.broker.finish("esia", world.oidc_callback(redirect, MARIA), client)
    assert isinstance(asked, SecondFactorForm)
    result = world.broker.second_factor(asked.step_id, codes[0], client)
    assert isinstance(result, LoggedIn) and result.session.account_id == "t-maria"


def test_wrong_recovery_codes_spend_the_challenge_attempts(world: World) -> None:
    codes = make_codes(world)
    step = local(world).step_id
    for left in (4, 3, 2, 1):
        again = world.broker.second_factor(step, "7KQM-4XRT-92HD-W0ZB", world.client())
        assert isinstance(again, SecondFactorForm)
        assert again.attempts_left == left
        step = again.step_id
    with refused("mfa.too_many_attempts"):
        world.broker.second_factor(step, "7KQM-4XRT-92HD-W0ZB", world.client())
    with refused("broker.step_unknown"):
        world.broker.second_factor(step, codes[0], world.client())
    failed = [e.code for e in world.store.tail(500) if e.action is AuditAction.SECOND_FACTOR_FAILED]
    assert failed == ["mfa.wrong_code"] * 4 + ["mfa.too_many_attempts"]
    assert world.credentials.recovery_code_hashes("t-maria")  # nothing was spent
    assert len(world.credentials.recovery_code_hashes("t-maria")) == COUNT


def test_new_codes_replace_the_old_ones(world: World) -> None:
    first = make_codes(world)
    second = make_codes(world)
    old = world.broker.second_factor(local(world).step_id, first[0], world.client())
    assert isinstance(old, SecondFactorForm)
    new = world.broker.second_factor(old.step_id, second[0], world.client())
    assert isinstance(new, LoggedIn)


def test_two_brokers_accept_a_code_once(world: World) -> None:
    codes = make_codes(world)
    other = world.broker_like()
    first = world.broker.second_factor(local(world).step_id, codes[5], world.client())
    assert isinstance(first, LoggedIn)
    step = local(world, "browser-2").step_id
    second = other.second_factor(step, codes[5], world.client("browser-2"))
    assert isinstance(second, SecondFactorForm)


def test_making_codes_needs_the_app(world: World) -> None:
    world.credentials.remove_totp("t-maria")
    client = world.client()
    form = world.broker.begin_local(client)
    result = world.broker.local_login(form.step_id, "sch1", "smirnova", LOCAL_PASSWORD, client)
    assert isinstance(result, SecondFactorForm)  # falls back to SMS
    logged = world.broker.second_factor(result.step_id, world.code_for("t-maria"), client)
    assert isinstance(logged, LoggedIn)
    with refused("mfa.totp_not_enrolled"):
        world.broker.generate_recovery_codes(logged.token, client)
    assert world.credentials.recovery_code_hashes("t-maria") == ()


def test_resetting_the_app_voids_the_codes(world: World) -> None:
    codes = make_codes(world)
    world.credentials.remove_totp("t-maria")
    asked = world.broker.begin_local(world.client())
    sms = world.broker.local_login(
        asked.step_id, "sch1", "smirnova", LOCAL_PASSWORD, world.client()
    )
    assert isinstance(sms, SecondFactorForm) and sms.challenge.channel == "sms"
    again = world.broker.second_factor(sms.step_id, codes[0], world.client())
    assert isinstance(again, SecondFactorForm)
    assert again.error is not None and again.error.code == "mfa.wrong_code"


def test_a_locked_second_factor_refuses_a_right_recovery_code(world: World) -> None:
    codes = make_codes(world)
    waiting = local(world, "browser-2")  # a challenge opened before the lock
    for _ in range(2):  # ten wrong codes over two logins lock the account's second factor
        step = local(world).step_id
        for _ in range(5):
            try:
                again = world.broker.second_factor(step, "000000", world.client())
            except BridgeError:
                break
            assert isinstance(again, SecondFactorForm)
            step = again.step_id
    with refused("mfa.second_factor_locked"):
        world.broker.second_factor(waiting.step_id, codes[0], world.client("browser-2"))
    assert len(world.credentials.recovery_code_hashes("t-maria")) == COUNT
