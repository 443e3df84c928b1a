"""Operational signals: what the broker already reports (a store that does not answer, a
failed readiness check, an audit record that could not be written) handed to whoever
listens, such as events out (:mod:`sso_bridge.events`).

:func:`signal` never raises and costs a list read when nobody listens. Fields are codes
and names, as in the logs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Listener", "listen", "signal"]

Listener = Callable[[str, Mapping[str, Any]], None]

# the tuple is replaced, never changed in place: signal() reads it without the lock
_listeners: list[tuple[Listener, ...]] = [()]
_lock = threading.Lock()


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener(kind, fields)`` on every signal; returns the call that stops it."""
    with _lock:
        _listeners[0] = (*_listeners[0], listener)

    def stop() -> None:
        with _lock:
            _listeners[0] = tuple(x for x in _listeners[0] if x is not listener)

    return stop


def signal(kind: str, **fields: Any) -> None:
    """Hand ``kind`` and ``fields`` to every listener; a failing listener is skipped."""
    for listener in _listeners[0]:
        try:
            listener(kind, fields)
        except Exception:  # noqa: S112 - a listener must never break what signals
            continue
