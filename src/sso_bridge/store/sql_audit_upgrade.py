"""The data steps of the audit trail's schema revisions (:mod:`.migrations`): unchained
rows chained (schema 1 to 2), one chain split into several (schema 2 to 3), without
touching the hash of any chained record.

The revisions describe the table as it was at their schema, so these steps work on
those descriptions, never on the current :data:`~.sql_schema.audit`.
"""

from __future__ import annotations

from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from sso_bridge.audit.chain import GENESIS, chain_genesis, chain_hash
from sso_bridge.audit.redact import LIMITS, prepare
from sso_bridge.store.sql_audit import CHAINS, ROOT_LOCK
from sso_bridge.store.sql_audit_rows import event_of_row

__all__ = ["audit_at_schema_2", "chain_all", "genesis_heads", "split_chains"]

_BATCH = 1000


def audit_at_schema_2(metadata: sa.MetaData | None = None) -> sa.Table:
    """The ``audit`` table as schema 2 left it (its records in one chain)."""
    return sa.Table(
        "audit",
        metadata or sa.MetaData(),
        sa.Column("event_id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("method", sa.String(16)),
        sa.Column("issuer", sa.String(512)),
        sa.Column("subject", sa.String(512)),
        sa.Column("account_id", sa.String(128)),
        sa.Column("ip", sa.String(64)),
        sa.Column("code", sa.String(64)),
        sa.Column("detail", sa.Text),
        sa.Column("user_agent", sa.Text),
        sa.Column("chain_hash", sa.String(64)),
    )


def chain_all(conn: Connection, table: sa.Table) -> int:
    """Chain every record of ``table`` (schema 2's audit) in ``event_id`` order.

    Records from before the chain get their stored form (detail redacted, text cut) and
    the hash over it. Returns how many were chained.
    """
    # the time is read as text, as verification reads it, so that both hash the same
    raw_at = sa.type_coerce(table.c.at, sa.Text).label("at")
    select = sa.select(*(c for c in table.c if c.name != "at"), raw_at)
    fields = [*LIMITS, "chain_hash"]
    update = (
        sa.update(table)
        .where(table.c.event_id == sa.bindparam("b_event_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in fields})
    )
    previous, after, done = GENESIS, 0, 0
    while True:
        query = select.where(table.c.event_id > after).order_by(table.c.event_id).limit(_BATCH)
        page = [event_of_row(row) for row in conn.execute(query).mappings()]
        if not page:
            return done
        batch: list[dict[str, Any]] = []
        for old in page:
            event = attrs.evolve(prepare(old), event_id=old.event_id)
            previous = chain_hash(previous, event)
            event = attrs.evolve(event, chain_hash=previous)
            row = {f"b_{name}": getattr(event, name) for name in fields}
            batch.append({**row, "b_event_id": event.event_id})
        conn.execute(update, batch)
        after = int(page[-1].event_id or 0)
        done += len(page)


def genesis_heads() -> list[dict[str, Any]]:
    """The rows of ``audit_heads`` for an empty trail: every chain at its genesis."""
    return [
        {"chain": c, "records": 0, "head_id": None, "hash": chain_genesis(c)} for c in range(CHAINS)
    ]


def split_chains(conn: Connection, table: sa.Table, heads: sa.Table) -> None:
    """PostgreSQL: give every chain its head row, chain 0's at the old trail's last record,
    and move the id sequence past that record (schema 2 numbered records itself)."""
    # the lock that appends of the single-chain release held while writing
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ROOT_LOCK)))
    sequence = conn.scalar(
        sa.text("SELECT pg_get_serial_sequence(:t, 'event_id')"), {"t": table.name}
    )
    last = conn.execute(
        sa.select(table.c.event_id, table.c.chain_hash).order_by(table.c.event_id.desc()).limit(1)
    ).first()
    if last is not None:
        conn.execute(sa.select(sa.func.setval(sequence, int(last[0]))))
    count = conn.scalar(sa.select(sa.func.count()).select_from(table))
    rows = genesis_heads()
    if last is not None:
        rows[0].update(records=count, head_id=int(last[0]), hash=last[1] or GENESIS)
    stmt = postgresql.insert(heads).values(rows)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["chain"]))
