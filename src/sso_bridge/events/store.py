"""Where delivery keeps its state: each sink's cursor and lease, and the dead letters.

:class:`EventStore` is the port; :class:`InMemoryEventStore` keeps it in the process and
:class:`sso_bridge.store.sql_events.SqlEventStore` in the database. The audit trail is
the durable log: a sink's cursor is the id of the last audit record it was given (or
dead-lettered), so a restart goes on after it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from sso_bridge.events.model import PERSONAL_FIELDS

__all__ = [
    "DeadLetter",
    "EventStore",
    "InMemoryEventStore",
    "SinkState",
    "without_personal",
]


@attrs.frozen
class SinkState:
    """A sink's row: its ``cursor``, the lease, and the audit record being retried
    (``failing_id``) with its ``attempts``, first failure and next try."""

    sink: str
    cursor: int
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    failing_id: int | None = None
    attempts: int = 0
    first_failed_at: datetime | None = None
    next_try_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None


@attrs.frozen
class DeadLetter:
    """An event a sink did not take for good: the body that was sent (only the personal
    fields that sink receives), why, and whether an operator asked to ``retry`` it.
    ``account_id``, ``issuer`` and ``subject`` are kept only when the body may hold
    personal values, so that an erasure can find it."""

    sink: str
    event_id: str
    kind: str
    body: str
    reason: str
    attempts: int
    created_at: datetime
    last_status: int | None = None
    account_id: str | None = None
    issuer: str | None = None
    subject: str | None = None
    retry: bool = False
    letter_id: int | None = None


def without_personal(body: str) -> str:
    """A dead letter's body with its personal values removed (for an erasure)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return "{}"
    fields = data.get("fields") if isinstance(data, dict) else None
    if isinstance(fields, dict):
        data["fields"] = {k: v for k, v in fields.items() if k not in PERSONAL_FIELDS}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class EventStore(Protocol):
    """Sink cursors, leases and dead letters."""

    def sink_state(self, sink: str) -> SinkState | None:
        """The sink's row, or None before its first delivery."""
        ...

    def claim(
        self, sink: str, owner: str, now: datetime, lease: timedelta, start_cursor: int
    ) -> SinkState | None:
        """Take or renew the sink's lease for ``owner`` until ``now + lease``; None when
        another owner holds an unexpired one. A new sink starts at ``start_cursor``."""
        ...

    def save(self, state: SinkState, owner: str, now: datetime, lease: timedelta) -> bool:
        """Store ``state``'s cursor and retry fields and renew the lease, only while
        ``owner`` still holds it; False (nothing changed) when it lost it."""
        ...

    def release(self, sink: str, owner: str) -> None:
        """Give the lease up (when ``owner`` holds it)."""
        ...

    def add_dead_letter(self, letter: DeadLetter) -> DeadLetter:
        """Keep ``letter``; it is returned with its ``letter_id``."""
        ...

    def dead_letters(
        self,
        *,
        sink: str | None = None,
        retry_only: bool = False,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeadLetter]:
        """Dead letters by ascending id (of ``sink``, only those marked for retry)."""
        ...

    def mark_retry(self, letter_ids: Sequence[int]) -> int:
        """Ask for these dead letters to be sent again; how many exist."""
        ...

    def update_dead_letter(self, letter: DeadLetter) -> None:
        """Store a dead letter's attempts, status, reason and retry flag after a retry."""
        ...

    def drop_dead_letters(self, letter_ids: Sequence[int]) -> int:
        """Remove these dead letters; how many were there."""
        ...

    def erase_account(self, account_id: str) -> int:
        """Remove the personal values of the dead letters about ``account_id``; how many."""
        ...

    def erase_subject(self, issuer: str, subject: str) -> int:
        """Remove the personal values of the dead letters about a federated identity."""
        ...


class InMemoryEventStore:
    """An :class:`EventStore` that lives as long as the process (tests, one instance)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[str, SinkState] = {}
        self._letters: dict[int, DeadLetter] = {}
        self._next_id = 1

    def sink_state(self, sink: str) -> SinkState | None:
        with self._lock:
            return self._sinks.get(sink)

    def claim(
        self, sink: str, owner: str, now: datetime, lease: timedelta, start_cursor: int
    ) -> SinkState | None:
        with self._lock:
            state = self._sinks.get(sink) or SinkState(sink, start_cursor)
            held = state.lease_owner not in (None, owner)
            if held and state.lease_expires_at is not None and state.lease_expires_at > now:
                return None
            state = attrs.evolve(state, lease_owner=owner, lease_expires_at=now + lease)
            self._sinks[sink] = state
            return state

    def save(self, state: SinkState, owner: str, now: datetime, lease: timedelta) -> bool:
        with self._lock:
            found = self._sinks.get(state.sink)
            if found is None or found.lease_owner != owner:
                return False
            self._sinks[state.sink] = attrs.evolve(
                state, lease_owner=owner, lease_expires_at=now + lease
            )
            return True

    def release(self, sink: str, owner: str) -> None:
        with self._lock:
            found = self._sinks.get(sink)
            if found is not None and found.lease_owner == owner:
                self._sinks[sink] = attrs.evolve(found, lease_owner=None, lease_expires_at=None)

    def add_dead_letter(self, letter: DeadLetter) -> DeadLetter:
        with self._lock:
            stored = attrs.evolve(letter, letter_id=self._next_id)
            self._letters[self._next_id] = stored
            self._next_id += 1
            return stored

    def dead_letters(
        self,
        *,
        sink: str | None = None,
        retry_only: bool = False,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeadLetter]:
        with self._lock:
            found = [
                d
                for i, d in sorted(self._letters.items())
                if i > after_id and (sink is None or d.sink == sink) and (d.retry or not retry_only)
            ]
        return found[: max(limit, 0)]

    def mark_retry(self, letter_ids: Sequence[int]) -> int:
        with self._lock:
            found = [i for i in set(letter_ids) if i in self._letters]
            for i in found:
                self._letters[i] = attrs.evolve(self._letters[i], retry=True)
            return len(found)

    def update_dead_letter(self, letter: DeadLetter) -> None:
        with self._lock:
            if letter.letter_id in self._letters:
                self._letters[letter.letter_id] = letter

    def drop_dead_letters(self, letter_ids: Sequence[int]) -> int:
        with self._lock:
            return sum(self._letters.pop(i, None) is not None for i in set(letter_ids))

    def _erase(self, match: Any) -> int:
        with self._lock:
            changed = 0
            for i, d in list(self._letters.items()):
                if match(d):
                    self._letters[i] = attrs.evolve(
                        d, body=without_personal(d.body), account_id=None, subject=None
                    )
                    changed += 1
            return changed

    def erase_account(self, account_id: str) -> int:
        return self._erase(lambda d: d.account_id == account_id)

    def erase_subject(self, issuer: str, subject: str) -> int:
        return self._erase(lambda d: d.issuer == issuer and d.subject == subject)
