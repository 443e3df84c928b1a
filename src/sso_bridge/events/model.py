"""The typed event that leaves the broker, its JSON form and the personal-field policy.

An :class:`Event` is either an audit record (``kind`` ``audit.<action>``, id
``audit-<record id>``: stable, so a receiver can drop a second delivery) or an
operational event (``store.unavailable``, ``readiness.failed``, ``security.alert``...,
with a random id). :func:`event_json` renders it for one sink: the personal fields
(:data:`PERSONAL_FIELDS`) only when the sink is configured for them, never anything
else an audit record may carry.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

from sso_bridge.events.errors import EventsInputError
from sso_bridge.model import AuditEvent

__all__ = [
    "AUDIT_FIELDS",
    "PERSONAL_FIELDS",
    "SCHEMA",
    "Event",
    "audit_event_id",
    "check_personal",
    "event_bytes",
    "event_json",
    "event_of_record",
    "operational",
    "strip_personal",
]

SCHEMA: Final = 1
"""The version of the JSON form (``schema``); raised when a field changes meaning."""

PERSONAL_FIELDS: Final = frozenset(
    {"subject", "account_id", "ip", "previous_ip", "user_agent", "actor", "detail"}
)
"""Fields that name or describe a person; a sink receives only those it lists."""

AUDIT_FIELDS: Final = ("action", "method", "issuer", "code", "record_id")
"""What every sink receives of an audit record (besides the personal fields it lists).
Anything else an audit record carries (hashes, commitments) is never sent."""

_PERSONAL_OF_RECORD: Final = ("actor", "subject", "account_id", "ip", "user_agent", "detail")


def _plain(value: object) -> Any:
    """A JSON value: enums as their value, times in RFC 3339 UTC, others as they are."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return _stamp(value)
    inner = getattr(value, "value", None)
    return inner if isinstance(inner, str) else str(value)


def _stamp(at: datetime) -> str:
    utc = at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return utc.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _frozen(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(fields))


@attrs.frozen
class Event:
    """One event out: ``event_id`` (the receiver's dedup key), ``kind``, ``at`` (UTC) and
    ``fields`` (JSON values; the personal ones are filtered per sink)."""

    event_id: str
    kind: str
    at: datetime
    fields: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen)

    @property
    def record_id(self) -> int | None:
        """The audit record's id, for an audit event."""
        found = self.fields.get("record_id")
        return found if isinstance(found, int) else None


def audit_event_id(record_id: int) -> str:
    """The event id of audit record ``record_id`` (record ids are unique across chains)."""
    return f"audit-{record_id}"


def event_of_record(record: AuditEvent) -> Event:
    """The event of a stored audit record (``event_id`` set). Reads the public fields
    only; a value purged from the trail (None) stays None."""
    if record.event_id is None:
        raise EventsInputError(
            "an audit record without an id cannot be sent", code="events.bad_event"
        )
    fields: dict[str, Any] = {
        "action": _plain(record.action),
        "method": _plain(getattr(record, "method", None)),
        "issuer": getattr(record, "issuer", None),
        "code": getattr(record, "code", None),
        "record_id": record.event_id,
    }
    for name in _PERSONAL_OF_RECORD:
        fields[name] = _plain(getattr(record, name, None))
    return Event(
        event_id=audit_event_id(record.event_id),
        kind="audit." + str(fields["action"]),
        at=record.at,
        fields=fields,
    )


def operational(kind: str, at: datetime, **fields: Any) -> Event:
    """An operational event with a fresh random id."""
    return Event(
        event_id=f"op-{secrets.token_hex(12)}",
        kind=kind,
        at=at,
        fields={name: _plain(value) for name, value in fields.items()},
    )


def check_personal(names: Collection[str]) -> frozenset[str]:
    """``names`` as a set of personal fields; ``events.bad_fields`` for any other name."""
    chosen = frozenset(n.strip() for n in names if n.strip())
    unknown = sorted(chosen - PERSONAL_FIELDS)
    if unknown:
        raise EventsInputError(
            f"not a personal field: {', '.join(unknown)} "
            f"(choose from {', '.join(sorted(PERSONAL_FIELDS))})",
            code="events.bad_fields",
        )
    return chosen


def strip_personal(fields: Mapping[str, Any], personal: Collection[str]) -> dict[str, Any]:
    """``fields`` without the personal ones not in ``personal``."""
    return {k: v for k, v in fields.items() if k not in PERSONAL_FIELDS or k in personal}


def event_json(
    event: Event, personal: Collection[str] = (), source: str = "sso-bridge"
) -> dict[str, Any]:
    """The JSON form of ``event`` for a sink that may receive ``personal`` fields."""
    return {
        "schema": SCHEMA,
        "event_id": event.event_id,
        "kind": event.kind,
        "at": _stamp(event.at),
        "source": source,
        "fields": strip_personal(event.fields, personal),
    }


def event_bytes(data: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON of an event's form (what is signed and sent)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
