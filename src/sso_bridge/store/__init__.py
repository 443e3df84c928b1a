"""Storage: protocols and the SQL implementation (SQLite default, PostgreSQL)."""

from sso_bridge.store.base import AccountDirectory, AuditLog, LinkStore
from sso_bridge.store.sql import SqlStore, open_store

__all__ = ["AccountDirectory", "AuditLog", "LinkStore", "SqlStore", "open_store"]
