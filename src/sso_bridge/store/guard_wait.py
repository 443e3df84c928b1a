"""The waits of a guarded store call (:mod:`sso_bridge.store.guard`), each bounded by the
call's deadline: a slot of the bulkhead, a new connection, and the rule that a request
which has waited out its deadline waits no more.

A **waited** error is a ``store.unavailable`` raised because the database took the whole
of a call's time: its answer, a slot or a connection did not come before the deadline, or
the server cancelled the statement. While a thread handles one (writing the refusal's
audit record, say), every further store call on it fails at once: the request has had
its wait.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import psycopg
import sqlalchemy as sa

from sso_bridge.errors import StoreError

__all__ = [
    "Bulkhead",
    "connect_within",
    "handling_waited",
    "is_waited",
    "mark_waited",
    "waited",
]

_UNAVAILABLE = "store.unavailable"
_MARK = "_sso_waited"
_CHAIN = 8  # how far back the causes of the exception being handled are looked at
_WAITS = (
    psycopg.errors.QueryCanceled,  # statement_timeout
    psycopg.errors.LockNotAvailable,  # lock_timeout
    psycopg.errors.ConnectionTimeout,
    sa.exc.TimeoutError,  # the pool's own wait
)
"""The drivers' errors that end a wait."""


def waited(message: str) -> StoreError:
    """A ``store.unavailable`` for a call that waited out its time (module docstring)."""
    return mark_waited(StoreError(message, code=_UNAVAILABLE))


def mark_waited(error: StoreError) -> StoreError:
    """``error``, marked as a waited one."""
    setattr(error, _MARK, True)
    return error


def is_waited(exc: BaseException) -> bool:
    """Whether ``exc`` ended a wait: a waited error or a driver's timeout."""
    return getattr(exc, _MARK, False) is True or isinstance(exc, _WAITS)


def handling_waited() -> bool:
    """Whether this thread is handling a waited error (or one that a waited error caused)."""
    exc = sys.exc_info()[1]
    for _ in range(_CHAIN):
        if exc is None:
            return False
        if is_waited(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class Bulkhead:
    """``slots`` calls at once; ``waiting`` more may wait up to ``wait`` seconds for one
    (``None``: any number); the others are refused with ``store.unavailable`` at once."""

    def __init__(self, slots: int, waiting: int | None, wait: float) -> None:
        self.slots = slots
        self.queue = waiting
        self.wait = wait
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._free = slots
        self._waiting = 0

    @property
    def in_use(self) -> int:
        """Slots taken now."""
        return self.slots - self._free

    @property
    def waiting(self) -> int:
        """Calls waiting for a slot now."""
        return self._waiting

    def acquire(self, wait: float | None = None) -> None:
        """Take a slot, waiting at most ``wait`` (default and cap: the bulkhead's own
        wait), or raise ``store.unavailable``."""
        wait = self.wait if wait is None else min(wait, self.wait)
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return
            if self.queue is not None and self._waiting >= self.queue:
                raise StoreError(
                    f"{self.slots} database calls are running and {self._waiting} waiting",
                    code=_UNAVAILABLE,
                )
            self._waiting += 1
            try:
                deadline = time.monotonic() + wait
                while self._free <= 0:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise waited(f"no database call finished within {wait:g} s")
                    self._freed.wait(left)
                self._free -= 1
            finally:
                self._waiting -= 1

    def release(self) -> None:
        """Give a slot back."""
        with self._lock:
            self._free += 1
            if self._waiting:
                self._freed.notify()


def connect_within(connect: Callable[[], Any], seconds: float) -> Any:
    """``connect()``, given up after ``seconds`` (a waited error).

    libpq counts its connect timeout in whole seconds, two at least; this bounds the wait
    by what is left of a call's time instead. The connect runs on a helper thread; one
    that was given up closes its connection when it comes.
    """
    lock = threading.Lock()
    done = threading.Event()
    found: dict[str, Any] = {}

    def run() -> None:
        try:
            conn = connect()
        except BaseException as exc:  # handed to the caller
            found["error"] = exc
        else:
            found["conn"] = conn
        with lock:
            done.set()
            if found.get("abandoned") and "conn" in found:
                with suppress(Exception):
                    found["conn"].close()

    threading.Thread(target=run, name="sso-db-connect", daemon=True).start()
    if not done.wait(max(seconds, 0.0)):
        with lock:
            if not done.is_set():
                found["abandoned"] = True
                raise waited(f"no database connection was made within {seconds:.1f} s")
    if "error" in found:
        raise found["error"]
    return found["conn"]
