"""The broker end to end: every branch of the login state machine through the mock IdP
(OIDC and SAML), the linking proofs, and what the audit trail says about it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from helpers.broker import (
    ANNA,
    LOCAL_PASSWORD,
    MARIA,
    MARIA_SIMPLIFIED,
    World,
    build_world,
    sample_accounts,
)
from sso_bridge.audit import verify_chain
from sso_bridge.broker import (
    BrokerPolicy,
    ChooseAccount,
    LinkedFromSettings,
    LocalLoginForm,
    LoggedIn,
    OidcProvider,
    Redirect,
)
from sso_bridge.errors import BridgeError
from sso_bridge.model import AccountStatus, AuditAction, LinkMethod


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def oidc_login(world: World, oid: int, browser: str = "browser-1") -> object:
    client = world.client(browser)
    redirect = world.broker.begin_federated("esia", client)
    return world.broker.finish("esia", world.oidc_callback(redirect, oid), client)


def login(world: World, oid: int, protocol: str, browser: str = "browser-1") -> object:
    """A federated login of ``oid`` over OIDC or SAML (through the IdP's own pages)."""
    if protocol == "oidc":
        return oidc_login(world, oid, browser)
    client = world.client(browser)
    redirect = world.broker.begin_federated("esia-saml", client)
    assert isinstance(redirect, Redirect)
    return world.broker.finish("esia-saml", world.saml_post(redirect, oid), client)


def issuer_of(world: World, protocol: str) -> str:
    return world.idp.issuer if protocol == "oidc" else world.saml.idp_entity_id


def links_of(world: World, oid: int, protocol: str = "oidc") -> dict[str, LinkMethod]:
    found = world.store.links_for_subject(issuer_of(world, protocol), str(oid))
    return {link.account_id: link.method for link in found}


BOTH = pytest.mark.parametrize("protocol", ["oidc", "saml"])


def actions(world: World) -> list[tuple[AuditAction, str | None]]:
    return [(e.action, e.code) for e in world.store.tail(200)]


# -- after the federated step -------------------------------------------------------------


@BOTH
def test_one_candidate_is_linked_automatically_then_goes_straight_in(
    world: World, protocol: str
) -> None:
    result = login(world, ANNA, protocol)
    assert isinstance(result, LoggedIn)
    assert result.session.account_id == "a-anna"
    assert result.session.subject == str(ANNA)
    assert links_of(world, ANNA, protocol) == {"a-anna": LinkMethod.AUTO}
    again = login(world, ANNA, protocol, "browser-2")
    assert isinstance(again, LoggedIn)
    assert again.session.account_id == "a-anna"
    assert again.token != result.token
    # the second login went through the existing link: no second LINK record
    assert [a for a, _ in actions(world)].count(AuditAction.LINK) == 1


@BOTH
def test_several_candidates_go_to_the_chooser_and_link_the_pick(
    world: World, protocol: str
) -> None:
    chooser = login(world, MARIA, protocol)
    assert isinstance(chooser, ChooseAccount)
    assert chooser.linking
    assert [(o.account_id, o.organisation, o.roles) for o in chooser.options] == [
        ("t-maria", "Школа № 1", ("teacher",)),
        ("p-maria", "Школа № 2", ("parent",)),
    ]
    result = world.broker.choose(chooser.step_id, "p-maria", world.client())
    assert isinstance(result, LoggedIn)
    assert result.session.account_id == "p-maria"
    assert links_of(world, MARIA, protocol) == {"p-maria": LinkMethod.CHOSEN}
    assert (AuditAction.CHOICE, None) in actions(world)


@BOTH
def test_several_links_go_to_the_chooser_over_them_and_a_linked_pick_links_nothing(
    world: World, protocol: str
) -> None:
    for account in ("p-maria", "c-ivan"):
        world.link_admin(MARIA, account, issuer_of(world, protocol))
    chooser = login(world, MARIA, protocol)
    assert isinstance(chooser, ChooseAccount)
    # the links, and t-maria, which matching still finds (tests/flows/test_every_account.py)
    assert {(o.account_id, o.linked) for o in chooser.options} == {
        ("p-maria", True),
        ("c-ivan", True),
        ("t-maria", False),
    }
    result = world.broker.choose(chooser.step_id, "c-ivan", world.client())
    assert isinstance(result, LoggedIn)
    assert set(result.session.accounts) == {"p-maria", "c-ivan", "t-maria"}
    assert links_of(world, MARIA, protocol) == {
        "p-maria": LinkMethod.ADMIN,
        "c-ivan": LinkMethod.ADMIN,
    }


@BOTH
def test_an_unverified_identity_logs_in_locally_once_then_is_linked(
    world: World, protocol: str
) -> None:
    form = login(world, MARIA_SIMPLIFIED, protocol)
    assert isinstance(form, LocalLoginForm)
    assert form.reason == "unverified"
    result = world.broker.local_login(
        form.step_id, "sch2", "smirnova.m", LOCAL_PASSWORD, world.client()
    )
    assert isinstance(result, LoggedIn)
    assert links_of(world, MARIA_SIMPLIFIED, protocol) == {"p-maria": LinkMethod.LOCAL_LOGIN}
    again = login(world, MARIA_SIMPLIFIED, protocol, "browser-2")
    assert isinstance(again, LoggedIn)
    assert again.session.account_id == "p-maria"


@BOTH
def test_no_match_says_how_to_link(tmp_path: Path, protocol: str) -> None:
    world = build_world(
        tmp_path, accounts=[a for a in sample_accounts() if a.last_name != "Кузнецова"]
    )
    with refused("broker.no_match") as caught:
        login(world, ANNA, protocol)
    assert "settings" in caught.value.message
    assert (AuditAction.LOGIN_REFUSED, "broker.no_match") in actions(world)
    assert links_of(world, ANNA, protocol) == {}


@BOTH
def test_strong_policy_asks_to_prove_a_weak_match(tmp_path: Path, protocol: str) -> None:
    world = build_world(tmp_path, policy=BrokerPolicy(auto_link="strong"))
    form = login(world, ANNA, protocol)
    assert isinstance(form, LocalLoginForm)
    assert (form.reason, form.organisations) == ("prove", ("sch1",))
    # another account, even with the right password, is not the one offered
    wrong = world.broker.local_login(
        form.step_id, "sch2", "smirnova.m", LOCAL_PASSWORD, world.client()
    )
    assert isinstance(wrong, LocalLoginForm)
    assert wrong.error is not None
    assert links_of(world, ANNA, protocol) == {}
    result = world.broker.local_login(
        wrong.step_id, "sch1", "kuznetsova", LOCAL_PASSWORD, world.client()
    )
    assert isinstance(result, LoggedIn)
    assert links_of(world, ANNA, protocol) == {"a-anna": LinkMethod.LOCAL_LOGIN}


# -- the linking proof -----------------------------------------------------------------------


@BOTH
def test_a_chooser_answer_for_an_account_not_offered_is_refused(
    world: World, protocol: str
) -> None:
    chooser = login(world, MARIA, protocol)
    assert isinstance(chooser, ChooseAccount)
    with refused("broker.not_offered"):
        world.broker.choose(chooser.step_id, "c-ivan", world.client())
    assert links_of(world, MARIA, protocol) == {}


@BOTH
def test_a_replayed_linking_proof_is_refused(world: World, protocol: str) -> None:
    chooser = login(world, MARIA, protocol)
    assert isinstance(chooser, ChooseAccount)
    assert isinstance(world.broker.choose(chooser.step_id, "p-maria", world.client()), LoggedIn)
    with refused("broker.step_unknown"):
        world.broker.choose(chooser.step_id, "t-maria", world.client())
    assert links_of(world, MARIA, protocol) == {"p-maria": LinkMethod.CHOSEN}


def test_a_step_is_bound_to_its_browser(world: World) -> None:
    chooser = oidc_login(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    with refused("broker.step_foreign"):
        world.broker.choose(chooser.step_id, "p-maria", world.client("another-browser"))
    assert links_of(world, MARIA) == {}


def test_a_foreign_attempt_leaves_the_step_to_its_owner(world: World) -> None:
    chooser = oidc_login(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    with refused("broker.step_foreign"):
        world.broker.choose(chooser.step_id, "p-maria", world.client("attacker"))
    with refused("broker.step_foreign"):
        world.broker.choose(chooser.step_id, "p-maria", world.client("attacker"))
    owner = world.broker.choose(chooser.step_id, "p-maria", world.client())
    assert isinstance(owner, LoggedIn)
    assert owner.session.account_id == "p-maria"
    with refused("broker.step_unknown"):
        world.broker.choose(chooser.step_id, "p-maria", world.client())


def test_a_foreign_saml_answer_leaves_the_login_to_its_owner(world: World) -> None:
    mine = world.broker.begin_federated("esia-saml", world.client("victim"))
    assert isinstance(mine, Redirect)
    form = world.saml_post(mine, ANNA)
    with refused("broker.step_foreign"):
        world.broker.finish("esia-saml", form, world.client("attacker"))
    result = world.broker.finish("esia-saml", form, world.client("victim"))
    assert isinstance(result, LoggedIn)


def test_a_step_cannot_be_taken_out_of_order(world: World) -> None:
    chooser = oidc_login(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    with refused("broker.out_of_order"):
        world.broker.second_factor(chooser.step_id, "123456", world.client())


def test_an_expired_step_is_refused(world: World) -> None:
    chooser = oidc_login(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    world.clock.advance(world.broker.policy.step_lifetime + timedelta(seconds=1))
    with refused("broker.step_unknown"):
        world.broker.choose(chooser.step_id, "p-maria", world.client())


def test_logout_revokes_open_linking_proofs(world: World) -> None:
    chooser = oidc_login(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    world.broker.logout(None, world.client())
    with refused("broker.step_unknown"):
        world.broker.choose(chooser.step_id, "p-maria", world.client())


def test_an_oidc_callback_without_its_step_is_refused(world: World) -> None:
    redirect = world.broker.begin_federated("esia", world.client())
    params = world.oidc_callback(redirect, ANNA)
    assert isinstance(world.broker.finish("esia", params, world.client()), LoggedIn)
    with refused("broker.step_unknown"):
        world.broker.finish("esia", params, world.client())


def test_a_disabled_provider_lets_nobody_in(world: World) -> None:
    redirect = world.broker.begin_federated("esia", world.client())
    params = world.oidc_callback(redirect, ANNA)
    disabled = world.broker_like(providers=(OidcProvider("esia", world.rp, enabled=False),))
    with refused("broker.provider_disabled"):
        disabled.finish("esia", params, world.client())
    with refused("broker.provider_disabled"):
        disabled.begin_federated("esia", world.client())
    assert links_of(world, ANNA) == {}


def test_a_blocked_linked_account_is_refused_with_its_own_code(tmp_path: Path) -> None:
    accounts = [
        attrs.evolve(a, status=AccountStatus.BLOCKED) if a.account_id == "a-anna" else a
        for a in sample_accounts()
    ]
    world = build_world(tmp_path, accounts=accounts)
    world.link_admin(ANNA, "a-anna")
    with refused("broker.account_blocked"):
        oidc_login(world, ANNA)


# -- SAML ------------------------------------------------------------------------------------


def test_saml_login_links_and_logs_in(world: World) -> None:
    client = world.client()
    redirect = world.broker.begin_federated("esia-saml", client)
    assert isinstance(redirect, Redirect)
    form = world.saml_post(redirect, ANNA)
    result = world.broker.finish("esia-saml", form, client)
    assert isinstance(result, LoggedIn)
    assert result.session.account_id == "a-anna"
    assert result.session.issuer == world.saml.idp_entity_id


def test_saml_answer_for_another_browsers_login_is_refused(world: World) -> None:
    mine = world.broker.begin_federated("esia-saml", world.client("victim"))
    form = world.saml_post(mine, ANNA)
    with refused("broker.step_foreign"):
        world.broker.finish("esia-saml", form, world.client("attacker"))


# -- linking from settings -------------------------------------------------------------------


def test_link_from_settings_then_unlink(world: World) -> None:
    client = world.client()
    # her own identity: another person's is refused (tests/flows/test_fresh_auth.py)
    logged = world.local_login("sch1", "smirnova", client)
    redirect = world.broker.begin_link(logged.token, "esia", client)
    linked = world.broker.finish("esia", world.oidc_callback(redirect, MARIA), client)
    assert isinstance(linked, LinkedFromSettings)
    assert links_of(world, MARIA) == {"t-maria": LinkMethod.SETTINGS}
    assert [link.subject for link in world.broker.linked_accounts(logged.session)] == [str(MARIA)]
    world.broker.unlink(logged.token, world.idp.issuer, str(MARIA), client)
    assert links_of(world, MARIA) == {}
    assert (AuditAction.UNLINK, None) in actions(world)


def test_unlink_of_someone_elses_link_is_refused(world: World) -> None:
    assert isinstance(oidc_login(world, ANNA), LoggedIn)
    client = world.client("browser-2")
    logged = world.local_login("club", "ivanov", client)
    with refused("link.not_found"):
        world.broker.unlink(logged.token, world.idp.issuer, str(ANNA), client)
    assert links_of(world, ANNA) == {"a-anna": LinkMethod.AUTO}


# -- audit -----------------------------------------------------------------------------------


def test_the_audit_trail_tells_the_whole_login_and_holds_no_personal_numbers(
    world: World,
) -> None:
    chooser = oidc_login(world, MARIA)
    assert isinstance(chooser, ChooseAccount)
    world.broker.choose(chooser.step_id, "p-maria", world.client())
    events = world.store.tail(100)
    assert [e.action for e in events] == [
        AuditAction.CHOICE,
        AuditAction.LINK,
        AuditAction.LOGIN,
        AuditAction.SESSION_START,
    ]
    assert all(e.ip == "10.0.0.5" for e in events)
    assert events[2].account_id == "p-maria"
    assert events[2].subject == str(MARIA)
    assert verify_chain(events).ok
    text = repr(events) + repr([e.detail for e in events])
    assert "123-456-789" not in text
    assert "12345678964" not in text
