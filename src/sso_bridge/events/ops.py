"""Operational events: best effort, through a bounded queue in memory per sink.

They come from :mod:`sso_bridge.observe.signals` (``store.unavailable``,
``readiness.failed``, ``audit.unrecorded``, ``login.unrecorded``) and from the broker's
alert hook (``security.alert``, through :meth:`OperationalEvents.alert_hook`). Unlike
audit events they are not stored: a queue full while a sink is down drops its oldest
events, and a restart loses what was queued. Each instance sends its own.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sso_bridge.clock import Clock, SystemClock
from sso_bridge.events.model import Event, operational
from sso_bridge.observe.signals import listen

__all__ = ["OperationalEvents"]


class OperationalEvents:
    """Queues of operational events, one per sink (``sinks``), each at most ``size``
    long; the same kind with the same fields is queued at most once per ``coalesce``."""

    def __init__(
        self,
        sinks: Iterable[str],
        *,
        size: int = 1000,
        coalesce: timedelta = timedelta(seconds=60),
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._queues: dict[str, deque[Event]] = {s: deque(maxlen=size) for s in sinks}
        self._coalesce = coalesce
        self._seen: dict[tuple[str, tuple[tuple[str, str], ...]], datetime] = {}
        self._lock = threading.Lock()
        self._stop_listening: Callable[[], None] | None = None
        self.dropped = 0
        """Events dropped because a queue was full."""

    def emit(self, kind: str, **fields: Any) -> Event | None:
        """Queue an operational event for every sink; None when coalesced away."""
        now = self._clock.now()
        key = (kind, tuple(sorted((k, repr(v)) for k, v in fields.items())))
        with self._lock:
            last = self._seen.get(key)
            if last is not None and now - last < self._coalesce:
                return None
            self._seen[key] = now
            if len(self._seen) > 4096:  # forget the oldest keys
                for old in sorted(self._seen, key=self._seen.__getitem__)[:2048]:
                    del self._seen[old]
            event = operational(kind, now, **fields)
            for queue in self._queues.values():
                if len(queue) == queue.maxlen:
                    self.dropped += 1
                queue.append(event)
        return event

    def peek(self, sink: str) -> Event | None:
        """The oldest queued event of ``sink``."""
        with self._lock:
            queue = self._queues.get(sink)
            return queue[0] if queue else None

    def pop(self, sink: str, event: Event) -> None:
        """Remove ``event`` from the head of ``sink``'s queue (once sent or given up)."""
        with self._lock:
            queue = self._queues.get(sink)
            if queue and queue[0] is event:
                queue.popleft()

    def pending(self, sink: str) -> int:
        """How many events ``sink``'s queue holds."""
        with self._lock:
            return len(self._queues.get(sink, ()))

    def listen(self) -> None:
        """Queue what :mod:`sso_bridge.observe.signals` reports (until :meth:`close`)."""
        if self._stop_listening is None:
            self._stop_listening = listen(self._on_signal)

    def _on_signal(self, kind: str, fields: Mapping[str, Any]) -> None:
        self.emit(kind, **fields)

    def alert_hook(self, then: Callable[[Any], None] | None = None) -> Callable[[Any], None]:
        """A broker alert hook that queues a ``security.alert`` event (code, account id,
        addresses) and then calls ``then``, the host's own hook, if any."""

        def hook(alert: Any) -> None:
            try:
                self.emit(
                    "security.alert",
                    code=getattr(alert, "code", None),
                    message=getattr(alert, "message", None),
                    account_id=getattr(alert, "account_id", None),
                    ip=getattr(alert, "ip", None),
                    previous_ip=getattr(alert, "previous_ip", None),
                )
            finally:
                if then is not None:
                    then(alert)

        return hook

    def close(self) -> None:
        """Stop listening to the signals."""
        if self._stop_listening is not None:
            self._stop_listening()
            self._stop_listening = None
