"""An audit log kept in process memory, chained like the SQL one (tests, demos)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

import attrs

from sso_bridge.audit.chain import GENESIS, chain_hash
from sso_bridge.audit.redact import check_since, prepare
from sso_bridge.model import AuditEvent

__all__ = ["InMemoryAuditLog"]


class InMemoryAuditLog:
    """A thread-safe :class:`~sso_bridge.audit.ports.AuditLog` that lives as long as the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> AuditEvent:
        stored = prepare(event)
        with self._lock:
            last = self._events[-1] if self._events else None
            previous = GENESIS if last is None or last.chain_hash is None else last.chain_hash
            event_id = 1 if last is None or last.event_id is None else last.event_id + 1
            stored = attrs.evolve(stored, event_id=event_id)
            stored = attrs.evolve(stored, chain_hash=chain_hash(previous, stored))
            self._events.append(stored)
        return stored

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        return [self.record(event) for event in events]

    def tail(
        self,
        limit: int = 20,
        *,
        account_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEvent]:
        since = check_since(since)
        with self._lock:
            events = list(self._events)
        found = [
            e
            for e in events
            if (account_id is None or e.account_id == account_id)
            and (since is None or e.at >= since)
        ]
        return found[-limit:] if limit > 0 else []

    def events(self, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]:
        start = max(after_id, 0)  # ids are 1, 2, 3, ...: event N sits at index N - 1
        with self._lock:
            return self._events[start : start + max(limit, 0)]
