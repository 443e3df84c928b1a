"""Creating and upgrading the SQL store's schema on first use.

The settings in ``sso_meta`` say which schema version, blind-index key and name rules the
database was built with: a newer schema is refused, another key is refused, older schemas
are upgraded, and name keys are recomputed when the name normalisation rules changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sso_bridge.errors import StoreError
from sso_bridge.matching.keys import name_key
from sso_bridge.matching.normalize import NAME_RULES_VERSION, normalize_name
from sso_bridge.store.sql_audit import SqlAuditTrail
from sso_bridge.store.sql_audit_upgrade import upgrade_audit
from sso_bridge.store.sql_schema import SCHEMA_VERSION, accounts, meta_table, metadata

__all__ = ["migrate"]

Insert = Callable[[sa.Table], Any]


def migrate(conn: Connection, insert: Insert, key_id: str, trail: SqlAuditTrail) -> None:
    """Create or upgrade the schema in the transaction ``conn``, for the blind-index key
    ``key_id``; ``insert`` makes the dialect's INSERT (with ``ON CONFLICT``)."""
    if conn.dialect.name == "postgresql":
        # Serialise first use by several processes; CREATE TABLE races otherwise.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7261531)"))
    metadata.create_all(conn, checkfirst=True)
    stored = dict(conn.execute(sa.select(meta_table.c.name, meta_table.c.value)).all())
    version = int(stored.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema version {version}; this sso_bridge knows "
            f"up to {SCHEMA_VERSION}. Upgrade sso_bridge.",
            code="store.schema_too_new",
        )
    stored_key = stored.get("blind_index_key_id")
    if stored_key is not None and stored_key != key_id:
        raise StoreError(
            "the blind-index key differs from the one this database was built with",
            code="store.key_mismatch",
        )
    if version < SCHEMA_VERSION:
        _upgrade(conn, trail, version)
        _put_meta(conn, insert, "schema_version", str(SCHEMA_VERSION))
    rules = str(NAME_RULES_VERSION)
    if stored.get("name_rules") != rules:
        if "name_rules" in stored:
            _rebuild_name_keys(conn)
        _put_meta(conn, insert, "name_rules", rules)
    if stored_key is None:
        _put_meta(conn, insert, "blind_index_key_id", key_id)


def _upgrade(conn: Connection, trail: SqlAuditTrail, version: int) -> None:
    """Schema 1 -> 2: the login index; audit columns, its index, its rows chained.
    2 -> 3: several audit chains (:mod:`.sql_audit_upgrade`). 3 -> 4: the new table
    ``hidden_accounts``, which ``create_all`` above has made already."""
    for index in accounts.indexes:
        index.create(conn, checkfirst=True)
    upgrade_audit(conn, trail, version)


def _rebuild_name_keys(conn: Connection) -> None:
    """Recompute every name key after the name normalisation rules changed."""
    query = sa.select(
        accounts.c.account_id,
        accounts.c.last_name,
        accounts.c.first_name,
        accounts.c.birth_date,
    ).where(accounts.c.birth_date.is_not(None))
    update = (
        accounts.update()
        .where(accounts.c.account_id == sa.bindparam("id"))
        .values(name_key=sa.bindparam("key"))
    )
    batch: list[dict[str, Any]] = []
    for account_id, last, first, birth in conn.execute(query).all():
        key = name_key(normalize_name(last), normalize_name(first), birth)
        batch.append({"id": account_id, "key": key})
    if batch:
        conn.execute(update, batch)


def _put_meta(conn: Connection, insert: Insert, name: str, value: str) -> None:
    stmt = insert(meta_table).values(name=name, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value}))
