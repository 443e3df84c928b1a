"""The store's driver-level paths (the link lookup, the linked accounts, the audit append)
give exactly what the SQLAlchemy statements gave, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.audit import verify_log
from sso_bridge.audit.errors import AuditInputError
from sso_bridge.model import (
    AccountStatus,
    AuditAction,
    AuditEvent,
    Link,
    LinkMethod,
    LocalAccount,
)
from sso_bridge.store.sql import SqlStore, open_store
from sso_bridge.store.sql_schema import accounts, audit, links

OTHER = "https://other.example/"
T0 = datetime(2026, 9, 1, 7, 30, 5, 123456, tzinfo=UTC)


def _links_through_sqlalchemy(store: SqlStore, issuer: str, subject: str) -> list[Link]:
    query = (
        sa.select(links)
        .where(links.c.issuer == issuer, links.c.subject == subject)
        .order_by(links.c.account_id)
    )
    with store.engine.connect() as conn:
        return [store._link(r) for r in conn.execute(query).mappings()]


def _accounts_through_sqlalchemy(store: SqlStore, issuer: str, subject: str) -> list[LocalAccount]:
    query = (
        sa.select(accounts)
        .join(links, links.c.account_id == accounts.c.account_id)
        .where(links.c.issuer == issuer, links.c.subject == subject)
        .order_by(accounts.c.account_id)
    )
    with store.engine.connect() as conn:
        return [store._account(r) for r in conn.execute(query).mappings()]


def _linked_region(store: SqlStore) -> list[tuple[str, str]]:
    """Accounts of every shape linked in every way; the (issuer, subject) pairs asked."""
    people = [
        make_account("a1", roles=("teacher", "parent")),
        make_account("a2", "sch2", middle_name=None, birth_date=None, login="u2"),
        make_account("a3", "sch3", roles=(), snils="112-233-445 95"),
        make_account("a4", status=AccountStatus.BLOCKED, last_name="Ёлкина"),
        make_account("a5"),
    ]
    store.import_accounts(people, ORGS)
    moscow = ZoneInfo("Europe/Moscow")
    plan = [
        ("a1", ISSUER, "s-1", LinkMethod.AUTO, T0, "10.0.0.1"),
        ("a2", ISSUER, "s-1", LinkMethod.CHOSEN, T0.astimezone(moscow), None),
        ("a3", ISSUER, "s-1", LinkMethod.LOCAL_LOGIN, T0 + timedelta(days=40), "::1"),
        ("a4", ISSUER, "s-2", LinkMethod.SETTINGS, T0.replace(microsecond=0), None),
        ("a5", OTHER, "s-1", LinkMethod.ADMIN, T0, "192.0.2.7"),
        ("a1", OTHER, "s-9", LinkMethod.ADMIN, T0, None),
    ]
    for account_id, issuer, subject, method, at, ip in plan:
        link = Link(issuer, subject, account_id, method, at, "admin:test", ip)
        event = AuditEvent(AuditAction.LINK, at, "admin:test", method, issuer, subject)
        assert store.create_link(link, event)[1]
    return [(ISSUER, "s-1"), (ISSUER, "s-2"), (OTHER, "s-1"), (OTHER, "s-9"), (ISSUER, "none")]


def test_the_link_lookup_and_the_linked_accounts_match_sqlalchemy(store: SqlStore) -> None:
    asked = _linked_region(store)
    for issuer, subject in asked:
        fast = store.links_for_subject(issuer, subject)
        assert fast == _links_through_sqlalchemy(store, issuer, subject)
        assert [link.created_at.tzinfo for link in fast] == [UTC] * len(fast)
        found = store.linked_accounts(issuer, subject)
        assert found == _accounts_through_sqlalchemy(store, issuer, subject)
        assert [a.account_id for a in found] == [link.account_id for link in fast]
    assert [a.account_id for a in store.linked_accounts(ISSUER, "s-1")] == ["a1", "a2", "a3"]
    assert store.links_for_subject(ISSUER, "none") == []


def _events(n: int) -> list[AuditEvent]:
    moscow = ZoneInfo("Europe/Moscow")
    return [
        AuditEvent(
            AuditAction.LOGIN if i % 2 else AuditAction.SESSION_START,
            (T0 + timedelta(seconds=i, microseconds=i)).astimezone(moscow),
            "web",
            LinkMethod.AUTO if i % 3 == 0 else None,
            ISSUER,
            str(10**9 + i),
            f"a{i % 4}",
            "10.1.2.3" if i % 2 else None,
            code="login.ok" if i % 5 == 0 else None,
            detail=f"detail {i} ёжик",
            user_agent="Mozilla/5.0",
        )
        for i in range(n)
    ]


def test_driver_appends_read_back_as_stored_and_verify(store: SqlStore) -> None:
    events = _events(12)
    stored = [store.record(events[0]), *store.record_many(events[1:5])]
    stored += store.record_many(events[5:])
    assert store.record_many([]) == []
    assert [e.event_id for e in stored] == sorted({e.event_id for e in stored})
    # read back through SQLAlchemy: the same events, times in UTC, hashes as returned
    assert store.events() == stored
    assert all(e.at.tzinfo is UTC and e.chain_hash for e in stored)
    assert [e.at for e in stored] == [e.at.astimezone(UTC) for e in events]
    report = verify_log(store)
    assert report.ok and report.checked == len(events), report.problems


def test_a_driver_append_stores_the_time_as_sqlalchemy_does(sqlite_store: SqlStore) -> None:
    store = sqlite_store
    event = _events(1)[0]
    stored = store.record(event)
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(audit).values(
                event_id=stored.event_id + 100, at=stored.at, action="login", actor="web"
            )
        )
        raw = conn.exec_driver_sql("SELECT at FROM audit ORDER BY event_id").scalars().all()
    assert raw[0] == raw[1]


def test_a_link_and_its_record_are_one_transaction(store: SqlStore) -> None:
    store.import_accounts([make_account("a1")], ORGS)
    link = Link(ISSUER, "s-1", "a1", LinkMethod.ADMIN, T0, "admin:test")
    bad = AuditEvent(AuditAction.LINK, T0.replace(tzinfo=None), "admin:test")
    with pytest.raises(AuditInputError):
        store.create_link(link, bad)
    assert store.links_for_subject(ISSUER, "s-1") == []
    assert store.events() == []
    good = AuditEvent(AuditAction.LINK, T0, "admin:test", LinkMethod.ADMIN, ISSUER, "s-1")
    assert store.create_link(link, good)[1]
    with pytest.raises(AuditInputError):
        store.remove_link(ISSUER, "s-1", "a1", bad)
    assert store.links_for_subject(ISSUER, "s-1") == [link]
    assert [e.action for e in store.events()] == [AuditAction.LINK]
    assert verify_log(store).ok


def test_in_memory_sqlite_uses_the_same_paths() -> None:
    store = open_store("sqlite://", KEY)
    try:
        asked = _linked_region(store)
        for issuer, subject in asked:
            assert store.links_for_subject(issuer, subject) == _links_through_sqlalchemy(
                store, issuer, subject
            )
            assert store.linked_accounts(issuer, subject) == _accounts_through_sqlalchemy(
                store, issuer, subject
            )
        stored = store.record_many(_events(3))
        assert store.events()[-3:] == stored
        assert verify_log(store).ok
    finally:
        store.close()
