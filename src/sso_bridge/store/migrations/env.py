"""Alembic's environment for the SQL store's schema.

:mod:`sso_bridge.store.sql_migrate` hands over the store's own connection (in
``config.attributes["connection"]``), already in the transaction the migration runs in;
offline (``--sql``) it names the dialect. Run from the ``alembic`` command with an
``alembic.ini`` (to write a new revision), ``sqlalchemy.url`` names the database.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from sso_bridge.store.sql_migrate import include_name
from sso_bridge.store.sql_schema import VERSION_TABLE, metadata

config = context.config

_OPTIONS: dict[str, Any] = {
    "target_metadata": metadata,
    "version_table": VERSION_TABLE,
    # SQLite alters most things only by copying the table; ``batch_alter_table`` does that
    "render_as_batch": True,
    "include_name": include_name,
}


def run_offline() -> None:
    dialect = config.attributes.get("dialect") or config.get_main_option("dialect", "sqlite")
    context.configure(dialect_name=dialect, literal_binds=True, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:
        context.configure(connection=conn, **_OPTIONS)
        with context.begin_transaction():
            context.run_migrations()
        return
    from sso_bridge.store.sql_engine import create_engine  # noqa: PLC0415

    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as own:
            context.configure(connection=own, **_OPTIONS)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
