"""The audit trail on SQL: chained appends, reads and the upgrade of an unchained table.

:class:`SqlAuditTrail` works on connections it is handed; :class:`SqlAuditLog`, the
:class:`~sso_bridge.audit.ports.AuditLog` part of :class:`~sso_bridge.store.sql.SqlStore`,
owns the transactions.
Appends are serialised so that the chain follows ``event_id`` order: PostgreSQL takes a
transaction-scoped advisory lock before reading the last record; SQLite writers already
hold the database's write lock (``BEGIN IMMEDIATE``). Under that lock the next record is
numbered ``last + 1`` and inserted with its hash in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sso_bridge.audit.chain import GENESIS, chain_hash
from sso_bridge.audit.redact import LIMITS, check_since, prepare
from sso_bridge.model import AuditAction, AuditEvent, LinkMethod
from sso_bridge.store.sql_engine import SqlBase

__all__ = ["AUDIT_LOCK", "SqlAuditLog", "SqlAuditTrail"]

AUDIT_LOCK = 7261532
"""The PostgreSQL advisory lock key held while a record is appended."""

_UPGRADE_BATCH = 1000


def _enum(kind: type[StrEnum], value: Any) -> Any:
    # A value outside the enum can only come from an edited row: keep it as it is, so
    # that verification names the record instead of failing to read it.
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        return value


def _time(value: Any) -> Any:
    parsed = value
    if isinstance(value, str):  # SQLite keeps times as text
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(parsed, datetime):
        return value
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _event(row: RowMapping) -> AuditEvent:
    return AuditEvent(
        action=_enum(AuditAction, row["action"]),
        at=_time(row["at"]),
        actor=row["actor"],
        method=_enum(LinkMethod, row["method"]),
        issuer=row["issuer"],
        subject=row["subject"],
        account_id=row["account_id"],
        ip=row["ip"],
        code=row["code"],
        detail=row["detail"],
        user_agent=row["user_agent"],
        event_id=row["event_id"],
        chain_hash=row["chain_hash"],
    )


def _values(event: AuditEvent) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(event, name) for name in LIMITS}
    values["at"] = event.at
    values["action"] = None if event.action is None else str.__str__(event.action)
    values["method"] = None if event.method is None else str.__str__(event.method)
    return values


class SqlAuditTrail:
    """Reads and writes ``table`` (the ``audit`` table) on connections it is handed."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        t = table
        # the time is read as the driver gives it, so that an edited, unreadable time
        # reaches verification instead of failing the read
        raw_at = sa.type_coerce(t.c.at, sa.Text).label("at")
        self._select = sa.select(*(c for c in t.c if c.name != "at"), raw_at)
        # built once: a statement made per call costs more than the SQLite work it asks for
        self._last = sa.select(t.c.event_id, t.c.chain_hash).order_by(t.c.event_id.desc()).limit(1)
        self._insert = sa.insert(t)
        self._lock = sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK))

    def append(self, conn: Connection, event: AuditEvent) -> AuditEvent:
        """Insert ``event`` (see :func:`~sso_bridge.audit.redact.prepare`), chained."""
        return self.append_many(conn, (event,))[0]

    def append_many(self, conn: Connection, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        """Insert ``events`` in order, chained, with one read of the chain's head.

        Each record is numbered and hashed before the ``INSERT``: the log needs no
        ``UPDATE`` or ``DELETE`` right on the table.
        """
        if conn.dialect.name == "postgresql":
            conn.execute(self._lock)
        last = conn.execute(self._last).first()
        event_id, previous = (0, GENESIS) if last is None else (int(last[0]), last[1] or GENESIS)
        stored_events: list[AuditEvent] = []
        rows: list[dict[str, Any]] = []
        for event in events:
            event_id += 1
            stored = attrs.evolve(prepare(event), event_id=event_id)
            previous = chain_hash(previous, stored)
            stored = attrs.evolve(stored, chain_hash=previous)
            values = _values(stored)
            values.update(event_id=event_id, chain_hash=previous)
            stored_events.append(stored)
            rows.append(values)
        if rows:
            conn.execute(self._insert, rows)
        return stored_events

    def tail(
        self,
        conn: Connection,
        limit: int,
        account_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEvent]:
        """The newest ``limit`` events that match, oldest first."""
        t = self.table
        since = check_since(since)
        query = self._select.order_by(t.c.event_id.desc()).limit(max(limit, 0))
        if account_id is not None:
            query = query.where(t.c.account_id == account_id)
        if since is not None:
            query = query.where(t.c.at >= since)
        rows = conn.execute(query).mappings().all()
        return [_event(r) for r in reversed(rows)]

    def events(self, conn: Connection, after_id: int, limit: int) -> list[AuditEvent]:
        """Up to ``limit`` events with ids above ``after_id``, ascending."""
        t = self.table
        query = (
            self._select.where(t.c.event_id > after_id).order_by(t.c.event_id).limit(max(limit, 0))
        )
        return [_event(r) for r in conn.execute(query).mappings()]

    def upgrade(self, conn: Connection) -> None:
        """Bring an older ``audit`` table up to date and chain its rows.

        Adds the missing columns and indexes, gives every row its stored form (detail
        redacted) and chains them all in ``event_id`` order. Run inside the migration's
        transaction.
        """
        t = self.table
        present = {c["name"] for c in sa.inspect(conn).get_columns(t.name)}
        for column in t.c:
            if column.name not in present:
                kind = column.type.compile(dialect=conn.dialect)
                conn.exec_driver_sql(f"ALTER TABLE {t.name} ADD COLUMN {column.name} {kind}")
        for index in t.indexes:
            index.create(conn, checkfirst=True)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK)))
        self._chain_all(conn)

    def _chain_all(self, conn: Connection) -> None:
        t = self.table
        fields = [*LIMITS, "chain_hash"]
        update = (
            sa.update(t)
            .where(t.c.event_id == sa.bindparam("b_event_id"))
            .values({name: sa.bindparam(f"b_{name}") for name in fields})
        )
        previous, after = GENESIS, 0
        while page := self.events(conn, after, _UPGRADE_BATCH):
            batch: list[dict[str, Any]] = []
            for old in page:
                event = attrs.evolve(prepare(old), event_id=old.event_id)
                previous = chain_hash(previous, event)
                event = attrs.evolve(event, chain_hash=previous)
                row = {f"b_{name}": getattr(event, name) for name in fields}
                batch.append({**row, "b_event_id": event.event_id})
            conn.execute(update, batch)
            after = int(page[-1].event_id or 0)


class SqlAuditLog(SqlBase):
    """The audit log of :class:`~sso_bridge.store.sql.SqlStore`."""

    _audit: SqlAuditTrail

    def _record(self, conn: Connection, event: AuditEvent) -> AuditEvent:
        return self._audit.append(conn, event)

    def record(self, event: AuditEvent) -> AuditEvent:
        with self._write() as conn:
            return self._record(conn, event)

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        with self._write() as conn:
            return self._audit.append_many(conn, events)

    def tail(
        self,
        limit: int = 20,
        *,
        account_id: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEvent]:
        with self.engine.connect() as conn:
            return self._audit.tail(conn, limit, account_id, since)

    def events(self, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]:
        with self.engine.connect() as conn:
            return self._audit.events(conn, after_id, limit)
