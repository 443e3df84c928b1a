"""The machine's fresh-authentication rules: linking from settings, a login in
shared-computer mode and a step-up take an IdP answer only when its ``auth_time`` is not
before the step began (minus the skew, minus the step-up's ``max_age``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest

from broker.samples import FRAME, NOW, PERSON
from sso_bridge.broker.codec import decode_state, encode_state
from sso_bridge.broker.config import BrokerPolicy, SharedComputerMode
from sso_bridge.broker.core import machine_policy
from sso_bridge.broker.machine import Outcome, transition
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine import states as st
from sso_bridge.model import AuditAction

POLICY = BrokerPolicy(skew=timedelta(seconds=30))
REQUEST = st.IdpRequest("s", {"state": "s"})
STARTED = FRAME.created_at


def run(state: Any, event: Any, policy: BrokerPolicy = POLICY) -> Outcome:
    return transition(machine_policy(policy), state, event, NOW + timedelta(seconds=20))


def answered(auth_time: Any, **changes: Any) -> ev.IdpAnswered:
    return ev.IdpAnswered(attrs.evolve(PERSON, auth_time=auth_time, **changes))


def refused_with(outcome: Outcome) -> str:
    assert isinstance(outcome.state, st.Refused)
    last = outcome.effects[-1]
    assert isinstance(last, fx.Refuse)
    return last.error.code


# -- linking from settings ------------------------------------------------------------------

LINKING = st.AwaitingIdpToLink(FRAME, "esia", REQUEST, "a9", "sess")


@pytest.mark.parametrize(
    "auth_time",
    [None, STARTED - timedelta(seconds=31), STARTED - timedelta(hours=3)],
    ids=["not reported", "just past the skew", "an old IdP session"],
)
def test_linking_refuses_an_authentication_that_is_not_fresh(auth_time: Any) -> None:
    out = run(LINKING, answered(auth_time))
    assert refused_with(out) == "broker.stale_authentication"
    assert not any(isinstance(e, fx.LinkFromSettings) for e in out.effects)
    record = out.effects[0]
    assert isinstance(record, fx.Record)
    assert record.action is AuditAction.LINK_REFUSED
    assert (record.account_id, record.subject) == ("a9", PERSON.identity.subject)
    assert record.code == "broker.stale_authentication"


@pytest.mark.parametrize(
    "auth_time", [STARTED - timedelta(seconds=30), STARTED, STARTED + timedelta(seconds=15)]
)
def test_linking_takes_an_authentication_since_the_step_began(auth_time: Any) -> None:
    out = run(LINKING, answered(auth_time))
    assert out.state == st.LinkMade("a9")


def test_linking_refuses_an_authentication_dated_in_the_future() -> None:
    out = run(LINKING, answered(NOW + timedelta(minutes=5)))
    assert refused_with(out) == "broker.stale_authentication"


# -- shared-computer mode -----------------------------------------------------------------

SHARED = BrokerPolicy(
    shared_computer=SharedComputerMode(session_lifetime=timedelta(minutes=10)),
    skew=timedelta(seconds=30),
)


def test_a_login_that_asked_for_a_fresh_authentication_takes_no_stale_one() -> None:
    waiting = st.AwaitingIdp(FRAME, "esia", REQUEST, fresh=True)
    out = run(waiting, answered(STARTED - timedelta(minutes=2)), SHARED)
    assert refused_with(out) == "broker.stale_authentication"
    record = out.effects[0]
    assert isinstance(record, fx.Record) and record.action is AuditAction.LOGIN_REFUSED


def test_a_fresh_login_in_shared_mode_gets_a_short_session() -> None:
    waiting = st.AwaitingIdp(FRAME, "esia", REQUEST, fresh=True)
    out = run(waiting, answered(STARTED), SHARED)
    assert isinstance(out.state, st.ReadingLinks)
    assert out.state.person.not_on_or_after == NOW + timedelta(seconds=20, minutes=10)


def test_the_idp_limit_stays_when_it_is_shorter_than_the_modes() -> None:
    waiting = st.AwaitingIdp(FRAME, "esia", REQUEST, fresh=True)
    ends = NOW + timedelta(minutes=1)
    out = run(waiting, answered(STARTED, not_on_or_after=ends), SHARED)
    assert isinstance(out.state, st.ReadingLinks)
    assert out.state.person.not_on_or_after == ends


def test_an_ordinary_login_does_not_look_at_auth_time() -> None:
    out = run(st.AwaitingIdp(FRAME, "esia", REQUEST), answered(None))
    assert isinstance(out.state, st.ReadingLinks)
    assert out.state.person.not_on_or_after is None


def test_the_begun_event_says_whether_the_login_is_fresh() -> None:
    event = ev.FederatedBegun(FRAME.browser, "esia", REQUEST, "u", fresh=True)
    out = run(st.Start(), event, SHARED)
    assert isinstance(out.state, st.AwaitingIdp) and out.state.fresh


def test_shared_mode_applies_by_provider_and_organisation() -> None:
    mode = SharedComputerMode(providers=["esia"], organisations=["sch1"])
    policy = BrokerPolicy(shared_computer=mode)
    assert policy.shared_computer_applies("esia", "sch1")
    assert policy.shared_computer_applies("esia")  # organisation not known yet: covered
    assert not policy.shared_computer_applies("esia", "sch2")
    assert not policy.shared_computer_applies("esia-saml", "sch1")
    assert not policy.shared_computer_applies(None, "sch1")
    assert not BrokerPolicy().shared_computer_applies("esia", "sch1")
    with pytest.raises(TypeError):
        SharedComputerMode(providers="esia")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        SharedComputerMode(session_lifetime=timedelta(0))


# -- step-up ------------------------------------------------------------------------------

IDENTITY = PERSON.identity


def stepping(max_age: int = 0, acr: tuple[str, ...] = ()) -> st.AwaitingIdpToStepUp:
    return st.AwaitingIdpToStepUp(
        FRAME, "esia", REQUEST, "sess", IDENTITY.issuer, IDENTITY.subject, max_age, acr, "/grades"
    )


def test_a_step_up_begins_at_the_idp() -> None:
    event = ev.StepUpBegun(
        FRAME.browser, "esia", REQUEST, "https://idp/auth", "sess", "i", "1", 300, ("high",)
    )
    out = run(st.Start(), event)
    assert isinstance(out.state, st.AwaitingIdpToStepUp)
    assert (out.state.max_age, out.state.acr_values) == (300, ("high",))
    assert out.effects == (fx.SendToIdp("https://idp/auth"),)


def test_a_fresh_step_up_of_the_same_person_is_recorded() -> None:
    out = run(stepping(acr=("high",)), answered(STARTED, acr="high"))
    assert out.state == st.SteppedUp("sess")
    record, passed = out.effects
    assert isinstance(record, fx.Record) and record.action is AuditAction.STEP_UP
    assert passed == fx.StepUpPassed("sess", STARTED, "high", "/grades")


def test_a_stale_session_never_satisfies_a_step_up() -> None:
    """Keycloak issue 14147: the IdP answered from the session it held, not afresh."""
    out = run(stepping(), answered(STARTED - timedelta(minutes=5), acr="high"))
    assert refused_with(out) == "broker.stale_authentication"
    assert not any(isinstance(e, fx.StepUpPassed) for e in out.effects)


def test_max_age_allows_an_authentication_that_recent() -> None:
    recent = STARTED - timedelta(seconds=250)
    assert run(stepping(max_age=300), answered(recent)).state == st.SteppedUp("sess")
    older = STARTED - timedelta(seconds=331)
    out = run(stepping(max_age=300), answered(older))
    assert refused_with(out) == "broker.stale_authentication"


@pytest.mark.parametrize("acr", [None, "low"])
def test_a_step_up_needs_the_context_class_asked_for(acr: str | None) -> None:
    out = run(stepping(acr=("high", "highest")), answered(STARTED, acr=acr))
    assert refused_with(out) == "broker.acr_not_met"


def test_a_step_up_by_someone_else_is_refused_and_audited() -> None:
    other = attrs.evolve(IDENTITY, subject="2000")
    out = run(stepping(), answered(STARTED, identity=other))
    assert refused_with(out) == "broker.step_up_wrong_person"
    record = out.effects[0]
    assert isinstance(record, fx.Record) and record.action is AuditAction.SECURITY
    assert record.subject == "2000"


def test_the_stored_steps_keep_what_the_checks_need() -> None:
    """A step-up step and a fresh login step survive the step store's encoding, and so
    does the person's auth_time and acr."""
    for state in (
        stepping(max_age=60, acr=("high",)),
        st.AwaitingIdp(FRAME, "esia", REQUEST, fresh=True),
        st.ChoosingAccount(
            FRAME, attrs.evolve(PERSON, auth_time=STARTED, acr="x"), ("a1",), (), True
        ),
    ):
        assert decode_state(encode_state(state)) == state
