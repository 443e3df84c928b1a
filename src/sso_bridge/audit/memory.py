"""An audit log kept in process memory, chained like the SQL one (tests, demos)."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import datetime

import attrs

from sso_bridge.audit.chain import GENESIS, chain_hash
from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.audit.redact import check_since, prepare
from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditEvent

__all__ = ["InMemoryAuditLog", "names_any"]


def names_any(
    event: AuditEvent, account_ids: Collection[str], subjects: Collection[tuple[str, str]]
) -> bool:
    """Whether ``event`` is about one of ``account_ids`` or (issuer, subject) ``subjects``."""
    if event.account_id is not None and event.account_id in account_ids:
        return True
    return (
        event.issuer is not None
        and event.subject is not None
        and (event.issuer, event.subject) in subjects
    )


class InMemoryAuditLog:
    """A thread-safe :class:`~sso_bridge.audit.ports.AuditLog` that lives as long as the process.

    ``key`` makes the commitments to personal fields (a random one when not given).
    """

    def __init__(self, key: CommitmentKey | None = None) -> None:
        self._lock = threading.Lock()
        self._events: list[AuditEvent] = []
        self._key = key or CommitmentKey.random()

    @property
    def commitment_key(self) -> CommitmentKey:
        return self._key

    def record(self, event: AuditEvent) -> AuditEvent:
        stored = prepare(event, self._key)
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

    def records_of(
        self,
        *,
        account_ids: Collection[str] = (),
        subjects: Collection[tuple[str, str]] = (),
        limit: int = 10_000,
    ) -> list[AuditEvent]:
        accounts, pairs = set(account_ids), set(subjects)
        with self._lock:
            events = list(self._events)
        return [e for e in events if names_any(e, accounts, pairs)][: max(limit, 0)]

    def erase_values(
        self,
        *,
        account_ids: Collection[str] = (),
        subjects: Collection[tuple[str, str]] = (),
    ) -> int:
        accounts, pairs = set(account_ids), set(subjects)
        changed = 0
        with self._lock:
            for index, event in enumerate(self._events):
                if names_any(event, accounts, pairs):
                    erased = self._key.purge(event, AUDIT_PERSONAL_FIELDS)
                    if erased is not event:
                        self._events[index] = erased
                        changed += 1
        return changed

    def store_purged(self, events: Sequence[AuditEvent]) -> int:
        changed = 0
        with self._lock:
            for event in events:
                index = (event.event_id or 0) - 1
                if 0 <= index < len(self._events):
                    old = self._events[index]
                    if old.chain_hash == event.chain_hash and old != event:
                        self._events[index] = _purged_from(old, event)
                        changed += 1
        return changed


def _purged_from(old: AuditEvent, new: AuditEvent) -> AuditEvent:
    """``old`` with the personal values and commitments of ``new`` (nothing else)."""
    values = {name: getattr(new, name) for name in AUDIT_PERSONAL_FIELDS}
    return attrs.evolve(old, commitments=new.commitments, **values)
