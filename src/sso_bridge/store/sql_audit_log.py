"""The audit log of :class:`~sso_bridge.store.sql.SqlStore` on :class:`.SqlAuditTrail`:
its transactions, the roots appends write on their way, erasure and verification."""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sso_bridge.audit.chain import ChainReport
from sso_bridge.audit.commit import CommitmentKey
from sso_bridge.audit.roots import AuditRoot
from sso_bridge.audit.trail import ChainStart, check_chains
from sso_bridge.errors import StoreError
from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditEvent
from sso_bridge.store.sql_audit_verify import verify_in_processes
from sso_bridge.store.sql_driver import PooledDriver
from sso_bridge.store.sql_engine import SqlBase

if TYPE_CHECKING:
    from sso_bridge.store.sql_audit import SqlAuditTrail

__all__ = ["ROOT_INTERVAL", "SqlAuditLog"]

ROOT_INTERVAL = 60.0
"""Seconds between the roots that appends write on their way (:class:`SqlAuditLog`)."""

_ERASE_BATCH = 1000


class SqlAuditLog(SqlBase):
    """The audit log of :class:`~sso_bridge.store.sql.SqlStore`, also a
    :class:`~sso_bridge.audit.trail.ChainedTrail`.

    Every ``root_interval`` seconds (``None``: never) an append also writes a root, in a
    transaction of its own, when no process has written one for that long. Verifying
    ``parallel_from`` records or more on PostgreSQL spreads the chains over
    ``verify_workers`` processes (``None``: one per CPU).
    """

    _audit: SqlAuditTrail
    root_interval: float | None = ROOT_INTERVAL
    verify_workers: int | None = None
    parallel_from: int = 200_000
    _next_root: float | None = None

    def _record(self, conn: Connection, event: AuditEvent) -> AuditEvent:
        return self._audit.append(conn, event, self.commitment_key)

    @cached_property
    def commitment_key(self) -> CommitmentKey:
        """The key of the trail's commitments, derived from the blind-index key."""
        return CommitmentKey.derive(self._blind_index.derive_key("audit commitments"))

    @cached_property
    def _driver(self) -> PooledDriver:
        return PooledDriver(self.engine)

    def record(self, event: AuditEvent) -> AuditEvent:
        return self.record_many((event,))[0]

    def record_many(self, events: Sequence[AuditEvent]) -> list[AuditEvent]:
        driver = self._driver
        # PostgreSQL: in autocommit, a leased append is one statement; SQLite: one
        # transaction holding the write lock
        use = driver.connection if driver.postgres else driver.transaction
        with use() as pooled:
            stored = self._audit.append_on(
                pooled.driver_connection,
                pooled.info,
                events,
                postgres=driver.postgres,
                key=self.commitment_key,
            )
        self._root_when_due()
        return stored

    def seal(self) -> AuditRoot:
        """Write a root over the heads of every chain now, and return it."""
        with self._write() as conn:
            root = self._audit.write_root(conn, datetime.now(UTC))
        if root is None:  # pragma: no cover - written unconditionally
            raise StoreError("no root was written", code="store.error")
        return root

    def _root_when_due(self) -> None:
        if self.root_interval is None:
            return
        now = time.monotonic()
        if self._next_root is None or now < self._next_root:
            if self._next_root is None:
                self._next_root = now + self.root_interval
            return
        self._next_root = now + self.root_interval
        try:
            with self._write() as conn:
                every = timedelta(seconds=self.root_interval)
                self._audit.write_root(conn, datetime.now(UTC), every)
        except StoreError:
            pass  # the records are stored; the next interval writes the root

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

    def records_of(
        self,
        *,
        account_ids: Collection[str] = (),
        subjects: Collection[tuple[str, str]] = (),
        limit: int = 10_000,
    ) -> list[AuditEvent]:
        with self.engine.connect() as conn:
            return self._audit.records_of(conn, account_ids, subjects, limit)

    def erase_values(
        self,
        *,
        account_ids: Collection[str] = (),
        subjects: Collection[tuple[str, str]] = (),
    ) -> int:
        key, after, changed = self.commitment_key, 0, 0
        while True:
            with self._write() as conn:
                page = self._audit.records_of(conn, account_ids, subjects, _ERASE_BATCH, after)
                erased = [key.purge(e, AUDIT_PERSONAL_FIELDS) for e in page]
                changed += self._audit.store_purged(
                    conn, [new for new, old in zip(erased, page, strict=True) if new is not old]
                )
            if len(page) < _ERASE_BATCH:
                return changed
            after = int(page[-1].event_id or 0)

    def store_purged(self, events: Sequence[AuditEvent]) -> int:
        with self._write() as conn:
            return self._audit.store_purged(conn, events)

    def audit_chains(self) -> list[int]:
        with self.engine.connect() as conn:
            return self._audit.chains(conn)

    def chain_events(self, chain: int, after_id: int = 0, limit: int = 1000) -> list[AuditEvent]:
        with self.engine.connect() as conn:
            return self._audit.events(conn, after_id, limit, chain)

    def audit_roots(self, after_id: int = 0, limit: int = 1000) -> list[AuditRoot]:
        with self.engine.connect() as conn:
            return self._audit.read_roots(conn, after_id, limit)

    def audit_heads(self) -> dict[int, tuple[int, str]]:
        with self.engine.connect() as conn:
            return self._audit.head_rows(conn)

    def verify_chains(self, plan: Sequence[ChainStart], batch: int) -> list[ChainReport]:
        workers = self.verify_workers or os.cpu_count() or 1
        if self._dialect == "postgresql" and workers > 1 and len(plan) > 1:
            h = self._audit.heads
            with self.engine.connect() as conn:
                total = conn.scalar(sa.select(sa.func.sum(h.c.records))) or 0
            if total >= self.parallel_from:
                url = self.engine.url.render_as_string(hide_password=False)
                key = self.commitment_key
                return verify_in_processes(url, self._audit.table.name, plan, workers, key)
        return check_chains(self, plan, batch, self.commitment_key)
