"""The hash chain: every kind of tampering is found, and the first bad record is named."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from helpers.clock import NOW
from sso_bridge.audit import (
    GENESIS,
    MISMATCH,
    InMemoryAuditLog,
    canonical,
    chain_hash,
    verify_chain,
    verify_log,
)
from sso_bridge.errors import InvalidInput
from sso_bridge.model import AuditAction, AuditEvent, LinkMethod


def chained(n: int) -> list[AuditEvent]:
    """``n`` events with ids 1..n, chained the way a log stores them."""
    events, previous = [], GENESIS
    for i in range(1, n + 1):
        event = AuditEvent(
            AuditAction.LOGIN,
            NOW + timedelta(seconds=i),
            f"broker:{i}",
            subject=str(1000 + i),
            account_id=f"a{i}",
            event_id=i,
        )
        previous = chain_hash(previous, event)
        events.append(attrs.evolve(event, chain_hash=previous))
    return events


def test_an_intact_chain_verifies() -> None:
    events = chained(5)
    report = verify_chain(events)
    assert report.ok
    assert report.checked == 5
    assert (report.head_id, report.head) == (5, events[-1].chain_hash)
    assert report.first_bad is None


def test_an_empty_trail_is_intact() -> None:
    report = verify_chain([])
    assert report.ok
    assert (report.checked, report.head, report.head_id) == (0, GENESIS, None)


def test_an_edited_record_is_named() -> None:
    events = chained(5)
    events[2] = attrs.evolve(events[2], detail="nothing happened")
    report = verify_chain(events)
    assert not report.ok
    assert (report.first_bad, report.reason, report.checked) == (3, MISMATCH, 2)
    assert report.head == events[1].chain_hash


def test_an_edited_record_with_its_hash_recomputed_breaks_the_next_one() -> None:
    events = chained(5)
    forged = attrs.evolve(events[2], actor="someone else", chain_hash=None)
    events[2] = attrs.evolve(forged, chain_hash=chain_hash(events[1].chain_hash or "", forged))
    report = verify_chain(events)
    assert (report.first_bad, report.reason) == (4, MISMATCH)


@pytest.mark.parametrize("gone", [0, 2, 3])
def test_a_deleted_record_breaks_its_successor(gone: int) -> None:
    events = chained(5)
    del events[gone]
    report = verify_chain(events)
    assert (report.first_bad, report.reason, report.checked) == (gone + 2, MISMATCH, gone)


def test_reordered_records_are_found() -> None:
    events = chained(5)
    events[1], events[2] = events[2], events[1]
    assert (verify_chain(events).first_bad, verify_chain(events).checked) == (3, 1)


def test_records_whose_ids_were_swapped_are_found() -> None:
    events = chained(5)
    events[1] = attrs.evolve(events[1], event_id=3)
    events[2] = attrs.evolve(events[2], event_id=2)
    report = verify_chain(events)
    assert (report.first_bad, report.reason) == (3, MISMATCH)  # the record now numbered 3


def test_a_record_inserted_in_the_middle_is_found() -> None:
    events = chained(5)
    forged = AuditEvent(AuditAction.UNLOCK, NOW, "admin:mallory", event_id=99)
    # even correctly chained to its predecessor, it breaks the record after it
    good_hash = chain_hash(events[1].chain_hash or "", forged)
    events.insert(2, attrs.evolve(forged, chain_hash=good_hash))
    report = verify_chain(events)
    assert (report.first_bad, report.checked) == (3, 3)
    # with a made-up hash, the forged record itself is named
    events[2] = attrs.evolve(forged, chain_hash="f" * 64)
    assert verify_chain(events).first_bad == 99


def test_a_record_without_hash_is_named() -> None:
    events = chained(3)
    events[1] = attrs.evolve(events[1], chain_hash=None)
    report = verify_chain(events)
    assert (report.first_bad, report.reason) == (2, "record has no chain hash")


def test_a_record_that_cannot_be_encoded_is_named() -> None:
    events = chained(3)
    events[1] = attrs.evolve(events[1], at="yesterday")
    report = verify_chain(events)
    assert report.first_bad == 2
    assert report.reason is not None
    assert report.reason.startswith("record cannot be encoded")


FULL = AuditEvent(
    action=AuditAction.LINK,
    at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    actor="admin:olga",
    method=LinkMethod.ADMIN,
    issuer="https://esia/",
    subject="1000000101",
    account_id="s17-t-001",
    ip="10.0.0.1",
    code="link.ok",
    detail="note",
    user_agent="Mozilla/5.0",
    event_id=7,
)

CHANGES = {
    "action": AuditAction.UNLINK,
    "at": FULL.at + timedelta(microseconds=1),
    "actor": "admin:oleg",
    "method": LinkMethod.AUTO,
    "issuer": "https://esia2/",
    "subject": "1000000102",
    "account_id": "s17-t-002",
    "ip": "10.0.0.2",
    "code": "link.other",
    "detail": "other",
    "user_agent": "curl/8",
    "event_id": 8,
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_field_is_covered_by_the_hash(name: str) -> None:
    changed = attrs.evolve(FULL, **{name: CHANGES[name]})
    assert chain_hash(GENESIS, changed) != chain_hash(GENESIS, FULL)


@pytest.mark.parametrize("name", ["method", "issuer", "detail", "user_agent", "code"])
def test_none_and_empty_text_differ(name: str) -> None:
    a = attrs.evolve(FULL, **{name: None})
    b = attrs.evolve(FULL, **{name: ""})
    assert canonical(a) != canonical(b)


def test_the_encoding_is_fixed_and_versioned() -> None:
    expected = (
        b'["sso-bridge-audit/1",7,"2026-01-02T03:04:05.000006+00:00","link","admin:olga",'
        b'"admin","https://esia/","1000000101","s17-t-001","10.0.0.1","link.ok","note",'
        b'"Mozilla/5.0"]'
    )
    assert canonical(FULL) == expected
    assert chain_hash(GENESIS, FULL) == hashlib.sha256(GENESIS.encode() + expected).hexdigest()


def test_the_same_moment_in_another_zone_hashes_the_same() -> None:
    moscow = FULL.at.astimezone(timezone(timedelta(hours=3)))
    assert moscow.hour == 6
    assert canonical(attrs.evolve(FULL, at=moscow)) == canonical(FULL)


def test_a_time_without_timezone_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        canonical(attrs.evolve(FULL, at=datetime(2026, 1, 2)))
    assert exc.value.code == "audit.invalid_event"


def test_a_bad_previous_hash_is_refused() -> None:
    with pytest.raises(InvalidInput):
        chain_hash("0" * 63, FULL)


def test_verify_log_reads_in_batches() -> None:
    log = InMemoryAuditLog()
    for i in range(25):
        log.record(AuditEvent(AuditAction.SECURITY, NOW, f"x{i}"))
    report = verify_log(log, batch=10)
    assert (report.ok, report.checked, report.head_id) == (True, 25, 25)
    assert report.head == log.tail(1)[0].chain_hash
