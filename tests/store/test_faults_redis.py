"""The Redis store fails fast and closed: refused, hung or out of connections, every
call is ``store.unavailable`` within the configured timeouts, and the same store works
again once Redis answers. Redis runs behind a TCP proxy (tests/store/_proxy.py) when
SSO_BRIDGE_TEST_REDIS names a server; the error mapping needs none."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

redis = pytest.importorskip("redis")

from sso_bridge.store.redis import RedisEphemeralStore, _store_error  # noqa: E402
from sso_bridge.store.settings import RedisSettings  # noqa: E402
from store._proxy import FaultProxy, unavailable  # noqa: E402

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
FAST = RedisSettings(
    connect_timeout=0.3,
    socket_timeout=0.3,
    health_check_interval=0,
    retry_attempts=2,
    retry_backoff=0.02,
    retry_backoff_max=0.05,
    max_connections=2,
    pool_timeout=0.3,
)
SLACK = 0.7


@pytest.fixture
def proxied_store() -> Iterator[tuple[FaultProxy, RedisEphemeralStore]]:
    url = os.environ.get("SSO_BRIDGE_TEST_REDIS")
    if not url:
        pytest.skip("SSO_BRIDGE_TEST_REDIS is not set: no Redis server to test against")
    target = redis.connection.parse_url(url)
    proxy = FaultProxy(target.get("host", "127.0.0.1"), int(target.get("port", 6379))).start()
    db = target.get("db", 0)
    store = RedisEphemeralStore.from_url(
        f"redis://127.0.0.1:{proxy.port}/{db}", prefix=f"test:{uuid.uuid4().hex}:", settings=FAST
    )
    try:
        yield proxy, store
    finally:
        proxy.set_mode("pass")
        keys = store.client.keys(store.prefix + "*")
        if keys:
            store.client.delete(*keys)
        store.close()
        proxy.stop()


def every_call(store: RedisEphemeralStore) -> list[Callable[[], object]]:
    return [
        store.ping,
        lambda: store.get("session", "s", NOW),
        lambda: store.put("session", "s", b"v", LATER, NOW, owner="a1"),
        lambda: store.add("state", "x", b"", LATER, NOW),
        lambda: store.consume("state", "x", NOW),
        lambda: store.delete("session", "s"),
        lambda: store.increment("rate", "ip", LATER, NOW),
        lambda: store.owned_by("session", "a1", NOW),
        lambda: store.delete_owned_by("session", "a1"),
    ]


def test_refused_every_call_is_unavailable_at_once_and_recovers(
    proxied_store: tuple[FaultProxy, RedisEphemeralStore],
) -> None:
    proxy, store = proxied_store
    store.put("session", "s", b"v", LATER, NOW, owner="a1")
    proxy.set_mode("refuse")
    for call in every_call(store):
        _error, took = unavailable(call)
        # retried twice on a refused connect, with at most 0.05 s between tries
        assert took < FAST.connect_timeout + SLACK
    proxy.set_mode("pass")
    store.ping()
    store.put("session", "s", b"v", LATER, NOW, owner="a1")
    assert store.get("session", "s", NOW) == b"v"


def test_hung_every_call_fails_within_the_socket_timeout(
    proxied_store: tuple[FaultProxy, RedisEphemeralStore],
) -> None:
    proxy, store = proxied_store
    store.put("session", "s", b"v", LATER, NOW)
    proxy.set_mode("hang")
    for call in every_call(store):
        error, took = unavailable(call)
        # a timed-out command is not tried again: one socket timeout, not three
        assert took < FAST.socket_timeout + SLACK, (error, took)
    proxy.set_mode("pass")
    assert store.get("session", "s", NOW) == b"v"


def test_all_connections_busy_is_unavailable_within_the_pool_timeout(
    proxied_store: tuple[FaultProxy, RedisEphemeralStore],
) -> None:
    proxy, store = proxied_store
    store.ping()
    proxy.set_mode("hang")
    stuck = [
        threading.Thread(target=unavailable, args=(lambda: store.get("k", "x", NOW),))
        for _ in range(FAST.max_connections)
    ]
    for thread in stuck:
        thread.start()
    time.sleep(0.05)
    error, took = unavailable(lambda: store.get("k", "x", NOW))
    assert took < FAST.pool_timeout + FAST.socket_timeout + SLACK
    for thread in stuck:
        thread.join()
    proxy.set_mode("pass")
    assert error.code == "store.unavailable"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (redis.ConnectionError("refused"), "store.unavailable"),
        (redis.TimeoutError("timed out"), "store.unavailable"),
        (redis.BusyLoadingError("loading"), "store.unavailable"),
        (redis.ReadOnlyError("read only replica"), "store.unavailable"),
        (redis.exceptions.OutOfMemoryError("maxmemory"), "store.unavailable"),
        (redis.ResponseError("MASTERDOWN Link with MASTER is down"), "store.unavailable"),
        (redis.ResponseError("MISCONF Redis is configured to save RDB"), "store.unavailable"),
        (redis.ResponseError("WRONGTYPE Operation against a key"), "store.error"),
    ],
)
def test_redis_errors_map_to_store_codes(error: Exception, code: str) -> None:
    mapped = _store_error(error)  # type: ignore[arg-type]
    assert mapped.code == code
    assert (mapped.retry_after is not None) == (code == "store.unavailable")
