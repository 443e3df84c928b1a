"""Errors of the audit trail."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, InvalidInput, declare

__all__ = ["AuditError", "AuditInputError", "ChainBroken"]


class AuditError(BridgeError):
    """The audit trail refused an event or a query, or failed verification."""

    family = "audit"
    about = "The tamper-evident audit trail (docs/audit.md)."
    codes = declare(
        Code(
            "audit.chain_broken",
            409,
            "A record's hash does not match its content or its predecessor.",
        ),
        Code(
            "audit.invalid_event",
            400,
            "An audit event has a naive time or a field of the wrong type.",
        ),
        Code(
            "audit.bad_since",
            400,
            "The --since time is not an ISO date or date-time with a time zone.",
        ),
        Code(
            "audit.bad_anchor",
            400,
            "The root to verify from is not a root id, or id:hash with 64 hex digits.",
        ),
        Code(
            "audit.bad_policy",
            400,
            "A retention policy names an unknown field or action, or a period that does not parse.",
        ),
    )
    code = "audit.chain_broken"


class AuditInputError(AuditError, InvalidInput):
    """An audit event, a ``--since`` time or a root of the wrong form; also an
    :class:`~sso_bridge.errors.InvalidInput`."""

    code = "audit.invalid_event"


class ChainBroken(AuditError):
    """The audit trail failed verification: a record was edited, removed, moved or added."""

    code = "audit.chain_broken"
