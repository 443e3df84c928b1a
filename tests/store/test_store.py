"""The storage contract, run against SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.errors import AccountNotFound, ConfigError, LinkConflict, LinkNotFound, StoreError
from sso_bridge.matching.keys import MatchKeys
from sso_bridge.model import (
    AccountStatus,
    AuditAction,
    AuditEvent,
    Link,
    LinkMethod,
    Organisation,
)
from sso_bridge.store.sql import SqlStore, open_store

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SNILS = "112-233-445 95"


def link(account_id: str, subject: str = "s1", issuer: str = ISSUER) -> Link:
    return Link(issuer, subject, account_id, LinkMethod.ADMIN, NOW, "admin:test", "10.1.2.3")


def event(
    account_id: str, subject: str = "s1", action: AuditAction = AuditAction.LINK
) -> AuditEvent:
    return AuditEvent(
        action, NOW, "admin:test", LinkMethod.ADMIN, ISSUER, subject, account_id, "10.1.2.3"
    )


def test_import_then_read_back(store: SqlStore) -> None:
    acc = make_account("a1", login="m.s", roles=("teacher", "staff"), snils=SNILS)
    assert store.import_accounts([acc]) == 1
    got = store.get_account("a1")
    assert got is not None
    assert got.roles == ("teacher", "staff")
    assert got.snils is None  # only its keyed hash is kept
    assert got == make_account("a1", login="m.s", roles=("teacher", "staff"))
    entry = store.get_entry("a1")
    assert entry is not None
    assert entry.organisation == ORGS[0]
    assert entry.keys.snils == store.blind_index.snils("11223344595")
    assert store.count_accounts() == 1
    assert store.get_account("missing") is None


def test_reimport_updates_by_account_id(store: SqlStore) -> None:
    store.import_accounts([make_account("a1", snils=SNILS)])
    store.import_accounts(
        [
            make_account(
                "a1", "sch2", last_name="Иванова", birth_date=None, status=AccountStatus.BLOCKED
            )
        ]
    )
    got = store.get_entry("a1")
    assert got is not None
    assert got.account.last_name == "Иванова"
    assert got.account.org_id == "sch2"
    assert got.account.status is AccountStatus.BLOCKED
    assert got.keys.snils is None
    assert got.keys.birth_date is None
    assert store.count_accounts() == 1


def test_import_is_all_or_nothing(store: SqlStore) -> None:
    with pytest.raises(StoreError) as exc:
        store.import_accounts([make_account("a1"), make_account("a2", "nowhere")])
    assert exc.value.code == "store.unknown_organization"
    assert store.count_accounts() == 0


def test_organisation_names_update(store: SqlStore) -> None:
    store.import_accounts([], [Organisation("sch1", "Школа № 1 им. Пушкина")])
    assert store.get_organisation("sch1") == Organisation("sch1", "Школа № 1 им. Пушкина")
    assert store.get_organisation("nope") is None


def test_list_accounts_pages_and_filters(store: SqlStore) -> None:
    store.import_accounts([make_account(f"a{i}", "sch1" if i % 2 else "sch2") for i in range(10)])
    assert [a.account_id for a in store.list_accounts(limit=3)] == ["a0", "a1", "a2"]
    assert [a.account_id for a in store.list_accounts(limit=3, offset=8)] == ["a8", "a9"]
    assert {a.org_id for a in store.list_accounts(org_id="sch2")} == {"sch2"}


def test_find_accounts_by_each_key(store: SqlStore) -> None:
    store.import_accounts(
        [
            make_account("byname"),
            make_account("bysnils", last_name="Другая", birth_date=None, snils=SNILS),
            make_account("bypass", last_name="Другая", birth_date=None, passport="4506123456"),
            make_account("none", birth_date=date(2000, 1, 1)),
        ]
    )
    probe = MatchKeys(
        last="смирнова",
        first="мария",
        middle=None,
        birth_date=date(1984, 3, 12),
        snils=store.blind_index.snils("11223344595"),
        passport=store.blind_index.passport("4506123456"),
    )
    found = {e.account.account_id for e in store.find_accounts(probe, ISSUER)}
    assert found == {"byname", "bysnils", "bypass"}


def test_links_are_unique_per_account_and_issuer(store: SqlStore) -> None:
    store.import_accounts([make_account("a1"), make_account("a2")])
    made, created = store.create_link(link("a1"), event("a1"))
    assert created
    assert made == link("a1")
    again, created = store.create_link(link("a1"), event("a1"))
    assert not created
    assert again == link("a1")
    with pytest.raises(LinkConflict):
        store.create_link(link("a1", subject="s2"), event("a1", "s2"))
    # the same account may link to a subject of another issuer
    store.create_link(link("a1", issuer="https://other/"), event("a1"))
    # one subject may link to many accounts
    store.create_link(link("a2"), event("a2"))
    assert {x.account_id for x in store.links_for_subject(ISSUER, "s1")} == {"a1", "a2"}
    assert {x.issuer for x in store.links_for_account("a1")} == {ISSUER, "https://other/"}
    assert len(store.list_links(subject="s1")) == 3
    # only actual changes are in the trail: three links made
    assert [e.action for e in store.tail(10)] == [AuditAction.LINK] * 3


def test_link_needs_an_existing_account(store: SqlStore) -> None:
    with pytest.raises(AccountNotFound):
        store.create_link(link("ghost"), event("ghost"))
    assert store.list_links() == []
    assert store.tail() == []


def test_remove_link(store: SqlStore) -> None:
    store.import_accounts([make_account("a1")])
    store.create_link(link("a1"), event("a1"))
    removed = store.remove_link(ISSUER, "s1", "a1", event("a1", action=AuditAction.UNLINK))
    assert removed.account_id == "a1"
    assert store.list_links() == []
    with pytest.raises(LinkNotFound):
        store.remove_link(ISSUER, "s1", "a1", event("a1", action=AuditAction.UNLINK))
    assert [e.action for e in store.tail()] == [AuditAction.LINK, AuditAction.UNLINK]


def test_audit_round_trip_and_tail_order(store: SqlStore) -> None:
    for i in range(5):
        store.record(AuditEvent(AuditAction.LINK_REFUSED, NOW, f"actor{i}", code="x.y"))
    tail = store.tail(3)
    assert [e.actor for e in tail] == ["actor2", "actor3", "actor4"]
    assert tail[0].at == NOW
    assert tail[0].event_id is not None
    assert tail[0].event_id < tail[1].event_id  # type: ignore[operator]


def test_schema_survives_reopen(db_url: str) -> None:
    s = open_store(db_url, KEY)
    s.import_accounts([make_account("a1")], ORGS)
    s.close()
    s = open_store(db_url, KEY)
    assert s.get_account("a1") is not None
    s.close()


def test_a_different_key_is_refused(db_url: str) -> None:
    open_store(db_url, KEY).close()
    with pytest.raises(StoreError) as exc:
        open_store(db_url, bytes(32))
    assert exc.value.code == "store.key_mismatch"


def test_a_newer_schema_is_refused(db_url: str) -> None:
    s = open_store(db_url, KEY)
    with s.engine.begin() as conn:
        conn.execute(sa.text("UPDATE sso_meta SET value = '999' WHERE name = 'schema_version'"))
    s.close()
    with pytest.raises(StoreError) as exc:
        open_store(db_url, KEY)
    assert exc.value.code == "store.schema_too_new"


def test_snils_and_passport_never_stored_in_clear(sqlite_url: str, tmp_path: Path) -> None:
    s = open_store(sqlite_url, KEY)
    s.import_accounts([make_account("a1", snils=SNILS, passport="4506 123456")], ORGS)
    s.record(AuditEvent(AuditAction.LINK, NOW, "x"))
    s.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("bridge.db"))
    assert raw  # the database files are there
    for secret in ("11223344595", "112-233-445 95", "4506123456", "4506 123456"):
        assert secret.encode() not in raw


def test_personal_numbers_stay_out_of_repr() -> None:
    acc = make_account("a1", snils=SNILS, passport="4506 123456")
    assert "445" not in repr(acc)
    assert "4506" not in repr(acc)


def test_bad_database_url() -> None:
    with pytest.raises(ConfigError) as exc:
        open_store("mysql://x/y", KEY)
    assert exc.value.code == "config.bad_db_url"
    with pytest.raises(ConfigError):
        open_store("not a url", KEY)


def test_unreachable_database() -> None:
    with pytest.raises(StoreError) as exc:
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", KEY)
    assert exc.value.code == "store.unavailable"


def test_name_keys_are_rebuilt_when_the_name_rules_change(db_url: str) -> None:
    s = open_store(db_url, KEY)
    s.import_accounts([make_account("a1")], ORGS)
    with s.engine.begin() as conn:
        conn.execute(sa.text("UPDATE accounts SET name_key = 42"))
        conn.execute(sa.text("UPDATE sso_meta SET value = '0' WHERE name = 'name_rules'"))
    s.close()
    s = open_store(db_url, KEY)
    entry = s.get_entry("a1")
    assert entry is not None
    found = s.find_accounts(entry.keys, ISSUER)
    assert [e.account.account_id for e in found] == ["a1"]
    s.close()


def test_find_by_login_is_exact_and_within_the_organisation(store: SqlStore) -> None:
    store.import_accounts(
        [
            make_account("a1", "sch1", login="m.smirnova"),
            make_account("a2", "sch2", login="m.smirnova"),
            make_account("a3", "sch1", login="p.petrov"),
        ]
    )
    found = store.find_by_login("sch1", "m.smirnova")
    assert found is not None
    assert found.account_id == "a1"
    other = store.find_by_login("sch2", "m.smirnova")
    assert other is not None
    assert other.account_id == "a2"
    assert store.find_by_login("sch3", "m.smirnova") is None
    assert store.find_by_login("sch1", "M.Smirnova") is None
    assert store.find_by_login("sch1", "m.smirnov") is None
    assert store.find_by_login("sch1", "m.smirnova%") is None


def test_find_by_login_refuses_an_ambiguous_login(store: SqlStore) -> None:
    store.import_accounts([make_account("a1", login="shared"), make_account("a2", login="shared")])
    assert store.find_by_login("sch1", "shared") is None
