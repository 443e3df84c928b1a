"""An :class:`~sso_bridge.ephemeral.EphemeralStore` in Redis, shared by processes.

An entry is the string ``{prefix}{kind}:{key}`` holding a header and the value::

    16 hex digits  expires_at, microseconds since the Unix epoch
     4 hex digits  length n of the owner in UTF-8 bytes (0: no owner)
     n bytes       the owner
     the rest      the value

so that one GET both finds the value and tells whether it is live by the caller's
``now``. The Redis TTL (``expires_at - now``, at least one second) only collects garbage.
An owner's keys are the set ``{prefix}owner:{kind}:{owner}``, written together with the
entry; members whose entry has gone or changed owner are removed when the set is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
from redis.backoff import FullJitterBackoff
from redis.retry import Retry

from sso_bridge.errors import ConfigError, InvalidInput, StoreError
from sso_bridge.inline import prefetched, refuse_blocking
from sso_bridge.store import redis_scripts as _scripts
from sso_bridge.store.redis_async import AsyncReader
from sso_bridge.store.settings import RedisSettings

__all__ = ["RedisEphemeralStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MILLISECOND = timedelta(milliseconds=1)
_HEADER = 20
_MAX_EXPIRES_AT = 16**16 - 1
_MAX_OWNER = 0xFFFF
_MIN_TTL_MS = 1000


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _ttl_ms(expires_at: datetime, now: datetime) -> int:
    return max(_MIN_TTL_MS, -((now - expires_at) // _MILLISECOND))


def _payload(value: bytes, expires_at: datetime, owner: bytes) -> bytes:
    if len(owner) > _MAX_OWNER:
        raise InvalidInput("an entry's owner is longer than 65535 bytes", code="input.invalid")
    expires_micros = min(max(_micros(expires_at), 0), _MAX_EXPIRES_AT)
    return b"%016x%04x" % (expires_micros, len(owner)) + owner + value


def _split(raw: bytes) -> tuple[int, bytes, bytes]:
    """``(expires_at µs, owner, value)`` of a stored entry."""
    end = _HEADER + int(raw[16:_HEADER], 16)
    return int(raw[:16], 16), raw[_HEADER:end], raw[end:]


class RedisEphemeralStore:
    """:class:`~sso_bridge.ephemeral.EphemeralStore` over one Redis database.

    ``client`` must return bytes (``decode_responses`` off). ``prefix`` starts every key;
    give each deployment (or test) its own. A ``kind`` must be non-empty, without ``:``
    and not ``owner``, so that no two entries can share a Redis key. Every Redis fault
    (down, hung, loading, read-only) is ``store.unavailable``; :meth:`from_url` sets the
    timeouts that bound how long one takes to show.
    """

    def __init__(self, client: redis.Redis, prefix: str = "sso:") -> None:
        if client.get_connection_kwargs().get("decode_responses"):
            raise ConfigError(
                "the Redis client decodes responses; entries are bytes", code="config.invalid"
            )
        self._client = client
        self._prefix = prefix
        self._kinds: set[str] = set()
        self._put_owned = client.register_script(_scripts.PUT_OWNED)
        self._add = client.register_script(_scripts.ADD)
        self._delete_owned = client.register_script(_scripts.DELETE_OWNED)
        self._forget_stale = client.register_script(_scripts.FORGET_STALE)
        self._increment = client.register_script(_scripts.INCREMENT)
        self._async = AsyncReader(client)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "sso:", *, settings: RedisSettings | None = None
    ) -> RedisEphemeralStore:
        """A store over a new client for ``url`` (``redis://``, ``rediss://``, ``unix://``)
        with the timeouts, retries and pool size of ``settings`` (docs/storage.md)."""
        settings = settings or RedisSettings()
        retry = Retry(
            FullJitterBackoff(cap=settings.retry_backoff_max, base=settings.retry_backoff),
            settings.retry_attempts,
            # a timed-out command is not tried again: a hung server fails within the timeout
            supported_errors=(redis.ConnectionError,),
        )
        try:
            pool = redis.BlockingConnectionPool.from_url(
                url,
                max_connections=settings.max_connections,
                timeout=settings.pool_timeout,
                socket_timeout=settings.socket_timeout,
                socket_connect_timeout=settings.connect_timeout,
                health_check_interval=settings.health_check_interval,
                retry=retry,
            )
        except ValueError as exc:
            raise ConfigError(f"not a Redis URL: {exc}", code="config.bad_store_url") from None
        return cls(redis.Redis(connection_pool=pool), prefix)

    @property
    def client(self) -> redis.Redis:
        """The Redis client in use."""
        return self._client

    @property
    def prefix(self) -> str:
        """The prefix of every key this store writes."""
        return self._prefix

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def ping(self) -> None:
        """One round trip (PING); ``store.unavailable`` when Redis does not answer within
        the client's socket timeout."""
        with _served():
            self._client.ping()

    def put(
        self,
        kind: str,
        key: str,
        value: bytes,
        expires_at: datetime,
        now: datetime,
        *,
        owner: str | None = None,
    ) -> None:
        """Store ``value``, replacing any entry under the same key."""
        name = self._name(kind, key)
        data = _payload(value, expires_at, (owner or "").encode())
        ttl = _ttl_ms(expires_at, now)
        with _served():
            if owner:
                self._put_owned([name, self._owner_set(kind, owner)], [data, ttl, key])
            else:
                self._client.set(name, data, px=ttl)

    def add(
        self,
        kind: str,
        key: str,
        value: bytes,
        expires_at: datetime,
        now: datetime,
        *,
        owner: str | None = None,
    ) -> bool:
        """Store ``value`` only if no live entry has this key; True when stored."""
        keys = [self._name(kind, key)]
        args: list[bytes | int | str] = [
            _payload(value, expires_at, (owner or "").encode()),
            _ttl_ms(expires_at, now),
            _micros(now),
        ]
        if owner:
            keys.append(self._owner_set(kind, owner))
            args.append(key)
        with _served():
            return bool(self._add(keys, args))

    def get(self, kind: str, key: str, now: datetime) -> bytes | None:
        """The live entry's value, or None: exactly one GET."""
        if kind not in self._kinds:
            self._check_kind(kind)
        ahead, raw = prefetched(kind, key)
        if not ahead:
            try:
                raw = cast("bytes | None", self._client.get(f"{self._prefix}{kind}:{key}"))
            except redis.RedisError as exc:
                raise _store_error(exc) from exc
        if raw is None or int(raw[:16], 16) <= _micros(now):
            return None
        return raw[_HEADER + int(raw[16:_HEADER], 16) :]

    async def read_ahead(self, kind: str, key: str) -> tuple[bool, bytes | None] | None:
        """What :meth:`get` of ``kind`` and ``key`` would read, read on an asyncio client
        (:mod:`sso_bridge.inline`); ``None`` when there is none for this connection, a
        ``StoreError`` as :meth:`get` raises it."""
        if not self._async.available:
            return None
        try:
            return (True, await self._async.get(f"{self._prefix}{kind}:{key}"))
        except redis.RedisError as exc:
            raise _store_error(exc) from exc

    def consume(self, kind: str, key: str, now: datetime) -> bytes | None:
        """Remove the entry and return its value if it was live: one GETDEL, one winner."""
        name = self._name(kind, key)
        with _served():
            raw = cast("bytes | None", self._client.getdel(name))
        if raw is None:
            return None
        expires_micros, _owner, value = _split(raw)
        return value if expires_micros > _micros(now) else None

    def delete(self, kind: str, key: str) -> bool:
        """Remove the entry; True if there was one (live or not)."""
        name = self._name(kind, key)
        with _served():
            return bool(self._client.delete(name))

    def increment(
        self, kind: str, key: str, expires_at: datetime, now: datetime
    ) -> tuple[int, datetime]:
        """Add one to the counter under the key; the count and when the counter expires."""
        name = self._name(kind, key)
        args: list[bytes | int] = [
            _payload(b"1", expires_at, b""),
            _ttl_ms(expires_at, now),
            _micros(now),
        ]
        with _served():
            count, expires_hex = cast("list[Any]", self._increment([name], args))
        return int(count), _EPOCH + int(expires_hex, 16) * _MICROSECOND

    def owned_by(self, kind: str, owner: str, now: datetime) -> list[tuple[str, bytes]]:
        """The live ``(key, value)`` pairs of ``kind`` put with this ``owner``, by key."""
        if not owner:
            return []
        owner_set = self._owner_set(kind, owner)
        owned, now_us = owner.encode(), _micros(now)
        found: list[tuple[str, bytes]] = []
        stale: list[bytes] = []
        with _served():
            members = sorted(cast("set[bytes]", self._client.smembers(owner_set)))
            if not members:
                return []
            names = self._member_names(kind, members)
            raws = cast("list[bytes | None]", self._client.mget(names))
            for member, raw in zip(members, raws, strict=True):
                entry = None if raw is None else _split(raw)
                if entry is None or entry[0] <= now_us or entry[1] != owned:
                    stale.append(member)
                else:
                    found.append((member.decode(), entry[2]))
            if stale:
                keys: list[str | bytes] = [owner_set, *self._member_names(kind, stale)]
                self._forget_stale(keys, [owned, now_us, *stale])
        found.sort()
        return found

    def delete_owned_by(self, kind: str, owner: str) -> int:
        """Remove every entry of ``kind`` put with this ``owner``; how many went."""
        if not owner:
            return 0
        owner_set = self._owner_set(kind, owner)
        with _served():
            members = list(cast("set[bytes]", self._client.smembers(owner_set)))
            if not members:
                return 0
            keys: list[str | bytes] = [owner_set, *self._member_names(kind, members)]
            return int(self._delete_owned(keys, [owner.encode(), *members]))

    def scan(
        self, kind: str, now: datetime, cursor: str | None = None, limit: int = 500
    ) -> tuple[list[tuple[str, bytes]], str | None]:
        """Live ``(key, value)`` pairs of ``kind`` from one SCAN round (about ``limit`` keys
        looked at) after ``cursor`` (None: from the start), and the cursor to go on from
        (None: done). SCAN walks the whole database: for rare tasks such as an erasure."""
        start = self._name(kind, "").encode()
        pattern = re.sub(rb"([*?\[\]\\])", rb"\\\1", start) + b"*"
        with _served():
            position, names = self._client.scan(int(cursor or 0), match=pattern, count=limit)
            raws = cast("list[bytes | None]", self._client.mget(names)) if names else []
        now_us = _micros(now)
        found: list[tuple[str, bytes]] = []
        for name, raw in zip(names, raws, strict=True):
            if raw is not None and int(raw[:16], 16) > now_us:
                found.append((cast("bytes", name)[len(start) :].decode(), _split(raw)[2]))
        return found, None if int(position) == 0 else str(position)

    # -- key names -----------------------------------------------------------------------

    def _name(self, kind: str, key: str) -> str:
        if kind not in self._kinds:
            self._check_kind(kind)
        return f"{self._prefix}{kind}:{key}"

    def _owner_set(self, kind: str, owner: str) -> str:
        return f"{self._prefix}owner:{kind}:{owner}"

    def _member_names(self, kind: str, members: Sequence[bytes]) -> list[bytes]:
        start = f"{self._prefix}{kind}:".encode()
        return [start + member for member in members]

    def _check_kind(self, kind: str) -> None:
        if not kind or ":" in kind or kind == "owner":
            raise InvalidInput(
                f"{kind!r} cannot be a kind: it must be non-empty, without ':', not 'owner'",
                code="input.invalid",
            )
        self._kinds.add(kind)


# Replies of a server that cannot serve for now (loading, a replica, out of memory, ...).
_TRANSIENT_REPLIES = (
    "LOADING",
    "READONLY",
    "MASTERDOWN",
    "OOM",
    "BUSY",
    "TRYAGAIN",
    "CLUSTERDOWN",
    "NOREPLICAS",
    "MISCONF",
)


def _store_error(exc: redis.RedisError) -> StoreError:
    """``store.unavailable`` for every fault of the server or the network; ``store.error``
    for a reply refusing the command itself (a bug, or a key used by something else)."""
    refused = isinstance(exc, redis.ResponseError) and not isinstance(
        exc, redis.ReadOnlyError | redis.exceptions.OutOfMemoryError
    )
    if refused and not str(exc).upper().startswith(_TRANSIENT_REPLIES):
        return StoreError(f"Redis refused a command: {exc}", code="store.error")
    if isinstance(exc, redis.DataError):
        return StoreError(f"Redis refused a command: {exc}", code="store.error")
    return StoreError(f"Redis cannot serve: {exc}", code="store.unavailable")


@contextmanager
def _served() -> Iterator[None]:
    refuse_blocking()
    try:
        yield
    except redis.RedisError as exc:
        raise _store_error(exc) from exc
