"""An :class:`~sso_bridge.ephemeral.EphemeralStore` in one SQL table.

SQLite or PostgreSQL, through SQLAlchemy Core, with a schema of its own: the table
``ephemeral`` (created on first use) next to, or apart from, the accounts and links.
Expiry times are integer microseconds since the Unix epoch, compared in SQL with the
caller's ``now``. Every change is one statement: ``add`` is an upsert that may only
overwrite an expired row, ``consume`` a ``DELETE ... RETURNING``.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine

from sso_bridge.store.guard_methods import Guarded
from sso_bridge.store.sqltables import OwnTables

__all__ = ["SqlEphemeralStore", "ephemeral_table"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Not the lock of sso_bridge.store.sql: the two schemas may be created at the same time.
_CREATE_LOCK_ID = 7261534

_metadata = sa.MetaData()

ephemeral_table = sa.Table(
    "ephemeral",
    _metadata,
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),  # µs since the Unix epoch
    sa.Column("owner", sa.Text),
    sa.Index("ix_ephemeral_owner", "kind", "owner"),
    sa.Index("ix_ephemeral_expires", "expires_at"),
)

_t = ephemeral_table


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


class SqlEphemeralStore(Guarded):
    """:class:`~sso_bridge.ephemeral.EphemeralStore` over a SQLAlchemy ``engine``.

    Make the engine with :func:`sso_bridge.store.sql.create_engine` (SQLite writers then
    take the write lock up front; timeouts and pool sizes come from its settings). Every
    ``purge_every`` writes of this object also drop the rows expired by then;
    :meth:`purge` does it on demand. Every public method is guarded
    (:class:`~sso_bridge.store.guard_methods.Guarded`): database faults are ``store.unavailable``.
    """

    def __init__(self, engine: Engine, *, purge_every: int = 1000) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._tables = OwnTables(engine, _metadata, _CREATE_LOCK_ID)
        self._purge_every = max(1, purge_every)
        self._writes = itertools.count(1)

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def ping(self) -> None:
        """One round trip to the database (``SELECT 1``); ``store.unavailable`` when it
        does not answer within the settings' timeouts."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    def put(
        self,
        kind: str,
        key: str,
        value: bytes,
        expires_at: datetime,
        now: datetime,
        *,
        owner: str | None = None,
    ) -> None:
        """Store ``value``, replacing any entry under the same key."""
        stmt = self._upsert(kind, key, value, expires_at, owner)
        with self._tables.write() as conn:
            conn.execute(stmt)
        self._counted(now)

    def add(
        self,
        kind: str,
        key: str,
        value: bytes,
        expires_at: datetime,
        now: datetime,
        *,
        owner: str | None = None,
    ) -> bool:
        """Store ``value`` only if no live entry has this key; True when stored."""
        stmt = self._upsert(kind, key, value, expires_at, owner, unless_live_at=now)
        with self._tables.write() as conn:
            stored = conn.execute(stmt.returning(_t.c.kind)).first() is not None
        self._counted(now)
        return stored

    def get(self, kind: str, key: str, now: datetime) -> bytes | None:
        """The live entry's value, or None."""
        stmt = sa.select(_t.c.value).where(
            _t.c.kind == kind, _t.c.key == key, _t.c.expires_at > _micros(now)
        )
        with self._tables.read() as conn:
            value = conn.execute(stmt).scalar()
        return None if value is None else bytes(value)

    def consume(self, kind: str, key: str, now: datetime) -> bytes | None:
        """Remove the entry and return its value if it was live: at most one caller wins."""
        stmt = (
            sa.delete(_t)
            .where(_t.c.kind == kind, _t.c.key == key)
            .returning(_t.c.value, _t.c.expires_at)
        )
        with self._tables.write() as conn:
            row = conn.execute(stmt).first()
        if row is None or row.expires_at <= _micros(now):
            return None
        return bytes(row.value)

    def delete(self, kind: str, key: str) -> bool:
        """Remove the entry; True if there was one (live or not)."""
        with self._tables.write() as conn:
            result = conn.execute(sa.delete(_t).where(_t.c.kind == kind, _t.c.key == key))
        return result.rowcount > 0

    def increment(
        self, kind: str, key: str, expires_at: datetime, now: datetime
    ) -> tuple[int, datetime]:
        """Add one to the counter under the key; the count and when the counter expires.

        One transaction: a dead or foreign row is reset to zero, the row is read under
        its lock (``FOR UPDATE``; SQLite writers hold the database's write lock) and
        written back one higher.
        """
        now_us = _micros(now)
        reset = self._upsert(kind, key, b"0", expires_at, None, unless_live_at=now)
        where = (_t.c.kind == kind, _t.c.key == key)
        with self._tables.write() as conn:
            conn.execute(reset)
            row = conn.execute(
                sa.select(_t.c.value, _t.c.expires_at).where(*where).with_for_update()
            ).one()
            text = bytes(row.value)
            count = int(text) + 1 if text.isdigit() and row.expires_at > now_us else 1
            until = row.expires_at if count > 1 else _micros(expires_at)
            values = {"value": b"%d" % count, "expires_at": until, "owner": None}
            conn.execute(sa.update(_t).where(*where).values(**values))
        self._counted(now)
        return count, _EPOCH + until * _MICROSECOND

    def owned_by(self, kind: str, owner: str, now: datetime) -> list[tuple[str, bytes]]:
        """The live ``(key, value)`` pairs of ``kind`` put with this ``owner``, by key."""
        if not owner:
            return []
        stmt = sa.select(_t.c.key, _t.c.value).where(
            _t.c.kind == kind, _t.c.owner == owner, _t.c.expires_at > _micros(now)
        )
        with self._tables.read() as conn:
            rows = conn.execute(stmt).all()
        # Sorted here, by code point: database collations differ.
        return sorted((key, bytes(value)) for key, value in rows)

    def delete_owned_by(self, kind: str, owner: str) -> int:
        """Remove every entry of ``kind`` put with this ``owner``; how many went."""
        if not owner:
            return 0
        with self._tables.write() as conn:
            result = conn.execute(sa.delete(_t).where(_t.c.kind == kind, _t.c.owner == owner))
        return int(result.rowcount)

    def scan(
        self, kind: str, now: datetime, cursor: str | None = None, limit: int = 500
    ) -> tuple[list[tuple[str, bytes]], str | None]:
        """Up to ``limit`` live ``(key, value)`` pairs of ``kind`` after ``cursor`` (None: from
        the start), in the database's key order, and the cursor to go on from (None: done).
        One indexed range read per page (the primary key), for rare tasks such as an erasure."""
        limit = max(limit, 1)
        stmt = sa.select(_t.c.key, _t.c.value, _t.c.expires_at).where(_t.c.kind == kind)
        if cursor is not None:
            stmt = stmt.where(_t.c.key > cursor)
        stmt = stmt.order_by(_t.c.key).limit(limit + 1)
        with self._tables.read() as conn:
            rows = conn.execute(stmt).all()
        page, now_us = rows[:limit], _micros(now)
        found = [(row.key, bytes(row.value)) for row in page if row.expires_at > now_us]
        return found, page[-1].key if len(rows) > limit else None

    def purge(self, now: datetime) -> int:
        """Delete every row expired by ``now``; how many went."""
        with self._tables.write() as conn:
            result = conn.execute(sa.delete(_t).where(_t.c.expires_at <= _micros(now)))
        return int(result.rowcount)

    # -- helpers -------------------------------------------------------------------------

    def _upsert(
        self,
        kind: str,
        key: str,
        value: bytes,
        expires_at: datetime,
        owner: str | None,
        *,
        unless_live_at: datetime | None = None,
    ) -> Any:
        insert: Any = pg.insert(_t) if self._postgres else sqlite.insert(_t)
        stmt = insert.values(
            kind=kind,
            key=key,
            value=bytes(value),
            expires_at=_micros(expires_at),
            owner=owner or None,
        )
        changes = {
            "value": stmt.excluded.value,
            "expires_at": stmt.excluded.expires_at,
            "owner": stmt.excluded.owner,
        }
        where = None if unless_live_at is None else _t.c.expires_at <= _micros(unless_live_at)
        return stmt.on_conflict_do_update(
            index_elements=[_t.c.kind, _t.c.key], set_=changes, where=where
        )

    def _counted(self, now: datetime) -> None:
        if next(self._writes) % self._purge_every == 0:
            self.purge(now)
