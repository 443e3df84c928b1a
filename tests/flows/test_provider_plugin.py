"""The provider plug-in interface: a provider written from scratch against
:class:`sso_bridge.idp.IdentityProvider` logs people in through the broker, with nothing
of OpenID Connect or SAML in it."""

from __future__ import annotations

import json
import re
import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
import pytest

from helpers.broker import World, build_world
from sso_bridge.broker import (
    Broker,
    BrokerPolicy,
    LinkedFromSettings,
    LoggedIn,
    OidcProvider,
    Redirect,
)
from sso_bridge.errors import BridgeError
from sso_bridge.esia.roles import ORGANISATIONS, Employer, EsiaOrganisation, StaffRolePolicy
from sso_bridge.idp import (
    NO_ASKS,
    NO_REQUIREMENTS,
    Answer,
    Asks,
    AuthnRequirements,
    Extra,
    IdentityProvider,
    PostTo,
    Remembered,
    Started,
    VerifiedLogin,
)
from sso_bridge.model import FederatedIdentity

ISSUER = "https://idp.region.test/"
SITE = "https://idp.region.test/enter"
OGRN = "1027700017014"


class TicketRefused(BridgeError):
    """The made-up IdP's refusal."""


@attrs.define
class TicketProvider:
    """A made-up IdP: the browser POSTs a ticket to it, and it answers with the ticket
    back, the person's subject and the methods they used."""

    name: str = "region"
    title: str = "Regional IdP"
    enabled: bool = True
    asked: list[Asks] = attrs.field(factory=list)
    workplaces: tuple[EsiaOrganisation, ...] = ()

    @property
    def issuer(self) -> str:
        return ISSUER

    def start(self, *, now: datetime, authn: AuthnRequirements = NO_REQUIREMENTS) -> Started:
        step, ticket = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        go = PostTo(SITE, (("ticket", ticket), ("back", step)))
        remembered = {"ticket": ticket, "at": now.isoformat(), "more": [1, None, True]}
        return Started(go, step, remembered)

    def step_id(self, answer: Answer) -> str | None:
        return answer.get("back") or None

    def finish(
        self,
        answer: Answer,
        remembered: Remembered | None,
        *,
        now: datetime,
        asks: Asks = NO_ASKS,
    ) -> VerifiedLogin:
        self.asked.append(asks)
        if remembered is not None:
            if answer.get("ticket") != remembered["ticket"]:
                raise TicketRefused("not our ticket")
            assert remembered["more"] == [1, None, True]
        identity = FederatedIdentity(
            issuer=ISSUER,
            subject=answer["subject"],
            verified=True,
            last_name="Кузнецова",
            first_name="Анна",
            middle_name="Сергеевна",
            birth_date=date(1988, 2, 2),
        )
        extras: dict[Extra[Any, Any], object] = {}
        if ORGANISATIONS in asks:
            extras[ORGANISATIONS] = self.workplaces
        return VerifiedLogin(
            identity,
            auth_time=now,  # the made-up IdP asks for the person's password every time
            amr=tuple(answer.get("amr", "pwd").split()),
            unsolicited=remembered is None and answer.get("unasked") == "yes",
            extras=extras,
        )


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{re.escape(code)}:")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


def _begin(world: World, provider: TicketProvider) -> tuple[Broker, dict[str, str]]:
    client = world.client()
    broker = world.broker_like(providers=(provider,))
    redirect = broker.begin_federated(provider.name, client)
    assert isinstance(redirect, Redirect)
    assert redirect.url == SITE
    fields = dict(redirect.fields)
    return broker, {"ticket": fields["ticket"], "back": fields["back"]}


def test_the_made_up_provider_fits_the_protocol() -> None:
    provider: IdentityProvider = TicketProvider()
    assert provider.issuer == ISSUER


def test_a_provider_written_from_scratch_logs_in(world: World) -> None:
    world.link_admin(0, "a-anna", issuer=ISSUER)  # subject "0"
    provider = TicketProvider()
    broker, answer = _begin(world, provider)
    result = broker.finish("region", {**answer, "subject": "0"}, world.client())
    assert isinstance(result, LoggedIn), result
    assert (result.session.account_id, result.session.issuer) == ("a-anna", ISSUER)
    assert provider.asked == [NO_ASKS]  # no policy asked for more


def test_the_step_binds_the_answer(world: World) -> None:
    provider = TicketProvider()
    broker, answer = _begin(world, provider)
    with pytest.raises(TicketRefused):
        broker.finish("region", {**answer, "ticket": "forged", "subject": "0"}, world.client())
    # the step was used up by that attempt
    with refused("broker.step_unknown"):
        broker.finish("region", {**answer, "subject": "0"}, world.client())
    # an answer naming no step must be one the provider says came unasked
    with refused("broker.step_unknown"):
        broker.finish("region", {"subject": "0"}, world.client())


def test_an_unasked_answer_logs_in_without_a_step(world: World) -> None:
    world.link_admin(0, "a-anna", issuer=ISSUER)
    broker = world.broker_like(providers=(TicketProvider(),))
    result = broker.finish("region", {"subject": "0", "unasked": "yes"}, world.client())
    assert isinstance(result, LoggedIn), result
    assert result.session.account_id == "a-anna"


def test_a_step_of_another_provider_is_refused(world: World) -> None:
    provider = TicketProvider()
    broker = world.broker_like(providers=(provider, OidcProvider("esia", world.rp)))
    client = world.client()
    oidc = broker.begin_federated("esia", client)
    state = dict(parse_qsl(urlsplit(oidc.url).query))["state"]
    with refused("broker.wrong_provider"):
        broker.finish("region", {"back": state, "subject": "0"}, client)


def test_the_staff_policy_asks_the_provider_for_workplaces(world: World) -> None:
    world.link_admin(0, "t-maria", issuer=ISSUER)
    world.link_admin(1, "a-anna", issuer=ISSUER)  # another subject's: never offered to 0
    staff = StaffRolePolicy(employers={"sch1": Employer(ogrn=OGRN)})
    policy = BrokerPolicy(staff=staff)
    for workplaces, allowed in (((), False), ((EsiaOrganisation("1", "School 1", OGRN),), True)):
        provider = TicketProvider(workplaces=workplaces)
        client = world.client()
        broker = world.broker_like(providers=(provider,), policy=policy)
        redirect = broker.begin_federated("region", client)
        fields = dict(redirect.fields)
        answer = {"ticket": fields["ticket"], "back": fields["back"], "subject": "0", "amr": "mfa"}
        if allowed:
            result = broker.finish("region", answer, client)
            assert isinstance(result, LoggedIn), result
        else:
            with refused("broker.not_an_employee"):
                broker.finish("region", answer, client)
        (asks,) = provider.asked
        assert asks.question(ORGANISATIONS) == (Employer(ogrn=OGRN),)


def test_linking_from_settings_goes_through_the_provider(world: World) -> None:
    session = world.local_login("sch1", "kuznetsova")
    provider = TicketProvider()
    broker = world.broker_like(providers=(provider,))
    client = world.client()
    redirect = broker.begin_link(session.token, "region", client)
    fields = dict(redirect.fields)
    answer = {"ticket": fields["ticket"], "back": fields["back"], "subject": "77"}
    result = broker.finish("region", answer, client)
    assert isinstance(result, LinkedFromSettings)
    assert (result.link.issuer, result.link.subject) == (ISSUER, "77")


class OlderTicketProvider(TicketProvider):
    """A provider written before ``start`` took ``authn``."""

    def start(self, *, now: datetime) -> Started:  # type: ignore[override]
        return super().start(now=now)


def test_a_provider_without_authn_logs_in_but_never_links(world: World) -> None:
    """It cannot ask its IdP for a fresh authentication, which linking needs: a clear
    configuration error, not a link made on whoever the IdP still has a session for."""
    broker = world.broker_like(providers=(OlderTicketProvider(),))
    client = world.client()
    redirect = broker.begin_federated("region", client)
    assert isinstance(redirect, Redirect)
    session = world.local_login("sch1", "kuznetsova")
    with refused("config.invalid"):
        broker.begin_link(session.token, "region", client)


def test_the_old_entry_points_still_work_and_warn(world: World) -> None:
    client = world.client()
    redirect = world.broker.begin_federated("esia", client)
    with pytest.warns(DeprecationWarning, match="Broker.finish"):
        world.broker.finish_oidc("esia", world.oidc_callback(redirect, 1000000103), client)
    redirect = world.broker.begin_federated("esia-saml", client)
    form = world.saml_post(redirect, 1000000103)
    with pytest.warns(DeprecationWarning, match="Broker.finish"):
        world.broker.finish_saml("esia-saml", form, client)


def test_remembered_values_survive_the_step_store() -> None:
    remembered = TicketProvider().start(now=datetime(2026, 1, 1)).remembered
    assert json.loads(json.dumps(remembered)) == remembered
