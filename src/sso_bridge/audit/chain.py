"""The hash chain that makes the audit trail tamper-evident.

Each stored event carries ``chain_hash = SHA-256(previous chain_hash + canonical(event))``
in hex (a record with commitments, :mod:`sso_bridge.audit.commit`, is encoded over them
instead of its personal values), the first one of a chain chained to
:func:`chain_genesis`. A trail may hold several chains (numbered from 0), each in
``event_id`` order. Editing, removing, reordering or inserting a record breaks its chain
at that record or the one after it; see docs/audit.md for what the chain does not protect
against, and :mod:`sso_bridge.audit.trail` for the roots over several chains.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Iterator
from datetime import UTC, datetime
from typing import Final, Protocol

import attrs

from sso_bridge.audit.commit import CommitmentKey, commitment_list, value_problem
from sso_bridge.audit.errors import AuditInputError
from sso_bridge.errors import InvalidInput
from sso_bridge.model import AuditEvent

__all__ = [
    "CHAIN_FORMAT",
    "COMMITTED_FORMAT",
    "GENESIS",
    "MISMATCH",
    "ChainReport",
    "EventSource",
    "canonical",
    "chain_genesis",
    "chain_hash",
    "iter_events",
    "verify_chain",
]

CHAIN_FORMAT = "sso-bridge-audit/1"
"""The version tag that starts the encoding over values; a new encoding gets a new tag."""

COMMITTED_FORMAT = "sso-bridge-audit/2"
"""The tag of the encoding over commitments to the personal fields (records with
``commitments``)."""

GENESIS = "0" * 64
"""The "previous hash" of the first record of chain 0 (the only chain of older trails)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")

MISMATCH = "hash does not match its content or its predecessor"

_TEXT_FIELDS = (
    "action",
    "actor",
    "method",
    "issuer",
    "subject",
    "account_id",
    "ip",
    "code",
    "detail",
    "user_agent",
)
_PLAIN_FIELDS = ("action", "method", "issuer", "code")
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_OWN: Final = object()
"""The default of ``event_id`` arguments: the event's own number."""


def _bad(message: str) -> InvalidInput:
    return AuditInputError(message, code="audit.invalid_event")


def _time(at: object) -> str:
    if not isinstance(at, datetime):
        raise _bad("the event time is not a date-time")
    if at.tzinfo is None or at.utcoffset() is None:
        raise _bad("the event time has no timezone")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _text(event: AuditEvent, name: str) -> str | None:
    value = getattr(event, name)
    if value is not None and not isinstance(value, str):
        raise _bad(f"the event's {name} is not text")
    # an enum member (a str subclass) is encoded as its value
    return None if value is None else str.__str__(value)


def canonical(event: AuditEvent, *, event_id: object = _OWN) -> bytes:
    """The bytes that are hashed for ``event``: its fields, in a fixed order.

    A JSON array (UTF-8, no spaces) that starts with the format's tag, then the event id
    and the time in UTC with microseconds. A record without ``commitments``
    (:data:`CHAIN_FORMAT`) goes on with every text field; one with them
    (:data:`COMMITTED_FORMAT`) with ``action``, ``method``, ``issuer``, ``code`` and then
    the commitment of each personal field (``null`` for a field without a value), so
    that purging a value leaves the encoding as it was. ``null`` and ``""`` stay
    distinct. Raises ``audit.invalid_event`` for a field of the wrong type, unreadable
    commitments or a time without a timezone. ``event_id``, when given, stands for the
    event's own number.
    """
    if event_id is _OWN:
        event_id = event.event_id
    if event_id is not None and (not isinstance(event_id, int) or isinstance(event_id, bool)):
        raise _bad("the event id is not an integer")
    if event.commitments is None:
        values: list[object] = [CHAIN_FORMAT, event_id, _time(event.at)]
        values.extend(_text(event, name) for name in _TEXT_FIELDS)
    else:
        commitments = commitment_list(event)
        if commitments is None:
            raise _bad("the event's commitments are unreadable")
        values = [COMMITTED_FORMAT, event_id, _time(event.at)]
        values.extend(_text(event, name) for name in _PLAIN_FIELDS)
        values.extend(commitments)
    text = _ENCODER.encode(values)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _bad("the event holds text that is not valid Unicode") from exc


def chain_genesis(chain: int) -> str:
    """The "previous hash" of the first record of ``chain``.

    :data:`GENESIS` for chain 0, so that a trail from before several chains is chain 0
    unchanged; a value of its own for every other chain, so that the first record of one
    chain does not verify as the first record of another.
    """
    if chain == 0:
        return GENESIS
    return hashlib.sha256(f"{CHAIN_FORMAT} chain {chain}".encode("ascii")).hexdigest()


def chain_hash(previous: str, event: AuditEvent, *, event_id: object = _OWN) -> str:
    """Hex SHA-256 over ``previous`` (64 hex digits) and :func:`canonical` of ``event``
    (numbered ``event_id`` when given, its own ``event_id`` otherwise)."""
    if _HEX64.fullmatch(previous) is None:
        raise _bad("the previous hash is not 64 lower-case hex digits")
    return hashlib.sha256(
        previous.encode("ascii") + canonical(event, event_id=event_id)
    ).hexdigest()


@attrs.frozen
class ChainReport:
    """What verifying a trail found.

    ``checked`` counts the records found intact; ``head_id`` and ``head`` are the last of
    them and its hash (``None`` and the chain's genesis for an empty chain). ``first_bad``
    is the event id of the first record that fails, with ``reason``. ``chain`` is the
    chain's number; ``marks`` the stored hashes of the intact records that were asked for
    (the heads a root names).
    """

    checked: int
    head: str = GENESIS
    head_id: int | None = None
    first_bad: int | None = None
    reason: str | None = None
    chain: int = 0
    marks: dict[int, str] = attrs.field(factory=dict, eq=False)

    @property
    def ok(self) -> bool:
        return self.reason is None


def verify_chain(
    events: Iterable[AuditEvent],
    *,
    chain: int = 0,
    previous: str | None = None,
    previous_id: int | None = None,
    marks: Collection[int] = (),
    key: CommitmentKey | None = None,
) -> ChainReport:
    """Check that ``events`` (oldest first) form an unbroken chain.

    From the chain's first record (``previous`` unset: its genesis), or from after the
    record ``previous_id`` whose stored hash is ``previous``. Stops at the first record
    whose stored hash is not the one computed from its content and its predecessor's
    stored hash. The hashes of intact records whose ids are in ``marks`` are kept in the
    report. A record with commitments must also agree with them: each value kept is
    committed to again with ``key`` (without a key, only that kept values have nonces and
    purged ones none), so an edited or restored value fails like an edited record.
    """
    if previous is None:
        previous = chain_genesis(chain)
    checked = 0
    found: dict[int, str] = {}
    for event in events:
        if event.chain_hash is None:
            reason = "record has no chain hash"
        else:
            try:
                expected: str | None = chain_hash(previous, event)
            except InvalidInput as exc:
                expected, reason = None, f"record cannot be encoded: {exc.message}"
            # a value that disagrees with its commitment is an edited record
            commitments = event.commitments
            if expected is not None and commitments is not None and value_problem(event, key):
                expected, reason = None, MISMATCH
            if expected is not None:
                if expected == event.chain_hash:
                    previous, previous_id, checked = expected, event.event_id, checked + 1
                    if marks and previous_id is not None and previous_id in marks:
                        found[previous_id] = expected
                    continue
                reason = MISMATCH
        return ChainReport(checked, previous, previous_id, event.event_id, reason, chain, found)
    return ChainReport(checked, previous, previous_id, chain=chain, marks=found)


class EventSource(Protocol):
    """Anything that hands out stored events in batches (every ``AuditLog`` does)."""

    def events(self, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]: ...


def iter_events(source: EventSource, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every stored event, oldest first, read ``batch`` at a time."""
    after = 0
    while True:
        page = source.events(after, batch)
        yield from page
        last = page[-1].event_id if page else None
        if len(page) < batch or last is None:
            return
        after = last
