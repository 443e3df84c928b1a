"""Several audit chains on PostgreSQL: tampering in every chain named, chains cut found
through the roots and the heads, concurrent brokers, verification from an anchored root,
the parallel verifier."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from helpers.accounts import KEY
from sso_bridge.audit import MISMATCH, RootAnchor, TrailReport, chain_hash, verify_log
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.store.sql import SqlStore, open_store

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 9, 1, 7, 30, tzinfo=UTC)
ACCOUNTS = [f"pupil-{i}" for i in range(6)]


def login(i: int, account_id: str) -> list[AuditEvent]:
    at = NOW + timedelta(seconds=i)
    return [
        AuditEvent(AuditAction.LOGIN, at, "web", account_id=account_id, subject=str(10**9 + i)),
        AuditEvent(AuditAction.SESSION_START, at, "web", account_id=account_id),
    ]


BROKERS = 3


@pytest.fixture
def pg_stores(postgres_schema_url: str) -> Iterator[list[SqlStore]]:
    """Three stores on one database, as three broker instances: three chains."""
    stores = [open_store(postgres_schema_url, KEY) for _ in range(BROKERS)]
    yield stores
    for s in stores:
        s.close()


@pytest.fixture
def pg_store(pg_stores: list[SqlStore]) -> SqlStore:
    return pg_stores[0]


def append_then_fail(store: SqlStore) -> None:
    """A transaction that appends and then rolls back, as a failed link does: it leaves a
    gap in the ids and its connection's cached head ahead of the chain."""
    with pytest.raises(RuntimeError), store._write() as conn:  # noqa: PT012
        store._audit.append_many(conn, login(99, "ghost"))
        raise RuntimeError("the link failed")


def fill(store: SqlStore, rounds: int = 3) -> dict[int, list[AuditEvent]]:
    """``rounds`` logins of every account, interleaved, appended through ``BROKERS``
    stores in turn (``store`` and two more on its database); the records by chain."""
    url = store.engine.url.render_as_string(hide_password=False)
    others = [open_store(url, KEY) for _ in range(BROKERS - 1)]
    try:
        for i in range(rounds):
            for n, account in enumerate(ACCOUNTS):
                writer = [store, *others][n % BROKERS]
                writer.record_many(login(i * 10 + n, account))
                append_then_fail(writer)
    finally:
        for other in others:
            other.close()
    by_chain: dict[int, list[AuditEvent]] = {}
    with store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_id, chain FROM audit ORDER BY event_id"))
        chain_of = dict(rows.all())
    for stored in store.events():
        by_chain.setdefault(chain_of[stored.event_id], []).append(stored)
    return by_chain


def sql(store: SqlStore, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def named(report: TrailReport) -> dict[int | None, int | None]:
    return {p.chain: p.record for p in report.problems}


def test_each_broker_appends_to_a_chain_of_its_own(pg_store: SqlStore) -> None:
    by_chain = fill(pg_store)
    assert len(by_chain) == BROKERS
    for records in by_chain.values():
        assert len(records) == 12
        assert len({e.account_id for e in records}) == len(ACCOUNTS) // BROKERS
    report = verify_log(pg_store, batch=2)
    assert (report.ok, report.checked, len(report.chains)) == (True, 36, BROKERS)


def test_more_brokers_than_chains_share_chains_safely(postgres_schema_url: str) -> None:
    first = open_store(postgres_schema_url, KEY)
    sql(first, "DELETE FROM audit_heads WHERE chain >= 2")  # two chains, three writers
    stores = [first, *(open_store(postgres_schema_url, KEY) for _ in range(2))]
    try:
        for i in range(8):
            for n, store in enumerate(stores):
                store.record_many(login(i * 10 + n, ACCOUNTS[n]))
        # a transaction rolled back after its append leaves its writer's head stale
        append_then_fail(first)
        first.record_many(login(100, ACCOUNTS[0]))
        report = verify_log(first)
        assert (report.ok, report.checked, len(report.chains)) == (True, 50, 2)
    finally:
        for s in stores:
            s.close()


def _edit(store: SqlStore, records: list[AuditEvent]) -> int:
    sql(store, f"UPDATE audit SET actor = 'admin' WHERE event_id = {records[2].event_id}")
    return records[2].event_id or 0


def _remove(store: SqlStore, records: list[AuditEvent]) -> int:
    sql(store, f"DELETE FROM audit WHERE event_id = {records[2].event_id}")
    return records[3].event_id or 0


def _reorder(store: SqlStore, records: list[AuditEvent]) -> int:
    a, b = records[2].event_id, records[3].event_id
    sql(
        store,
        f"UPDATE audit SET event_id = -{a} WHERE event_id = {a}",
        f"UPDATE audit SET event_id = {a} WHERE event_id = {b}",
        f"UPDATE audit SET event_id = {b} WHERE event_id = -{a}",
    )
    return a or 0


def _insert(store: SqlStore, records: list[AuditEvent]) -> int:
    # a forgery between two records of the chain, chained correctly to the one before it
    ids = [e.event_id or 0 for e in records]
    i = next(i for i in range(1, len(ids) - 1) if ids[i + 1] - ids[i] > 1)
    forged = AuditEvent(AuditAction.UNLOCK, NOW, "admin:mallory", event_id=ids[i] + 1)
    digest = chain_hash(records[i].chain_hash or "", forged)
    chain = _chain(store, ids[i])
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit (event_id, chain, at, action, actor, chain_hash) "
                "VALUES (:id, :chain, :at, 'unlock', 'admin:mallory', :h)"
            ).bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=True))),
            {"id": ids[i] + 1, "chain": chain, "at": NOW, "h": digest},
        )
    return ids[i + 1]  # the forgery chains on; the record after it breaks


def _chain(store: SqlStore, event_id: int) -> int:
    with store.engine.connect() as conn:
        found = conn.scalar(sa.text(f"SELECT chain FROM audit WHERE event_id = {event_id}"))
    return int(found)


TAMPERING: dict[str, Callable[[SqlStore, list[AuditEvent]], int]] = {
    "edit": _edit,
    "remove": _remove,
    "reorder": _reorder,
    "insert": _insert,
}


@pytest.mark.parametrize("kind", TAMPERING)
def test_tampering_in_every_chain_is_named_chain_by_chain(pg_store: SqlStore, kind: str) -> None:
    by_chain = fill(pg_store)
    expected = {chain: TAMPERING[kind](pg_store, records) for chain, records in by_chain.items()}
    report = verify_log(pg_store)
    assert not report.ok
    assert named(report) == expected
    assert {p.reason for p in report.problems} == {MISMATCH}


def test_a_whole_chain_deleted_is_found_through_the_root(pg_store: SqlStore) -> None:
    by_chain = fill(pg_store)
    root = pg_store.seal()
    gone = min(by_chain)
    # the attacker also resets the chain's head row, so only the root can tell
    sql(
        pg_store,
        f"DELETE FROM audit WHERE chain = {gone}",
        f"UPDATE audit_heads SET head_id = NULL, records = 0 WHERE chain = {gone}",
    )
    report = verify_log(pg_store)
    assert not report.ok
    [problem] = report.problems
    assert (problem.chain, problem.record) == (gone, by_chain[gone][-1].event_id)
    assert f"named by root {root.root_id}" in problem.reason
    assert "cut" in problem.reason


def test_records_cut_from_a_chain_end_are_found_through_its_head(pg_store: SqlStore) -> None:
    by_chain = fill(pg_store)
    chain, records = next(iter(by_chain.items()))
    sql(
        pg_store,
        f"DELETE FROM audit WHERE chain = {chain} AND event_id >= {records[-2].event_id}",
    )
    report = verify_log(pg_store)
    assert named(report) == {chain: records[-1].event_id}
    assert "removed from its end" in (report.reason or "")


def test_an_edited_root_is_named(pg_store: SqlStore) -> None:
    fill(pg_store, 1)
    pg_store.seal()
    pg_store.seal()
    sql(pg_store, "UPDATE audit_roots SET merkle = repeat('0', 64) WHERE root_id = 1")
    report = verify_log(pg_store)
    assert [(p.root, p.reason) for p in report.problems] == [
        (1, "hash does not match its content or its predecessor")
    ]


def test_verify_since_an_anchored_root_reads_only_what_follows(
    pg_store: SqlStore, pg_stores: list[SqlStore]
) -> None:
    by_chain = fill(pg_store, 2)
    root = pg_store.seal()
    for n, store in enumerate(pg_stores[:2]):
        store.record_many(login(100 + n, ACCOUNTS[n]))
    since = RootAnchor(root.root_id, root.root_hash)
    report = verify_log(pg_store, since=since)
    assert (report.ok, report.checked, report.root_id) == (True, 4, root.root_id)
    # a record from before the anchor is outside a check from it, not outside a full one
    old = next(iter(by_chain.values()))[0].event_id
    sql(pg_store, f"UPDATE audit SET ip = '10.6.6.6' WHERE event_id = {old}")
    assert verify_log(pg_store, since=since).ok
    assert verify_log(pg_store).first_bad == old
    # the heads the anchored root names must still have the hashes it committed to
    head = max(root.heads.values())
    sql(pg_store, f"UPDATE audit SET chain_hash = repeat('a', 64) WHERE event_id = {head}")
    report = verify_log(pg_store, since=since)
    assert [p.root for p in report.problems] == [root.root_id]


def test_appends_write_a_root_when_one_is_due(pg_store: SqlStore) -> None:
    pg_store.root_interval = 0.0
    fill(pg_store, 1)
    roots = pg_store.audit_roots()
    assert roots
    assert verify_log(pg_store).roots_checked == len(roots)


# one broker instance: its own process, store and connections; starts at a given time
BROKER = """
import sys, time
from datetime import UTC, datetime
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.store import open_store

url, n, key, start = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3]), float(sys.argv[4])
store = open_store(url, key)
while time.time() < start:
    time.sleep(0.005)
for i in range(30):
    at, account = datetime.now(UTC), f"pupil-{(i * 7 + n) % 11}"
    store.record_many([
        AuditEvent(AuditAction.LOGIN, at, "web", account_id=account),
        AuditEvent(AuditAction.SESSION_START, at, "web", account_id=account),
    ])
store.close()
"""


def test_two_broker_processes_appending_at_once_leave_a_trail_that_verifies(
    postgres_schema_url: str,
) -> None:
    open_store(postgres_schema_url, KEY).close()
    start = str(time.time() + 2)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BROKER, postgres_schema_url, str(n), KEY.hex(), start]
        )
        for n in range(2)
    ]
    assert [p.wait(60) for p in procs] == [0, 0]
    store = open_store(postgres_schema_url, KEY)
    try:
        report = verify_log(store)
        assert (report.ok, report.checked) == (True, 120)
        assert len(report.chains) > 1
    finally:
        store.close()


def test_the_parallel_verifier_agrees_with_the_sequential_one(pg_store: SqlStore) -> None:
    by_chain = fill(pg_store, 2)
    pg_store.seal()
    first = next(iter(by_chain.values()))
    sql(pg_store, f"UPDATE audit SET actor = 'x' WHERE event_id = {first[1].event_id}")
    sequential = verify_log(pg_store)
    pg_store.parallel_from, pg_store.verify_workers = 0, 2
    parallel = verify_log(pg_store)
    assert parallel == sequential
    assert named(parallel) == {_chain(pg_store, first[1].event_id or 0): first[1].event_id}
