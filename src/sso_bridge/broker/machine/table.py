"""The transition table: for each (state, event) the rule that runs and where it may lead.

:func:`transition` looks the pair up and runs its rule; a pair that is not in the table
is refused (``broker.out_of_order``), and a rule that would lead anywhere but its listed
targets is a fault of the library (``AssertionError``), so the table is the code that
runs. :data:`TRANSITIONS` and :func:`table_markdown` are derived from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

from sso_bridge.broker.machine import login, settle, step_up
from sso_bridge.broker.machine.events import Event, MachineEvent
from sso_bridge.broker.machine.outcome import Outcome, refusal, refuse
from sso_bridge.broker.machine.policy import Policy
from sso_bridge.broker.machine.states import MachineState, State
from sso_bridge.errors import BridgeError

__all__ = ["RULES", "TRANSITIONS", "Rule", "accepts", "table_markdown", "transition"]

_S, _E = State, Event


@attrs.frozen
class Rule:
    run: Callable[[Policy, Any, Any, datetime], Outcome]
    targets: frozenset[State]


def _rule(run: Callable[[Policy, Any, Any, datetime], Outcome], *targets: State) -> Rule:
    return Rule(run, frozenset(targets))


def _pure(
    run: Callable[[Any, Any], Outcome],
) -> Callable[[Policy, Any, Any, datetime], Outcome]:
    """A rule that needs neither the policy nor the time."""
    return lambda _policy, state, event, _now: run(state, event)


# Where settling on an account may lead: the session, the second factor, or a refusal.
_SETTLE = (_S.LOGGED_IN, _S.READING_CONTACTS, _S.REFUSED)

RULES: Final[Mapping[tuple[State, Event], Rule]] = MappingProxyType(
    {
        (_S.START, _E.BEGIN_FEDERATED): _rule(login.federated_begun, _S.AWAITING_IDP),
        (_S.START, _E.BEGIN_LINK): _rule(login.link_begun, _S.AWAITING_IDP_TO_LINK),
        (_S.START, _E.BEGIN_LOCAL): _rule(login.local_begun, _S.AWAITING_LOCAL_LOGIN),
        (_S.START, _E.BEGIN_SWITCH): _rule(login.switch_begun, *_SETTLE, _S.AWAITING_PROOF),
        (_S.START, _E.UNSOLICITED_ANSWER): _rule(login.unsolicited_answer, _S.READING_LINKS),
        (_S.START, _E.BEGIN_STEP_UP): _rule(step_up.step_up_begun, _S.AWAITING_IDP_TO_STEP_UP),
        (_S.AWAITING_IDP, _E.IDP_ANSWERED): _rule(login.idp_answered, _S.READING_LINKS, _S.REFUSED),
        (_S.AWAITING_IDP_TO_LINK, _E.IDP_ANSWERED): _rule(
            login.linked_idp_answered, _S.LINKED, _S.REFUSED
        ),
        (_S.AWAITING_IDP_TO_STEP_UP, _E.IDP_ANSWERED): _rule(
            step_up.step_up_answered, _S.STEPPED_UP, _S.REFUSED
        ),
        (_S.READING_LINKS, _E.LINKS_READ): _rule(
            login.links_read, *_SETTLE, _S.CHOOSING_ACCOUNT, _S.MATCHING, _S.MATCHING_LINKED
        ),
        (_S.MATCHING_LINKED, _E.MATCHED): _rule(
            login.linked_matched, *_SETTLE, _S.AWAITING_PROOF, _S.CHOOSING_ACCOUNT
        ),
        (_S.MATCHING, _E.MATCHED): _rule(
            login.matched, *_SETTLE, _S.AWAITING_PROOF, _S.CHOOSING_ACCOUNT, _S.NO_ACCOUNT
        ),
        (_S.CHOOSING_ACCOUNT, _E.ACCOUNT_CHOSEN): _rule(
            login.account_chosen, *_SETTLE, _S.AWAITING_PROOF
        ),
        (_S.CHOOSING_ACCOUNT, _E.ACCOUNT_HIDDEN): _rule(
            login.account_hidden, _S.CHOOSING_ACCOUNT, _S.REFUSED
        ),
        (_S.AWAITING_LOCAL_LOGIN, _E.PASSWORD_GIVEN): _rule(
            login.password_given, _S.CHECKING_PASSWORD
        ),
        (_S.AWAITING_PROOF, _E.PASSWORD_GIVEN): _rule(login.password_given, _S.CHECKING_PASSWORD),
        (_S.CHECKING_PASSWORD, _E.PASSWORD_CHECKED): _rule(
            login.password_checked, *_SETTLE, _S.AWAITING_LOCAL_LOGIN, _S.AWAITING_PROOF
        ),
        (_S.READING_CONTACTS, _E.CONTACTS_READ): _rule(
            _pure(settle.contacts_read), _S.OPENING_CHALLENGE, _S.REFUSED
        ),
        (_S.OPENING_CHALLENGE, _E.CHALLENGE_OPENED): _rule(
            _pure(settle.challenge_opened), _S.AWAITING_SECOND_FACTOR, _S.REFUSED
        ),
        (_S.AWAITING_SECOND_FACTOR, _E.CODE_GIVEN): _rule(
            _pure(settle.code_given), _S.CHECKING_CODE
        ),
        (_S.AWAITING_SECOND_FACTOR, _E.RESEND_ASKED): _rule(
            _pure(settle.resend_asked), _S.RESENDING
        ),
        (_S.CHECKING_CODE, _E.CODE_CHECKED): _rule(
            _pure(settle.code_checked), _S.LOGGED_IN, _S.AWAITING_SECOND_FACTOR, _S.REFUSED
        ),
        (_S.RESENDING, _E.CODE_RESENT): _rule(
            _pure(settle.code_resent), _S.AWAITING_SECOND_FACTOR, _S.REFUSED
        ),
    }
)

TRANSITIONS: Final[Mapping[tuple[State, Event], frozenset[State]]] = MappingProxyType(
    {pair: rule.targets for pair, rule in RULES.items()}
)
"""Every (state, event) the machine accepts, and the states it may lead to."""


def transition(policy: Policy, state: MachineState, event: MachineEvent, now: datetime) -> Outcome:
    """The next state and the effects; no I/O, no clock, no randomness.

    An event that the state does not accept ends the login with ``broker.out_of_order``.
    """
    rule = RULES.get((state.kind, event.kind))
    if rule is None:
        return refuse(_out_of_order(state.kind, event.kind))
    outcome = rule.run(policy, state, event, now)
    if outcome.state.kind not in rule.targets:  # pragma: no cover - a fault of the table
        raise AssertionError(f"{state.kind} + {event.kind} led to {outcome.state.kind}")
    return outcome


def table_markdown() -> str:
    """The table as docs/design.md shows it (one row per pair, in table order)."""
    lines = ["| state | event | next states |", "|---|---|---|"]
    order = list(State)
    for (state, event), rule in RULES.items():
        targets = ", ".join(t.value for t in sorted(rule.targets, key=order.index))
        lines.append(f"| {state.value} | {event.value} | {targets} |")
    return "\n".join(lines) + "\n"


def accepts(state: MachineState, event: Event) -> None:
    """Refuse (``broker.out_of_order``) an event of kind ``event`` that ``state`` does not
    accept: for a shell that must check before it reads what the event needs."""
    if (state.kind, event) not in RULES:
        raise _out_of_order(state.kind, event)


def _out_of_order(state: State, event: Event) -> BridgeError:
    return refusal("broker.out_of_order", f"{event.value} cannot happen while {state.value}")
