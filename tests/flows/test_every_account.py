"""Every account that is the person's at every login (issue 23), end to end over OIDC and
SAML: the linked accounts and the unlinked candidates matching still finds, the chooser that
marks them, hiding one, the switcher that offers the same set, and the rules of a first
login (vetoes, match strength, the linking proof) holding at every later one."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from helpers.broker import LOCAL_PASSWORD, MARIA, MARIA_SIMPLIFIED, World, build_world
from sso_bridge.broker import (
    BrokerPolicy,
    ChooseAccount,
    LocalLoginForm,
    LoggedIn,
    Redirect,
    SecondFactorForm,
)
from sso_bridge.broker.steps import offer_proof_id, offer_proof_owner
from sso_bridge.errors import BridgeError
from sso_bridge.model import AuditAction, LinkMethod, LocalAccount

BOTH = pytest.mark.parametrize("protocol", ["oidc", "saml"])

_MARIA = {
    "last_name": "Смирнова",
    "first_name": "Мария",
    "middle_name": "Петровна",
    "birth_date": date(1984, 3, 12),
}
_SNILS = "123-456-789 64"  # hers at the IdP


def accounts() -> list[LocalAccount]:
    """A teacher in school 1 and a parent in school 2 (both with her SNILS: strong), a parent
    at the club (name and birth date only: weak), and a namesake with another SNILS."""
    return [
        _maria("t-maria", "sch1", "smirnova", "teacher", _SNILS),
        _maria("p-maria", "sch2", "smirnova.m", "parent", _SNILS),
        _maria("c-maria", "club", "smirnova.c", "parent", None),
        _maria("n-maria", "sch2", "smirnova.n", "parent", "345-678-912 26"),
    ]


def _maria(account_id: str, org_id: str, login: str, role: str, snils: str | None) -> LocalAccount:
    return LocalAccount(account_id, org_id, login=login, roles=(role,), snils=snils, **_MARIA)


THREE = {"t-maria", "p-maria", "c-maria"}


def world_of(tmp: Path, **policy: str) -> World:
    return build_world(tmp, accounts=accounts(), policy=BrokerPolicy(**policy))  # type: ignore[arg-type]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return world_of(tmp_path)


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def login(world: World, protocol: str, browser: str, oid: int = MARIA) -> object:
    client = world.client(browser)
    if protocol == "oidc":
        redirect = world.broker.begin_federated("esia", client)
        return world.broker.finish("esia", world.oidc_callback(redirect, oid), client)
    redirect = world.broker.begin_federated("esia-saml", client)
    assert isinstance(redirect, Redirect)
    return world.broker.finish("esia-saml", world.saml_post(redirect, oid), client)


def issuer_of(world: World, protocol: str) -> str:
    return world.idp.issuer if protocol == "oidc" else world.saml.idp_entity_id


def links_of(world: World, protocol: str, oid: int = MARIA) -> dict[str, LinkMethod]:
    found = world.store.links_for_subject(issuer_of(world, protocol), str(oid))
    return {link.account_id: link.method for link in found}


def offered(chooser: object) -> dict[str, bool]:
    """The chooser's accounts, each with whether it is marked as linked."""
    assert isinstance(chooser, ChooseAccount), chooser
    return {o.account_id: o.linked for o in chooser.options}


def pick(world: World, chooser: object, account_id: str, browser: str) -> LoggedIn:
    """Pick an account; the second factor when its policy asks for one (a teacher)."""
    assert isinstance(chooser, ChooseAccount)
    client = world.client(browser)
    result = world.broker.choose(chooser.step_id, account_id, client)
    if isinstance(result, SecondFactorForm):
        result = world.broker.second_factor(result.step_id, world.code_for(account_id), client)
    assert isinstance(result, LoggedIn), result
    return result


def actions(world: World) -> list[tuple[AuditAction, str | None, str | None]]:
    return [(e.action, e.account_id, e.code) for e in world.store.tail(300)]


@BOTH
def test_every_login_offers_all_three_and_a_pick_links_the_one_picked(
    world: World, protocol: str
) -> None:
    first = login(world, protocol, "browser-1")
    assert offered(first) == {"t-maria": False, "p-maria": False, "c-maria": False}
    assert isinstance(first, ChooseAccount) and first.linking and first.hiding
    session = pick(world, first, "p-maria", "browser-1")
    assert links_of(world, protocol) == {"p-maria": LinkMethod.CHOSEN}
    assert set(session.session.accounts) == THREE  # the switcher offers the same set

    second = login(world, protocol, "browser-2")
    assert offered(second) == {"t-maria": False, "p-maria": True, "c-maria": False}
    assert isinstance(second, ChooseAccount) and second.linking
    logged = pick(world, second, "c-maria", "browser-2")
    assert logged.session.account_id == "c-maria"
    assert links_of(world, protocol) == {"p-maria": LinkMethod.CHOSEN, "c-maria": LinkMethod.CHOSEN}

    # the switcher links the third through the login's proof, after the teacher's code
    client = world.client("browser-2")
    switched = world.broker.switch_account(logged.token, "t-maria", client)
    if protocol == "oidc":  # over SAML the IdP reported its own second factor
        assert isinstance(switched, SecondFactorForm)
        assert "t-maria" not in links_of(world, protocol)  # a link waits for the code
        switched = world.broker.second_factor(
            switched.step_id, world.code_for("t-maria"), client, session_token=logged.token
        )
    assert isinstance(switched, LoggedIn)
    assert switched.session.account_id == "t-maria"
    assert set(switched.session.accounts) == THREE
    assert links_of(world, protocol)["t-maria"] is LinkMethod.CHOSEN
    with refused("session.unknown"):
        world.broker.authenticate(logged.token, client)

    third = login(world, protocol, "browser-3")
    assert offered(third) == {"t-maria": True, "p-maria": True, "c-maria": True}
    assert isinstance(third, ChooseAccount) and not third.linking
    pick(world, third, "p-maria", "browser-3")
    assert len(links_of(world, protocol)) == 3  # nothing linked twice
    links = [a for a, _, _ in actions(world) if a is AuditAction.LINK]
    assert len(links) == 3


@BOTH
def test_hiding_an_account_removes_it_from_the_chooser_and_the_switcher(
    world: World, protocol: str
) -> None:
    pick(world, login(world, protocol, "browser-1"), "p-maria", "browser-1")
    second = login(world, protocol, "browser-2")
    assert isinstance(second, ChooseAccount)
    again = world.broker.hide(second.step_id, "c-maria", world.client("browser-2"))
    assert offered(again) == {"t-maria": False, "p-maria": True}
    with refused("broker.step_unknown"):  # the chooser's step was spent by the hide
        world.broker.choose(second.step_id, "c-maria", world.client("browser-2"))
    with refused("broker.not_offered"):  # nor is it offered by the new one
        world.broker.choose(again.step_id, "c-maria", world.client("browser-2"))
    hidden = (AuditAction.ACCOUNT_HIDDEN, "c-maria", None)
    assert hidden in actions(world)

    third = login(world, protocol, "browser-3")
    assert offered(third) == {"t-maria": False, "p-maria": True}
    session = pick(world, third, "p-maria", "browser-3")
    assert set(session.session.accounts) == {"t-maria", "p-maria"}
    with refused("broker.not_offered"):
        world.broker.switch_account(session.token, "c-maria", world.client("browser-3"))

    # undone from the settings: offered again from the next login on
    assert world.broker.hidden_accounts(session.session) == ["c-maria"]
    assert world.broker.show_account(session.token, "c-maria", world.client("browser-3"))
    assert (AuditAction.ACCOUNT_SHOWN, "c-maria", None) in actions(world)
    assert world.broker.hidden_accounts(session.session) == []
    fourth = login(world, protocol, "browser-4")
    assert set(offered(fourth)) == THREE


def test_a_hidden_linked_account_is_left_out_of_the_switcher_too(world: World) -> None:
    for account in sorted(THREE):
        world.link_admin(MARIA, account)
    chooser = login(world, "oidc", "browser-1")
    assert offered(chooser) == {"t-maria": True, "p-maria": True, "c-maria": True}
    assert isinstance(chooser, ChooseAccount)
    again = world.broker.hide(chooser.step_id, "t-maria", world.client("browser-1"))
    assert offered(again) == {"p-maria": True, "c-maria": True}
    session = pick(world, again, "c-maria", "browser-1")
    assert set(session.session.accounts) == {"p-maria", "c-maria"}
    with refused("broker.not_offered"):
        world.broker.switch_account(session.token, "t-maria", world.client("browser-1"))
    assert len(links_of(world, "oidc")) == 3  # hiding unlinks nothing


def test_hiding_from_the_settings_applies_from_the_next_login(world: World) -> None:
    session = pick(world, login(world, "oidc", "browser-1"), "p-maria", "browser-1")
    client = world.client("browser-1")
    with refused("broker.not_offered"):  # the account in use is not one to hide
        world.broker.hide_account(session.token, "p-maria", client)
    assert world.broker.hide_account(session.token, "t-maria", client)
    assert not world.broker.hide_account(session.token, "t-maria", client)  # hidden already
    assert offered(login(world, "oidc", "browser-2")) == {"p-maria": True, "c-maria": False}


@BOTH
def test_a_namesake_vetoed_at_the_first_login_stays_vetoed(world: World, protocol: str) -> None:
    first = login(world, protocol, "browser-1")
    assert "n-maria" not in offered(first)
    session = pick(world, first, "p-maria", "browser-1")
    assert "n-maria" not in session.session.accounts
    second = login(world, protocol, "browser-2")
    assert "n-maria" not in offered(second)
    with refused("broker.not_offered"):
        world.broker.choose(second.step_id, "n-maria", world.client("browser-2"))  # type: ignore[attr-defined]
    with refused("broker.not_offered"):
        world.broker.switch_account(session.token, "n-maria", world.client("browser-1"))
    assert "n-maria" not in links_of(world, protocol)


@BOTH
def test_a_weak_only_candidate_under_strong_still_needs_the_local_login(
    tmp_path: Path, protocol: str
) -> None:
    world = world_of(tmp_path, auto_link="strong")
    pick(world, login(world, protocol, "browser-1"), "p-maria", "browser-1")
    second = login(world, protocol, "browser-2")
    assert offered(second) == {"t-maria": False, "p-maria": True, "c-maria": False}
    assert isinstance(second, ChooseAccount)
    form = world.broker.choose(second.step_id, "c-maria", world.client("browser-2"))
    assert isinstance(form, LocalLoginForm)
    assert (form.reason, form.organisations) == ("prove", ("club",))
    assert "c-maria" not in links_of(world, protocol)
    done = world.broker.local_login(
        form.step_id, "club", "smirnova.c", LOCAL_PASSWORD, world.client("browser-2")
    )
    assert isinstance(done, LoggedIn)
    assert links_of(world, protocol)["c-maria"] is LinkMethod.LOCAL_LOGIN
    assert set(done.session.accounts) == THREE  # the switcher still offers all three


def test_the_switcher_under_strong_asks_the_weak_ones_local_login_too(tmp_path: Path) -> None:
    world = world_of(tmp_path, auto_link="strong")
    session = pick(world, login(world, "oidc", "browser-1"), "p-maria", "browser-1")
    form = world.broker.switch_account(session.token, "c-maria", world.client("browser-1"))
    assert isinstance(form, LocalLoginForm)
    assert (form.reason, form.organisations) == ("prove", ("club",))
    assert "c-maria" not in links_of(world, "oidc")
    done = world.broker.local_login(
        form.step_id, "club", "smirnova.c", LOCAL_PASSWORD, world.client("browser-1")
    )
    assert isinstance(done, LoggedIn)
    assert links_of(world, "oidc")["c-maria"] is LinkMethod.LOCAL_LOGIN
    assert set(done.session.accounts) == THREE


@BOTH
def test_a_chooser_answer_outside_the_offered_set_is_refused(world: World, protocol: str) -> None:
    pick(world, login(world, protocol, "browser-1"), "p-maria", "browser-1")
    for outsider in ("n-maria", "a-nobody"):
        second = login(world, protocol, "browser-2")
        assert isinstance(second, ChooseAccount)
        with refused("broker.not_offered"):
            world.broker.choose(second.step_id, outsider, world.client("browser-2"))
        with refused("broker.step_unknown"):  # the proof is spent
            world.broker.choose(second.step_id, "t-maria", world.client("browser-2"))
    assert links_of(world, protocol) == {"p-maria": LinkMethod.CHOSEN}


@BOTH
def test_an_account_linked_to_another_subject_is_never_offered(world: World, protocol: str) -> None:
    world.link_admin(MARIA_SIMPLIFIED, "c-maria", issuer_of(world, protocol))
    pick(world, login(world, protocol, "browser-1"), "p-maria", "browser-1")
    assert offered(login(world, protocol, "browser-2")) == {"t-maria": False, "p-maria": True}


def test_the_switchers_proof_is_the_sessions_and_used_once(world: World) -> None:
    session = pick(world, login(world, "oidc", "browser-1"), "p-maria", "browser-1")
    world.clock.advance(timedelta(seconds=1))  # a proof is the session's: its person and start
    other = pick(world, login(world, "oidc", "browser-2"), "p-maria", "browser-2")
    client = world.client("browser-1")
    # a switch to the teacher account waits for its code: the proof is spent already
    form = world.broker.switch_account(session.token, "t-maria", client)
    assert isinstance(form, SecondFactorForm)
    with refused("broker.not_linked"):
        world.broker.switch_account(session.token, "c-maria", client)
    # another session has its own proof
    switched = world.broker.switch_account(other.token, "c-maria", world.client("browser-2"))
    assert isinstance(switched, LoggedIn)
    assert links_of(world, "oidc") == {"p-maria": LinkMethod.CHOSEN, "c-maria": LinkMethod.CHOSEN}
    # the new session keeps a proof of the one still unlinked
    done = world.broker.second_factor(
        form.step_id, world.code_for("t-maria"), client, session_token=session.token
    )
    assert isinstance(done, LoggedIn)
    assert len(links_of(world, "oidc")) == 3


def test_a_logout_drops_the_switchers_proof(world: World) -> None:
    session = pick(world, login(world, "oidc", "browser-1"), "p-maria", "browser-1")
    proof = offer_proof_id(offer_proof_owner(session.session))
    assert world.ephemeral.get("step", proof, world.clock.now()) is not None
    world.broker.logout(session.token, world.client("browser-1"))
    assert world.ephemeral.get("step", proof, world.clock.now()) is None


def test_an_account_unlinked_since_the_login_is_offered_only_by_a_new_login(
    world: World,
) -> None:
    session = pick(world, login(world, "oidc", "browser-1"), "p-maria", "browser-1")
    first = world.broker.switch_account(session.token, "c-maria", world.client("browser-1"))
    assert isinstance(first, LoggedIn)
    world.unlink_admin(MARIA, "c-maria")
    with refused("broker.not_linked"):
        world.broker.switch_account(first.token, "c-maria", world.client("browser-1"))
