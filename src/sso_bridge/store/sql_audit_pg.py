"""Appending to the audit chains on PostgreSQL: one statement per append, no waiting.

Each database connection leases a chain of its own for as long as it lives (a
session-level advisory lock, :data:`CHAIN_LOCK` + the chain's number, released by
PostgreSQL when the connection ends) and keeps that chain's head and a small block of
record ids in the connection's ``info``. An append then hashes its records after the
cached head and sends one statement: update the chain's row of ``audit_heads`` *only if
it still holds the cached head*, and insert the records only if it did. A stale head (a
transaction rolled back after its append, or another writer on the chain) inserts
nothing; the head is read again and the append retried.

A connection that finds no chain free (more connections than chains) appends to a chain
chosen at random the slower way: it claims the head row (``UPDATE … RETURNING``, a row
lock to the end of the transaction) and draws fresh ids under that lock.

Every statement goes straight to the driver connection, prepared. Called on a
connection in autocommit (the log's own appends), each leased append is one statement,
atomic by itself; a claimed one runs in a transaction of its own. Called on a connection
in a transaction (a link and its record), it joins that transaction.

Ids come from the table's sequence: a chain's records are in ``event_id`` order because
its writer draws ever larger ids. A block is at most :data:`ID_BLOCK` ids and is dropped
after :data:`ID_BLOCK_SECONDS`, so that ids across chains stay in time order to within
that, and so is dropped when the chain's head has moved past it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

import attrs
import psycopg
import sqlalchemy as sa

from sso_bridge.audit.redact import LIMITS
from sso_bridge.errors import StoreError
from sso_bridge.model import AuditEvent
from sso_bridge.store.sql_audit_rows import chained_rows

__all__ = ["CHAIN_LOCK", "ID_BLOCK", "ID_BLOCK_SECONDS", "LEASE_INFO", "PostgresAppender"]

CHAIN_LOCK = 726_150_000
"""Session advisory lock keys ``CHAIN_LOCK + chain`` mark the chains leased by connections."""

ID_BLOCK = 32
ID_BLOCK_SECONDS = 1.0
_LEASE_TRIES = 8
_RETRIES = 5
LEASE_INFO = "sso_bridge.audit_lease"
"""The key of a connection's lease in its ``info`` (``None``: it holds none)."""
_COLUMNS = ("event_id", "chain", "at", "action", *LIMITS, "method", "chain_hash", "commitments")
# the text columns are bound as text; the rest are cast where VALUES cannot infer them
_CASTS = {"event_id": "::bigint", "chain": "::integer", "at": "::timestamptz"}


@attrs.define
class _Lease:
    chain: int
    head_id: int | None
    head: str
    ids: list[int]
    ids_at: float


class PostgresAppender:
    """Appends prepared events to the chains of ``table`` whose heads are in ``heads``."""

    def __init__(self, table: sa.Table, heads: sa.Table) -> None:
        self.table, self.heads = table, heads
        self._chain_count: int | None = None
        self._sequence: str | None = None
        self._lease_sql: dict[int, str] = {}
        self._claim_sql: dict[int, str] = {}
        self._head_sql = f"SELECT head_id, hash FROM {heads.name} WHERE chain = %s"  # noqa: S608

    def append(
        self, conn: psycopg.Connection[Any], info: dict[Any, Any], events: Sequence[AuditEvent]
    ) -> list[AuditEvent]:
        """Number, chain and insert ``events`` (already prepared) on the driver connection
        ``conn``, whose pool record's ``info`` holds its lease."""
        if LEASE_INFO not in info:
            info[LEASE_INFO] = self._take_lease(conn)
        lease: _Lease | None = info[LEASE_INFO]
        if lease is None:  # every chain is leased: claim one for this transaction
            if conn.autocommit:
                with conn.transaction():
                    return self._append_claimed(conn, events)
            return self._append_claimed(conn, events)
        for _ in range(_RETRIES):
            stored = self._append_leased(conn, lease, events)
            if stored is not None:
                return stored
            self._read_head(conn, lease)
        raise StoreError(f"audit chain {lease.chain} kept moving", code="store.write_failed")

    # -- the leased chain -------------------------------------------------------------

    def _take_lease(self, conn: psycopg.Connection[Any]) -> _Lease | None:
        count = self._count(conn)
        for _ in range(_LEASE_TRIES):
            chain = secrets.randbelow(count)
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (CHAIN_LOCK + chain,))
            taken = row.fetchone()
            if taken is not None and taken[0]:
                lease = _Lease(chain, None, "", [], 0.0)
                self._read_head(conn, lease)
                return lease
        return None

    def _read_head(self, conn: psycopg.Connection[Any], lease: _Lease) -> None:
        row = conn.execute(self._head_sql, (lease.chain,), prepare=True).fetchone()
        if row is None:
            raise StoreError(f"audit chain {lease.chain} has no head row", code="store.error")
        lease.head_id, lease.head = (None if row[0] is None else int(row[0])), str(row[1])

    def _ids(self, conn: psycopg.Connection[Any], lease: _Lease, count: int) -> list[int]:
        now = time.monotonic()
        stale = now - lease.ids_at > ID_BLOCK_SECONDS
        behind = bool(lease.ids) and lease.head_id is not None and lease.ids[0] <= lease.head_id
        if len(lease.ids) < count or stale or behind:
            block = f"SELECT nextval('{self._seq(conn)}') FROM generate_series(1, %s)"  # noqa: S608
            rows = conn.execute(block, (max(count, ID_BLOCK),), prepare=True).fetchall()
            lease.ids = sorted(int(r[0]) for r in rows)
            lease.ids_at = now
        taken, lease.ids = lease.ids[:count], lease.ids[count:]
        return taken

    def _append_leased(
        self, conn: psycopg.Connection[Any], lease: _Lease, events: Sequence[AuditEvent]
    ) -> list[AuditEvent] | None:
        ids = self._ids(conn, lease, len(events))
        stored, rows = chained_rows(events, ids, lease.head)
        new_id, new_head = ids[-1], stored[-1].chain_hash
        params: list[Any] = [len(events), new_id, new_head, lease.chain, lease.head]
        for row in rows:
            row["chain"] = lease.chain
            params.extend(row[c] for c in _COLUMNS)
        sql = self._lease_statement(len(events))
        if conn.execute(sql, params, prepare=True).rowcount != len(events):
            return None
        lease.head_id, lease.head = new_id, str(new_head)
        return stored

    def _lease_statement(self, count: int) -> str:
        sql = self._lease_sql.get(count)
        if sql is None:
            row = "(" + ", ".join(f"%s{_CASTS.get(c, '::text')}" for c in _COLUMNS) + ")"
            sql = self._lease_sql[count] = (
                f"WITH h AS (UPDATE {self.heads.name} SET records = records + %s, "  # noqa: S608
                "head_id = %s, hash = %s WHERE chain = %s AND hash = %s RETURNING 1) "
                f"INSERT INTO {self.table.name} ({', '.join(_COLUMNS)}) "
                f"SELECT v.* FROM (VALUES {', '.join([row] * count)}) AS v "
                "WHERE EXISTS (SELECT 1 FROM h)"
            )
        return sql

    # -- a chain claimed for one transaction ------------------------------------------

    def _append_claimed(
        self, conn: psycopg.Connection[Any], events: Sequence[AuditEvent]
    ) -> list[AuditEvent]:
        chain = secrets.randbelow(self._count(conn))
        n = len(events)
        # The row lock of the chain's head is held to the end of the transaction; ids
        # drawn under it (in RETURNING, after the lock) keep the chain in event_id order.
        claim = (
            f"UPDATE {self.heads.name} SET records = records + %s WHERE chain = %s "  # noqa: S608
            f"RETURNING hash, ARRAY(SELECT nextval('{self._seq(conn)}') "
            "FROM generate_series(1, %s))"
        )
        head = conn.execute(claim, (n, chain, n), prepare=True).fetchone()
        if head is None:
            raise StoreError(f"audit chain {chain} has no head row", code="store.error")
        stored, rows = chained_rows(events, sorted(head[1]), head[0])
        params: list[Any] = []
        for row in rows:
            row["chain"] = chain
            params.extend(row[c] for c in _COLUMNS)
        last = (stored[-1].event_id, stored[-1].chain_hash, chain)
        conn.execute(self._claim_statement(n), (*params, *last), prepare=True)
        return stored

    def _claim_statement(self, count: int) -> str:
        sql = self._claim_sql.get(count)
        if sql is None:
            row = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
            sql = self._claim_sql[count] = (
                f"WITH ins AS (INSERT INTO {self.table.name} ({', '.join(_COLUMNS)}) "  # noqa: S608
                f"VALUES {', '.join([row] * count)}) "
                f"UPDATE {self.heads.name} SET head_id = %s, hash = %s WHERE chain = %s"
            )
        return sql

    # -- the database's settings ------------------------------------------------------

    def _count(self, conn: psycopg.Connection[Any]) -> int:
        if self._chain_count is None:
            row = conn.execute(f"SELECT count(*) FROM {self.heads.name}").fetchone()  # noqa: S608
            if row is None or not row[0]:
                raise StoreError("the audit trail has no chains", code="store.error")
            self._chain_count = int(row[0])
        return self._chain_count

    def _seq(self, conn: psycopg.Connection[Any]) -> str:
        if self._sequence is None:
            row = conn.execute(
                "SELECT pg_get_serial_sequence(%s, 'event_id')", (self.table.name,)
            ).fetchone()
            self._sequence = str(None if row is None else row[0])
        return self._sequence
