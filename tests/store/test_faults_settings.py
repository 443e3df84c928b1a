"""The stores' timeout and pool settings: defaults, the environment, refusals of bad
values; the engines they make; ``store.unavailable`` carrying a Retry-After."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sso_bridge.errors import ConfigError, StoreError
from sso_bridge.store.guard import Bulkhead, guard_for, store_error
from sso_bridge.store.settings import DatabaseSettings, RedisSettings
from sso_bridge.store.sql import create_engine
from sso_bridge.web.http import WebResponse


def test_defaults_are_seconds_not_minutes() -> None:
    db = DatabaseSettings()
    assert (db.connect_timeout, db.statement_timeout, db.pool_timeout) == (3.0, 5.0, 2.0)
    assert db.slots == db.pool_size + db.max_overflow == 10
    assert db.waiting == db.slots
    assert db.answer_timeout == 5.5
    assert RedisSettings().socket_timeout == 1.0


def test_read_from_the_environment() -> None:
    db = DatabaseSettings.from_environment(
        {
            "SSO_BRIDGE_DB_STATEMENT_TIMEOUT": "2.5",
            "SSO_BRIDGE_DB_POOL_SIZE": "8",
            "SSO_BRIDGE_DB_QUEUE": "0",
            "SSO_BRIDGE_DB_POOL_RECYCLE": "0",
            "SSO_BRIDGE_DB_LOCK_TIMEOUT": " ",  # blank: the default
        }
    )
    assert (db.statement_timeout, db.pool_size, db.queue, db.pool_recycle) == (2.5, 8, 0, 0)
    assert db.lock_timeout == DatabaseSettings().lock_timeout
    redis = RedisSettings.from_environment(
        {"SSO_BRIDGE_REDIS_SOCKET_TIMEOUT": "0.25", "SSO_BRIDGE_REDIS_MAX_CONNECTIONS": "16"}
    )
    assert (redis.socket_timeout, redis.max_connections) == (0.25, 16)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SSO_BRIDGE_DB_STATEMENT_TIMEOUT": "0"}, "SSO_BRIDGE_DB_STATEMENT_TIMEOUT"),
        ({"SSO_BRIDGE_DB_STATEMENT_TIMEOUT": "soon"}, "SSO_BRIDGE_DB_STATEMENT_TIMEOUT"),
        ({"SSO_BRIDGE_DB_CONNECT_TIMEOUT": "nan"}, "SSO_BRIDGE_DB_CONNECT_TIMEOUT"),
        ({"SSO_BRIDGE_DB_POOL_SIZE": "0"}, "SSO_BRIDGE_DB_POOL_SIZE"),
        ({"SSO_BRIDGE_DB_POOL_SIZE": "2.5"}, "SSO_BRIDGE_DB_POOL_SIZE"),
        ({"SSO_BRIDGE_DB_MAX_OVERFLOW": "-1"}, "SSO_BRIDGE_DB_MAX_OVERFLOW"),
        ({"SSO_BRIDGE_DB_POOL_TIMEOUT": "7200"}, "SSO_BRIDGE_DB_POOL_TIMEOUT"),
    ],
)
def test_bad_values_are_refused_with_a_stable_code(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DatabaseSettings.from_environment(environ)
    assert caught.value.code == "config.bad_store_setting"
    assert named in caught.value.message
    assert "\n" not in str(caught.value)


def test_bad_values_given_in_code_are_refused_too() -> None:
    with pytest.raises(ConfigError, match="retry_attempts"):
        RedisSettings(retry_attempts=-1)
    with pytest.raises(ConfigError, match="SSO_BRIDGE_REDIS_SOCKET_TIMEOUT"):
        RedisSettings.from_environment({"SSO_BRIDGE_REDIS_SOCKET_TIMEOUT": "-1"})
    with pytest.raises(ConfigError):
        DatabaseSettings(pool_size=True)


def test_unavailable_carries_a_retry_after_that_the_web_layer_sends() -> None:
    error = StoreError("down", code="store.unavailable")
    assert error.retry_after == timedelta(seconds=5)
    assert StoreError("bug").retry_after is None
    response = WebResponse(status=503).retrying(error)
    assert ("Retry-After", "5") in response.headers


def test_driver_errors_map_to_unavailable_and_integrity_to_error() -> None:
    import sqlite3  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    for exc in (
        psycopg.OperationalError("connection refused"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        sqlite3.OperationalError("database is locked"),
        sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("gone")),
        sa.exc.TimeoutError("QueuePool limit reached"),
    ):
        mapped = store_error(exc)
        assert mapped is not None and mapped.code == "store.unavailable", exc
        assert "SELECT" not in mapped.message  # the driver's reason, not the statement
    integrity = store_error(psycopg.errors.UniqueViolation("duplicate key\nDETAIL: (x)=(y)"))
    assert integrity is not None and integrity.code == "store.error"
    assert "DETAIL" not in integrity.message
    assert store_error(ValueError("not the database's")) is None
    assert store_error(sa.exc.ArgumentError("a bug")) is None


def test_postgres_engine_gets_the_settings() -> None:
    settings = DatabaseSettings(pool_size=3, max_overflow=2, pool_timeout=1.5, concurrency=4)
    engine = create_engine(
        "postgresql://u@127.0.0.1:1/db?options=-csearch_path%3Dx&connect_timeout=9", settings
    )
    pool = engine.pool
    assert isinstance(pool, sa.QueuePool)
    assert (pool.size(), pool.timeout()) == (3, 1.5)
    args = engine.dialect.create_connect_args(engine.url)[1]
    assert args["connect_timeout"] == "9"  # the URL's own value wins
    guard = guard_for(engine)
    assert (guard.bulkhead.slots, guard.bulkhead.queue) == (4, 4)
    engine.dispose()


def test_sqlite_engine_keeps_its_pool_and_takes_the_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}", DatabaseSettings(busy_timeout=7))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
    guard = guard_for(engine)
    assert guard.answer_timeout is None  # no watchdog on a local file
    assert guard.bulkhead.queue is None
    engine.dispose()


def test_bulkhead_refuses_beyond_its_queue_and_after_its_wait() -> None:
    bulkhead = Bulkhead(1, 0, 0.2)
    bulkhead.acquire()
    with pytest.raises(StoreError, match="running"):
        bulkhead.acquire()  # no place to wait
    waiting = Bulkhead(1, 1, 0.2)
    waiting.acquire()
    with pytest.raises(StoreError, match=r"within 0\.2 s"):
        waiting.acquire()
    waiting.release()
    waiting.acquire()
    assert (waiting.in_use, waiting.waiting) == (1, 0)
