"""The worlds of the export and erasure tests: SQLite with the short-lived entries in
the same database or in memory, and PostgreSQL with Redis when both are set (Redis
database 12, the one these tests use)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from privacy.world import World, build
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.store.memory import InMemoryEphemeralStore
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore

REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"
REDIS_DB = 12


def redis_url() -> str:
    """The Redis server of SSO_BRIDGE_TEST_REDIS, database 12; skips without it."""
    base = os.environ.get(REDIS_ENV)
    if not base:
        pytest.skip(f"{REDIS_ENV} is not set: no Redis server to test against")
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_DB}", "", ""))


def _redis() -> Iterator[EphemeralStore]:
    from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415 - only with a URL

    prefix = f"test-privacy-{secrets.token_hex(6)}:"
    store = RedisEphemeralStore.from_url(redis_url(), prefix)
    try:
        yield store
    finally:
        for name in store.client.scan_iter(match=f"{prefix}*"):
            store.client.delete(name)
        store.close()


@pytest.fixture(
    params=[
        "sqlite+sql",
        "sqlite+memory",
        pytest.param("postgres+redis", marks=pytest.mark.postgres),
    ]
)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    """P (accounts A1 and A2, one federated identity) and Q, in one of the setups."""
    if request.param == "postgres+redis":
        redis_url()  # skip before making a schema
        db_url = str(request.getfixturevalue("postgres_schema_url"))
        stores = _redis()
        ephemeral = next(stores)
    else:
        db_url = str(request.getfixturevalue("sqlite_url"))
        stores = None
        if request.param == "sqlite+sql":
            ephemeral = SqlEphemeralStore(create_engine(db_url))
        else:
            ephemeral = InMemoryEphemeralStore()
    built = build(db_url, ephemeral)
    try:
        yield built
    finally:
        built.store.close()
        if stores is not None:
            stores.close()
        elif isinstance(ephemeral, SqlEphemeralStore):
            ephemeral.close()
