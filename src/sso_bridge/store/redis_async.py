"""An asyncio Redis client beside a store's synchronous one, for the reads that an async
adapter makes ahead of a session check (:mod:`.inline`): same server, database,
credentials and timeouts, one client per event loop."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as ARetry
from redis.backoff import NoBackoff

__all__ = ["AsyncReader"]

_COPIED = (
    "db",
    "username",
    "password",
    "socket_timeout",
    "socket_connect_timeout",
    "client_name",
)


def _async_client(client: redis.Redis) -> aredis.Redis | None:
    pool = client.connection_pool
    given: dict[str, Any] = pool.connection_kwargs
    kwargs = {name: given[name] for name in _COPIED if name in given}
    if pool.connection_class is redis.Connection:
        kwargs.update(host=given.get("host", "localhost"), port=given.get("port", 6379))
    elif pool.connection_class is redis.UnixDomainSocketConnection:
        kwargs.update(unix_socket_path=given["path"])
    else:
        return None  # TLS and custom connections: the session check stays on a thread
    # the same retries as the synchronous client: a timed-out read is never tried again
    retry = given.get("retry")
    kwargs["retry"] = ARetry(
        getattr(retry, "_backoff", NoBackoff()),
        getattr(retry, "_retries", 0),
        supported_errors=getattr(retry, "_supported_errors", (redis.ConnectionError,)),
    )
    return aredis.Redis(**kwargs, max_connections=pool.max_connections)


class AsyncReader:
    """``GET`` without blocking the event loop, on a client made for each loop."""

    def __init__(self, client: redis.Redis) -> None:
        self._sync = client
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self.available = _async_client(client) is not None

    async def get(self, name: str) -> bytes | None:
        """The raw value under ``name``; Redis faults raise ``redis.RedisError``."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            made = _async_client(self._sync)
            if made is None:
                raise redis.ConnectionError("no asyncio client for this connection")
            client = self._clients[loop] = made
        value = await client.get(name)
        return value if isinstance(value, bytes) or value is None else value.encode()
