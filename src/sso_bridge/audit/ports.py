"""The audit trail's port (docs/audit.md).

Implementations: :class:`sso_bridge.audit.InMemoryAuditLog` and
:class:`sso_bridge.store.sql.SqlStore`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.model import AuditEvent

__all__ = ["AuditLog", "PurgeableLog"]


class AuditLog(Protocol):
    """Append-only, hash-chained trail of logins, links, sessions and refusals.

    See docs/audit.md and :mod:`sso_bridge.audit`. Events are numbered in the order they
    were recorded (where the trail has several chains: strictly within a chain, and to
    within a second across them); each carries the hash of the one before it in its chain.
    """

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` and return it as stored, with ``event_id`` and ``chain_hash``.

        What is stored is :func:`sso_bridge.audit.prepare` of ``event``: ``detail``
        redacted, text cut to its column, the time in UTC. A time without a timezone is
        refused (``audit.invalid_event``).
        """
        ...

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Append several events at once (one transaction), in order; as :meth:`record`."""
        ...

    def tail(
        self,
        limit: int = 20,
        *,
        account_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEvent]:
        """The newest ``limit`` events, oldest first.

        Only those of ``account_id`` and those at or after ``since`` (timezone-aware;
        ``audit.bad_since`` otherwise), when given.
        """
        ...

    def events(self, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]:
        """Up to ``limit`` events with ``event_id`` above ``after_id``, ascending.

        For reading the whole trail in batches, as verification does.
        """
        ...

    def records_of(
        self,
        *,
        account_ids: Collection[str] = (),
        subjects: Collection[tuple[str, str]] = (),
        limit: int = 10_000,
    ) -> list[AuditEvent]:
        """Up to ``limit`` records, oldest first, that name one of ``account_ids`` (as
        ``account_id``) or one of the (issuer, subject) pairs ``subjects``."""
        ...

    def erase_values(
        self,
        *,
        account_ids: Collection[str] = (),
        subjects: Collection[tuple[str, str]] = (),
    ) -> int:
        """Remove every personal value (keeping its commitment) of each record that names
        one of ``account_ids`` or ``subjects``; the number of records changed.

        The chain still verifies afterwards. Records chained over their values (format 1,
        from before commitments) cannot lose them and are left as they are.
        """
        ...


class PurgeableLog(AuditLog, Protocol):
    """An audit log whose personal values can be purged
    (:func:`sso_bridge.audit.retention.purge`)."""

    @property
    def commitment_key(self) -> CommitmentKey:
        """The key the log's commitments are made with."""
        ...

    def store_purged(self, events: Sequence[AuditEvent]) -> int:
        """Store the personal values and commitments of ``events`` (stored records, as
        :meth:`sso_bridge.audit.commit.CommitmentKey.purge` left them) over their records,
        each only if the record still has the same ``chain_hash``; the number changed."""
        ...
