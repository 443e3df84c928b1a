"""Deprecated location: the machine's table lives in :mod:`sso_bridge.broker.machine`.

``State``, ``Event`` and ``TRANSITIONS`` are re-exported from there (and from
:mod:`sso_bridge.broker`). ``TRANSITIONS`` now maps each accepted (state, event) to the
set of states it may lead to; ``TERMINAL`` is :data:`sso_bridge.broker.machine.FINAL`.
"""

from __future__ import annotations

from sso_bridge.broker.machine import FINAL, TRANSITIONS, Event, State

__all__ = ["TERMINAL", "TRANSITIONS", "Event", "State"]

TERMINAL = FINAL
