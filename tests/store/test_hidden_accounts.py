"""The accounts a person asked not to be offered at login: stored per (issuer, subject,
account), each change one transaction with its audit record, on every backend; a database
of schema 3 gets the table when it is opened."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.errors import AccountNotFound
from sso_bridge.linking import HiddenAccounts
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.store.sql import SCHEMA_VERSION, SqlStore, open_store

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def event(action: AuditAction, account_id: str, subject: str = "s1") -> AuditEvent:
    return AuditEvent(action, NOW, "broker", issuer=ISSUER, subject=subject, account_id=account_id)


def hide(store: SqlStore, account_id: str, subject: str = "s1") -> bool:
    return store.hide_account(
        ISSUER, subject, account_id, event(AuditAction.ACCOUNT_HIDDEN, account_id, subject)
    )


def show(store: SqlStore, account_id: str, subject: str = "s1") -> bool:
    return store.show_account(
        ISSUER, subject, account_id, event(AuditAction.ACCOUNT_SHOWN, account_id, subject)
    )


def test_hide_and_show_again_each_audited_once(store: SqlStore) -> None:
    assert isinstance(store, HiddenAccounts)
    store.import_accounts([make_account("a1"), make_account("a2")], ORGS)
    assert store.hidden_accounts(ISSUER, "s1") == frozenset()
    assert hide(store, "a1")
    assert not hide(store, "a1")  # hidden already: nothing written
    assert hide(store, "a2", subject="s2")  # per subject
    assert store.hidden_accounts(ISSUER, "s1") == {"a1"}
    assert store.hidden_accounts(ISSUER, "s2") == {"a2"}
    assert store.hidden_accounts("https://other.example/", "s1") == frozenset()
    assert show(store, "a1")
    assert not show(store, "a1")
    assert store.hidden_accounts(ISSUER, "s1") == frozenset()
    records = [(e.action, e.account_id) for e in store.tail(10)]
    assert records == [
        (AuditAction.ACCOUNT_HIDDEN, "a1"),
        (AuditAction.ACCOUNT_HIDDEN, "a2"),
        (AuditAction.ACCOUNT_SHOWN, "a1"),
    ]


def test_an_unknown_account_cannot_be_hidden(store: SqlStore) -> None:
    with pytest.raises(AccountNotFound):
        hide(store, "nobody")
    assert store.tail(5) == []


def test_the_in_memory_database_reads_them_without_the_fast_reader() -> None:
    store = open_store("sqlite://", KEY)
    try:
        store.import_accounts([make_account("a1")], ORGS)
        assert hide(store, "a1")
        assert store.hidden_accounts(ISSUER, "s1") == {"a1"}
    finally:
        store.close()


def test_a_schema_3_database_gets_the_table(sqlite_url: str) -> None:
    store = open_store(sqlite_url, KEY)
    store.import_accounts([make_account("a1")], ORGS)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE hidden_accounts")
        conn.exec_driver_sql("UPDATE sso_alembic_version SET version_num = '0003'")
    store.close()
    store = open_store(sqlite_url, KEY)
    try:
        with store.engine.connect() as conn:
            version = conn.execute(
                sa.text("SELECT value FROM sso_meta WHERE name = 'schema_version'")
            ).scalar()
        assert version == str(SCHEMA_VERSION) == "3"  # revision 0004 only adds a table
        assert hide(store, "a1")
        assert store.get_account("a1") is not None
    finally:
        store.close()
