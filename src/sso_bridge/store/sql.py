"""The SQL store (SQLite, the embedded default, and PostgreSQL): what it exports.

The store is :class:`SqlStore` (:mod:`.sql_store`), opened with :func:`open_store`
(:mod:`.open`); engines and URLs are in :mod:`.sql_engine`, the tables in
:mod:`.sql_schema`, their creation and upgrades in :mod:`.sql_migrate`, and the store's
parts in :mod:`.sql_directory`, :mod:`.sql_links` and :mod:`.sql_audit`.
"""

from sso_bridge.store.open import open_store
from sso_bridge.store.sql_engine import check_database_file, create_engine, parse_db_url
from sso_bridge.store.sql_schema import (
    SCHEMA_VERSION,
    accounts,
    audit,
    links,
    meta_table,
    metadata,
    organizations,
)
from sso_bridge.store.sql_store import SqlStore

__all__ = [
    "SCHEMA_VERSION",
    "SqlStore",
    "accounts",
    "audit",
    "check_database_file",
    "create_engine",
    "links",
    "meta_table",
    "metadata",
    "open_store",
    "organizations",
    "parse_db_url",
]
