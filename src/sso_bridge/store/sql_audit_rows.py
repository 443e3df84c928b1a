"""Rows of the audit tables to events and roots, and events to rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import attrs
from sqlalchemy.engine import RowMapping

from sso_bridge.audit.chain import chain_hash
from sso_bridge.audit.redact import LIMITS
from sso_bridge.audit.roots import AuditRoot
from sso_bridge.model import AuditAction, AuditEvent, LinkMethod

__all__ = ["chained_rows", "event_of_row", "root_of_row", "row_values", "time_of"]


def _enum(kind: type[StrEnum], value: Any) -> Any:
    # A value outside the enum can only come from an edited row: keep it as it is, so
    # that verification names the record instead of failing to read it.
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        return value


def time_of(value: Any) -> Any:
    parsed = value
    if isinstance(value, str):  # SQLite keeps times as text
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(parsed, datetime):
        return value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def event_of_row(row: RowMapping | Any) -> AuditEvent:
    return AuditEvent(
        action=_enum(AuditAction, row["action"]),
        at=time_of(row["at"]),
        actor=row["actor"],
        method=_enum(LinkMethod, row["method"]),
        issuer=row["issuer"],
        subject=row["subject"],
        account_id=row["account_id"],
        ip=row["ip"],
        code=row["code"],
        detail=row["detail"],
        user_agent=row["user_agent"],
        event_id=row["event_id"],
        chain_hash=row["chain_hash"],
        # absent from the tables of schemas before revision 0005
        commitments=row.get("commitments"),
    )


def row_values(event: AuditEvent) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(event, name) for name in LIMITS}
    values["at"] = event.at
    values["action"] = None if event.action is None else str.__str__(event.action)
    values["method"] = None if event.method is None else str.__str__(event.method)
    values["commitments"] = event.commitments
    return values


def root_of_row(root_id: Any, at: Any, heads: Any, merkle: Any, root_hash: Any) -> AuditRoot:
    try:
        pairs = {int(c): int(i) for c, i in json.loads(heads)}
    except (TypeError, ValueError):
        pairs = {}  # an edited root: its hash no longer matches, which names it
    return AuditRoot(int(root_id), time_of(at), pairs, str(merkle), str(root_hash))


def chained_rows(
    events: Sequence[AuditEvent], ids: Sequence[int], previous: str
) -> tuple[list[AuditEvent], list[dict[str, Any]]]:
    """``events`` numbered ``ids`` and chained after ``previous``, with their rows."""
    stored_events: list[AuditEvent] = []
    rows: list[dict[str, Any]] = []
    for event, event_id in zip(events, ids, strict=True):
        previous = chain_hash(previous, event, event_id=event_id)
        stored = attrs.evolve(event, event_id=event_id, chain_hash=previous)
        values = row_values(stored)
        values.update(event_id=event_id, chain_hash=previous)
        stored_events.append(stored)
        rows.append(values)
    return stored_events, rows
