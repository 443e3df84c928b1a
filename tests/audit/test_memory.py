"""InMemoryAuditLog: chained, redacted, filtered, safe under threads."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from helpers.clock import NOW, FixedClock
from sso_bridge.audit import GENESIS, MASK, InMemoryAuditLog, chain_hash, verify_log
from sso_bridge.errors import InvalidInput
from sso_bridge.model import AuditAction, AuditEvent


def test_record_numbers_and_chains() -> None:
    log = InMemoryAuditLog()
    first = log.record(AuditEvent(AuditAction.LOGIN, NOW, "web", account_id="a1", event_id=42))
    second = log.record(AuditEvent(AuditAction.SESSION_START, NOW, "web", account_id="a1"))
    assert (first.event_id, second.event_id) == (1, 2)
    assert first.chain_hash == chain_hash(GENESIS, first)
    assert second.chain_hash == chain_hash(first.chain_hash or "", second)
    assert log.events() == [first, second]
    assert log.events(after_id=1) == [second]
    assert log.events(limit=1) == [first]


def test_record_redacts_detail() -> None:
    log = InMemoryAuditLog()
    stored = log.record(
        AuditEvent(AuditAction.SECOND_FACTOR_FAILED, NOW, "web", detail="entered 654321")
    )
    assert stored.detail == f"entered {MASK}"
    assert log.tail()[0].detail == f"entered {MASK}"


def test_record_refuses_a_naive_time() -> None:
    log = InMemoryAuditLog()
    with pytest.raises(InvalidInput):
        log.record(AuditEvent(AuditAction.LOGIN, datetime(2026, 1, 1), "web"))
    assert log.events() == []


def test_tail_filters_by_account_and_time() -> None:
    clock = FixedClock()
    log = InMemoryAuditLog()
    for i in range(6):
        log.record(AuditEvent(AuditAction.LOGIN, clock.now(), "web", account_id=f"a{i % 2}"))
        clock.advance(timedelta(minutes=1))
    assert [e.event_id for e in log.tail(2)] == [5, 6]
    assert [e.event_id for e in log.tail(account_id="a1")] == [2, 4, 6]
    assert [e.event_id for e in log.tail(since=NOW + timedelta(minutes=3))] == [4, 5, 6]
    assert [e.event_id for e in log.tail(1, account_id="a0", since=NOW)] == [5]
    with pytest.raises(InvalidInput) as exc:
        log.tail(since=datetime(2026, 1, 1))
    assert exc.value.code == "audit.bad_since"


def test_concurrent_records_keep_one_chain() -> None:
    log = InMemoryAuditLog()
    start = threading.Barrier(8)

    def work(n: int) -> None:
        start.wait()
        for i in range(50):
            log.record(AuditEvent(AuditAction.SECURITY, NOW, f"t{n}", detail=str(i)))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify_log(log, batch=64)
    assert (report.ok, report.checked) == (True, 400)
    assert [e.event_id for e in log.events(limit=1000)] == list(range(1, 401))
