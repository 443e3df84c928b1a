"""The EphemeralStore contract, run against memory, SQLite, PostgreSQL and Redis.

PostgreSQL runs when SSO_BRIDGE_TEST_POSTGRES names a server (each test in a schema of its
own), Redis when SSO_BRIDGE_TEST_REDIS does (each test under a key prefix of its own).
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers.clock import NOW
from sso_bridge.errors import ConfigError, InvalidInput, StoreError
from sso_bridge.store import (
    EphemeralStore,
    InMemoryEphemeralStore,
    SqlEphemeralStore,
    open_ephemeral_store,
)
from sso_bridge.store.sql import create_engine

REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"
SECOND = timedelta(seconds=1)
LATER = NOW + 60 * SECOND
ODD_KEYS = [
    "a:b:c",
    "owner:x",
    "ключ-сессии",
    "emoji 🎟 key",
    "with space and\ttab",
    "slash/and?query=1&x=%20",
    "glob*[ab]?",
    "new\nline",
    "",
]


def redis_url() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis server to test against")
    return url


@pytest.fixture
def redis_store() -> Iterator[Any]:
    url = redis_url()
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

    prefix = f"test:{uuid.uuid4().hex}:"
    store = RedisEphemeralStore.from_url(url, prefix=prefix)
    yield store
    client = store.client
    names = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if names:
        client.delete(*names)
    store.close()


@pytest.fixture
def sqlite_ephemeral(tmp_path: Path) -> Iterator[SqlEphemeralStore]:
    store = SqlEphemeralStore(create_engine(f"sqlite:///{tmp_path / 'ephemeral.db'}"))
    yield store
    store.close()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"]
)
def store(request: pytest.FixtureRequest) -> Iterator[EphemeralStore]:
    """Every contract test runs against each backend."""
    if request.param == "memory":
        yield InMemoryEphemeralStore()
    elif request.param == "sqlite":
        yield request.getfixturevalue("sqlite_ephemeral")
    elif request.param == "redis":
        yield request.getfixturevalue("redis_store")
    else:
        url = request.getfixturevalue("postgres_schema_url")
        pg_store = SqlEphemeralStore(create_engine(url))
        yield pg_store
        pg_store.close()


@pytest.fixture
def kind() -> str:
    """A kind of its own for each test."""
    return "t" + uuid.uuid4().hex[:16]


# -- put, get, replace -------------------------------------------------------------------


def test_put_then_get_and_replace(store: EphemeralStore, kind: str) -> None:
    assert store.get(kind, "k", NOW) is None
    store.put(kind, "k", b"one", LATER, NOW)
    assert store.get(kind, "k", NOW) == b"one"
    store.put(kind, "k", b"two", LATER, NOW)
    assert store.get(kind, "k", NOW) == b"two"
    store.put(kind, "empty", b"", LATER, NOW)
    assert store.get(kind, "empty", NOW) == b""


def test_entries_expire_by_the_callers_now(store: EphemeralStore, kind: str) -> None:
    expires_at = NOW + 10 * SECOND
    store.put(kind, "k", b"v", expires_at, NOW)
    assert store.get(kind, "k", expires_at - timedelta(microseconds=1)) == b"v"
    # The backend still holds it (Redis TTLs run on the server's clock), yet it is gone.
    assert store.get(kind, "k", expires_at) is None
    assert store.get(kind, "k", expires_at + SECOND) is None
    assert store.consume(kind, "k", expires_at) is None


def test_an_entry_already_expired_when_put_is_never_seen(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "k", b"v", NOW - SECOND, NOW)
    assert store.get(kind, "k", NOW) is None
    assert store.add(kind, "k", b"w", LATER, NOW)
    assert store.get(kind, "k", NOW) == b"w"


def test_replacing_with_a_shorter_life_shortens_it(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "k", b"v", LATER, NOW)
    store.put(kind, "k", b"w", NOW + SECOND, NOW)
    assert store.get(kind, "k", NOW + 2 * SECOND) is None


# -- add ---------------------------------------------------------------------------------


def test_add_stores_only_when_absent(store: EphemeralStore, kind: str) -> None:
    assert store.add(kind, "k", b"first", LATER, NOW)
    assert not store.add(kind, "k", b"second", LATER, NOW)
    assert store.get(kind, "k", NOW) == b"first"


def test_add_over_an_expired_entry_succeeds(store: EphemeralStore, kind: str) -> None:
    expires_at = NOW + 10 * SECOND
    store.put(kind, "k", b"old", expires_at, NOW, owner="o1")
    assert store.add(kind, "k", b"new", LATER, expires_at, owner="o2")
    assert store.get(kind, "k", expires_at) == b"new"
    assert store.owned_by(kind, "o1", expires_at) == []
    assert store.owned_by(kind, "o2", expires_at) == [("k", b"new")]


# -- consume -----------------------------------------------------------------------------


def test_consume_returns_the_value_once(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "k", b"v", LATER, NOW)
    assert store.consume(kind, "k", NOW) == b"v"
    assert store.consume(kind, "k", NOW) is None
    assert store.get(kind, "k", NOW) is None
    assert store.consume(kind, "never", NOW) is None


def race(threads: int, action: Callable[[], object]) -> list[object]:
    """Run ``action`` in ``threads`` threads released together; their results."""
    barrier = threading.Barrier(threads)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            outcome = action()
        except BaseException as exc:  # reported below
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assert len(results) == threads
    return results


def test_eight_threads_consume_one_entry_and_one_wins(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "k", b"prize", LATER, NOW)
    results = race(8, lambda: store.consume(kind, "k", NOW))
    assert sorted(results, key=repr) == [None] * 7 + [b"prize"]


def test_eight_threads_add_one_key_and_one_wins(store: EphemeralStore, kind: str) -> None:
    results = race(8, lambda: store.add(kind, "k", b"v", LATER, NOW))
    assert results.count(True) == 1


# -- delete ------------------------------------------------------------------------------


def test_delete(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "k", b"v", LATER, NOW, owner="o")
    assert store.delete(kind, "k")
    assert store.get(kind, "k", NOW) is None
    assert store.owned_by(kind, "o", NOW) == []
    assert not store.delete(kind, "k")
    assert not store.delete(kind, "never")


# -- owners ------------------------------------------------------------------------------


def test_owned_by_lists_the_live_entries_of_one_owner(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "b", b"2", LATER, NOW, owner="alice")
    store.put(kind, "a", b"1", LATER, NOW, owner="alice")
    store.put(kind, "gone", b"x", NOW + SECOND, NOW, owner="alice")
    store.put(kind, "c", b"3", LATER, NOW, owner="bob")
    store.put(kind, "d", b"4", LATER, NOW)
    assert store.owned_by(kind, "alice", NOW + SECOND) == [("a", b"1"), ("b", b"2")]
    assert store.owned_by(kind, "bob", NOW) == [("c", b"3")]
    assert store.owned_by(kind, "nobody", NOW) == []


def test_an_entry_moves_with_its_owner(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "k", b"v", LATER, NOW, owner="alice")
    store.put(kind, "k", b"w", LATER, NOW, owner="bob")
    assert store.owned_by(kind, "alice", NOW) == []
    assert store.owned_by(kind, "bob", NOW) == [("k", b"w")]
    store.put(kind, "k", b"x", LATER, NOW)
    assert store.owned_by(kind, "bob", NOW) == []
    assert store.delete_owned_by(kind, "bob") == 0
    assert store.get(kind, "k", NOW) == b"x"


def test_consumed_entries_leave_their_owner(store: EphemeralStore, kind: str) -> None:
    store.put(kind, "k1", b"1", LATER, NOW, owner="alice")
    store.put(kind, "k2", b"2", LATER, NOW, owner="alice")
    assert store.consume(kind, "k1", NOW) == b"1"
    assert store.owned_by(kind, "alice", NOW) == [("k2", b"2")]
    assert store.delete_owned_by(kind, "alice") == 1


def test_delete_owned_by_drops_only_that_owner(store: EphemeralStore, kind: str) -> None:
    for key in ("s1", "s2", "s3"):
        store.put(kind, key, key.encode(), LATER, NOW, owner="alice")
    store.put(kind, "s4", b"s4", LATER, NOW, owner="bob")
    store.put(kind, "s5", b"s5", LATER, NOW)
    assert store.delete_owned_by(kind, "alice") == 3
    assert store.owned_by(kind, "alice", NOW) == []
    assert store.get(kind, "s1", NOW) is None
    assert store.get(kind, "s4", NOW) == b"s4"
    assert store.get(kind, "s5", NOW) == b"s5"
    assert store.delete_owned_by(kind, "alice") == 0
    store.put(kind, "s1", b"again", LATER, NOW, owner="alice")
    assert store.owned_by(kind, "alice", NOW) == [("s1", b"again")]


# -- kinds, keys, values -----------------------------------------------------------------


def test_kinds_are_isolated(store: EphemeralStore, kind: str) -> None:
    other = kind + "x"
    store.put(kind, "k", b"mine", LATER, NOW, owner="o")
    store.put(other, "k", b"theirs", LATER, NOW, owner="o")
    assert store.consume(kind, "k", NOW) == b"mine"
    assert store.get(other, "k", NOW) == b"theirs"
    assert store.owned_by(other, "o", NOW) == [("k", b"theirs")]
    assert store.delete_owned_by(kind, "o") == 0
    assert not store.add(other, "k", b"again", LATER, NOW)


def test_keys_with_odd_characters(store: EphemeralStore, kind: str) -> None:
    for number, key in enumerate(ODD_KEYS):
        store.put(kind, key, str(number).encode(), LATER, NOW, owner="ключ:owner 🎟")
    for number, key in enumerate(ODD_KEYS):
        assert store.get(kind, key, NOW) == str(number).encode()
    listed = store.owned_by(kind, "ключ:owner 🎟", NOW)
    assert listed == sorted((k, str(n).encode()) for n, k in enumerate(ODD_KEYS))
    assert store.consume(kind, "a:b:c", NOW) == b"0"
    assert store.get(kind, "a:b", NOW) is None
    assert store.delete_owned_by(kind, "ключ:owner 🎟") == len(ODD_KEYS) - 1


def test_values_up_to_64_kib_round_trip(store: EphemeralStore, kind: str) -> None:
    value = secrets.token_bytes(64 * 1024)
    store.put(kind, "big", value, LATER, NOW, owner="o")
    assert store.get(kind, "big", NOW) == value
    assert store.owned_by(kind, "o", NOW) == [("big", value)]
    assert store.consume(kind, "big", NOW) == value


# -- the in-memory store -----------------------------------------------------------------


def test_memory_purges_expired_entries_as_it_writes() -> None:
    store = InMemoryEphemeralStore(purge_every=10)
    for n in range(100):
        store.put("k", f"old{n}", b"v", NOW + SECOND, NOW, owner="o")
    later = NOW + 2 * SECOND
    for n in range(10):
        store.put("k", f"new{n}", b"v", LATER, later)
    assert len(store) == 10
    assert store.owned_by("k", "o", later) == []


def test_memory_heap_stays_bounded_when_entries_are_renewed() -> None:
    store = InMemoryEphemeralStore(purge_every=16)
    for n in range(10_000):
        store.put("session", "s", b"v", LATER + n * SECOND, NOW)
    assert len(store) == 1
    assert len(store._heap) <= 2 * len(store) + 64 + 16
    assert store.get("session", "s", LATER + 9_000 * SECOND) == b"v"


def test_memory_purge_on_demand() -> None:
    store = InMemoryEphemeralStore()
    store.put("k", "a", b"v", NOW + SECOND, NOW, owner="o")
    store.put("k", "b", b"v", LATER, NOW, owner="o")
    assert store.purge(NOW + SECOND) == 1
    assert len(store) == 1
    assert store.delete_owned_by("k", "o") == 1


# -- SQL ---------------------------------------------------------------------------------


def test_sql_purge_deletes_expired_rows(sqlite_ephemeral: SqlEphemeralStore) -> None:
    store = sqlite_ephemeral
    store.put("k", "a", b"v", NOW + SECOND, NOW)
    store.put("k", "b", b"v", LATER, NOW)
    assert store.purge(NOW + SECOND) == 1
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT key FROM ephemeral")).scalars().all() == ["b"]


def test_sql_purges_as_it_writes(tmp_path: Path) -> None:
    store = SqlEphemeralStore(create_engine(f"sqlite:///{tmp_path / 'e.db'}"), purge_every=5)
    for n in range(4):
        store.put("k", f"old{n}", b"v", NOW + SECOND, NOW)
    store.put("k", "new", b"v", LATER, NOW + 2 * SECOND)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ephemeral")).scalar() == 1
    store.close()


def test_sql_unreachable_database_is_store_unavailable() -> None:
    engine = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    store = SqlEphemeralStore(engine)
    with pytest.raises(StoreError) as exc:
        store.get("k", "k", NOW)
    assert exc.value.code == "store.unavailable"


# -- Redis -------------------------------------------------------------------------------


def test_redis_get_checks_the_callers_now_not_the_ttl(redis_store: Any, kind: str) -> None:
    redis_store.put(kind, "k", b"v", NOW + SECOND, NOW)
    name = f"{redis_store.prefix}{kind}:k"
    assert redis_store.client.exists(name)
    assert 0 < redis_store.client.pttl(name) <= 1000
    assert redis_store.get(kind, "k", NOW + SECOND) is None
    assert redis_store.client.exists(name)  # only the caller's now hid it
    assert redis_store.add(kind, "k", b"w", LATER, NOW + SECOND)
    assert redis_store.get(kind, "k", NOW + SECOND) == b"w"
    assert 58_000 < redis_store.client.pttl(name) <= 59_000


def test_redis_owner_sets_lose_stale_members_when_read(redis_store: Any, kind: str) -> None:
    owner_set = f"{redis_store.prefix}owner:{kind}:alice"
    redis_store.put(kind, "used", b"1", LATER, NOW, owner="alice")
    redis_store.put(kind, "moved", b"2", LATER, NOW, owner="alice")
    redis_store.put(kind, "kept", b"3", LATER, NOW, owner="alice")
    redis_store.put(kind, "old", b"4", NOW + SECOND, NOW, owner="alice")
    assert 59_000 < redis_store.client.pttl(owner_set) <= 60_000
    redis_store.consume(kind, "used", NOW)
    redis_store.put(kind, "moved", b"2", LATER, NOW, owner="bob")
    assert len(redis_store.client.smembers(owner_set)) == 4
    assert redis_store.owned_by(kind, "alice", NOW + SECOND) == [("kept", b"3")]
    assert redis_store.client.smembers(owner_set) == {b"kept"}
    assert redis_store.delete_owned_by(kind, "alice") == 1
    assert not redis_store.client.exists(owner_set)
    assert redis_store.get(kind, "moved", NOW) == b"2"


def test_redis_refuses_kinds_that_could_share_keys(redis_store: Any) -> None:
    for bad in ("", "a:b", "owner"):
        with pytest.raises(InvalidInput):
            redis_store.put(bad, "k", b"v", LATER, NOW)


def test_redis_unreachable_server_is_store_unavailable() -> None:
    pytest.importorskip("redis")
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

    store = RedisEphemeralStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(StoreError) as exc:
        store.get("k", "k", NOW)
    assert exc.value.code == "store.unavailable"
    with pytest.raises(StoreError) as exc:
        store.add("k", "k", b"v", LATER, NOW)
    assert exc.value.code == "store.unavailable"


# -- open_ephemeral_store ----------------------------------------------------------------


def test_open_by_url(tmp_path: Path) -> None:
    assert isinstance(open_ephemeral_store("memory:"), InMemoryEphemeralStore)
    sql = open_ephemeral_store(f"sqlite:///{tmp_path / 'e.db'}")
    assert isinstance(sql, SqlEphemeralStore)
    sql.put("k", "k", b"v", LATER, NOW)
    assert sql.get("k", "k", NOW) == b"v"
    sql.close()
    pytest.importorskip("redis")
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

    assert isinstance(open_ephemeral_store("redis://127.0.0.1:6379/0"), RedisEphemeralStore)


@pytest.mark.parametrize("url", ["mysql://x/y", "memcached://h", "sqlite://", "", "memory"])
def test_open_refuses_other_urls(url: str) -> None:
    with pytest.raises(ConfigError) as exc:
        open_ephemeral_store(url)
    assert exc.value.code == "config.bad_store_url"


# -- increment ---------------------------------------------------------------------------


def test_increment_counts_within_the_first_expiry(store: EphemeralStore, kind: str) -> None:
    first = NOW + 10 * SECOND
    assert store.increment(kind, "c", first, NOW) == (1, first)
    # a later call's expiry does not extend a live counter
    assert store.increment(kind, "c", LATER, NOW + SECOND) == (2, first)
    assert store.increment(kind, "c", LATER, NOW + 2 * SECOND) == (3, first)
    assert store.get(kind, "c", NOW) == b"3"
    assert store.increment(kind, "other", first, NOW) == (1, first)


def test_an_expired_counter_starts_again_at_one(store: EphemeralStore, kind: str) -> None:
    first = NOW + 10 * SECOND
    store.increment(kind, "c", first, NOW)
    store.increment(kind, "c", first, NOW)
    assert store.increment(kind, "c", LATER, first) == (1, LATER)
    assert store.get(kind, "c", first) == b"1"


def test_increment_over_an_entry_that_is_no_counter_starts_at_one(
    store: EphemeralStore, kind: str
) -> None:
    store.put(kind, "c", b"not a number", LATER, NOW, owner="o")
    assert store.increment(kind, "c", LATER, NOW) == (1, LATER)
    assert store.increment(kind, "c", LATER, NOW) == (2, LATER)


def test_a_counter_can_be_deleted(store: EphemeralStore, kind: str) -> None:
    store.increment(kind, "c", LATER, NOW)
    assert store.delete(kind, "c")
    assert store.increment(kind, "c", LATER, NOW) == (1, LATER)


def test_eight_threads_increment_one_counter_without_losing_a_count(
    store: EphemeralStore, kind: str
) -> None:
    results = race(8, lambda: store.increment(kind, "c", LATER, NOW)[0])
    assert sorted(results, key=repr) == list(range(1, 9))
    assert store.get(kind, "c", NOW) == b"8"
