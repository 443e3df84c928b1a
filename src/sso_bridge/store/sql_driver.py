"""The store's hottest statements straight on the driver, on connections of the engine's
one pool.

The matcher's read, the link lookup and the audit append skip SQLAlchemy's statement
layer but not its pool: each call checks a DBAPI connection out of the engine's pool
(``engine.raw_connection()``) and gives it back, so every reader and writer of a process
shares one connection budget, ``pool_size + max_overflow``.

On PostgreSQL a checked-out connection runs in autocommit while it is out: a read or a
one-statement append costs one round trip, with no ``BEGIN`` or ``ROLLBACK``, and the
pool's rollback on return has nothing to do. Statements are prepared; psycopg keeps them
per connection, so they outlive the checkout. Each connection is set once to generic
plans (see :func:`_first_use`). On SQLite the engine's connections are already in driver
autocommit (SQLAlchemy issues ``BEGIN`` itself) and ``sqlite3`` caches compiled
statements per connection.

A connection found broken is invalidated, never given back to the pool as good, and with
it every older connection of the pool (replaced when next taken); a read that met one is
tried once more on another connection.

On SQLite the pool is a :class:`SharedQueuePool`: a driver connection that is done goes
onto the pool's short list of *held* connections instead of back through the pool's
check-in, and the next driver call takes it from there. The pool's own check-out and
check-in (events, reset, queue) cost more than the read itself; the held connections stay
counted as checked out, so the budget is unchanged, and the pool takes them back before
anyone would wait for a connection or open one beyond its size. A file has no server or
watchdog that needs to know which thread holds a connection; PostgreSQL connections always
go back through the pool.
"""

from __future__ import annotations

import os
import sqlite3
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection

from sso_bridge.errors import StoreError

__all__ = ["DRIVER_ERRORS", "PooledDriver", "SharedQueuePool"]

DRIVER_ERRORS = (psycopg.Error, sqlite3.Error)
"""What the drivers raise; a fault among these is ``store.unavailable``."""

_READY = "sso_bridge.driver_ready"
"""The key, in a connection's ``info``, marking it set up for these statements."""


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _broken(conn: Any) -> bool:
    if isinstance(conn, psycopg.Connection):
        return bool(conn.broken or conn.closed)
    return False


class PooledDriver:
    """Statements on the driver connections of ``engine``'s pool; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.marker = "%s" if self.postgres else "?"
        # a read may meet every pooled connection dead (a server restart): one try more
        # than the pool keeps
        size = getattr(engine.pool, "size", None)
        self._tries = min(2 + (size() if callable(size) else 0), 12)
        if self.postgres and not sa.event.contains(engine, "checkin", _idle_in_autocommit):
            sa.event.listen(engine, "checkin", _idle_in_autocommit)
            sa.event.listen(engine, "checkout", _out_in_transactions)

    def read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """The rows of one read statement (in autocommit: it sees every committed write)."""
        pool = self.engine.pool
        if isinstance(pool, SharedQueuePool):
            # a file: no lost connections to try again on, and a held connection is ready
            fairy = pool.take() or self._checkout()
            conn: Any = fairy.dbapi_connection  # sqlite3's own: no adapter in between
            try:
                rows: list[Any] = conn.execute(sql, params).fetchall()
            except DRIVER_ERRORS as exc:
                self._after_error(fairy, conn, exc)
                fairy.close()
                raise StoreError(
                    f"database call failed: {_reason(exc)}", code="store.unavailable"
                ) from exc
            except BaseException as exc:
                self._after_error(fairy, conn, exc)
                fairy.close()
                raise
            pool.hold(fairy)
            return rows
        for attempt in range(1, self._tries + 1):
            lost: list[bool] = []
            try:
                with self.connection(lost) as fairy:
                    conn = fairy.driver_connection
                    if self.postgres:
                        rows = conn.execute(sql, params, prepare=True).fetchall()
                    else:
                        rows = conn.execute(sql, params).fetchall()
                    return rows
            except StoreError:
                # a connection that died in the pool: a read may safely be tried again
                if lost and attempt < self._tries:
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def connection(self, lost: list[bool] | None = None) -> Iterator[PoolProxiedConnection]:
        """A pooled connection, its driver's in autocommit, given back (or invalidated)
        after; its ``info`` lives as long as the driver connection.

        Driver errors become ``store.unavailable``; when the connection itself was lost,
        ``True`` is appended to ``lost``.
        """
        pool = self.engine.pool
        shared = pool if isinstance(pool, SharedQueuePool) else None
        fairy = (shared.take() if shared is not None else None) or self._checkout()
        conn: Any = fairy.driver_connection
        try:
            if self.postgres:
                self._autocommit(fairy, conn)
            yield fairy
            if self.postgres:
                conn.autocommit = False
        except DRIVER_ERRORS as exc:
            if self._after_error(fairy, conn, exc) and lost is not None:
                lost.append(True)
            fairy.close()
            raise StoreError(
                f"database call failed: {_reason(exc)}", code="store.unavailable"
            ) from exc
        except BaseException as exc:
            self._after_error(fairy, conn, exc)
            fairy.close()
            raise
        if shared is not None and not conn.in_transaction:
            shared.hold(fairy)
        else:
            fairy.close()

    @contextmanager
    def transaction(self) -> Iterator[PoolProxiedConnection]:
        """A pooled driver connection inside a transaction, committed on a normal exit.

        SQLite: ``BEGIN IMMEDIATE`` (the write lock up front, as the store's writers take
        it); PostgreSQL: ``BEGIN``.
        """
        with self.connection() as fairy:
            conn: Any = fairy.driver_connection
            conn.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
            yield fairy  # on an error, connection() rolls back
            conn.execute("COMMIT")

    def _checkout(self) -> PoolProxiedConnection:
        try:
            return self.engine.raw_connection()
        except (sa.exc.DBAPIError, sa.exc.TimeoutError, *DRIVER_ERRORS) as exc:
            reason = _reason(getattr(exc, "orig", None) or exc)
            raise StoreError(
                f"cannot reach the database: {reason}", code="store.unavailable"
            ) from exc

    @staticmethod
    def _autocommit(fairy: PoolProxiedConnection, conn: psycopg.Connection[Any]) -> None:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.rollback()  # a transaction the pool's pre-ping began
        conn.autocommit = True
        if _READY not in fairy.info:
            _first_use(conn)
            fairy.info[_READY] = True

    def _after_error(self, fairy: PoolProxiedConnection, conn: Any, exc: BaseException) -> bool:
        """Make the connection fit to go back to the pool, or invalidate it: a lost
        connection invalidates every one the pool opened before it, as SQLAlchemy does on
        its own path for a disconnect (they went to the same server)."""
        if not _broken(conn):
            try:
                if isinstance(conn, psycopg.Connection):
                    conn.rollback()
                    conn.autocommit = False
                elif conn.in_transaction:
                    conn.rollback()
                return False
            except DRIVER_ERRORS:
                pass
        with suppress(Exception):
            self.engine.pool._invalidate(fairy, exc)  # this one, and the older ones lazily
        return True


def _first_use(conn: psycopg.Connection[Any]) -> None:
    """Set a connection up for the prepared statements, once in its life.

    Their statements are equality lookups on indexes, whose best plan does not depend on
    the values; left to itself the server plans every call afresh (a custom plan) for the
    first five calls and then weighs the two, which costs more than the lookups.
    """
    if conn.info.server_version >= 120000:
        conn.execute("SET plan_cache_mode = force_generic_plan")


# A connection waits in the pool in autocommit, so that the pool's pre-ping on checkout
# is one round trip (no BEGIN, and no ROLLBACK owed after it); whoever checks it out gets
# it back in transaction mode, as SQLAlchemy expects, unless it asks for autocommit.


def _idle_in_autocommit(dbapi_conn: Any, _record: Any) -> None:
    if dbapi_conn is None or _broken(dbapi_conn):
        return
    if dbapi_conn.info.transaction_status == TransactionStatus.IDLE:
        dbapi_conn.autocommit = True


def _out_in_transactions(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    if dbapi_conn.info.transaction_status == TransactionStatus.IDLE:
        dbapi_conn.autocommit = False


class SharedQueuePool(sa.QueuePool):
    """A :class:`~sqlalchemy.pool.QueuePool` that also keeps a few idle driver connections
    checked out for :class:`PooledDriver` (see the module docstring) and takes them back
    before it would wait for a connection or open one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[PoolProxiedConnection] = []
        self._keep = max(1, self.size())
        _SHARED_POOLS.add(self)

    def held(self) -> int:
        """How many idle connections are held for the driver (checked out, not in use)."""
        return len(self._held)

    def take(self) -> PoolProxiedConnection | None:
        """A held connection, if there is one (each is taken by one caller only)."""
        try:
            return self._held.pop()
        except IndexError:
            return None

    def hold(self, fairy: PoolProxiedConnection) -> None:
        """Keep ``fairy`` for the next driver call, or check it in when enough are kept."""
        # no pid check here: a child forgets its parent's held connections at the fork
        if len(self._held) < self._keep:
            self._held.append(fairy)
        else:
            fairy.close()

    def release(self) -> None:
        """Check every held connection back in."""
        while (fairy := self.take()) is not None:
            fairy.close()

    def _do_get(self) -> Any:
        if self._held and self._pool.empty():
            self.release()
        return super()._do_get()

    def dispose(self) -> None:
        self.release()
        super().dispose()

    def recreate(self) -> SharedQueuePool:
        self.release()
        return cast(SharedQueuePool, super().recreate())

    def _forked(self) -> None:
        # the parent's connections are the parent's: forget them, never close them here
        self._held = []


_SHARED_POOLS: weakref.WeakSet[SharedQueuePool] = weakref.WeakSet()


def _after_fork() -> None:
    for pool in list(_SHARED_POOLS):
        pool._forked()


os.register_at_fork(after_in_child=_after_fork)
