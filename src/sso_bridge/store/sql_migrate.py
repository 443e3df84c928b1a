"""Creating and upgrading the SQL store's schema on first use, with the Alembic revisions
in :mod:`sso_bridge.store.migrations`.

The database's revision is kept in :data:`~.sql_schema.VERSION_TABLE`; the settings in
``sso_meta`` say which schema version, blind-index key and name rules it was built with.
A newer schema is refused, another key is refused, older schemas are upgraded (a database
made before the revisions, which has a ``schema_version`` but no revision, is first
recognised as the revision of that version), and name keys are recomputed when the name
normalisation rules changed. Alembic is imported only when there is something to do.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sso_bridge.errors import StoreError
from sso_bridge.matching.keys import name_key
from sso_bridge.matching.normalize import NAME_RULES_VERSION, normalize_name
from sso_bridge.store.sql_schema import (
    SCHEMA_REVISION,
    SCHEMA_VERSION,
    VERSION_TABLE,
    accounts,
    meta_table,
    metadata,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from sso_bridge.store.sql_audit import SqlAuditTrail

__all__ = [
    "LEGACY_REVISIONS",
    "SchemaState",
    "include_name",
    "migrate",
    "read_state",
    "schema_sql",
]

Insert = Callable[[sa.Table], Any]

LEGACY_REVISIONS = {1: "0001", 2: "0002", 3: "0003"}
"""The revision a database made before the revisions is at, by its ``schema_version``."""
_LEGACY_VERSIONS = {"0001": 1, "0002": 2, "0003": 3, "0004": 3, "0005": 3, "0006": 3, "0007": 3}
"""The ``schema_version`` each revision leaves (one that only adds keeps the version)."""

MIGRATE_LOCK = 7261531
"""The PostgreSQL advisory lock held while the schema is checked or upgraded."""


@attrs.frozen
class SchemaState:
    """Where a database's schema is: ``revision`` (``None`` before the revisions or when
    there is no schema), ``version`` (``schema_version``, 0 when there is no schema) and
    the settings in ``sso_meta`` (``None`` when there is no such table)."""

    revision: str | None
    version: int
    settings: dict[str, str] | None

    @property
    def current(self) -> bool:
        """Nothing to upgrade: at the newest revision this release knows, or a newer
        release's revision that this one still reads (its ``schema_version`` is known)."""
        if self.settings is None or self.stamp is not None:
            return False
        if self.revision == SCHEMA_REVISION:
            return True
        return self.revision is not None and self.revision not in _script_revisions()

    @property
    def stamp(self) -> str | None:
        """The revision to record before upgrading, when the one recorded is missing (a
        database made before the revisions) or older than ``schema_version`` says."""
        if self.settings is None:
            return None
        implied = _LEGACY_VERSIONS.get(self.revision or "", 0)
        if self.revision is not None and (implied == 0 or self.version >= implied):
            return None
        legacy = LEGACY_REVISIONS.get(self.version)
        if legacy is None:
            raise StoreError(
                f"the database has sso_bridge's settings but schema version "
                f"{self.version!r}, which no release made; restore it from a backup",
                code="store.error",
            )
        return legacy


def read_state(conn: Connection) -> SchemaState:
    """The schema state of ``conn``'s database; changes nothing."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(meta_table.name):
        return SchemaState(None, 0, None)
    settings = dict(conn.execute(sa.select(meta_table.c.name, meta_table.c.value)).all())
    revision = None
    if inspector.has_table(VERSION_TABLE):
        revision = conn.scalar(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    try:
        version = int(settings.get("schema_version", "0"))
    except ValueError:
        version = 0
    return SchemaState(revision, version, settings)


def migrate(conn: Connection, insert: Insert, key_id: str, trail: SqlAuditTrail) -> None:
    """Create or upgrade the schema in the transaction ``conn``, for the blind-index key
    ``key_id``; ``insert`` makes the dialect's INSERT (with ``ON CONFLICT``). ``trail`` is
    not needed any more: the revisions describe the tables as they were."""
    del trail
    if conn.dialect.name == "postgresql":
        # Serialise first use by several processes; CREATE TABLE races otherwise.
        conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK})"))
    state = read_state(conn)
    stored = state.settings or {}
    if state.version > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema version {state.version}; this sso_bridge knows "
            f"up to {SCHEMA_VERSION}. Upgrade sso_bridge.",
            code="store.schema_too_new",
        )
    stored_key = stored.get("blind_index_key_id")
    if stored_key is not None and stored_key != key_id:
        raise StoreError(
            "the blind-index key differs from the one this database was built with",
            code="store.key_mismatch",
        )
    if not state.current:
        _upgrade(conn, state)
    rules = str(NAME_RULES_VERSION)
    if stored.get("name_rules") != rules:
        if "name_rules" in stored:
            _rebuild_name_keys(conn)
        _put_meta(conn, insert, "name_rules", rules)
    if stored_key is None:
        _put_meta(conn, insert, "blind_index_key_id", key_id)


def _upgrade(conn: Connection, state: SchemaState) -> None:
    from alembic import command  # noqa: PLC0415 - only when the schema changes

    if conn.dialect.name == "postgresql":
        # Rewriting a large audit table outlasts a login's statement. Lock waits stay
        # short: an ALTER queued behind a running instance's transaction would queue
        # every other query behind it.
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    config = _config(conn=conn)
    if state.stamp is not None:
        command.stamp(config, state.stamp, purge=True)
    command.upgrade(config, "head")


def schema_sql(dialect: str) -> str:
    """The SQL script that creates the schema of a new ``dialect`` (``sqlite`` or
    ``postgresql``) database at the newest revision, for running by hand."""
    from alembic import command  # noqa: PLC0415

    out = io.StringIO()
    config = _config(dialect=dialect, output=out)
    command.upgrade(config, "head", sql=True)
    return out.getvalue()


def _config(
    conn: Connection | None = None, dialect: str | None = None, output: io.StringIO | None = None
) -> Config:
    from alembic.config import Config  # noqa: PLC0415

    config = Config(output_buffer=output)
    config.set_main_option("script_location", _script_location())
    config.attributes.update(connection=conn, dialect=dialect)
    return config


def include_name(name: str | None, kind: str, _parents: Any) -> bool:
    """For Alembic's comparisons: only the store's own tables, not the others that may
    share the database (the short-lived entries, credentials, the application's)."""
    return kind != "table" or name in metadata.tables


def _script_location() -> str:
    # a package directory in the installed wheel (never a zip): a plain path works
    return str(files("sso_bridge.store.migrations"))


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    return ScriptDirectory(_script_location())


def _script_revisions() -> frozenset[str]:
    return frozenset(r.revision for r in _script().walk_revisions())


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
