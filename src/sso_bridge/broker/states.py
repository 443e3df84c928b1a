"""The login state machine as data: states, events and the table of transitions.

A login is a chain of server-side *steps*. Each step is in one :class:`State`; an input
(the IdP's answer, a chooser answer, a password, a code) is turned into one
:class:`Event` by the broker's rules, and :func:`advance` looks the pair up in
:data:`TRANSITIONS`. A pair that is not in the table is a step taken out of order and is
refused: nothing can be skipped.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sso_bridge.broker.errors import BrokerError

__all__ = ["TERMINAL", "TRANSITIONS", "Event", "State", "advance"]


class State(enum.StrEnum):
    START = "start"
    """No step yet: the login page."""
    AWAITING_IDP = "awaiting_idp"
    """The browser was sent to the IdP (for a login, or to link from settings)."""
    CHOOSING_ACCOUNT = "choosing_account"
    """The person picks an organisation and account among those offered."""
    AWAITING_LOCAL_LOGIN = "awaiting_local_login"
    """The local login form (a plain local login, or proving an account before linking)."""
    AWAITING_SECOND_FACTOR = "awaiting_second_factor"
    """A one-time code or TOTP challenge is open."""
    LOGGED_IN = "logged_in"
    """A session was issued."""
    LINKED = "linked"
    """A link was made from the settings of a logged-in person."""
    NO_ACCOUNT = "no_account"
    """The identity is verified but no local account belongs to it."""
    REFUSED = "refused"
    """Refused by a rule; the error code says which."""


class Event(enum.StrEnum):
    BEGIN_FEDERATED = "begin_federated"
    BEGIN_LOCAL = "begin_local"
    BEGIN_LINK = "begin_link"
    BEGIN_SWITCH = "begin_switch"
    """A logged-in person picks another of the session's accounts."""
    ACCOUNT_SETTLED = "account_settled"
    """Exactly one account, no second factor needed: issue the session."""
    SECOND_FACTOR_NEEDED = "second_factor_needed"
    SEVERAL_ACCOUNTS = "several_accounts"
    LOCAL_LOGIN_NEEDED = "local_login_needed"
    NO_MATCH = "no_match"
    LINK_MADE = "link_made"
    RETRY = "retry"
    """A wrong password or code with attempts left: the same state under a new step id."""
    SECOND_FACTOR_PASSED = "second_factor_passed"
    REFUSE = "refuse"


_S = State
_E = Event

TRANSITIONS: Final[Mapping[tuple[State, Event], State]] = MappingProxyType(
    {
        (_S.START, _E.BEGIN_FEDERATED): _S.AWAITING_IDP,
        (_S.START, _E.BEGIN_LINK): _S.AWAITING_IDP,
        (_S.START, _E.BEGIN_LOCAL): _S.AWAITING_LOCAL_LOGIN,
        (_S.START, _E.BEGIN_SWITCH): _S.CHOOSING_ACCOUNT,
        (_S.AWAITING_IDP, _E.ACCOUNT_SETTLED): _S.LOGGED_IN,
        (_S.AWAITING_IDP, _E.SECOND_FACTOR_NEEDED): _S.AWAITING_SECOND_FACTOR,
        (_S.AWAITING_IDP, _E.SEVERAL_ACCOUNTS): _S.CHOOSING_ACCOUNT,
        (_S.AWAITING_IDP, _E.LOCAL_LOGIN_NEEDED): _S.AWAITING_LOCAL_LOGIN,
        (_S.AWAITING_IDP, _E.NO_MATCH): _S.NO_ACCOUNT,
        (_S.AWAITING_IDP, _E.LINK_MADE): _S.LINKED,
        (_S.AWAITING_IDP, _E.REFUSE): _S.REFUSED,
        (_S.CHOOSING_ACCOUNT, _E.ACCOUNT_SETTLED): _S.LOGGED_IN,
        (_S.CHOOSING_ACCOUNT, _E.SECOND_FACTOR_NEEDED): _S.AWAITING_SECOND_FACTOR,
        (_S.CHOOSING_ACCOUNT, _E.LOCAL_LOGIN_NEEDED): _S.AWAITING_LOCAL_LOGIN,
        (_S.CHOOSING_ACCOUNT, _E.REFUSE): _S.REFUSED,
        (_S.AWAITING_LOCAL_LOGIN, _E.ACCOUNT_SETTLED): _S.LOGGED_IN,
        (_S.AWAITING_LOCAL_LOGIN, _E.SECOND_FACTOR_NEEDED): _S.AWAITING_SECOND_FACTOR,
        (_S.AWAITING_LOCAL_LOGIN, _E.RETRY): _S.AWAITING_LOCAL_LOGIN,
        (_S.AWAITING_LOCAL_LOGIN, _E.REFUSE): _S.REFUSED,
        (_S.AWAITING_SECOND_FACTOR, _E.SECOND_FACTOR_PASSED): _S.LOGGED_IN,
        (_S.AWAITING_SECOND_FACTOR, _E.RETRY): _S.AWAITING_SECOND_FACTOR,
        (_S.AWAITING_SECOND_FACTOR, _E.REFUSE): _S.REFUSED,
    }
)

TERMINAL: Final = frozenset({_S.LOGGED_IN, _S.LINKED, _S.NO_ACCOUNT, _S.REFUSED})
"""States that end a login; a step in one of them is never stored."""


def advance(state: State, event: Event) -> State:
    """The state after ``event``; ``broker.out_of_order`` when the table has no such move."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise BrokerError(
            f"{event.value} cannot happen while {state.value}", code="broker.out_of_order"
        ) from None
