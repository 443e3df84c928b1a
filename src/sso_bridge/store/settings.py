"""Timeouts and sizes of the stores' connections (docs/storage.md, "Timeouts, faults and
the connection budget").

The defaults suit a login service: a person waits seconds, not minutes, before being told
to come back, and a process never holds more database connections than its pool allows.
Every value can be read from the environment (:meth:`DatabaseSettings.from_environment`,
:meth:`RedisSettings.from_environment`); a bad one is ``config.bad_store_setting``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, Self

import attrs

from sso_bridge.errors import ConfigError

__all__ = ["DatabaseSettings", "RedisSettings"]

_CODE = "config.bad_store_setting"
_MAX_SECONDS = 3600.0


def _env(name: str) -> dict[str, str]:
    return {"env": name}


def _bad(attribute: attrs.Attribute[Any], value: object, rule: str) -> ConfigError:
    env = attribute.metadata["env"]
    return ConfigError(f"{attribute.name} ({env}) = {value!r}: {rule}", code=_CODE)


def _seconds(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A duration in seconds: more than 0, at most an hour."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= _MAX_SECONDS
    ):
        raise _bad(attribute, value, "must be a number of seconds above 0 and at most 3600")


def _seconds_or_off(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A duration in seconds, or 0 for "off"."""
    if value != 0:
        _seconds(_instance, attribute, value)


def _count(low: int, high: int) -> Any:
    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _bad(attribute, value, f"must be a whole number from {low} to {high}")

    return check


def _optional_count(low: int, high: int) -> Any:
    check = _count(low, high)

    def optional(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is not None:
            check(instance, attribute, value)

    return optional


def _from_environment(cls: type[Any], environ: Mapping[str, str] | None) -> Any:
    """``cls`` with every field whose variable is set in ``environ`` read from it."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for field in attrs.fields(cls):
        name = field.metadata["env"]
        raw = environ.get(name, "").strip()
        if not raw:
            continue
        wants_int = field.type in ("int", "int | None")
        try:
            values[field.name] = int(raw) if wants_int else float(raw)
        except ValueError:
            kind = "a whole number" if wants_int else "a number of seconds"
            raise ConfigError(f"{name}={raw!r}: must be {kind}", code=_CODE) from None
    return cls(**values)


@attrs.frozen
class DatabaseSettings:
    """How the SQL stores talk to their database. Times are in seconds.

    On PostgreSQL every value applies; on SQLite the pool keeps SQLAlchemy's own sizes,
    the lock wait is ``busy_timeout`` and there is no connection watchdog (no network).
    """

    connect_timeout: float = attrs.field(
        default=3.0, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_CONNECT_TIMEOUT")
    )
    """Opening a connection (TCP, TLS and login) takes at most this long."""
    statement_timeout: float = attrs.field(
        default=5.0, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_STATEMENT_TIMEOUT")
    )
    """The server cancels a statement running longer (``statement_timeout``)."""
    lock_timeout: float = attrs.field(
        default=2.0, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_LOCK_TIMEOUT")
    )
    """The server gives up waiting for a lock after this long (``lock_timeout``)."""
    idle_in_transaction_timeout: float = attrs.field(
        default=10.0,
        validator=_seconds,
        metadata=_env("SSO_BRIDGE_DB_IDLE_IN_TRANSACTION_TIMEOUT"),
    )
    """The server ends a session left idle inside a transaction for longer."""
    answer_margin: float = attrs.field(
        default=0.5, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_ANSWER_MARGIN")
    )
    """A store call whose database has not answered for ``statement_timeout`` plus
    this long has its connections closed (a hung server or network never cancels); the
    sum, :attr:`answer_timeout`, is also the longest a call waits in all."""
    pool_size: int = attrs.field(
        default=5, validator=_count(1, 1000), metadata=_env("SSO_BRIDGE_DB_POOL_SIZE")
    )
    """Connections the pool keeps open."""
    max_overflow: int = attrs.field(
        default=5, validator=_count(0, 1000), metadata=_env("SSO_BRIDGE_DB_MAX_OVERFLOW")
    )
    """Connections opened beyond ``pool_size`` at a peak, closed when returned."""
    pool_timeout: float = attrs.field(
        default=2.0, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_POOL_TIMEOUT")
    )
    """How long a call waits for a free connection (and for a slot of the bulkhead)."""
    pool_recycle: float = attrs.field(
        default=1800.0, validator=_seconds_or_off, metadata=_env("SSO_BRIDGE_DB_POOL_RECYCLE")
    )
    """A connection older than this is replaced when next taken; 0: never."""
    ping_after: float = attrs.field(
        default=1.0, validator=_seconds_or_off, metadata=_env("SSO_BRIDGE_DB_PING_AFTER")
    )
    """A pooled connection idle for longer is checked with ``SELECT 1`` before use;
    0: check every time."""
    keepalive_idle: int = attrs.field(
        default=30, validator=_count(0, 7200), metadata=_env("SSO_BRIDGE_DB_KEEPALIVE_IDLE")
    )
    """Seconds of silence before TCP keepalive probes start; 0: no keepalives."""
    concurrency: int | None = attrs.field(
        default=None,
        validator=_optional_count(1, 2000),
        metadata=_env("SSO_BRIDGE_DB_CONCURRENCY"),
    )
    """Store calls running at once per pool (the bulkhead); default
    ``pool_size + max_overflow``."""
    queue: int | None = attrs.field(
        default=None, validator=_optional_count(0, 10000), metadata=_env("SSO_BRIDGE_DB_QUEUE")
    )
    """Calls allowed to wait for a slot; more are refused at once. Default: as many as
    ``concurrency``."""
    busy_timeout: float = attrs.field(
        default=30.0, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_BUSY_TIMEOUT")
    )
    """SQLite only: how long a writer waits for the database's write lock."""
    reconnect_backoff: float = attrs.field(
        default=0.1, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_RECONNECT_BACKOFF")
    )
    """After a failed connect, no new one is tried for a random time up to this
    doubled per failure in a row ("full jitter")..."""
    reconnect_backoff_max: float = attrs.field(
        default=1.0, validator=_seconds, metadata=_env("SSO_BRIDGE_DB_RECONNECT_BACKOFF_MAX")
    )
    """... and never more than this (so that a database back up is used again within
    this long)."""

    @property
    def slots(self) -> int:
        """Store calls running at once: ``concurrency`` or the pool's capacity."""
        return self.concurrency or self.pool_size + self.max_overflow

    @property
    def waiting(self) -> int:
        """Store calls allowed to wait for a slot."""
        return self.slots if self.queue is None else self.queue

    @property
    def answer_timeout(self) -> float:
        """How long a store call may go without an answer, counted from its start (the
        waits for a slot and a connection included) and then from each answer; at the end
        its connections are closed and it fails. A request waits this long for the
        database at most (docs/storage.md)."""
        return self.statement_timeout + self.answer_margin

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings with each ``SSO_BRIDGE_DB_*`` variable set in ``environ`` (by
        default ``os.environ``) read from it."""
        settings: Self = _from_environment(cls, environ)
        return settings


@attrs.frozen
class RedisSettings:
    """How :class:`~sso_bridge.store.redis.RedisEphemeralStore` talks to Redis.

    Only failures to reach the server are retried (a lost connection, a refused connect),
    never a command that timed out: a hung server fails within ``socket_timeout``.
    """

    connect_timeout: float = attrs.field(
        default=1.0, validator=_seconds, metadata=_env("SSO_BRIDGE_REDIS_CONNECT_TIMEOUT")
    )
    """Opening a connection takes at most this long."""
    socket_timeout: float = attrs.field(
        default=1.0, validator=_seconds, metadata=_env("SSO_BRIDGE_REDIS_SOCKET_TIMEOUT")
    )
    """A command's answer must arrive within this long."""
    health_check_interval: int = attrs.field(
        default=30,
        validator=_count(0, 3600),
        metadata=_env("SSO_BRIDGE_REDIS_HEALTH_CHECK_INTERVAL"),
    )
    """A connection idle for longer is checked with PING before use; 0: never."""
    retry_attempts: int = attrs.field(
        default=2, validator=_count(0, 10), metadata=_env("SSO_BRIDGE_REDIS_RETRY_ATTEMPTS")
    )
    """Further tries of a command whose connection failed."""
    retry_backoff: float = attrs.field(
        default=0.05, validator=_seconds, metadata=_env("SSO_BRIDGE_REDIS_RETRY_BACKOFF")
    )
    """The wait before try n is random, up to this times 2^n ("full jitter")..."""
    retry_backoff_max: float = attrs.field(
        default=0.5, validator=_seconds, metadata=_env("SSO_BRIDGE_REDIS_RETRY_BACKOFF_MAX")
    )
    """... and never more than this."""
    max_connections: int = attrs.field(
        default=64, validator=_count(1, 10000), metadata=_env("SSO_BRIDGE_REDIS_MAX_CONNECTIONS")
    )
    """Connections per process."""
    pool_timeout: float = attrs.field(
        default=1.0, validator=_seconds, metadata=_env("SSO_BRIDGE_REDIS_POOL_TIMEOUT")
    )
    """How long a command waits for a free connection when all are in use."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings with each ``SSO_BRIDGE_REDIS_*`` variable set in ``environ`` (by
        default ``os.environ``) read from it."""
        settings: Self = _from_environment(cls, environ)
        return settings
