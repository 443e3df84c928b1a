"""Fresh authentication end to end over the mock IdP, both protocols (issue 19): linking
from settings, shared-computer mode and step-up. The mock IdP keeps a session per browser
(single sign-on); these tests drive its pages in one browser, as a classroom computer
would be used."""

from __future__ import annotations

import base64
import html
import re
import zlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from helpers.broker import (
    ANNA,
    BASE,
    LOGINS,
    MARIA,
    PASSWORDS,
    TOTP_SECRETS,
    World,
    build_world,
)
from sso_bridge.broker import (
    BrokerPolicy,
    ChooseAccount,
    LinkedFromSettings,
    LoggedIn,
    Redirect,
    SecondFactorForm,
    SharedComputerMode,
    StepUpDone,
)
from sso_bridge.errors import BridgeError
from sso_bridge.mfa import decode_secret
from sso_bridge.mfa.otp import totp
from sso_bridge.model import AuditAction, LinkMethod

BOTH = pytest.mark.parametrize("protocol", ["oidc", "saml"])
PROVIDER = {"oidc": "esia", "saml": "esia-saml"}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


class IdpBrowser:
    """One browser at the mock IdP: its cookies (and so its IdP session) persist."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.world.http.cookies.clear()
        self.password_pages = 0

    def answer(self, redirect: Redirect, oid: int | None) -> dict[str, str]:
        """Follow ``redirect`` at the IdP; log ``oid`` in if the login page comes (None:
        it must not come). The answer the browser brings back to the broker."""
        http = self.world.http
        response = http.get(redirect.url.removeprefix(BASE))
        txn = re.search(r'name="txn" value="([^"]+)"', response.text)
        if txn is not None:
            assert oid is not None, "the IdP asked for a password"
            self.password_pages += 1
            form = {"txn": txn.group(1), "login": LOGINS[oid], "password": PASSWORDS[oid]}
            http.post("/login", data=form)
            if oid in TOTP_SECRETS:
                self.world.clock.advance(timedelta(seconds=30))  # each step is taken once
                key = decode_secret(TOTP_SECRETS[oid])
                code = totp(key, int(self.world.clock.now().timestamp()))
            else:
                code = self.world.idp.last_code()
            response = http.post("/login/code", data={"txn": txn.group(1), "code": code})
        if response.status_code in (302, 303):
            return dict(parse_qsl(urlsplit(response.headers["location"]).query))
        assert response.status_code == 200, response.text
        return {
            html.unescape(name): html.unescape(value)
            for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', response.text)
        }


def saml_request(redirect: Redirect) -> str:
    query = dict(parse_qsl(urlsplit(redirect.url).query))
    return zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode()


def federated_login(
    world: World, browser: IdpBrowser, protocol: str, oid: int | None, client_name: str = "pc"
) -> object:
    client = world.client(client_name)
    redirect = world.broker.begin_federated(PROVIDER[protocol], client)
    return world.broker.finish(PROVIDER[protocol], browser.answer(redirect, oid), client)


def logged_in(result: object, world: World, client_name: str = "pc") -> LoggedIn:
    client = world.client(client_name)
    if isinstance(result, ChooseAccount):
        result = world.broker.choose(result.step_id, result.options[0].account_id, client)
    if isinstance(result, SecondFactorForm):
        code = world.code_for(result.challenge.account_id)
        result = world.broker.second_factor(result.step_id, code, client)
    assert isinstance(result, LoggedIn), result
    return result


# -- linking from settings ------------------------------------------------------------------


@BOTH
def test_linking_asks_the_idp_to_authenticate_afresh(world: World, protocol: str) -> None:
    client = world.client("pc")
    logged = world.local_login("sch1", "smirnova", client)
    redirect = world.broker.begin_link(logged.token, PROVIDER[protocol], client)
    if protocol == "oidc":
        query = dict(parse_qsl(urlsplit(redirect.url).query))
        assert (query["prompt"], query["max_age"]) == ("login", "0")
    else:
        assert 'ForceAuthn="true"' in saml_request(redirect)


@BOTH
def test_linking_someone_elses_identity_is_refused_and_audited(world: World, protocol: str) -> None:
    """Maria left her IdP session open on the shared computer; Anna, signed in to her own
    school account, links: the IdP asks for a password, and the identity that comes back
    (Maria's, had Anna used it) must be Anna's, or the link is refused."""
    browser = IdpBrowser(world)
    logged_in(federated_login(world, browser, protocol, MARIA), world)
    assert browser.password_pages == 1
    client = world.client("pc")
    anna = world.local_login("sch1", "kuznetsova", client)
    world.clock.advance(timedelta(minutes=5))
    redirect = world.broker.begin_link(anna.token, PROVIDER[protocol], client)
    answer = browser.answer(redirect, MARIA)  # Maria's password typed again
    assert browser.password_pages == 2, "the IdP's session answered a link without a password"
    with refused("link.identity_mismatch"):
        world.broker.finish(PROVIDER[protocol], answer, client)
    issuer = world.idp.issuer if protocol == "oidc" else world.saml.idp_entity_id
    assert all(
        link.account_id != "a-anna" for link in world.store.links_for_subject(issuer, str(MARIA))
    )
    refusal = [e for e in world.store.tail(50) if e.action is AuditAction.LINK_REFUSED]
    assert refusal[-1].code == "link.identity_mismatch"
    assert refusal[-1].account_id == "a-anna"
    assert refusal[-1].detail == "the identity's full name differs from the account's"


@BOTH
def test_linking_ones_own_identity_after_a_fresh_login(world: World, protocol: str) -> None:
    browser = IdpBrowser(world)
    client = world.client("pc")
    anna = world.local_login("sch1", "kuznetsova", client)
    redirect = world.broker.begin_link(anna.token, PROVIDER[protocol], client)
    result = world.broker.finish(PROVIDER[protocol], browser.answer(redirect, ANNA), client)
    assert isinstance(result, LinkedFromSettings)
    assert result.link.account_id == "a-anna"
    assert result.link.method is LinkMethod.SETTINGS


def test_an_idp_that_answers_a_link_from_an_old_session_is_refused(world: World) -> None:
    """An IdP that ignores prompt=login (Keycloak issue 14147's kind of flaw): its answer
    dates the authentication before the link began, and is refused whoever it names."""
    client = world.client("pc")
    anna = world.local_login("sch1", "kuznetsova", client)
    redirect = world.broker.begin_link(anna.token, "esia", client)
    query = dict(parse_qsl(urlsplit(redirect.url).query))
    code = world.idp.authorization_code(
        world.rp.config.client_id,
        ANNA,
        redirect_uri=query["redirect_uri"],
        nonce=query.get("nonce"),
        code_challenge=query["code_challenge"],
        scopes=world.rp.config.scopes,
        auth_time=world.clock.now() - timedelta(minutes=30),
    )
    answer = {"code": code, "state": query["state"], "iss": world.idp.issuer}
    with refused("broker.stale_authentication"):
        world.broker.finish("esia", answer, client)
    assert world.store.links_for_subject(world.idp.issuer, str(ANNA)) == []
    codes = [(e.action, e.code) for e in world.store.tail(20)]
    assert (AuditAction.LINK_REFUSED, "broker.stale_authentication") in codes


# -- shared-computer mode --------------------------------------------------------------------


@BOTH
def test_without_the_mode_the_next_person_rides_on_the_idp_session(
    world: World, protocol: str
) -> None:
    """The flaw the mode closes: the second login of this browser needs no password."""
    browser = IdpBrowser(world)
    first = logged_in(federated_login(world, browser, protocol, ANNA), world)
    world.broker.logout(first.token, world.client("pc"))
    world.clock.advance(timedelta(minutes=3))
    second = federated_login(world, browser, protocol, None)
    assert logged_in(second, world).session.account_id == "a-anna"
    assert browser.password_pages == 1


@BOTH
def test_in_shared_computer_mode_the_next_person_must_authenticate(
    world: World, protocol: str
) -> None:
    mode = SharedComputerMode(session_lifetime=timedelta(minutes=10))
    world.broker = world.broker_like(policy=BrokerPolicy(shared_computer=mode))
    browser = IdpBrowser(world)
    first = logged_in(federated_login(world, browser, protocol, ANNA), world)
    assert first.session.expires_at <= world.clock.now() + timedelta(minutes=10)
    world.broker.logout(first.token, world.client("pc"))
    world.clock.advance(timedelta(minutes=3))
    second = logged_in(federated_login(world, browser, protocol, MARIA), world)
    assert browser.password_pages == 2
    assert second.session.subject == str(MARIA)


# -- step-up --------------------------------------------------------------------------------


@BOTH
def test_a_step_up_asks_for_a_password_again_and_is_recorded(world: World, protocol: str) -> None:
    browser = IdpBrowser(world)
    anna = logged_in(federated_login(world, browser, protocol, ANNA), world)
    client = world.client("pc")
    with refused("broker.step_up_required"):
        world.broker.require_fresh(anna.session, max_age=300)
    world.clock.advance(timedelta(minutes=20))
    redirect = world.broker.begin_step_up(anna.token, client, max_age=0, return_to="/grades/final")
    result = world.broker.finish(PROVIDER[protocol], browser.answer(redirect, ANNA), client)
    assert result == StepUpDone("/grades/final")
    assert browser.password_pages == 2
    world.broker.require_fresh(anna.session, max_age=300)
    world.clock.advance(timedelta(minutes=6))
    with refused("broker.step_up_required"):
        world.broker.require_fresh(anna.session, max_age=300)
    assert (AuditAction.STEP_UP, None) in [(e.action, e.code) for e in world.store.tail(50)]


def test_a_step_up_answered_from_a_stale_session_is_refused(world: World) -> None:
    browser = IdpBrowser(world)
    anna = logged_in(federated_login(world, browser, "oidc", ANNA), world)
    client = world.client("pc")
    redirect = world.broker.begin_step_up(anna.token, client, max_age=0)
    query = dict(parse_qsl(urlsplit(redirect.url).query))
    assert (query["prompt"], query["max_age"]) == ("login", "0")
    code = world.idp.authorization_code(
        world.rp.config.client_id,
        ANNA,
        redirect_uri=query["redirect_uri"],
        nonce=query.get("nonce"),
        code_challenge=query["code_challenge"],
        scopes=world.rp.config.scopes,
        auth_time=world.clock.now() - timedelta(minutes=10),
    )
    with refused("broker.stale_authentication"):
        world.broker.finish(
            "esia", {"code": code, "state": query["state"], "iss": world.idp.issuer}, client
        )
    with refused("broker.step_up_required"):
        world.broker.require_fresh(anna.session, max_age=300)


def test_a_step_up_by_another_person_is_refused(world: World) -> None:
    browser = IdpBrowser(world)
    anna = logged_in(federated_login(world, browser, "oidc", ANNA), world)
    client = world.client("pc")
    redirect = world.broker.begin_step_up(anna.token, client)
    with refused("broker.step_up_wrong_person"):
        world.broker.finish("esia", browser.answer(redirect, MARIA), client)
    with refused("broker.step_up_required"):
        world.broker.require_fresh(anna.session, max_age=300)


def test_a_step_up_asks_for_the_context_class_and_checks_it(world: World) -> None:
    browser = IdpBrowser(world)
    anna = logged_in(federated_login(world, browser, "oidc", ANNA), world)
    client = world.client("pc")
    redirect = world.broker.begin_step_up(anna.token, client, acr_values=["urn:esia:loa:nowhere"])
    query = dict(parse_qsl(urlsplit(redirect.url).query))
    assert query["acr_values"] == "urn:esia:loa:nowhere"
    with refused("broker.acr_not_met"):
        world.broker.finish("esia", browser.answer(redirect, ANNA), client)


def test_a_local_session_cannot_step_up_and_return_to_stays_on_site(world: World) -> None:
    client = world.client("pc")
    anna = world.local_login("sch1", "kuznetsova", client)
    with refused("broker.step_up_unavailable"):
        world.broker.begin_step_up(anna.token, client)
    with refused("input.invalid"):
        world.broker.begin_step_up(anna.token, client, return_to="//evil.example/")
