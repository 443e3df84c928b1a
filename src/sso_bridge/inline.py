"""A request's session check on the event loop, without a worker thread.

An async adapter (Starlette, FastAPI) first reads what the check will read, without
blocking (:meth:`~sso_bridge.sessions.SessionManager.prefetch`: nothing for an in-process
store, one ``GET`` on the event loop's own Redis connection for Redis,
:mod:`sso_bridge.store.redis_async`), then runs the ordinary check on the loop inside
:func:`on_loop`. Every store call that would block there instead raises
:class:`WouldBlock` before it does anything, and the adapter runs the whole check again
on a worker thread. So the loop only ever runs a check that needs no I/O beyond
what was read for it: the usual case, a live session from its own address; a touch of
the idle lifetime, a refusal, an IP change or a kept request go to a thread as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Prefetched", "WouldBlock", "on_loop", "prefetched", "refuse_blocking"]

Prefetched = Mapping[tuple[str, str], bytes | None]
"""Raw store values by (kind, key), read ahead of a check."""

_PREFETCHED: ContextVar[Prefetched | None] = ContextVar("sso_bridge_prefetched", default=None)


class WouldBlock(Exception):
    """A store call that would block was asked for while a check runs on the event loop;
    nothing was done. The adapter runs the check again on a worker thread."""


@contextmanager
def on_loop(values: Prefetched) -> Iterator[None]:
    """Run the block as a check on the event loop with ``values`` read ahead."""
    token = _PREFETCHED.set(values)
    try:
        yield
    finally:
        _PREFETCHED.reset(token)


def refuse_blocking() -> None:
    """Raise :class:`WouldBlock` inside :func:`on_loop`; nothing outside it."""
    if _PREFETCHED.get() is not None:
        raise WouldBlock


def prefetched(kind: str, key: str) -> tuple[bool, bytes | None]:
    """``(True, raw value)`` when inside :func:`on_loop` the value was read ahead;
    ``(False, None)`` outside it; :class:`WouldBlock` inside it for any other value."""
    values = _PREFETCHED.get()
    if values is None:
        return False, None
    try:
        return True, values[(kind, key)]
    except KeyError:
        raise WouldBlock from None
