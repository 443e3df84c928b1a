"""Open the short-lived entry store named by a URL (docs/storage.md)."""

from __future__ import annotations

from sso_bridge.errors import ConfigError
from sso_bridge.store.ephemeral import EphemeralStore
from sso_bridge.store.memory import InMemoryEphemeralStore
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore

__all__ = ["open_ephemeral_store"]

_SQL_SCHEMES = ("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")
_REDIS_SCHEMES = ("redis:", "rediss:", "unix:")


def open_ephemeral_store(url: str) -> EphemeralStore:
    """The store at ``url``: ``memory:``, ``sqlite:///FILE``, ``postgresql://...``
    or ``redis://...`` (``rediss://``, ``unix://`` too); nothing is contacted yet.

    Anything else is ``config.bad_store_url``.
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
        return SqlEphemeralStore(create_engine(url))
    if url.startswith(_REDIS_SCHEMES):
        try:
            from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415
        except ImportError:
            raise ConfigError(
                f"{url.split(':', 1)[0]}: needs the redis package: pip install 'sso-bridge[redis]'",
                code="config.bad_store_url",
            ) from None
        return RedisEphemeralStore.from_url(url)
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise ConfigError(
        f"unsupported store URL scheme {scheme!r}; use memory:, sqlite:///FILE, "
        "postgresql://USER@HOST/DB or redis://HOST:PORT/DB",
        code="config.bad_store_url",
    )
