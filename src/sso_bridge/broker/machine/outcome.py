"""What a transition gives: the next state and the effects, in order."""

from __future__ import annotations

import attrs

from sso_bridge.broker.machine.effects import Effect, Refuse
from sso_bridge.broker.machine.states import MachineState, Refused
from sso_bridge.errors import BridgeError

__all__ = ["Outcome", "refuse"]


@attrs.frozen
class Outcome:
    state: MachineState
    effects: tuple[Effect, ...] = ()


def refuse(error: BridgeError, before: tuple[Effect, ...] = ()) -> Outcome:
    """End the login with ``error``, after the effects ``before`` (audit records)."""
    return Outcome(Refused(error.code), (*before, Refuse(error)))
