"""The statements that find one person's audit records and purge personal values
(:mod:`sso_bridge.audit.retention`, ``erase_values``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditEvent

__all__ = ["records_query", "store_purged"]


def records_query(
    table: sa.Table,
    select: sa.Select[tuple[object, ...]],
    account_ids: Collection[str],
    subjects: Collection[tuple[str, str]],
    after_id: int,
) -> sa.Select[tuple[object, ...]] | None:
    """``select`` of the records with ids above ``after_id`` that name one of
    ``account_ids`` or (issuer, subject) ``subjects``, by id; ``None`` when none is named."""
    t = table
    named: list[sa.ColumnElement[bool]] = []
    if account_ids:
        named.append(t.c.account_id.in_(sorted(set(account_ids))))
    named.extend(sa.and_(t.c.issuer == i, t.c.subject == s) for i, s in sorted(set(subjects)))
    if not named:
        return None
    return select.where(t.c.event_id > after_id, sa.or_(*named)).order_by(t.c.event_id)


@cache
def _update(table: sa.Table) -> sa.Update:
    fields = [*AUDIT_PERSONAL_FIELDS, "commitments"]
    return (
        sa.update(table)
        .where(table.c.event_id == sa.bindparam("b_event_id"))
        .where(table.c.chain_hash == sa.bindparam("b_chain_hash"))
        .values({name: sa.bindparam(f"b_{name}") for name in fields})
    )


def store_purged(conn: Connection, table: sa.Table, events: Sequence[AuditEvent]) -> int:
    """Write the personal values and commitments of ``events`` over their rows of
    ``table`` in one statement, each only where the row still has the event's
    ``chain_hash``; the number of rows changed."""
    rows = [
        {
            **{f"b_{name}": getattr(e, name) for name in AUDIT_PERSONAL_FIELDS},
            "b_commitments": e.commitments,
            "b_event_id": e.event_id,
            "b_chain_hash": e.chain_hash,
        }
        for e in events
        if e.event_id is not None and e.commitments is not None
    ]
    if not rows:
        return 0
    return int(conn.execute(_update(table), rows).rowcount)
