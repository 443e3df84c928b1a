"""Commitments and purging on the SQL trail (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest
import sqlalchemy as sa

from helpers.accounts import KEY, ORGS
from sso_bridge.audit import GENESIS, MISMATCH, chain_hash, prepare, verify_log
from sso_bridge.audit.retention import purge
from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditAction, AuditEvent
from sso_bridge.store.sql import SqlStore, open_store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=730)
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def person(i: int, at: datetime = OLD, action: AuditAction = AuditAction.LOGIN) -> AuditEvent:
    return AuditEvent(
        action,
        at + timedelta(seconds=i),
        f"login:pupil{i}",
        issuer="https://esia.example/",
        subject=f"subject-{i:06d}",
        account_id=f"acc-{i:06d}",
        ip=f"10.{i % 200}.{i % 7}.{i % 250}",
        user_agent=UA,
        detail=f"Ivanova Maria {i}",
        code="ok",
    )


@pytest.fixture
def trail(db_url: str) -> Iterator[SqlStore]:
    store = open_store(db_url, KEY)
    store.import_accounts([], ORGS)
    store.root_interval = None
    yield store
    store.close()


def _exec(store: SqlStore, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def _problem_records(store: SqlStore) -> list[int | None]:
    report = verify_log(store)
    assert not report.ok
    return [p.record for p in report.problems]


def test_a_purged_chain_of_10000_verifies_and_later_tampering_is_found(trail: SqlStore) -> None:
    actions = (AuditAction.LOGIN, AuditAction.SECURITY)
    stored: list[AuditEvent] = []
    for start in range(0, 10_000, 1000):
        batch = [person(i, action=actions[i % 2]) for i in range(start, start + 1000)]
        stored.extend(trail.record_many(batch))
    report = purge(trail, now=NOW, apply=True)
    # logins lose everything personal; security records keep who for three years
    assert report.records == 10_000
    assert report.fields["ip"] == 10_000
    assert report.fields["subject"] == 5_000
    after = verify_log(trail)
    assert after.ok, after.problems
    assert after.checked == 10_001  # and the purge record
    with trail.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_id, chain, commitments FROM audit")).all()
    chain_of = {int(r[0]): int(r[1]) for r in rows}
    purged_commitments = {int(r[0]): str(r[2]) for r in rows}
    chain = chain_of[int(stored[5000].event_id or 0)]
    a, b, c = [e for e in stored if chain_of[int(e.event_id or 0)] == chain][10:13]
    assert a.event_id and b.event_id and c.event_id

    # an edit of a non-personal field after the purge
    _exec(trail, "UPDATE audit SET code = 'forged' WHERE event_id = :i", i=b.event_id)
    assert _problem_records(trail) == [b.event_id]
    _exec(trail, "UPDATE audit SET code = 'ok' WHERE event_id = :i", i=b.event_id)
    # an edit of a commitment
    _exec(
        trail,
        "UPDATE audit SET commitments = replace(commitments, substr(commitments, 1, 4), 'AAAA') "
        "WHERE event_id = :i",
        i=b.event_id,
    )
    assert _problem_records(trail) == [b.event_id]
    _exec(
        trail,
        "UPDATE audit SET commitments = :c WHERE event_id = :i",
        c=purged_commitments[b.event_id],
        i=b.event_id,
    )
    # a removal (each check below names one record only: the previous change was undone)
    with trail.engine.begin() as conn:
        saved = dict(
            conn.execute(sa.text("SELECT * FROM audit WHERE event_id = :i"), {"i": b.event_id})
            .mappings()
            .one()
        )
        conn.execute(sa.text("DELETE FROM audit WHERE event_id = :i"), {"i": b.event_id})
    assert _problem_records(trail) == [c.event_id]
    with trail.engine.begin() as conn:
        names = ", ".join(saved)
        marks = ", ".join(f":{k}" for k in saved)
        conn.execute(sa.text(f"INSERT INTO audit ({names}) VALUES ({marks})"), saved)
    # a reordering: two neighbours swap places
    _exec(trail, "UPDATE audit SET event_id = -1 WHERE event_id = :i", i=a.event_id)
    _exec(trail, "UPDATE audit SET event_id = :a WHERE event_id = :b", a=a.event_id, b=b.event_id)
    _exec(trail, "UPDATE audit SET event_id = :b WHERE event_id = -1", b=b.event_id)
    assert _problem_records(trail) == [a.event_id]


def test_a_purged_row_holds_no_value_and_no_nonce(trail: SqlStore) -> None:
    kept = trail.record(person(1, at=NOW - timedelta(days=1)))
    gone = trail.record(person(2))
    purge(trail, now=NOW, apply=True)
    with trail.engine.connect() as conn:
        rows = {r["event_id"]: r for r in conn.execute(sa.text("SELECT * FROM audit")).mappings()}
    text = " ".join(str(v) for v in rows[gone.event_id].values())
    for value in ("pupil2", "subject-000002", "acc-000002", "10.2.2.2", "Firefox", "Ivanova"):
        assert value not in text
    assert rows[gone.event_id]["ip"] is None and rows[gone.event_id]["actor"] == ""
    assert "." not in rows[gone.event_id]["commitments"]  # the nonces went with the values
    assert rows[kept.event_id]["subject"] == "subject-000001"
    (event,) = trail.records_of(subjects=[("https://esia.example/", "subject-000001")])
    assert event.event_id == kept.event_id and event.purged == frozenset()
    purged = next(e for e in trail.events() if e.event_id == gone.event_id)
    assert purged.purged == frozenset(AUDIT_PERSONAL_FIELDS)
    assert verify_log(trail).ok


def test_a_dry_run_changes_nothing_and_purge_is_idempotent(trail: SqlStore) -> None:
    trail.record_many([person(i) for i in range(20)])
    with trail.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT * FROM audit ORDER BY event_id")).all()
    dry = purge(trail, now=NOW)
    assert dry.records == 20 and not dry.applied and dry.event_id is None
    with trail.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT * FROM audit ORDER BY event_id")).all() == before
    done = purge(trail, now=NOW, apply=True)
    assert done.records == 20 and done.event_id is not None
    again = purge(trail, now=NOW, apply=True)
    assert again.records == 0 and again.values == 0
    assert verify_log(trail).ok
    assert [e.action for e in trail.tail(2)] == [AuditAction.PURGE, AuditAction.PURGE]


def test_erase_values_keeps_the_chain_and_other_people(trail: SqlStore) -> None:
    trail.record_many([person(i, at=NOW) for i in range(6)])
    changed = trail.erase_values(
        account_ids=["acc-000001"], subjects=[("https://esia.example/", "subject-000003")]
    )
    assert changed == 2
    assert trail.records_of(account_ids=["acc-000001"]) == []
    left = {e.account_id for e in trail.events()}
    assert left == {None, "acc-000000", "acc-000002", "acc-000004", "acc-000005"}
    assert trail.erase_values(account_ids=["acc-000001"]) == 0
    assert verify_log(trail).ok
    # a value put back into an erased record is found
    erased = next(e for e in trail.events() if e.account_id is None)
    _exec(trail, "UPDATE audit SET ip = '10.1.1.1' WHERE event_id = :i", i=erased.event_id)
    assert _problem_records(trail) == [erased.event_id]


def test_an_edited_value_is_found_by_its_commitment(trail: SqlStore) -> None:
    records = trail.record_many([person(i, at=NOW) for i in range(3)])
    target = records[1].event_id
    _exec(trail, "UPDATE audit SET subject = 'someone-else' WHERE event_id = :i", i=target)
    report = verify_log(trail)
    assert [(p.record, p.reason) for p in report.problems] == [(target, MISMATCH)]


def _old_chain(n: int) -> list[AuditEvent]:
    events, previous = [], GENESIS
    for i in range(n):
        event = attrs.evolve(prepare(person(i)), event_id=i + 1)
        previous = chain_hash(previous, event)
        events.append(attrs.evolve(event, chain_hash=previous))
    return events


def test_an_old_format_chain_verifies_after_the_migration(db_url: str) -> None:
    open_store(db_url, KEY).close()
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    old = _old_chain(5)
    with engine.begin() as conn:  # the database as revision 0004 left it, with a trail
        conn.exec_driver_sql("ALTER TABLE audit DROP COLUMN commitments")
        conn.exec_driver_sql("UPDATE sso_alembic_version SET version_num = '0004'")
        columns = (
            "event_id",
            "at",
            "action",
            *AUDIT_PERSONAL_FIELDS,
            "code",
            "issuer",
            "chain_hash",
        )
        names, marks = ", ".join(columns), ", ".join(f":{c}" for c in columns)
        insert = sa.text(f"INSERT INTO audit ({names}) VALUES ({marks})").bindparams(
            sa.bindparam("at", type_=sa.DateTime(timezone=True))
        )
        for e in old:
            conn.execute(
                insert, {c: str(getattr(e, c)) if c == "action" else getattr(e, c) for c in columns}
            )
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "UPDATE audit_heads SET head_id = 5, records = 5, hash = :h WHERE chain = 0"
                ),
                {"h": old[-1].chain_hash},
            )
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('audit', 'event_id'), 5)")
    engine.dispose()
    store = open_store(db_url, KEY)
    try:
        store.root_interval = None
        assert verify_log(store).ok
        assert all(e.commitments is None for e in store.events())
        store.record(person(9))
        report = purge(store, now=NOW, apply=True)
        assert report.unpurgeable == 5 and report.records == 1
        result = verify_log(store)
        assert result.ok and result.checked == 7
    finally:
        store.close()
