"""The login as a pure state machine: ``transition(policy, state, event, now)``.

States (:mod:`.states`) are frozen classes carrying what each point of a login needs;
events (:mod:`.events`) are what the shell — :class:`~sso_bridge.broker.Broker` —
learnt; effects (:mod:`.effects`) are what the shell must do, questions included; the
policy (:mod:`.policy`) is what it decides by. The machine does no I/O and reads no clock;
the table (:mod:`.table`) is the code that runs.
"""

from sso_bridge.broker.machine.events import Event, MachineEvent
from sso_bridge.broker.machine.outcome import Outcome
from sso_bridge.broker.machine.policy import Policy
from sso_bridge.broker.machine.states import FINAL, STORED, MachineState, State
from sso_bridge.broker.machine.table import (
    RULES,
    TRANSITIONS,
    accepts,
    table_markdown,
    transition,
)

__all__ = [
    "FINAL",
    "RULES",
    "STORED",
    "TRANSITIONS",
    "Event",
    "MachineEvent",
    "MachineState",
    "Outcome",
    "Policy",
    "State",
    "accepts",
    "table_markdown",
    "transition",
]
