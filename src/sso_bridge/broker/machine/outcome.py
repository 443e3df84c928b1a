"""What a transition gives: the next state and the effects, in order."""

from __future__ import annotations

import attrs

from sso_bridge.broker.machine.effects import Effect, Refuse
from sso_bridge.broker.machine.states import MachineState, Refused
from sso_bridge.errors import BridgeError, family_class

__all__ = ["Outcome", "refusal", "refuse"]


@attrs.frozen
class Outcome:
    state: MachineState
    effects: tuple[Effect, ...] = ()


def refuse(error: BridgeError, before: tuple[Effect, ...] = ()) -> Outcome:
    """End the login with ``error``, after the effects ``before`` (audit records)."""
    return Outcome(Refused(error.code), (*before, Refuse(error)))


def refusal(code: str, message: str) -> BridgeError:
    """The error of ``code``, of its family's class (``broker.*``: ``BrokerError``,
    ``auth.*``: ``AuthError``); the family's module is loaded by the package above."""
    return family_class(code.partition(".")[0])(message, code=code)
