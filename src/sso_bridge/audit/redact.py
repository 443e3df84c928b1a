"""Keeping personal numbers and one-time codes out of the audit trail.

:func:`redact` masks, in free text, anything that looks like a SNILS, a passport number
or a one-time code. :func:`prepare` gives an event the form every audit log stores:
``detail`` redacted, text made storable on every backend and cut to its column's length,
the time in UTC. Subjects are never redacted: an ESIA subject is a number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import attrs

from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.audit.errors import AuditInputError
from sso_bridge.model import AuditEvent

__all__ = ["LIMITS", "MASK", "check_since", "prepare", "redact"]

MASK = "[redacted]"

LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "actor": 256,
        "issuer": 512,
        "subject": 512,
        "account_id": 128,
        "ip": 64,
        "code": 64,
        "detail": 2000,
        "user_agent": 512,
    }
)
"""The longest value, in characters, each text field of an event is stored with."""

_SEP = r"[\s\-.]?"
_SNILS = re.compile(rf"(?<!\d)\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{3}}{_SEP}\d{{2}}(?!\d)")
_PASSPORT = re.compile(rf"(?<!\d)\d{{2}}{_SEP}\d{{2}}\s*(?:№|N|No\.?)?\s*\d{{6}}(?!\d)")
# every run of four or more digits: one-time codes (4 to 8 digits) and, to be safe, any
# longer number, so that a SNILS or passport written without separators goes too
_DIGITS = re.compile(r"\d{4,}")


def redact(text: str) -> str:
    """``text`` with SNILS-, passport- and code-like numbers replaced by :data:`MASK`."""
    for pattern in (_SNILS, _PASSPORT, _DIGITS):
        text = pattern.sub(MASK, text)
    return text


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; lone surrogates cannot be encoded at all
    if text.isascii() and "\x00" not in text:
        return text  # the usual case: nothing to replace
    text = text.replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8")


def _field(event: AuditEvent, name: str) -> str | None:
    value = getattr(event, name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AuditInputError(f"the event's {name} is not text", code="audit.invalid_event")
    value = _clean(value)
    if name == "detail":
        value = redact(value)  # before cutting, so that no number is cut in half first
    limit = LIMITS[name]
    return value if len(value) <= limit else value[: limit - 1] + "…"


def prepare(event: AuditEvent, key: CommitmentKey | None = None) -> AuditEvent:
    """``event`` as it is stored: detail redacted, text storable and cut, time in UTC.

    ``event_id`` and ``chain_hash`` are cleared; the log assigns them. With ``key``, the
    event gets fresh ``commitments`` to its personal values as stored (cleared without). Raises
    ``audit.invalid_event`` for a time without a timezone or a text field that is not text.
    """
    at = event.at
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise AuditInputError("the event time has no timezone", code="audit.invalid_event")
    changes: dict[str, Any] = {name: _field(event, name) for name in LIMITS}
    return attrs.evolve(
        event,
        at=at.astimezone(UTC),
        event_id=None,
        chain_hash=None,
        commitments=None if key is None else key.commitments_of(changes),
        **changes,
    )


def check_since(since: datetime | None) -> datetime | None:
    """``since`` as logs take it for ``tail``: ``audit.bad_since`` when it has no timezone."""
    if since is None:
        return None
    if since.tzinfo is None or since.utcoffset() is None:
        raise AuditInputError("since must be a timezone-aware time", code="audit.bad_since")
    return since.astimezone(UTC)
