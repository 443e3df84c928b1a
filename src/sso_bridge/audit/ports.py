"""The audit trail's port (docs/audit.md).

Implementations: :class:`sso_bridge.audit.InMemoryAuditLog` and
:class:`sso_bridge.store.sql.SqlStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sso_bridge.model import AuditEvent

__all__ = ["AuditLog"]


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
