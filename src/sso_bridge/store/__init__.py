"""Storage: the implementations of the ports. The SQL store of accounts, links and audit
(SQLite default, PostgreSQL), and the short-lived entry stores (in memory, SQL, Redis).

The ports themselves live beside the parts that use them (docs/design.md);
``AccountDirectory``, ``AuditLog``, ``LinkStore`` and ``EphemeralStore`` are re-exported
here for one release, from :mod:`sso_bridge.matching.ports`, :mod:`sso_bridge.audit.ports`,
:mod:`sso_bridge.linking.ports` and :mod:`sso_bridge.ephemeral`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sso_bridge.audit.ports import AuditLog
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.linking.ports import LinkStore
from sso_bridge.matching.ports import AccountDirectory
from sso_bridge.store.memory import InMemoryEphemeralStore
from sso_bridge.store.open import open_ephemeral_store, open_store
from sso_bridge.store.settings import DatabaseSettings, RedisSettings
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore
from sso_bridge.store.sql_store import SqlStore

if TYPE_CHECKING:
    from sso_bridge.store.redis import RedisEphemeralStore

__all__ = [
    "AccountDirectory",
    "AuditLog",
    "DatabaseSettings",
    "EphemeralStore",
    "InMemoryEphemeralStore",
    "LinkStore",
    "RedisEphemeralStore",
    "RedisSettings",
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
