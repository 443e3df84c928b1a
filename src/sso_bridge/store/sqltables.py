"""Tables that a store creates on first use, and its transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = ["OwnTables"]


class OwnTables:
    """``metadata``'s tables in ``engine``'s database, created (``checkfirst``) by the
    first transaction; on PostgreSQL under ``pg_advisory_xact_lock(lock_id)``, since
    CREATE TABLE races between processes. Database faults are left to the guard of the
    store's public methods (:class:`~sso_bridge.store.guard_methods.Guarded`)."""

    def __init__(self, engine: Engine, metadata: sa.MetaData, lock_id: int) -> None:
        self.engine = engine
        self._metadata = metadata
        self._lock_id = lock_id
        self._writer = engine.execution_options(write=True)
        self._created = False
        self._create_lock = threading.Lock()

    def _create(self) -> None:
        with self._create_lock:
            if self._created:
                return
            with self._writer.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": self._lock_id}
                    )
                self._metadata.create_all(conn, checkfirst=True)
            self._created = True

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on a normal exit."""
        if not self._created:
            self._create()
        with self._writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading."""
        if not self._created:
            self._create()
        with self.engine.connect() as conn:
            yield conn
