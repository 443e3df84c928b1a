"""Roots over several chains, chain genesis values, and verifying a plain log as one chain."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from sso_bridge.audit import (
    GENESIS,
    AuditAction,
    AuditEvent,
    InMemoryAuditLog,
    chain_genesis,
    chain_hash,
    verify_chain,
    verify_log,
)
from sso_bridge.audit.roots import ROOT_GENESIS, merkle_root, next_root, root_hash

NOW = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def test_chain_0_keeps_the_old_genesis_and_every_other_chain_has_its_own() -> None:
    assert chain_genesis(0) == GENESIS
    values = {chain_genesis(c) for c in range(256)}
    assert len(values) == 256


def test_the_first_record_of_one_chain_does_not_verify_in_another() -> None:
    event = AuditEvent(AuditAction.LOGIN, NOW, "web", event_id=7)
    stored = attrs.evolve(event, chain_hash=chain_hash(chain_genesis(3), event))
    assert verify_chain([stored], chain=3).ok
    report = verify_chain([stored], chain=4)
    assert (report.ok, report.first_bad, report.chain) == (False, 7, 4)


def test_a_chain_checked_from_a_known_head_keeps_the_asked_for_hashes() -> None:
    a = AuditEvent(AuditAction.LOGIN, NOW, "web", event_id=10)
    a = attrs.evolve(a, chain_hash=chain_hash(chain_genesis(2), a))
    b = AuditEvent(AuditAction.SESSION_START, NOW, "web", event_id=12)
    b = attrs.evolve(b, chain_hash=chain_hash(a.chain_hash or "", b))
    report = verify_chain([b], chain=2, previous=a.chain_hash, previous_id=10, marks={12})
    assert (report.ok, report.checked, report.head_id, report.marks) == (
        True,
        1,
        12,
        {12: b.chain_hash},
    )


def test_the_merkle_root_commits_to_every_head() -> None:
    heads = {c: (c * 10 + 1, chain_genesis(c)) for c in range(5)}
    root = merkle_root(heads)
    assert root == merkle_root(dict(reversed(heads.items())))  # order of the mapping
    for chain in heads:
        changed = {**heads, chain: (heads[chain][0] + 1, heads[chain][1])}
        assert merkle_root(changed) != root
        assert merkle_root({c: h for c, h in heads.items() if c != chain}) != root
    assert merkle_root({}) != merkle_root({0: (1, GENESIS)})


def test_roots_are_chained() -> None:
    first = next_root(None, NOW, [(0, 4, GENESIS), (3, 9, chain_genesis(3))])
    second = next_root(first, NOW, [(0, 4, GENESIS), (3, 11, chain_genesis(3))])
    assert (first.root_id, second.root_id, dict(second.heads)) == (1, 2, {0: 4, 3: 11})
    assert first.root_hash == root_hash(ROOT_GENESIS, 1, NOW, first.heads, first.merkle)
    assert second.root_hash == root_hash(first.root_hash, 2, NOW, second.heads, second.merkle)
    assert second.root_hash != root_hash(ROOT_GENESIS, 2, NOW, second.heads, second.merkle)


def test_a_plain_log_is_verified_as_one_chain_and_problems_are_lines() -> None:
    log = InMemoryAuditLog()
    stored = [log.record(AuditEvent(AuditAction.SECURITY, NOW, f"x{i}")) for i in range(4)]
    report = verify_log(log)
    assert (report.ok, report.checked, report.head_id, len(report.chains)) == (True, 4, 4, 1)
    assert report.head == stored[-1].chain_hash
    log._events[1] = attrs.evolve(stored[1], actor="someone else")
    report = verify_log(log)
    assert report.problems[0].line() == (
        "chain 0: record 2: hash does not match its content or its predecessor "
        "(1 record(s) before it in the chain are intact)"
    )
