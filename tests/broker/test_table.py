"""The broker's machine, state by event: every pair the table lists runs its rule and
lands on one of its listed targets; every other pair is refused by the machine itself."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from broker.samples import EVENTS, NOW, STATES
from sso_bridge.broker import TRANSITIONS as PUBLIC_TRANSITIONS
from sso_bridge.broker.config import BrokerPolicy
from sso_bridge.broker.core import machine_policy
from sso_bridge.broker.machine import FINAL, RULES, STORED, Event, State, table_markdown
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.machine.table import transition

POLICY = machine_policy(BrokerPolicy())
DESIGN = Path(__file__).parents[2] / "docs" / "design.md"


def test_there_is_a_sample_of_every_kind() -> None:
    assert set(STATES) == set(State)
    assert set(EVENTS) == set(Event)
    assert all(state.kind is kind for kind, state in STATES.items())
    assert all(event.kind is kind for kind, event in EVENTS.items())


@pytest.mark.parametrize(
    ("state", "event"),
    [pair for pair in itertools.product(State, Event) if pair not in RULES],
    ids=lambda v: v.value,
)
def test_every_pair_outside_the_table_is_refused(state: State, event: Event) -> None:
    outcome = transition(POLICY, STATES[state], EVENTS[event], NOW)
    assert outcome.state.kind is State.REFUSED
    [refusal] = outcome.effects
    assert isinstance(refusal, fx.Refuse)
    assert refusal.error.code == "broker.out_of_order"


@pytest.mark.parametrize(("state", "event"), list(RULES), ids=lambda v: v.value)
def test_every_pair_in_the_table_lands_on_a_listed_target(state: State, event: Event) -> None:
    outcome = transition(POLICY, STATES[state], EVENTS[event], NOW)
    assert outcome.state.kind in RULES[(state, event)].targets
    asks = [e for e in outcome.effects if isinstance(e, fx.Ask)]
    # a question is the last effect, and only a transient state asks one
    if asks:
        assert outcome.effects[-1] is asks[0]
        assert outcome.state.kind not in STORED | FINAL
    refusals = [e for e in outcome.effects if isinstance(e, fx.Refuse)]
    if outcome.state.kind is State.REFUSED:
        assert refusals == [outcome.effects[-1]]


def test_final_states_have_no_way_out() -> None:
    assert not [pair for pair in RULES if pair[0] in FINAL]


def _reachable(start: State) -> set[State]:
    seen, frontier = {start}, [start]
    while frontier:
        current = frontier.pop()
        for (state, _), rule in RULES.items():
            if state is current:
                frontier += [t for t in rule.targets if t not in seen]
                seen |= rule.targets
    return seen


def test_every_state_is_reachable_and_can_end() -> None:
    assert _reachable(State.START) == set(State)
    for state in State:
        assert _reachable(state) & FINAL, state


def test_only_the_second_factor_and_settling_lead_to_a_session() -> None:
    into_session = {pair for pair, rule in RULES.items() if State.LOGGED_IN in rule.targets}
    assert into_session == {
        (State.START, Event.BEGIN_SWITCH),
        (State.READING_LINKS, Event.LINKS_READ),
        (State.MATCHING_LINKED, Event.MATCHED),
        (State.MATCHING, Event.MATCHED),
        (State.CHOOSING_ACCOUNT, Event.ACCOUNT_CHOSEN),
        (State.CHECKING_PASSWORD, Event.PASSWORD_CHECKED),
        (State.CHECKING_CODE, Event.CODE_CHECKED),
    }


def test_the_public_table_is_the_machines() -> None:
    assert {pair: rule.targets for pair, rule in RULES.items()} == PUBLIC_TRANSITIONS


def test_the_table_in_the_design_document_is_current() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    found = re.search(r"<!-- machine table -->\n(.*?)<!-- /machine table -->", text, re.S)
    assert found is not None, "docs/design.md lost its machine table markers"
    assert found.group(1) == table_markdown(), (
        "regenerate it: python -c 'from sso_bridge.broker.machine import table_markdown; "
        "print(table_markdown())'"
    )
