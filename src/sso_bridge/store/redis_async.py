"""``GET`` on the event loop, beside a store's synchronous Redis client, for the reads an
async adapter makes ahead of a session check (:mod:`sso_bridge.inline`).

One connection per event loop speaks RESP itself: concurrent reads are pipelined on it
and answered in order from ``data_received``, with no task, lock or pool in between
(redis-py's asyncio client costs about as much CPU as the rest of the check). It uses the
synchronous client's server, database, credentials and timeouts. A read that times out
closes the connection (later answers could no longer be matched) and fails every read
still waiting on it; after a failed connect, reads fail at once for a short, growing and
jittered pause instead of reconnecting on every request. Faults raise ``redis``'s own
exceptions, as the synchronous client would. TLS connections are not handled here
(:attr:`AsyncReader.available` is False and the check stays on a worker thread).
"""

from __future__ import annotations

import asyncio
import collections
import random
import time
import weakref
from typing import Any, Final

import redis

__all__ = ["AsyncReader"]

_CONNECT_TIMEOUT: Final = 5.0
_PAUSE_FIRST: Final = 0.05
_PAUSE_MOST: Final = 2.0
_NIL: Final = object()
_MAX_ANSWER_BYTES: Final = 1 << 20
"""The longest value read: the reads here are of sessions (16 KiB at most, stored)."""
_MAX_LINE_BYTES: Final = 1 << 16


class _Settings:
    """What the synchronous client's pool says about its connections."""

    def __init__(self, client: redis.Redis) -> None:
        pool = client.connection_pool
        given: dict[str, Any] = pool.connection_kwargs
        self.host: str | None = None
        self.port = 6379
        self.path: str | None = None
        if pool.connection_class is redis.Connection:
            self.host, self.port = given.get("host", "localhost"), int(given.get("port", 6379))
        elif pool.connection_class is redis.UnixDomainSocketConnection:
            self.path = given["path"]
        self.available = self.host is not None or self.path is not None
        self.timeout: float | None = given.get("socket_timeout")
        self.connect_timeout = given.get("socket_connect_timeout") or self.timeout
        hello: list[tuple[bytes, ...]] = []
        password, username = given.get("password"), given.get("username")
        if password is not None:
            hello.append((b"AUTH", *([_bytes(username)] if username else []), _bytes(password)))
        if int(given.get("db") or 0):
            hello.append((b"SELECT", _bytes(given["db"])))
        if given.get("client_name"):
            hello.append((b"CLIENT", b"SETNAME", _bytes(given["client_name"])))
        self.hello = hello


def _bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class _Connection(asyncio.Protocol):
    """One pipelined connection: each request's future waits in order for its answer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buffer = bytearray()
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(redis.ConnectionError("the connection to Redis was lost"))

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        while self._waiting:
            try:
                answer, start = _parse(buffer, start)
            except (ValueError, redis.ConnectionError) as exc:
                self._fail(redis.ConnectionError(f"Redis sent what is not RESP: {exc}"))
                return
            if answer is None:
                break
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(answer)
        del buffer[:start]
        if buffer and not self._waiting:
            self._fail(redis.ConnectionError("Redis sent an answer nobody asked for"))

    def ask(self, request: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        if self.closed or self._transport is None:
            future.set_exception(redis.ConnectionError("the connection to Redis is closed"))
            return future
        self._waiting.append(future)
        self._transport.write(request)
        return future

    def close(self, error: Exception) -> None:
        self._fail(error)

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)


def _parse(buffer: bytearray, start: int) -> tuple[Any, int]:
    """One RESP answer from ``buffer[start:]`` and where the next begins; ``None`` when it
    has not all arrived. Bulk strings, simple strings, errors and integers are enough for
    GET and the connection's set-up; an answer longer than any session ends the connection
    before it is buffered."""
    end = buffer.find(b"\r\n", start)
    if end < 0:
        if len(buffer) - start > _MAX_LINE_BYTES:
            raise redis.ConnectionError("Redis sent a line too long to be an answer here")
        return None, start
    kind, line = buffer[start], bytes(buffer[start + 1 : end])
    if kind == 0x24:  # $
        size = int(line)
        if size < 0:
            return _NIL, end + 2
        if size > _MAX_ANSWER_BYTES:
            raise redis.ConnectionError(f"Redis answered {size} bytes, more than a session")
        if len(buffer) < end + 2 + size + 2:
            return None, start
        return bytes(buffer[end + 2 : end + 2 + size]), end + 2 + size + 2
    if kind in (0x2B, 0x3A):  # + or :
        return line, end + 2
    if kind == 0x2D:  # -
        return redis.ResponseError(line.decode("utf-8", "replace")), end + 2
    raise redis.ConnectionError(f"Redis sent an answer of an unknown kind {kind!r}")


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(redis.TimeoutError("Redis did not answer in time"))


def _settle(future: asyncio.Future[Any], error: Exception) -> None:
    future.set_exception(error)
    future.exception()  # retrieved: no "never retrieved" warning when nobody waited


class _LoopClient:
    """The connection of one event loop, made again after a fault."""

    def __init__(self, settings: _Settings) -> None:
        self._settings = settings
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future[_Connection] | None = None
        self._failures = 0
        self._paused_until = 0.0

    async def get(self, name: bytes) -> bytes | None:
        connection = self._connection
        if connection is None or connection.closed:
            connection = await self._connect()
        future = connection.ask(_command(b"GET", name))
        answer = await self._answer(connection, future, self._settings.timeout)
        return None if answer is _NIL else answer

    async def _answer(
        self, connection: _Connection, future: asyncio.Future[Any], timeout: float | None
    ) -> Any:
        expiry = None
        if timeout is not None:
            expiry = asyncio.get_running_loop().call_later(timeout, _expire, future)
        try:
            answer = await future
        except redis.TimeoutError:
            connection.close(redis.TimeoutError("Redis did not answer in time"))
            raise
        finally:
            if expiry is not None:
                expiry.cancel()
        if isinstance(answer, redis.ResponseError):
            raise answer
        return answer

    async def _connect(self) -> _Connection:
        if time.monotonic() < self._paused_until:
            raise redis.ConnectionError("Redis was unreachable a moment ago")
        if self._connecting is not None:  # another read is connecting: wait for it
            return await asyncio.shield(self._connecting)
        loop = asyncio.get_running_loop()
        connecting = self._connecting = loop.create_future()
        try:
            connection = await asyncio.wait_for(
                self._open(loop), self._settings.connect_timeout or _CONNECT_TIMEOUT
            )
        except (OSError, TimeoutError, redis.RedisError) as exc:
            self._failures += 1
            pause = min(_PAUSE_MOST, _PAUSE_FIRST * 2 ** (self._failures - 1))
            self._paused_until = time.monotonic() + random.uniform(pause / 2, pause)  # noqa: S311
            error = exc if isinstance(exc, redis.RedisError) else None
            failure = error or redis.ConnectionError(f"cannot connect to Redis: {exc}")
            _settle(connecting, failure)
            raise failure from exc
        except BaseException:  # cancelled: the reads waiting on this connect must not hang
            _settle(connecting, redis.ConnectionError("the connect to Redis was cancelled"))
            raise
        else:
            self._failures = 0
            self._connection = connection
            connecting.set_result(connection)
            return connection
        finally:
            self._connecting = None

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        settings = self._settings
        made: tuple[asyncio.BaseTransport, _Connection]
        if settings.path is not None:
            made = await loop.create_unix_connection(lambda: _Connection(loop), settings.path)
        else:
            made = await loop.create_connection(
                lambda: _Connection(loop), settings.host or "localhost", settings.port
            )
        connection = made[1]
        try:
            for parts in settings.hello:
                await self._answer(connection, connection.ask(_command(*parts)), settings.timeout)
        except BaseException:
            connection.close(redis.ConnectionError("the connection's set-up failed"))
            raise
        return connection


class AsyncReader:
    """``GET`` without blocking the event loop, on a connection kept for each loop."""

    def __init__(self, client: redis.Redis) -> None:
        self._settings = _Settings(client)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self.available = self._settings.available

    async def get(self, name: str) -> bytes | None:
        """The raw value under ``name``; Redis faults raise ``redis.RedisError``."""
        if not self.available:
            raise redis.ConnectionError("no asyncio connection for this client")
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = _LoopClient(self._settings)
        return await client.get(name.encode())
