"""The audit trail on SQL: chained appends, reads, roots and the upgrades of the table.

:class:`SqlAuditTrail` works on connections it is handed; :class:`SqlAuditLog`,
the :class:`~sso_bridge.audit.ports.AuditLog` part of
:class:`~sso_bridge.store.sql.SqlStore`, owns the transactions (:mod:`.sql_audit_log`,
re-exported here).

PostgreSQL keeps :data:`CHAINS` chains; each connection leases one and appends to it
with one statement (:mod:`.sql_audit_pg`), so appends on different connections never
wait for each other. SQLite keeps one chain (chain 0): its
writers already hold the database's write lock (``BEGIN IMMEDIATE``), under which the
next record is numbered ``last + 1``. Appends run on the driver connection
(:mod:`.sql_driver`): the log's own on one checked out of the engine's pool, a link's in
the link's transaction. Roots (:mod:`sso_bridge.audit.roots`) are written
by :meth:`SqlAuditTrail.write_root`; :mod:`.sql_audit_upgrade` upgrades older tables.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sso_bridge.audit.chain import GENESIS
from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.audit.redact import LIMITS, check_since, prepare
from sso_bridge.audit.roots import AuditRoot, next_root
from sso_bridge.model import AuditEvent
from sso_bridge.store.sql_audit_log import ROOT_INTERVAL, SqlAuditLog
from sso_bridge.store.sql_audit_pg import PostgresAppender
from sso_bridge.store.sql_audit_purge import records_query, store_purged
from sso_bridge.store.sql_audit_rows import chained_rows, event_of_row, root_of_row
from sso_bridge.store.sql_schema import audit_heads, audit_roots

__all__ = ["CHAINS", "ROOT_INTERVAL", "ROOT_LOCK", "SqlAuditLog", "SqlAuditTrail"]

CHAINS = 256
"""How many chains a new PostgreSQL trail gets (one row each in ``audit_heads``)."""

ROOT_LOCK = 7261532
"""The PostgreSQL advisory lock key held while a root is written (once the lock of the
single chain)."""

_SQLITE_COLUMNS = ("event_id", "at", "action", *LIMITS, "method", "chain_hash", "commitments")


def _sqlite_time(at: datetime) -> str:
    # the text SQLAlchemy's SQLite DateTime stores (the time is already UTC)
    return (
        f"{at.year:04d}-{at.month:02d}-{at.day:02d} "
        f"{at.hour:02d}:{at.minute:02d}:{at.second:02d}.{at.microsecond:06d}"
    )


class SqlAuditTrail:
    """Reads and writes ``table`` (the ``audit`` table), its chains' heads and its roots,
    on connections it is handed."""

    def __init__(
        self, table: sa.Table, heads: sa.Table = audit_heads, roots: sa.Table = audit_roots
    ) -> None:
        self.table, self.heads, self.roots = table, heads, roots
        t = table
        # the time is read as the driver gives it, so that an edited, unreadable time
        # reaches verification instead of failing the read
        raw_at = sa.type_coerce(t.c.at, sa.Text).label("at")
        self._select = sa.select(*(c for c in t.c if c.name != "at"), raw_at)
        # built once: a statement made per call costs more than the SQLite work it asks for
        self._last = sa.select(t.c.event_id, t.c.chain_hash).order_by(t.c.event_id.desc()).limit(1)
        self._last_sql = f"SELECT event_id, chain_hash FROM {t.name} ORDER BY event_id DESC LIMIT 1"  # noqa: S608
        marks = ", ".join("?" * len(_SQLITE_COLUMNS))
        self._insert_sql = f"INSERT INTO {t.name} ({', '.join(_SQLITE_COLUMNS)}) VALUES ({marks})"  # noqa: S608
        self._postgres = PostgresAppender(table, heads)

    # -- appending --------------------------------------------------------------------

    def append(
        self, conn: Connection, event: AuditEvent, key: CommitmentKey | None = None
    ) -> AuditEvent:
        """Insert ``event`` (see :func:`~sso_bridge.audit.redact.prepare`), chained."""
        return self.append_many(conn, (event,), key)[0]

    def append_many(
        self, conn: Connection, events: Sequence[AuditEvent], key: CommitmentKey | None = None
    ) -> list[AuditEvent]:
        """Insert ``events`` in order, chained, into one chain, in ``conn``'s transaction.

        With ``key``, each record commits to its personal fields and is chained over the
        commitments (:mod:`sso_bridge.audit.commit`); without, over its values.

        Each record is numbered and hashed before the ``INSERT``: the log needs no
        ``UPDATE`` or ``DELETE`` right on the table. One append per transaction: two in
        one transaction may claim two chains, and a transaction doing the same in the
        other order would wait for it.
        """
        pooled = conn.connection
        postgres = conn.dialect.name == "postgresql"
        return self.append_on(
            pooled.driver_connection, pooled.info, events, postgres=postgres, key=key
        )

    def append_on(
        self,
        driver: Any,
        info: dict[Any, Any],
        events: Sequence[AuditEvent],
        *,
        postgres: bool,
        key: CommitmentKey | None = None,
    ) -> list[AuditEvent]:
        """:meth:`append_many` on a driver connection (``info``: its pool record's).

        On SQLite the connection must be in a write transaction; on PostgreSQL it may be
        in autocommit (see :mod:`.sql_audit_pg`).
        """
        if not events:
            return []
        prepared = [prepare(event, key) for event in events]
        if postgres:
            return self._postgres.append(driver, info, prepared)
        last = driver.execute(self._last_sql).fetchone()
        event_id, previous = (0, GENESIS) if last is None else (int(last[0]), last[1] or GENESIS)
        ids = list(range(event_id + 1, event_id + 1 + len(prepared)))
        stored, rows = chained_rows(prepared, ids, previous)
        for row in rows:
            row["at"] = _sqlite_time(row["at"])
        driver.executemany(self._insert_sql, [[r[c] for c in _SQLITE_COLUMNS] for r in rows])
        return stored

    # -- roots ------------------------------------------------------------------------

    def write_root(
        self, conn: Connection, at: datetime, older_than: timedelta | None = None
    ) -> AuditRoot | None:
        """Write a root over the chains' current heads, in ``conn``'s transaction.

        With ``older_than``, only when the newest root is at least that old and no other
        writer is writing one (``None`` is returned otherwise).
        """
        pg = conn.dialect.name == "postgresql"
        if pg:
            if older_than is None:
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ROOT_LOCK)))
            elif not conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(ROOT_LOCK))):
                return None
        newest = self.read_roots(conn, None, 1)
        last = newest[0] if newest else None
        if older_than is not None and last is not None and last.at > at - older_than:
            return None
        if pg:
            h = self.heads
            query = sa.select(h.c.chain, h.c.head_id, h.c.hash).where(h.c.head_id.is_not(None))
            heads = [(int(c), int(i), str(x)) for c, i, x in conn.execute(query)]
        else:
            top = conn.execute(self._last).first()
            heads = [] if top is None else [(0, int(top[0]), str(top[1]))]
        root = next_root(last, at.astimezone(UTC), heads)
        heads_json = json.dumps([[c, i] for c, i in sorted(root.heads.items())])
        conn.execute(
            sa.insert(self.roots).values(
                root_id=root.root_id,
                at=root.at,
                heads=heads_json,
                merkle=root.merkle,
                root_hash=root.root_hash,
            )
        )
        return root

    def read_roots(self, conn: Connection, after_id: int | None, limit: int) -> list[AuditRoot]:
        """Roots with ids above ``after_id``, ascending (``None``: the newest ``limit``)."""
        r = self.roots
        query = sa.select(
            r.c.root_id, sa.type_coerce(r.c.at, sa.Text), r.c.heads, r.c.merkle, r.c.root_hash
        )
        if after_id is None:
            query = query.order_by(r.c.root_id.desc())
        else:
            query = query.where(r.c.root_id > after_id).order_by(r.c.root_id)
        rows = conn.execute(query.limit(max(limit, 0))).all()
        found = [root_of_row(*row) for row in rows]
        return found if after_id is not None else found[::-1]

    # -- reading ----------------------------------------------------------------------

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
        return [event_of_row(r) for r in reversed(rows)]

    def events(
        self, conn: Connection, after_id: int, limit: int, chain: int | None = None
    ) -> list[AuditEvent]:
        """Up to ``limit`` events with ids above ``after_id`` (of ``chain``), ascending."""
        t = self.table
        query = self._select.where(t.c.event_id > after_id)
        if chain is not None:
            query = query.where(t.c.chain == chain)
        query = query.order_by(t.c.event_id).limit(max(limit, 0))
        return [event_of_row(r) for r in conn.execute(query).mappings()]

    def records_of(
        self,
        conn: Connection,
        account_ids: Collection[str],
        subjects: Collection[tuple[str, str]],
        limit: int,
        after_id: int = 0,
    ) -> list[AuditEvent]:
        """Up to ``limit`` records with ids above ``after_id`` that name one of
        ``account_ids`` or (issuer, subject) ``subjects``, ascending."""
        query = records_query(self.table, self._select, account_ids, subjects, after_id)
        if query is None or limit <= 0:
            return []
        return [event_of_row(r) for r in conn.execute(query.limit(limit)).mappings()]

    def store_purged(self, conn: Connection, events: Sequence[AuditEvent]) -> int:
        """Write the personal values and commitments of ``events`` over their rows, each
        only where the row still has the event's ``chain_hash``."""
        return store_purged(conn, self.table, events)

    def chains(self, conn: Connection) -> list[int]:
        """Every chain that holds records (an index walk, not a scan) or has a head."""
        t = self.table.name
        walk = sa.text(
            f"WITH RECURSIVE c(chain) AS (SELECT min(chain) FROM {t} UNION ALL "  # noqa: S608
            f"SELECT (SELECT min(chain) FROM {t} WHERE chain > c.chain) FROM c "
            "WHERE c.chain IS NOT NULL) SELECT chain FROM c WHERE chain IS NOT NULL"
        )
        found = {int(c) for (c,) in conn.execute(walk)}
        return sorted(found | set(self.head_rows(conn)))

    def head_rows(self, conn: Connection) -> dict[int, tuple[int, str]]:
        """``audit_heads``: each chain's last record and its hash (PostgreSQL)."""
        h = self.heads
        query = sa.select(h.c.chain, h.c.head_id, h.c.hash).where(h.c.head_id.is_not(None))
        return {int(c): (int(i), str(x)) for c, i, x in conn.execute(query)}
