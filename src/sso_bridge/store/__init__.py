"""Storage: protocols and the SQL implementation (SQLite default, PostgreSQL), and the
short-lived entry stores (in memory, SQL, Redis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sso_bridge.store.base import AccountDirectory, AuditLog, LinkStore
from sso_bridge.store.ephemeral import EphemeralStore
from sso_bridge.store.memory import InMemoryEphemeralStore
from sso_bridge.store.open import open_ephemeral_store
from sso_bridge.store.sql import SqlStore, open_store
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore

if TYPE_CHECKING:
    from sso_bridge.store.redis import RedisEphemeralStore

__all__ = [
    "AccountDirectory",
    "AuditLog",
    "EphemeralStore",
    "InMemoryEphemeralStore",
    "LinkStore",
    "RedisEphemeralStore",
    "SqlEphemeralStore",
    "SqlStore",
    "open_ephemeral_store",
    "open_store",
]


def __getattr__(name: str) -> object:
    # The redis package is optional: it is imported only when its store is asked for.
    if name == "RedisEphemeralStore":
        from sso_bridge.store.redis import RedisEphemeralStore  # noqa: PLC0415

        return RedisEphemeralStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
