"""The event loop's Redis reads (sso_bridge.store.redis_async): answers matched in order
under concurrency, the connection's set-up, and every fault a Redis error, bounded in time."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable

import pytest
import redis

from helpers.aio import run_coroutine
from sso_bridge.store.redis_async import AsyncReader, _parse

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _reader(**kwargs: object) -> AsyncReader:
    return AsyncReader(redis.Redis(**kwargs))  # type: ignore[arg-type]


async def _serve(handler: Handler) -> tuple[asyncio.AbstractServer, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _commands(reader: asyncio.StreamReader) -> list[bytes]:
    """One RESP array of bulk strings, as a client sends a command."""
    count = int((await reader.readline())[1:])
    parts = []
    for _ in range(count):
        size = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(size + 2))[:-2])
    return parts


def test_parse_answers_and_incomplete_ones() -> None:
    assert _parse(bytearray(b"$3\r\nabc\r\n"), 0) == (b"abc", 9)
    assert _parse(bytearray(b"$3\r\nab"), 0) == (None, 0)
    assert _parse(bytearray(b"+OK\r\n:5\r\n"), 5) == (b"5", 9)
    error, _ = _parse(bytearray(b"-WRONGTYPE no\r\n"), 0)
    assert isinstance(error, redis.ResponseError) and str(error) == "WRONGTYPE no"
    with pytest.raises(redis.ConnectionError):
        _parse(bytearray(b"*1\r\n"), 0)


def test_answers_longer_than_a_session_are_refused_before_they_are_buffered() -> None:
    with pytest.raises(redis.ConnectionError, match="more than a session"):
        _parse(bytearray(b"$%d\r\n" % (2 << 20)), 0)
    assert _parse(bytearray(b"$%d\r\n" % (1 << 20)), 0) == (None, 0)  # waits for the rest
    with pytest.raises(redis.ConnectionError, match="line too long"):
        _parse(bytearray(b"+" + b"x" * 70_000), 0)


def test_setup_then_pipelined_reads_answered_in_order() -> None:
    seen: list[list[bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                command = await _commands(reader)
            except (asyncio.IncompleteReadError, ValueError):
                return
            seen.append(command)
            if command[0] == b"GET":
                value = command[1] * 40_000  # big answers arrive in several pieces
                writer.write(b"$%d\r\n%s\r\n" % (len(value), value))
            elif command[1:2] == [b"missing"]:
                writer.write(b"$-1\r\n")
            else:
                writer.write(b"+OK\r\n")
            if len(seen) % 7 == 0:
                await writer.drain()

    async def main() -> list[bytes | None]:
        server, port = await _serve(handler)
        async with server:
            reader = _reader(port=port, db=3, username="u", password="p", client_name="n")
            keys = [f"k{i}" for i in range(60)]
            return list(await asyncio.gather(*(reader.get(k) for k in keys)))

    values = run_coroutine(main())
    assert values == [f"k{i}".encode() * 40_000 for i in range(60)]
    assert seen[:3] == [[b"AUTH", b"u", b"p"], [b"SELECT", b"3"], [b"CLIENT", b"SETNAME", b"n"]]
    assert sum(1 for c in seen if c[0] == b"GET") == 60


def test_an_unanswered_read_times_out_and_fails_the_others_waiting() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads, never answers

    async def main() -> tuple[list[BaseException | bytes | None], float]:
        server, port = await _serve(silent)
        async with server:
            reader = _reader(port=port, socket_timeout=0.3)
            start = time.monotonic()
            results = await asyncio.gather(
                *(reader.get("k") for _ in range(5)), return_exceptions=True
            )
            return list(results), time.monotonic() - start

    results, took = run_coroutine(main())
    assert all(isinstance(r, redis.TimeoutError) for r in results), results
    assert took < 1.0


def test_an_error_answer_is_a_response_error_and_the_connection_goes_on() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = True
        while True:
            try:
                await _commands(reader)
            except (asyncio.IncompleteReadError, ValueError):
                return
            writer.write(b"-WRONGTYPE not a string\r\n" if first else b"$2\r\nok\r\n")
            first = False

    async def main() -> tuple[BaseException | bytes | None, bytes | None]:
        server, port = await _serve(handler)
        async with server:
            reader = _reader(port=port)
            first = (await asyncio.gather(reader.get("a"), return_exceptions=True))[0]
            return first, await reader.get("b")

    first, second = run_coroutine(main())
    assert isinstance(first, redis.ResponseError)
    assert second == b"ok"


@pytest.mark.parametrize("answer", [b"*0\r\n", b"$2\r\nok\r\n$2\r\nno\r\n", b""])
def test_garbage_extra_answers_or_a_hang_up_are_connection_errors(answer: bytes) -> None:
    connections: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        await _commands(reader)
        writer.write(answer)
        await writer.drain()
        if not answer:
            writer.close()
        else:
            await reader.read()

    async def main() -> list[BaseException | bytes | None]:
        server, port = await _serve(handler)
        async with server:
            reader = _reader(port=port, socket_timeout=2)
            first = await asyncio.gather(reader.get("a"), return_exceptions=True)
            await asyncio.sleep(0.05)
            return [*first, *(await asyncio.gather(reader.get("b"), return_exceptions=True))]

    results = run_coroutine(main())
    if answer.startswith(b"$2"):  # each read has its answer; the extra one ends the connection
        assert results == [b"ok", b"ok"]
    else:
        assert all(isinstance(r, redis.ConnectionError) for r in results), results
    assert len(connections) == 2  # the next read connects again


def test_a_refused_connect_pauses_the_next_attempts() -> None:
    async def main() -> tuple[list[BaseException | bytes | None], int]:
        server, port = await _serve(lambda r, w: asyncio.sleep(0))
        server.close()
        await server.wait_closed()  # nothing listens there any more
        reader = _reader(port=port, socket_connect_timeout=1)
        results = []
        for _ in range(3):
            results += await asyncio.gather(reader.get("k"), return_exceptions=True)
        return results, port

    results, _ = run_coroutine(main())
    assert all(isinstance(r, redis.ConnectionError) for r in results)
    assert "a moment ago" in str(results[1]) and "a moment ago" in str(results[2])


def test_tls_is_left_to_the_worker_thread() -> None:
    reader = AsyncReader(redis.Redis(ssl=True))
    assert reader.available is False
    with pytest.raises(redis.ConnectionError):
        run_coroutine(reader.get("k"))


@pytest.mark.skipif(
    not os.environ.get("SSO_BRIDGE_TEST_REDIS"),
    reason="SSO_BRIDGE_TEST_REDIS is not set: no Redis server to test against",
)
def test_against_redis_values_of_every_byte_and_size() -> None:
    client = redis.Redis.from_url(os.environ["SSO_BRIDGE_TEST_REDIS"])
    prefix = f"test-async-{secrets.token_hex(4)}:"
    values = {f"{prefix}{n}": secrets.token_bytes(n) + b"\r\n$-1\r\n" for n in (0, 1, 70_000)}
    try:
        for key, value in values.items():
            client.set(key, value, ex=60)
        reader = AsyncReader(client)

        async def main() -> list[bytes | None]:
            keys = [*values, f"{prefix}missing"] * 10
            return list(await asyncio.gather(*(reader.get(k) for k in keys)))

        assert run_coroutine(main()) == [*values.values(), None] * 10
    finally:
        client.delete(*values)


def test_a_refused_login_closes_the_connection_and_pauses() -> None:
    closed: list[bool] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _commands(reader)
        writer.write(b"-WRONGPASS invalid username-password pair\r\n")
        await writer.drain()
        closed.append(await reader.read() == b"")  # the client hung up

    async def main() -> list[BaseException | bytes | None]:
        server, port = await _serve(handler)
        async with server:
            reader = _reader(port=port, password="wrong")
            results = []
            for _ in range(2):
                results += await asyncio.gather(reader.get("k"), return_exceptions=True)
            await asyncio.sleep(0.05)
            return results

    first, second = run_coroutine(main())
    assert isinstance(first, redis.ResponseError) and "WRONGPASS" in str(first)
    assert isinstance(second, redis.ConnectionError) and "a moment ago" in str(second)
    assert closed == [True]


def test_a_cancelled_connect_leaves_no_read_waiting_forever() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async def main() -> tuple[BaseException | bytes | None, float]:
        server, port = await _serve(silent)
        async with server:
            reader = _reader(port=port, password="p", socket_timeout=30)
            connecting = asyncio.create_task(reader.get("a"))
            await asyncio.sleep(0.1)  # connected, waiting for the answer to AUTH
            waiting = asyncio.create_task(reader.get("b"))
            await asyncio.sleep(0.1)
            start = time.monotonic()
            connecting.cancel()
            done = asyncio.gather(waiting, return_exceptions=True)
            result = (await asyncio.wait_for(done, 5))[0]  # fails rather than hangs
            return result, time.monotonic() - start

    result, took = run_coroutine(main())
    assert isinstance(result, redis.ConnectionError)
    assert took < 1.0
