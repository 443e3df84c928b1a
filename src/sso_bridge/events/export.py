"""Exporting the audit trail as events (``sso-bridge audit export``), in batches.

Record ids follow time to within seconds (across the chains of PostgreSQL), so the first
record at ``since`` is found by bisecting the ids, and reading stops a margin past
``until``; each record is then checked against both bounds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sso_bridge.audit.ports import AuditLog
from sso_bridge.events.errors import EventsInputError
from sso_bridge.events.model import event_json, event_of_record

__all__ = ["MARGIN", "export_events", "parse_until"]

MARGIN: Final = timedelta(minutes=5)
"""How far a record's time may be out of id order (more than the trail ever is)."""


def parse_until(text: str) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC when it has no offset), for
    ``--until``; ``events.bad_time`` for anything else."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise EventsInputError(
            f"--until {shown!r} is not an ISO date or date-time (2026-01-02, 2026-01-02T03:04)",
            code="events.bad_time",
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _first_after(audit: AuditLog, since: datetime) -> int:
    """An id below every record at or after ``since`` (less :data:`MARGIN`)."""
    newest = audit.tail(1)
    if not newest or newest[-1].event_id is None:
        return 0
    low, high = 0, newest[-1].event_id
    target = since - MARGIN
    while low < high:  # invariant: every record at or after ``target`` has an id > low
        middle = (low + high + 1) // 2
        found = audit.events(after_id=middle - 1, limit=1)
        if not found or found[0].event_id is None:
            high = middle - 1
        elif found[0].at < target:
            low = max(middle, found[0].event_id)
        else:
            high = middle - 1
    return low


def export_events(
    audit: AuditLog,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    personal: Collection[str] = (),
    source: str = "sso-bridge",
    batch: int = 1000,
) -> Iterator[dict[str, Any]]:
    """The JSON form of each audit record at or after ``since`` and before ``until``,
    oldest first, with only the ``personal`` fields named."""
    after = 0 if since is None else _first_after(audit, since)
    stop = None if until is None else until + MARGIN
    while True:
        records = audit.events(after_id=after, limit=batch)
        if not records:
            return
        for record in records:
            if record.event_id is None:
                continue
            after = max(after, record.event_id)
            if stop is not None and record.at >= stop:
                return
            if (since is None or record.at >= since) and (until is None or record.at < until):
                yield event_json(event_of_record(record), personal, source)
