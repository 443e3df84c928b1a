"""Open the stores named by URLs (docs/storage.md): the SQL store of accounts, links and
audit, and the short-lived entry store."""

from __future__ import annotations

import sqlalchemy as sa

from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import ConfigError, StoreNotFound
from sso_bridge.matching.keys import BlindIndex
from sso_bridge.store.guard import guard_for
from sso_bridge.store.memory import InMemoryEphemeralStore
from sso_bridge.store.settings import DatabaseSettings, RedisSettings
from sso_bridge.store.sql_engine import check_database_file, create_engine, parse_db_url
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore
from sso_bridge.store.sql_schema import meta_table
from sso_bridge.store.sql_store import SqlStore

__all__ = ["open_ephemeral_store", "open_store"]

_SQL_SCHEMES = ("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")
_REDIS_SCHEMES = ("redis:", "rediss:", "unix:")


def open_store(
    url: str, key: bytes, *, create: bool = True, settings: DatabaseSettings | None = None
) -> SqlStore:
    """Open (creating or migrating on first use) the store at ``url``.

    ``key`` is the blind-index secret (at least 32 bytes). The same key must be used for
    the whole life of a database; a different one is refused with ``store.key_mismatch``.
    With ``create=False`` a database that does not exist yet (no SQLite file, or no schema)
    is refused with ``store.not_found`` and nothing is created. ``settings`` gives the
    timeouts and pool sizes (default :class:`DatabaseSettings()`); a database that cannot
    be reached is ``store.unavailable``.
    """
    parsed = parse_db_url(url)
    if not create:
        check_database_file(url)
    engine = create_engine(url, settings)
    index = BlindIndex(key)
    try:
        with guard_for(engine).call(), engine.connect() as conn:
            if not create and not sa.inspect(conn).has_table(meta_table.name):
                raise StoreNotFound(
                    f"the database {parsed.render_as_string()} has no sso_bridge schema; "
                    "create it with: sso-bridge init --db URL",
                    code="store.not_found",
                )
        return SqlStore(engine, index)
    except BaseException:
        engine.dispose()
        raise


def open_ephemeral_store(
    url: str,
    *,
    settings: DatabaseSettings | None = None,
    redis_settings: RedisSettings | None = None,
) -> EphemeralStore:
    """The store at ``url``: ``memory:``, ``sqlite:///FILE``, ``postgresql://...``
    or ``redis://...`` (``rediss://``, ``unix://`` too); nothing is contacted yet.

    A SQL store takes its timeouts and pool sizes from ``settings``, a Redis one from
    ``redis_settings`` (defaults when not given). Anything else is
    ``config.bad_store_url``.
    """
    if url in ("memory:", "memory://"):
        return InMemoryEphemeralStore()
    if url.startswith(_SQL_SCHEMES):
        if url.rstrip("/") in ("sqlite:", "sqlite:/") or url.startswith("sqlite:///:memory:"):
            raise ConfigError(
                "an in-memory SQLite database is not shared between connections; "
                "use memory: or sqlite:///FILE",
                code="config.bad_store_url",
            )
        return SqlEphemeralStore(create_engine(url, settings))
    if url.startswith(_REDIS_SCHEMES):
        try:
            from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415
        except ImportError:
            raise ConfigError(
                f"{url.split(':', 1)[0]}: needs the redis package: pip install 'sso-bridge[redis]'",
                code="config.bad_store_url",
            ) from None
        return RedisEphemeralStore.from_url(url, settings=redis_settings)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ConfigError(
        f"unsupported store URL scheme {scheme!r}; use memory:, sqlite:///FILE, "
        "postgresql://USER@HOST/DB or redis://HOST:PORT/DB",
        code="config.bad_store_url",
    )
