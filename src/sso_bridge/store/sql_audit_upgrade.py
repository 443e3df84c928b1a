"""Upgrading the audit tables: unchained rows chained (schema 1), one chain split into
several (schema 3), without touching the hash of any chained record."""

from __future__ import annotations

from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from sso_bridge.audit.chain import GENESIS, chain_genesis, chain_hash
from sso_bridge.audit.redact import LIMITS, prepare
from sso_bridge.store.sql_audit import CHAINS, ROOT_LOCK, SqlAuditTrail

__all__ = ["upgrade_audit"]

_BATCH = 1000


def upgrade_audit(conn: Connection, trail: SqlAuditTrail, from_version: int) -> None:
    """Bring older audit tables up to date, in the migration's transaction.

    Adds the missing columns and indexes. Rows from before the chain (schema 1) get
    their stored form (detail redacted) and are chained in ``event_id`` order; a chained
    trail (schema 2) is left as it is and becomes chain 0, whose genesis is the old one.
    On PostgreSQL ids become 64-bit, the id sequence moves past the last record and every
    chain gets its head row, chain 0's at the old trail's last record.
    """
    t = trail.table
    present = {c["name"] for c in sa.inspect(conn).get_columns(t.name)}
    for column in t.c:
        if column.name not in present:
            kind = column.type.compile(dialect=conn.dialect)
            extra = " NOT NULL DEFAULT 0" if column.name == "chain" else ""
            conn.exec_driver_sql(f"ALTER TABLE {t.name} ADD COLUMN {column.name} {kind}{extra}")
    for index in t.indexes:
        index.create(conn, checkfirst=True)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ROOT_LOCK)))
    if from_version < 2:
        _chain_all(conn, trail)
    if postgres:
        _upgrade_postgres(conn, trail)


def _upgrade_postgres(conn: Connection, trail: SqlAuditTrail) -> None:
    t = trail.table
    conn.exec_driver_sql(f"ALTER TABLE {t.name} ALTER COLUMN event_id TYPE bigint")
    sequence = conn.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'event_id')"), {"t": t.name})
    conn.exec_driver_sql(f"ALTER SEQUENCE {sequence} AS bigint")
    last = conn.execute(
        sa.select(t.c.event_id, t.c.chain_hash).order_by(t.c.event_id.desc()).limit(1)
    ).first()
    if last is not None:
        conn.execute(sa.select(sa.func.setval(sequence, int(last[0]))))
    count = conn.scalar(sa.select(sa.func.count()).select_from(t))
    rows: list[dict[str, Any]] = [
        {"chain": c, "records": 0, "head_id": None, "hash": chain_genesis(c)} for c in range(CHAINS)
    ]
    if last is not None:
        rows[0].update(records=count, head_id=int(last[0]), hash=last[1] or GENESIS)
    stmt = postgresql.insert(trail.heads).values(rows)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["chain"]))


def _chain_all(conn: Connection, trail: SqlAuditTrail) -> None:
    t = trail.table
    fields = [*LIMITS, "chain_hash"]
    update = (
        sa.update(t)
        .where(t.c.event_id == sa.bindparam("b_event_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in fields})
    )
    previous, after = GENESIS, 0
    while page := trail.events(conn, after, _BATCH):
        batch: list[dict[str, Any]] = []
        for old in page:
            event = attrs.evolve(prepare(old), event_id=old.event_id)
            previous = chain_hash(previous, event)
            event = attrs.evolve(event, chain_hash=previous)
            row = {f"b_{name}": getattr(event, name) for name in fields}
            batch.append({**row, "b_event_id": event.event_id})
        conn.execute(update, batch)
        after = int(page[-1].event_id or 0)
