"""The driver-level read path of SqlStore gives what the SQLAlchemy statement gives."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpers.accounts import ISSUER, KEY, make_account
from helpers.clock import NOW
from mock_idp import region as synthetic
from sso_bridge.importing import import_accounts_csv
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.matching import Matcher, decide
from sso_bridge.matching.decide import AccountEntry
from sso_bridge.matching.keys import MatchKeys, account_keys, identity_keys
from sso_bridge.matching.normalize import snils_check_digits
from sso_bridge.model import (
    AccountStatus,
    AuditAction,
    AuditEvent,
    Link,
    LinkMethod,
    LocalAccount,
    Organisation,
    Outcome,
)
from sso_bridge.store import sql_match
from sso_bridge.store.sql import SqlStore, open_store
from sso_bridge.store.sql import accounts as accounts_table
from sso_bridge.store.sql_match import EntryReader

LAST = ("Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Ёлкина")
FIRST = ("Анна", "Иван", "Мария", "Пётр", "Ольга")
MIDDLE = ("Петровна", "Иванович", None, "Сергеевна")
ORGS = tuple(Organisation(f"org{i}", f"Школа № {i}") for i in range(5))


def _snils(rng: random.Random) -> str:
    head = f"{rng.randrange(2_000_000, 999_999_999):09d}"
    return head + f"{snils_check_digits(head):02d}"


def _region(rng: random.Random, count: int) -> list[LocalAccount]:
    """Namesakes, shared SNILS and passports, blocked accounts, missing keys."""
    snils_pool = [_snils(rng) for _ in range(count // 3)]
    passport_pool = [f"{rng.randrange(10**10):010d}" for _ in range(count // 3)]
    births = [date(1970, 1, 1) + timedelta(days=rng.randrange(40)) for _ in range(8)]
    accounts = []
    for i in range(count):
        accounts.append(
            LocalAccount(
                account_id=f"a{i}",
                org_id=rng.choice(ORGS).org_id,
                last_name=rng.choice(LAST),
                first_name=rng.choice(FIRST),
                middle_name=rng.choice(MIDDLE),
                login=f"u{i}" if rng.random() < 0.8 else None,
                roles=rng.sample(("student", "teacher", "parent"), rng.randrange(3)),
                birth_date=rng.choice(births) if rng.random() < 0.9 else None,
                snils=rng.choice(snils_pool) if rng.random() < 0.6 else None,
                passport=rng.choice(passport_pool) if rng.random() < 0.4 else None,
                status=AccountStatus.BLOCKED if rng.random() < 0.1 else AccountStatus.ACTIVE,
            )
        )
    return accounts


def _link(account_id: str, subject: str, issuer: str = ISSUER) -> tuple[Link, AuditEvent]:
    link = Link(issuer, subject, account_id, LinkMethod.ADMIN, NOW, "admin:test")
    event = AuditEvent(AuditAction.LINK, NOW, "admin:test", LinkMethod.ADMIN, issuer, subject)
    return link, event


def _probes(rng: random.Random, store: SqlStore, region: list[LocalAccount]) -> list[MatchKeys]:
    probes = []
    for _ in range(2000):
        keys = account_keys(rng.choice(region), store.blind_index)
        mix = rng.choice(region)
        other = account_keys(mix, store.blind_index)
        probes.append(
            MatchKeys(
                last=keys.last,
                first=keys.first,
                middle=keys.middle,
                birth_date=rng.choice((keys.birth_date, other.birth_date, None)),
                snils=rng.choice((keys.snils, other.snils, None)),
                passport=rng.choice((keys.passport, other.passport, None)),
            )
        )
    probes.append(MatchKeys("нет", "никого", None, None, None, None))
    return probes


def _ordered(entries: list[AccountEntry]) -> list[AccountEntry]:
    return sorted(entries, key=lambda e: e.account.account_id)


@pytest.fixture
def region_store(db_url: str) -> Iterator[SqlStore]:
    store = open_store(db_url, KEY)
    yield store
    store.close()


def _reader(store: SqlStore) -> EntryReader:
    reader = store._reader
    assert reader is not None, "the fast path is not in use"
    return reader


def test_find_accounts_agrees_with_the_sqlalchemy_statement(region_store: SqlStore) -> None:
    store = region_store
    rng = random.Random(20240601)  # noqa: S311 - a reproducible region, not a secret
    region = _region(rng, 1500)
    store.import_accounts(region, ORGS)
    for account in rng.sample(region, 150):
        store.create_link(*_link(account.account_id, f"s-{account.account_id}"))
    for account in rng.sample(region, 50):
        store.create_link(*_link(account.account_id, "x", issuer="https://other.example/"))
    _reader(store)
    found_any = 0
    for issuer in (ISSUER, "https://other.example/"):
        for keys in _probes(rng, store, region):
            fast = _ordered(store.find_accounts(keys, issuer))
            assert fast == _ordered(store._find_accounts_sqlalchemy(keys, issuer))
            found_any += bool(fast)
    assert found_any > 2000
    keyed = [a for a in region if a.birth_date or a.snils or a.passport]
    for account in rng.sample(keyed, 100):
        entry = store.get_entry(account.account_id, ISSUER)
        assert entry is not None
        assert [entry] == [
            e
            for e in store._find_accounts_sqlalchemy(
                account_keys(account, store.blind_index), ISSUER
            )
            if e.account.account_id == account.account_id
        ]
    assert store.get_entry("absent", ISSUER) is None


SCAN_SQL = """
SELECT a.*, o.name AS org_name, l.subject AS linked
FROM accounts AS a NOT INDEXED
CROSS JOIN organizations AS o
LEFT JOIN links AS l ON l.account_id = a.account_id AND l.issuer = :issuer
WHERE o.org_id = a.org_id
  AND (a.name_key = :name_key OR a.snils_hash = :snils OR a.passport_hash = :passport)
"""


def _scan(store: SqlStore, keys: MatchKeys, issuer: str) -> list[AccountEntry]:
    """The accounts sharing a key, from a full scan of the table (no index used)."""
    query = (
        sa.text(SCAN_SQL)
        .bindparams(
            sa.bindparam("snils", type_=sa.LargeBinary),
            sa.bindparam("passport", type_=sa.LargeBinary),
        )
        .columns(*accounts_table.c, sa.column("org_name", sa.Text), sa.column("linked"))
    )
    params = {
        "name_key": keys.name_key,
        "snils": keys.snils,
        "passport": keys.passport,
        "issuer": issuer,
    }
    with store.engine.connect() as conn:
        rows = conn.execute(query, params).mappings().all()
    return [SqlStore.entry_from_row(r) for r in rows]


def test_a_synthetic_region_gets_the_same_answers_as_a_full_scan(
    sqlite_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20240601)  # noqa: S311 - a reproducible region, not a secret
    csv_path = tmp_path / "region.csv"
    directory = synthetic.generate_directory(rng, 3000, csv_path)
    store = open_store(sqlite_url, KEY)
    try:
        assert import_accounts_csv(store, csv_path).imported == 3000
        people = directory.people
        linker, ctx = Linker(store, store, store), RequestContext("test:setup")
        for person in rng.sample(people, 40):
            person.subject = str(rng.randrange(1_000_000_000, 9_999_999_999))
            for account_id in person.accounts:
                linker.link_admin(synthetic.ISSUER, person.subject, account_id, ctx)
        factory = synthetic.PersonFactory.outside(rng, people)
        queries = synthetic.QueryFactory(rng, people, factory).build(300)
        _reader(store)
        matcher = Matcher(store)
        found_any, outcomes = 0, set[Outcome]()
        for query in queries:
            identity = query.identity
            keys, warnings = identity_keys(identity, store.blind_index)
            fast = _ordered(store.find_accounts(keys, identity.issuer))
            assert fast == _ordered(store._find_accounts_sqlalchemy(keys, identity.issuer))
            scanned = _scan(store, keys, identity.issuer)
            assert fast == _ordered(scanned), query.kind
            decision = matcher.match(identity)
            assert decision == decide(identity, keys, scanned, warnings), query.kind
            found_any += bool(fast)
            outcomes.add(decision.outcome)
        assert found_any > 250
        assert outcomes == set(Outcome)
    finally:
        store.close()


def test_a_write_is_seen_by_the_next_find(region_store: SqlStore) -> None:
    store = region_store
    store.import_accounts([make_account("first", "org1")], ORGS)
    keys = account_keys(make_account("probe"), store.blind_index)
    assert [e.account.account_id for e in store.find_accounts(keys, ISSUER)] == ["first"]
    store.import_accounts([make_account("second", "org2")])
    store.create_link(*_link("first", "subj"))
    found = {e.account.account_id: e.linked_subject for e in store.find_accounts(keys, ISSUER)}
    assert found == {"first": "subj", "second": None}
    entry = store.get_entry("first", ISSUER)
    assert entry is not None and entry.linked_subject == "subj"


def test_in_memory_sqlite_reads_on_the_driver_too() -> None:
    store = open_store("sqlite://", KEY)
    try:
        _reader(store)
        store.import_accounts([make_account("m", "org1")], ORGS)
        keys = account_keys(make_account("probe"), store.blind_index)
        assert [e.account.account_id for e in store.find_accounts(keys, ISSUER)] == ["m"]
        assert store._find_accounts_sqlalchemy(keys, ISSUER) == store.find_accounts(keys, ISSUER)
    finally:
        store.close()


def test_the_value_caches_stay_bounded_and_change_no_answer(
    region_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_match, "_CACHE_LIMIT", 3)
    for name in ("_NAMES", "_DATES", "_ROLES", "_ORGS"):
        monkeypatch.setattr(sql_match, name, {})
    store = region_store
    rng = random.Random(7)  # noqa: S311 - a reproducible region, not a secret
    region = _region(rng, 300)
    store.import_accounts(region, ORGS)
    _reader(store)
    for keys in _probes(rng, store, region)[:300]:
        fast = _ordered(store.find_accounts(keys, ISSUER))
        assert fast == _ordered(store._find_accounts_sqlalchemy(keys, ISSUER))
        for table in (sql_match._NAMES, sql_match._DATES, sql_match._ROLES, sql_match._ORGS):
            assert len(table) <= 3
