"""Stores and managers for the session tests: the in-memory EphemeralStore behind a
wrapper that counts calls, and every EphemeralStore backend in turn for the flows that
must hold on each (PostgreSQL and Redis when their URLs are set)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessions.support import CSRF_KEY, CountingStore
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.sessions import SessionManager, SessionPolicy
from sso_bridge.store.memory import InMemoryEphemeralStore
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore

REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"


@pytest.fixture
def store() -> CountingStore:
    """A fresh in-memory store, every call counted and every write recorded."""
    return CountingStore(InMemoryEphemeralStore())


@pytest.fixture
def manager(store: CountingStore) -> SessionManager:
    """A manager with the default policy over ``store``."""
    return SessionManager(store, SessionPolicy(), CSRF_KEY)


def _redis_store() -> Iterator[EphemeralStore]:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis server to test against")
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415 - only with a URL

    prefix = f"test-sessions-{secrets.token_hex(6)}:"
    redis_store = RedisEphemeralStore.from_url(url, prefix)
    try:
        yield redis_store
    finally:
        client = redis_store.client
        for name in client.scan_iter(match=f"{prefix}*"):
            client.delete(name)
        redis_store.close()


def _sql_store(url: str) -> Iterator[EphemeralStore]:
    sql_store = SqlEphemeralStore(create_engine(url))
    try:
        yield sql_store
    finally:
        sql_store.close()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "redis"]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EphemeralStore]:
    """Each EphemeralStore implementation in turn."""
    if request.param == "memory":
        yield InMemoryEphemeralStore()
    elif request.param == "sqlite":
        yield from _sql_store(f"sqlite:///{tmp_path / 'ephemeral.db'}")
    elif request.param == "postgres":
        yield from _sql_store(str(request.getfixturevalue("postgres_schema_url")))
    else:
        yield from _redis_store()
