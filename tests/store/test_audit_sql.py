"""The SQL audit trail: chained in the insert's transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.audit import MASK, MISMATCH, chain_genesis, chain_hash, verify_log
from sso_bridge.errors import AccountNotFound, InvalidInput
from sso_bridge.model import AuditAction, AuditEvent, Link, LinkMethod
from sso_bridge.store.sql import SqlStore, open_store

NOW = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


def event(i: int, account_id: str | None = None, **kw: object) -> AuditEvent:
    return AuditEvent(
        AuditAction.LOGIN,
        NOW + timedelta(minutes=i),
        f"web:{i}",
        account_id=account_id,
        subject=str(1_000_000_000 + i),
        ip="10.0.0.1",
        **kw,  # type: ignore[arg-type]
    )


def fill(store: SqlStore, n: int) -> list[AuditEvent]:
    """``n`` records of one account: one chain on both databases."""
    return [store.record(event(i, "a0")) for i in range(n)]


def chain_of(store: SqlStore, event_id: int | None) -> int:
    """The chain a record is in: the one its connection leased on PostgreSQL, 0 on SQLite."""
    with store.engine.connect() as conn:
        return int(conn.scalar(sa.text(f"SELECT chain FROM audit WHERE event_id = {event_id}")))


def sql(store: SqlStore, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def test_records_are_chained_and_read_back_exactly(store: SqlStore) -> None:
    stored = fill(store, 5)
    assert [e.event_id for e in stored] == sorted(e.event_id for e in stored)
    genesis = chain_genesis(chain_of(store, stored[0].event_id))
    assert stored[0].chain_hash == chain_hash(genesis, stored[0])
    assert stored[1].chain_hash == chain_hash(stored[0].chain_hash or "", stored[1])
    assert store.events() == stored
    assert store.events(after_id=stored[2].event_id or 0, limit=1) == [stored[3]]
    report = verify_log(store, batch=2)
    assert (report.ok, report.checked) == (True, 5)
    (chain,) = report.chains
    assert (chain.chain, chain.head) == (chain_of(store, stored[0].event_id), stored[-1].chain_hash)


def test_several_records_at_once_continue_the_one_chain(store: SqlStore) -> None:
    before = fill(store, 2)
    together = store.record_many([event(10, "a0"), event(11, "a1"), event(12, "a0")])
    after = store.record(event(13))
    assert [e.event_id for e in together] == [3, 4, 5]
    assert together[0].chain_hash == chain_hash(before[-1].chain_hash or "", together[0])
    assert store.events() == [*before, *together, after]
    report = verify_log(store)
    assert (report.ok, report.checked) == (True, 6)


def test_every_field_survives_the_round_trip(store: SqlStore) -> None:
    full = AuditEvent(
        AuditAction.SECOND_FACTOR_FAILED,
        NOW,
        "web",
        LinkMethod.LOCAL_LOGIN,
        ISSUER,
        "1000000101",
        "a1",
        "2001:db8::1",
        "otp.invalid",
        "",
        "Mozilla/5.0 \x1b[31m\x00",
    )
    stored = store.record(full)
    assert store.events() == [stored]
    assert stored.user_agent == "Mozilla/5.0 \x1b[31m\ufffd"  # NUL is not storable everywhere
    assert stored.detail == ""
    assert verify_log(store).ok


def test_detail_is_redacted_before_it_is_stored(store: SqlStore) -> None:
    store.record(event(1, detail="SNILS 112-233-445 95, passport 4506 123456, code 4321"))
    [stored] = store.events()
    assert stored.detail == f"SNILS {MASK}, passport {MASK}, code {MASK}"


def test_tail_filters_by_account_and_time(store: SqlStore) -> None:
    for i in range(6):
        store.record(event(i, f"a{i % 2}"))
    assert [e.actor for e in store.tail(2)] == ["web:4", "web:5"]
    assert [e.actor for e in store.tail(account_id="a1")] == ["web:1", "web:3", "web:5"]
    since = NOW + timedelta(minutes=3)
    assert [e.actor for e in store.tail(since=since)] == ["web:3", "web:4", "web:5"]
    assert [e.actor for e in store.tail(1, account_id="a0", since=since)] == ["web:4"]
    with pytest.raises(InvalidInput) as exc:
        store.tail(since=datetime(2026, 1, 1))
    assert exc.value.code == "audit.bad_since"


def test_a_naive_time_is_refused_and_the_link_is_not_made(store: SqlStore) -> None:
    store.import_accounts([make_account("a1")])
    naive = AuditEvent(AuditAction.LINK, datetime(2026, 1, 2), "admin")
    link = Link(ISSUER, "s1", "a1", LinkMethod.ADMIN, NOW, "admin")
    with pytest.raises(InvalidInput) as exc:
        store.create_link(link, naive)
    assert exc.value.code == "audit.invalid_event"
    assert store.list_links() == []
    assert store.events() == []


def test_a_link_and_its_event_are_chained_together(store: SqlStore) -> None:
    store.import_accounts([make_account("a1")])
    link = Link(ISSUER, "s1", "a1", LinkMethod.ADMIN, NOW, "admin")
    store.record(event(0))
    store.create_link(link, attrs.evolve(event(1, "a1"), action=AuditAction.LINK))
    with pytest.raises(AccountNotFound):
        store.create_link(attrs.evolve(link, account_id="ghost"), event(2, "ghost"))
    store.remove_link(ISSUER, "s1", "a1", attrs.evolve(event(3, "a1"), action=AuditAction.UNLINK))
    assert [e.action for e in store.events()] == [
        AuditAction.LOGIN,
        AuditAction.LINK,
        AuditAction.UNLINK,
    ]
    assert verify_log(store).ok


def test_an_edited_record_is_named(store: SqlStore) -> None:
    ids = [e.event_id for e in fill(store, 5)]
    sql(store, f"UPDATE audit SET ip = '10.6.6.6' WHERE event_id = {ids[2]}")
    report = verify_log(store)
    assert (report.ok, report.first_bad, report.reason, report.checked) == (
        False,
        ids[2],
        MISMATCH,
        2,
    )


def test_a_deleted_record_breaks_its_successor(store: SqlStore) -> None:
    ids = [e.event_id for e in fill(store, 5)]
    sql(store, f"DELETE FROM audit WHERE event_id = {ids[1]}")
    assert verify_log(store).first_bad == ids[2]


def test_reordered_records_are_found(store: SqlStore) -> None:
    ids = [e.event_id for e in fill(store, 5)]
    a, b = ids[1], ids[2]
    sql(
        store,
        f"UPDATE audit SET event_id = -1 WHERE event_id = {a}",
        f"UPDATE audit SET event_id = {a} WHERE event_id = {b}",
        f"UPDATE audit SET event_id = {b} WHERE event_id = -1",
    )
    assert verify_log(store).first_bad == a


def test_a_record_inserted_in_the_middle_is_found(store: SqlStore) -> None:
    stored = fill(store, 4)
    ids = [e.event_id or 0 for e in stored]
    # make room after the second record, then slip in a correctly chained forgery
    sql(
        store,
        f"UPDATE audit SET event_id = -event_id WHERE event_id > {ids[1]}",
        "UPDATE audit SET event_id = 1 - event_id WHERE event_id < 0",
    )
    forged = AuditEvent(
        AuditAction.UNLOCK, NOW, "admin:mallory", account_id="a1", event_id=ids[1] + 1
    )
    digest = chain_hash(stored[1].chain_hash or "", forged)
    with store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO audit (event_id, chain, at, action, actor, account_id, chain_hash) "
                "VALUES (:id, :chain, :at, 'unlock', 'admin:mallory', 'a1', :h)"
            ).bindparams(sa.bindparam("at", type_=sa.DateTime(timezone=True))),
            {"id": ids[1] + 1, "chain": chain_of(store, ids[0]), "at": NOW, "h": digest},
        )
    report = verify_log(store)
    assert report.checked == 3  # the forgery itself chains on
    assert report.first_bad == ids[2] + 1  # the record after it, renumbered


def test_an_edited_action_outside_the_enum_is_named_not_fatal(store: SqlStore) -> None:
    ids = [e.event_id for e in fill(store, 3)]
    sql(store, f"UPDATE audit SET action = 'bogus' WHERE event_id = {ids[1]}")
    assert str(store.tail()[1].action) == "bogus"
    assert verify_log(store).first_bad == ids[1]


def test_an_unreadable_time_on_sqlite_is_named(sqlite_store: SqlStore) -> None:
    ids = [e.event_id for e in fill(sqlite_store, 3)]
    sql(sqlite_store, f"UPDATE audit SET at = 'yesterday' WHERE event_id = {ids[1]}")
    report = verify_log(sqlite_store)
    assert report.first_bad == ids[1]
    assert report.reason is not None
    assert report.reason.startswith("record cannot be encoded")


def test_concurrent_writers_keep_one_chain(db_url: str) -> None:
    stores = [open_store(db_url, KEY) for _ in range(2)]  # two engines, as two processes
    stores[0].import_accounts([make_account(f"c{i}") for i in range(20)], ORGS)
    start = threading.Barrier(len(stores))
    failures: list[BaseException] = []

    def work(n: int, store: SqlStore) -> None:
        try:
            start.wait()
            for i in range(20):
                if n == 0:
                    link = Link(ISSUER, f"s{i}", f"c{i}", LinkMethod.ADMIN, NOW, "admin")
                    store.create_link(link, event(i, f"c{i}"))
                else:
                    store.record(event(i))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n, s)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert failures == []
        report = verify_log(stores[0], batch=7)
        assert (report.ok, report.checked) == (True, 40)
    finally:
        for s in stores:
            s.close()


def test_raw_database_holds_no_personal_numbers(sqlite_url: str, tmp_path: Path) -> None:
    s = open_store(sqlite_url, KEY)
    s.record(event(1, detail="SNILS 112-233-445 95 / 11223344595, code 482913"))
    s.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bridge.db"))
    for secret in (b"112-233-445 95", b"11223344595", b"482913"):
        assert secret not in raw
