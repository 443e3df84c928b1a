"""SQL store calls that fail fast and closed (docs/storage.md, "Timeouts, faults and
the connection budget").

Every public method of a SQL store class
(:class:`~sso_bridge.store.guard_methods.Guarded`) runs through one wrapper
that, per engine (that is, per connection pool):

- gives the call a **deadline**, ``statement_timeout + answer_margin`` after it starts,
  moved on by each answer the database gives; the waits of the call all end by it: for a
  slot, for a new connection, for an answer;
- takes a slot of a **bulkhead**: at most ``concurrency`` calls at once, at most
  ``queue`` more waiting up to ``pool_timeout`` (and the deadline), any others refused at
  once, so that a hung database ties up a bounded number of the web server's threads and
  the rest stay free for work that needs only Redis (session validation). Nested calls on
  one thread hold one slot;
- on PostgreSQL, arms an **answer watchdog**: at the deadline (a hung server or network,
  which the server's own ``statement_timeout`` cannot end), the sockets of the
  connections the call holds are shut down and the call fails;
- fails at once when its thread is handling a call that waited out its deadline
  (:mod:`sso_bridge.store.guard_wait`): one request waits for the database once;
- turns every driver error, SQLAlchemy's or the raw driver's, into ``store.unavailable``
  (``store.error`` for an integrity error the store did not handle).

The engine's connections are also pinged when taken after ``ping_after`` idle, and a
failed connect makes the next ones wait a random, doubling time ("full jitter").
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sso_bridge.errors import BridgeError, StoreError
from sso_bridge.inline import refuse_blocking
from sso_bridge.store.guard_wait import (
    Bulkhead,
    connect_within,
    handling_waited,
    mark_waited,
    waited,
)
from sso_bridge.store.settings import DatabaseSettings

__all__ = [
    "Bulkhead",
    "Call",
    "EngineGuard",
    "guard_for",
    "install",
    "raise_as_store_error",
    "store_error",
]

_UNAVAILABLE = "store.unavailable"
_TICK = 0.1  # how often the watchdog looks at the calls in flight


class Call:
    """One outermost store call in flight on a thread."""

    __slots__ = ("deadline", "depth", "fired", "watched")

    def __init__(self, deadline: float, watched: bool) -> None:
        self.depth = 1
        self.deadline = deadline
        self.watched = watched
        self.fired = False


class EngineGuard:
    """The bulkhead, watchdog, pings and reconnect backoff of one engine."""

    def __init__(
        self,
        bulkhead: Bulkhead,
        *,
        answer_timeout: float | None = None,
        ping_after: float | None = None,
        backoff: tuple[float, float] | None = None,
        connect_wait: float = 0.0,
    ) -> None:
        self.bulkhead = bulkhead
        self.answer_timeout = answer_timeout
        self._answer = answer_timeout or 0.0
        self._connect_wait = connect_wait  # what a connect may take by itself (libpq's)
        self.ping_after = ping_after
        self._backoff = backoff
        self._calls: dict[int, Call] = {}
        self._held: dict[int, dict[Any, Any]] = {}
        self._lock = threading.Lock()
        self._failures = 0
        self._retry_at = 0.0

    # -- calls ---------------------------------------------------------------------------

    def enter(self, watched: bool = True) -> Call:
        """Start a call on this thread (taking a slot unless one is held already); on an
        event loop (:mod:`sso_bridge.inline`), :class:`~sso_bridge.inline.WouldBlock`."""
        refuse_blocking()
        tid = threading.get_ident()
        call = self._calls.get(tid)
        if call is not None:
            call.depth += 1
            return call
        if handling_waited():
            raise waited("this request has waited for the database already")
        watched = watched and self.answer_timeout is not None
        start = time.monotonic()
        self.bulkhead.acquire(self._answer if watched else None)
        call = self._calls[tid] = Call(start + self._answer, watched)
        if watched and not _WATCHDOG.running:
            _WATCHDOG.start()
        return call

    def leave(self, call: Call) -> None:
        """End a call started by :meth:`enter` on this thread."""
        call.depth -= 1
        if call.depth == 0:
            del self._calls[threading.get_ident()]
            self.bulkhead.release()

    @contextlib.contextmanager
    def call(self, watched: bool = True) -> Iterator[None]:
        """A guarded block: a slot, the watchdog and errors mapped, as for a method."""
        call = self.enter(watched)
        try:
            yield
        except BridgeError as exc:
            self.passing(exc, call)
            raise
        except Exception as exc:
            error = self.error(exc, call)
            if error is None:
                raise
            raise error from exc
        finally:
            self.leave(call)

    def passing(self, exc: BridgeError, call: Call | None) -> None:
        """A ``BridgeError`` leaving ``call``: a ``StoreError`` that the cut-off of the
        call caused (raised by the store's own handling) is a waited one."""
        if call is not None and call.fired and isinstance(exc, StoreError):
            mark_waited(exc)

    def error(self, exc: BaseException, call: Call | None) -> StoreError | None:
        """The ``StoreError`` that ``exc`` raised in ``call`` stands for, if any."""
        error = store_error(exc)
        if error is not None and call is not None and call.fired:
            return waited(f"the database did not answer within {self.answer_timeout:g} s")
        return error

    def expire(self, now: float) -> None:
        """Shut down the connections of every call that has waited too long for an answer."""
        for tid, call in list(self._calls.items()):
            if call.watched and not call.fired and call.deadline <= now:
                call.fired = True
                with self._lock:
                    for conn in list(self._held.get(tid, {}).values()):
                        _sever(conn)

    # -- pool and engine events ----------------------------------------------------------

    def on_checkout(self, engine: Engine, dbapi_conn: Any, record: Any) -> None:
        tid = threading.get_ident()
        call = self._calls.get(tid)
        if call is not None and call.fired:
            # the call already gave up on the database: no second wait on another connection
            raise waited(f"the database did not answer within {self._answer:g} s")
        record.info["sso_owner"] = tid
        with self._lock:
            self._held.setdefault(tid, {})[record] = dbapi_conn
        returned = record.info.get("sso_returned")
        if self.ping_after is None or returned is None:
            return
        if time.monotonic() - returned < self.ping_after:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
            dbapi_conn.rollback()
        except Exception as exc:
            self.on_checkin(None, record)
            if call is not None and call.fired:
                raise
            # SQLAlchemy drops every older connection of the pool and opens a new one
            raise sa.exc.InvalidatePoolError(f"the ping failed: {_first_line(exc)}") from exc

    def on_checkin(self, _dbapi_conn: Any, record: Any) -> None:
        record.info["sso_returned"] = time.monotonic()
        tid = record.info.pop("sso_owner", None)
        with self._lock:
            held = self._held.get(tid)
            if held is not None:
                held.pop(record, None)
                if not held:
                    del self._held[tid]

    def on_answer(self) -> None:
        """The database answered a statement: the call's deadline moves on."""
        call = self._calls.get(threading.get_ident())
        if call is not None and call.watched and not call.fired:
            call.deadline = time.monotonic() + self._answer

    def connect(self, connect: Callable[[], Any]) -> Any:
        """``connect()`` unless a recent failure asks to wait; failures lengthen the wait."""
        if self._backoff is None:
            return connect()
        now = time.monotonic()
        left = self._retry_at - now
        if left > 0:
            raise StoreError(
                f"the database could not be reached; next try in {left:.1f} s", code=_UNAVAILABLE
            )
        call = self._calls.get(threading.get_ident())
        if call is not None and call.watched and (call.fired or call.deadline <= now):
            # the call is out of time already: no try, and no failure of the database
            raise waited(f"the database did not answer within {self._answer:g} s")
        try:
            if call is not None and call.watched and call.deadline - now < self._connect_wait:
                conn = connect_within(connect, call.deadline - now)
            else:
                conn = connect()
        except Exception:
            base, cap = self._backoff
            with self._lock:
                self._failures += 1
                wait = random.uniform(0, min(cap, base * 2 ** min(self._failures, 30)))  # noqa: S311
                self._retry_at = time.monotonic() + wait
            raise
        self._failures, self._retry_at = 0, 0.0
        return conn


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sever(dbapi_conn: Any) -> None:
    """Shut down a psycopg connection's socket, waking a thread blocked on it."""
    pgconn = getattr(dbapi_conn, "pgconn", None)
    if pgconn is None:
        return
    with contextlib.suppress(Exception), socket.socket(fileno=os.dup(pgconn.socket)) as sock:
        sock.shutdown(socket.SHUT_RDWR)


def store_error(exc: BaseException) -> StoreError | None:
    """The ``StoreError`` for a database error: ``store.unavailable`` for every driver
    or pool fault, ``store.error`` for an integrity error; ``None`` for anything else."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, sa.exc.TimeoutError):
        return StoreError("no database connection came free in time", code=_UNAVAILABLE)
    if isinstance(exc, sa.exc.DisconnectionError):
        return StoreError(f"database connection lost: {_first_line(exc)}", code=_UNAVAILABLE)
    driver: BaseException = exc
    if isinstance(exc, sa.exc.DBAPIError):
        driver = exc.orig or exc
    elif isinstance(exc, sa.exc.SQLAlchemyError):
        return None
    if isinstance(driver, psycopg.IntegrityError | sqlite3.IntegrityError):
        return StoreError(f"the database refused a write: {_first_line(driver)}")
    if isinstance(driver, psycopg.Error | sqlite3.Error | sa.exc.DBAPIError):
        return StoreError(f"the database is unavailable: {_first_line(driver)}", code=_UNAVAILABLE)
    return None


def raise_as_store_error(exc: Exception) -> NoReturn:
    """Raise ``exc`` as a store call raises it: a ``BridgeError`` as it is, a database
    error as its ``StoreError`` (:func:`store_error`), anything else unchanged."""
    if isinstance(exc, BridgeError):
        raise exc
    error = store_error(exc)
    if error is None:
        raise exc
    raise error from exc


class _Watchdog:
    """One thread per process that expires the calls of every watched engine."""

    def __init__(self) -> None:
        self.guards: weakref.WeakSet[EngineGuard] = weakref.WeakSet()
        self.running = False
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if not self.running:
                thread = threading.Thread(target=self._run, name="sso-db-watchdog", daemon=True)
                thread.start()
                self.running = True

    def forked(self) -> None:
        # the thread does not exist in a child process; its first watched call starts one
        self.running = False
        self._lock = threading.Lock()

    def _run(self) -> None:
        while True:
            time.sleep(_TICK)
            now = time.monotonic()
            for guard in list(self.guards):
                guard.expire(now)


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG.forked)
_GUARDS: weakref.WeakKeyDictionary[Engine, EngineGuard] = weakref.WeakKeyDictionary()
_GUARDS_LOCK = threading.Lock()


def install(engine: Engine, settings: DatabaseSettings | None = None) -> EngineGuard:
    """Give ``engine`` its guard (bulkhead, watchdog, pings, backoff) and its events.

    Without ``settings`` (an engine not made by
    :func:`~sso_bridge.store.sql_engine.create_engine`) the bulkhead is the pool's size.
    """
    with _GUARDS_LOCK:
        guard = _GUARDS.get(engine)
        if guard is not None:
            return guard
        guard = _GUARDS[engine] = _new_guard(engine, settings)
    sa.event.listen(
        engine, "checkout", lambda conn, record, _proxy: guard.on_checkout(engine, conn, record)
    )
    sa.event.listen(engine, "checkin", guard.on_checkin)
    if guard.answer_timeout is not None:
        _WATCHDOG.guards.add(guard)
        sa.event.listen(engine, "after_cursor_execute", lambda *_args: guard.on_answer())

        @sa.event.listens_for(engine, "do_connect")
        def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            return guard.connect(lambda: dialect.connect(*cargs, **cparams))

    return guard


def _new_guard(engine: Engine, settings: DatabaseSettings | None) -> EngineGuard:
    pool = engine.pool
    capacity, wait = 5, DatabaseSettings().pool_timeout
    if isinstance(pool, sa.QueuePool):
        capacity, wait = pool.size() + max(0, pool._max_overflow), pool.timeout()
    if settings is None:
        # an engine made elsewhere: its pool's own sizes and wait, no bound on waiters
        bulkhead = Bulkhead(capacity, None, wait)
        settings = DatabaseSettings()
    else:
        bulkhead = Bulkhead(settings.slots, settings.waiting, settings.pool_timeout)
    if engine.dialect.name != "postgresql":
        # a local file, no network: no watchdog; lock waits end with the busy timeout
        return EngineGuard(Bulkhead(capacity, None, settings.busy_timeout))
    return EngineGuard(
        bulkhead,
        answer_timeout=settings.answer_timeout,
        ping_after=settings.ping_after,
        backoff=(settings.reconnect_backoff, settings.reconnect_backoff_max),
        # libpq's connect timeout: whole seconds, two at least
        connect_wait=max(2.0, math.ceil(settings.connect_timeout)),
    )


def guard_for(engine: Engine) -> EngineGuard:
    """The guard of ``engine``, installed with defaults on first use."""
    guard = _GUARDS.get(engine)
    return guard if guard is not None else install(engine)
