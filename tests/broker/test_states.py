"""The login state machine's table: every move it allows, and nothing else."""

from __future__ import annotations

import itertools

import pytest

from sso_bridge.broker.errors import BrokerError
from sso_bridge.broker.states import TERMINAL, TRANSITIONS, Event, State, advance


def test_every_listed_move_is_taken() -> None:
    for (state, event), target in TRANSITIONS.items():
        assert advance(state, event) is target


def test_every_unlisted_move_is_refused() -> None:
    refused = 0
    for state, event in itertools.product(State, Event):
        if (state, event) in TRANSITIONS:
            continue
        with pytest.raises(BrokerError) as caught:
            advance(state, event)
        assert caught.value.code == "broker.out_of_order"
        refused += 1
    assert refused == len(State) * len(Event) - len(TRANSITIONS)


def test_terminal_states_have_no_way_out() -> None:
    for state in TERMINAL:
        assert not [e for (s, e) in TRANSITIONS if s is state]


def _reachable(start: State) -> set[State]:
    seen = {start}
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for (state, _), target in TRANSITIONS.items():
            if state is current and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def test_every_state_is_reachable_from_the_start() -> None:
    assert _reachable(State.START) == set(State)


def test_every_state_can_end() -> None:
    for state in State:
        assert _reachable(state) & TERMINAL, state


def test_a_session_needs_an_account_first() -> None:
    # nothing goes from the IdP's answer or the start straight past the second factor
    assert (State.START, Event.SECOND_FACTOR_PASSED) not in TRANSITIONS
    assert (State.AWAITING_IDP, Event.SECOND_FACTOR_PASSED) not in TRANSITIONS
    assert (State.CHOOSING_ACCOUNT, Event.SECOND_FACTOR_PASSED) not in TRANSITIONS
    assert (State.START, Event.ACCOUNT_SETTLED) not in TRANSITIONS
