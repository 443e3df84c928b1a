"""The broker's second factor, local passwords, sessions and re-authentication without
data loss, end to end; and two broker instances behaving as one over shared stores."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from helpers.broker import ANNA, LOCAL_PASSWORD, MARIA, World, build_world
from sso_bridge.broker import ChooseAccount, LocalLoginForm, LoggedIn, SecondFactorForm
from sso_bridge.errors import BridgeError
from sso_bridge.mfa import new_secret, totp
from sso_bridge.model import AuditAction
from sso_bridge.sessions import SavedRequest


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def actions(world: World) -> list[tuple[AuditAction, str | None]]:
    return [(e.action, e.code) for e in world.store.tail(500)]


def start_local(world: World, org: str, login: str, password: str = LOCAL_PASSWORD) -> object:
    client = world.client()
    form = world.broker.begin_local(client)
    return world.broker.local_login(form.step_id, org, login, password, client)


def federated(world: World, oid: int, browser: str = "browser-1", **kw: str) -> object:
    client = world.client(browser)
    redirect = world.broker.begin_federated("esia", client)
    return world.broker.finish("esia", world.oidc_callback(redirect, oid, **kw), client)


# -- second factor ---------------------------------------------------------------------------


def test_a_teacher_gets_an_sms_code_and_logs_in_with_it(world: World) -> None:
    form = start_local(world, "sch1", "smirnova")
    assert isinstance(form, SecondFactorForm)
    assert form.challenge.channel == "sms"
    assert form.challenge.destination.endswith("-00")  # masked: only the last digits show
    code = world.code_for("t-maria")
    result = world.broker.second_factor(form.step_id, code, world.client())
    assert isinstance(result, LoggedIn)
    assert result.session.second_factor
    assert (AuditAction.SECOND_FACTOR_PASSED, None) in actions(world)


def test_five_wrong_codes_kill_the_challenge(world: World) -> None:
    form = start_local(world, "sch1", "smirnova")
    assert isinstance(form, SecondFactorForm)
    right = world.code_for("t-maria")
    wrong = "000000" if right != "000000" else "111111"
    step = form.step_id
    for attempt in range(4):
        again = world.broker.second_factor(step, wrong, world.client())
        assert isinstance(again, SecondFactorForm), attempt
        assert again.error is not None and again.error.code == "mfa.wrong_code"
        step = again.step_id
    with refused("mfa.too_many_attempts"):
        world.broker.second_factor(step, wrong, world.client())
    with refused("broker.step_unknown"):
        world.broker.second_factor(step, right, world.client())
    failed = [c for a, c in actions(world) if a is AuditAction.SECOND_FACTOR_FAILED]
    assert failed == ["mfa.wrong_code"] * 4 + ["mfa.too_many_attempts"]
    assert right not in repr(world.store.tail(500))


def test_an_idp_that_reports_a_second_factor_skips_ours(world: World) -> None:
    world.link_admin(MARIA, "t-maria")
    world.link_admin(MARIA, "p-maria")
    chooser = federated(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    asked = world.broker.choose(chooser.step_id, "t-maria", world.client())
    assert isinstance(asked, SecondFactorForm)  # a teacher; the IdP reported a password only
    chooser = federated(world, MARIA, "browser-2", second_factor="sms")
    assert isinstance(chooser, ChooseAccount)
    skipped = world.broker.choose(chooser.step_id, "t-maria", world.client("browser-2"))
    assert isinstance(skipped, LoggedIn)
    assert skipped.session.second_factor


def test_a_totp_step_cannot_be_used_twice(world: World) -> None:
    secret = new_secret("sha1")
    world.credentials.set_totp("t-maria", secret, algorithm="sha1", digits=6)
    form = start_local(world, "sch1", "smirnova")
    assert isinstance(form, SecondFactorForm)
    assert form.challenge.channel == "totp"
    code = totp(secret, int(world.clock.now().timestamp()))
    assert isinstance(world.broker.second_factor(form.step_id, code, world.client()), LoggedIn)
    second = start_local(world, "sch1", "smirnova")
    assert isinstance(second, SecondFactorForm)
    reused = world.broker.second_factor(second.step_id, code, world.client())
    assert isinstance(reused, SecondFactorForm)
    assert reused.error is not None and reused.error.code == "mfa.totp_step_reused"
    world.clock.advance(timedelta(seconds=30))
    fresh = totp(secret, int(world.clock.now().timestamp()))
    assert isinstance(world.broker.second_factor(reused.step_id, fresh, world.client()), LoggedIn)


# -- local passwords ---------------------------------------------------------------------------


def test_five_bad_passwords_lock_the_account_until_unlocked(world: World) -> None:
    client = world.client()
    step = world.broker.begin_local(client).step_id
    codes = []
    for _ in range(5):
        form = world.broker.local_login(step, "club", "ivanov", "not-the-password", client)
        assert isinstance(form, LocalLoginForm)
        assert form.error is not None
        codes.append(form.error.code)
        step = form.step_id
    assert codes == ["auth.bad_password"] * 4 + ["auth.locked"]
    locked = world.broker.local_login(step, "club", "ivanov", LOCAL_PASSWORD, client)
    assert isinstance(locked, LocalLoginForm)
    assert locked.error is not None and locked.error.code == "auth.locked"
    assert "administrator" in locked.error.message
    world.broker.passwords.unlock("c-ivan")
    assert world.local_login("club", "ivanov").session.account_id == "c-ivan"


def test_an_unknown_login_looks_like_a_wrong_password(world: World) -> None:
    form = start_local(world, "club", "nobody")
    assert isinstance(form, LocalLoginForm)
    assert form.error is not None and form.error.code == "auth.bad_password"


def test_a_blocked_account_is_refused_with_its_own_message(tmp_path: Path) -> None:
    import attrs  # noqa: PLC0415

    from helpers.broker import sample_accounts  # noqa: PLC0415
    from sso_bridge.model import AccountStatus  # noqa: PLC0415

    accounts = [
        attrs.evolve(a, status=AccountStatus.BLOCKED) if a.account_id == "c-ivan" else a
        for a in sample_accounts()
    ]
    world = build_world(tmp_path, accounts=accounts)
    form = start_local(world, "club", "ivanov")
    assert isinstance(form, LocalLoginForm)
    assert form.error is not None and form.error.code == "auth.account_blocked"


# -- sessions --------------------------------------------------------------------------------


def test_a_request_from_another_ip_ends_the_session_and_raises_an_alert(world: World) -> None:
    logged = federated(world, ANNA)
    assert isinstance(logged, LoggedIn)
    assert world.broker.authenticate(logged.token, world.client()).account_id == "a-anna"
    with refused("session.ip_changed"):
        world.broker.authenticate(logged.token, world.client(ip="203.0.113.9"))
    with refused("session.unknown"):
        world.broker.authenticate(logged.token, world.client())
    assert (AuditAction.SECURITY, "session.ip_changed") in actions(world)
    [alert] = world.alerts
    assert (alert.account_id, alert.ip, alert.previous_ip) == ("a-anna", "203.0.113.9", "10.0.0.5")


def test_idle_and_absolute_lifetimes(world: World) -> None:
    logged = federated(world, ANNA)
    assert isinstance(logged, LoggedIn)
    world.clock.advance(timedelta(minutes=31))
    with refused("session.idle_expired"):
        world.broker.authenticate(logged.token, world.client())
    busy = federated(world, ANNA, "browser-2")
    assert isinstance(busy, LoggedIn)
    for _ in range(8 * 3 - 1):  # active every 20 minutes for almost eight hours
        world.clock.advance(timedelta(minutes=20))
        world.broker.authenticate(busy.token, world.client("browser-2"))
    world.clock.advance(timedelta(minutes=21))
    with refused("session.expired"):
        world.broker.authenticate(busy.token, world.client("browser-2"))
    ended = [c for a, c in actions(world) if a is AuditAction.SESSION_END]
    assert ended == ["session.idle_expired", "session.expired"]


def test_the_grade_form_comes_back_after_logging_in_again(world: World) -> None:
    logged = federated(world, ANNA)
    assert isinstance(logged, LoggedIn)
    world.clock.advance(timedelta(hours=1))
    with refused("session.idle_expired") as caught:
        world.broker.authenticate(logged.token, world.client())
    fields = [("pupil", "p-17"), ("grade", "5"), ("comment", "Молодец, «отлично»")]
    kept = world.broker.keep_request(
        world.client(), "POST", "/journal/7b/grades", fields, caught.value.account_id
    )
    client = world.client()
    redirect = world.broker.begin_federated("esia", client, kept=kept)
    again = world.broker.finish("esia", world.oidc_callback(redirect, ANNA), client)
    assert isinstance(again, LoggedIn)
    assert again.restored == SavedRequest(
        method="POST", path="/journal/7b/grades", form=tuple(fields), account_id="a-anna"
    )


def test_a_kept_form_is_not_given_to_another_account(world: World) -> None:
    logged = federated(world, ANNA)
    assert isinstance(logged, LoggedIn)
    world.clock.advance(timedelta(hours=1))
    with refused("session.idle_expired") as caught:
        world.broker.authenticate(logged.token, world.client())
    kept = world.broker.keep_request(
        world.client(), "POST", "/journal", [("grade", "2")], caught.value.account_id
    )
    client = world.client()
    form = world.broker.begin_local(client, kept=kept)
    result = world.broker.local_login(form.step_id, "club", "ivanov", LOCAL_PASSWORD, client)
    assert isinstance(result, SecondFactorForm)
    result = world.broker.second_factor(result.step_id, world.code_for("c-ivan"), client)
    assert isinstance(result, LoggedIn)
    assert result.restored is None
    assert (AuditAction.SECURITY, "session.kept_request_other_account") in actions(world)


def test_switching_account_rotates_the_session(world: World) -> None:
    for account in ("p-maria", "c-ivan"):
        world.link_admin(MARIA, account)
    chooser = federated(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    logged = world.broker.choose(chooser.step_id, "p-maria", world.client())
    assert isinstance(logged, LoggedIn)
    switched = world.broker.switch_account(logged.token, "c-ivan", world.client())
    assert isinstance(switched, LoggedIn)
    assert switched.session.account_id == "c-ivan"
    assert switched.token != logged.token
    with refused("session.unknown"):
        world.broker.authenticate(logged.token, world.client())
    with refused("broker.not_offered"):
        world.broker.switch_account(switched.token, "a-anna", world.client())


def test_switching_to_an_account_unlinked_since_the_login_is_refused(world: World) -> None:
    for account in ("p-maria", "c-ivan"):
        world.link_admin(MARIA, account)
    chooser = federated(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    logged = world.broker.choose(chooser.step_id, "p-maria", world.client())
    assert isinstance(logged, LoggedIn)
    assert "c-ivan" in logged.session.accounts
    world.unlink_admin(MARIA, "c-ivan")
    with refused("broker.not_linked"):
        world.broker.switch_account(logged.token, "c-ivan", world.client())
    assert world.broker.authenticate(logged.token, world.client()).account_id == "p-maria"
    assert (AuditAction.LOGIN_REFUSED, "broker.not_linked") in actions(world)


def test_an_unlink_during_a_switchs_second_factor_stops_the_switch(world: World) -> None:
    for account in ("p-maria", "t-maria"):
        world.link_admin(MARIA, account)
    chooser = federated(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    parent = world.broker.choose(chooser.step_id, "p-maria", world.client())
    assert isinstance(parent, LoggedIn)
    form = world.broker.switch_account(parent.token, "t-maria", world.client())
    assert isinstance(form, SecondFactorForm)
    world.unlink_admin(MARIA, "t-maria")
    with refused("broker.not_linked"):
        world.broker.second_factor(
            form.step_id, world.code_for("t-maria"), world.client(), session_token=parent.token
        )
    assert world.broker.authenticate(parent.token, world.client()).account_id == "p-maria"


def test_sessions_are_listed_and_revoked(world: World) -> None:
    first = world.local_login("club", "ivanov", world.client("b1"))
    second = world.local_login("club", "ivanov", world.client("b2"))
    listed = world.broker.sessions_of(second.session)
    assert {s.session_id for s in listed} == {first.session.session_id, second.session.session_id}
    world.broker.revoke_session(second.token, first.session.session_id, world.client("b2"))
    with refused("session.ended_elsewhere"):  # its browser is told why it was signed out
        world.broker.authenticate(first.token, world.client("b1"))
    other = world.local_login("sch1", "kuznetsova", world.client("b3"))
    with refused("broker.session_not_yours"):
        world.broker.revoke_session(other.token, second.session.session_id, world.client("b3"))


# -- several instances --------------------------------------------------------------------------


def _servers() -> tuple[str, str]:
    postgres = os.environ.get("SSO_BRIDGE_TEST_POSTGRES")
    redis_url = os.environ.get("SSO_BRIDGE_TEST_REDIS")
    if not postgres or not redis_url:
        pytest.skip("SSO_BRIDGE_TEST_POSTGRES and SSO_BRIDGE_TEST_REDIS are not both set")
    return postgres, redis_url


def test_two_brokers_over_postgresql_and_redis_act_as_one(tmp_path: Path) -> None:
    import sqlalchemy as sa  # noqa: PLC0415

    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

    postgres, redis_url = _servers()
    schema = f"broker_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = f"{postgres}?options=-csearch_path%3D{schema}"
        shared = RedisEphemeralStore.from_url(redis_url, prefix=f"test:{schema}:")
        world = build_world(tmp_path, ephemeral=shared, db_url=url)
        one, two = world.broker, world.broker_like()
        client = world.client()
        redirect = one.begin_federated("esia", client)
        chooser = two.finish("esia", world.oidc_callback(redirect, MARIA), client)
        assert isinstance(chooser, ChooseAccount)
        logged = one.choose(chooser.step_id, "p-maria", client)
        assert isinstance(logged, LoggedIn)
        assert two.authenticate(logged.token, client).account_id == "p-maria"
        with refused("broker.step_unknown"):
            two.choose(chooser.step_id, "p-maria", client)
        one.logout(logged.token, client)
        with refused("session.unknown"):
            two.authenticate(logged.token, client)
        world.store.close()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def test_switching_to_a_staff_account_asks_for_the_second_factor_first(world: World) -> None:
    for account in ("p-maria", "t-maria"):
        world.link_admin(MARIA, account)
    chooser = federated(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    parent = world.broker.choose(chooser.step_id, "p-maria", world.client())
    assert isinstance(parent, LoggedIn)
    assert not parent.session.second_factor
    form = world.broker.switch_account(parent.token, "t-maria", world.client())
    assert isinstance(form, SecondFactorForm)
    assert world.broker.authenticate(parent.token, world.client()).account_id == "p-maria"
    teacher = world.broker.second_factor(
        form.step_id, world.code_for("t-maria"), world.client(), session_token=parent.token
    )
    assert isinstance(teacher, LoggedIn)
    assert (teacher.session.account_id, teacher.session.second_factor) == ("t-maria", True)
    with refused("session.unknown"):
        world.broker.authenticate(parent.token, world.client())
