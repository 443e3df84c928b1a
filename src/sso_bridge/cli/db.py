"""``sso-bridge db``: the schema's revision, and upgrading it (docs/storage.md)."""

from __future__ import annotations

from pathlib import Path

import click

from sso_bridge.cli.main import _open, main, store_options
from sso_bridge.cli.output import echo_json, json_option
from sso_bridge.errors import StoreNotFound
from sso_bridge.store.sql_engine import check_database_file, create_engine, parse_db_url
from sso_bridge.store.sql_migrate import SchemaState, read_state, schema_sql
from sso_bridge.store.sql_schema import SCHEMA_REVISION


@main.group()
def db() -> None:
    """The database schema: its revision and upgrades."""


def _state(db_url: str) -> SchemaState:
    parsed = parse_db_url(db_url)
    check_database_file(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            state = read_state(conn)
    finally:
        engine.dispose()
    if state.settings is None:
        raise StoreNotFound(
            f"the database {parsed.render_as_string()} has no sso_bridge schema; "
            "create it with: sso-bridge init --db URL",
            code="store.not_found",
        )
    return state


def _revision(state: SchemaState) -> str:
    if state.revision is None:
        return "none (made before the revisions)"
    return state.revision + (" (newest)" if state.revision == SCHEMA_REVISION else "")


@db.command("current")
@json_option
@store_options
def db_current(as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Show the database's revision and whether an upgrade is pending (changes nothing;
    no key needed)."""
    del key_file
    state = _state(db_url)
    pending = not state.current
    if as_json:
        echo_json(
            {
                "revision": state.revision,
                "schema_version": state.version,
                "head": SCHEMA_REVISION,
                "upgrade_pending": pending,
            }
        )
        return
    line = f"revision {_revision(state)}, schema version {state.version}"
    click.echo(line + (": upgrade pending (sso-bridge db upgrade)" if pending else ""))


@db.command("upgrade")
@click.option(
    "--sql",
    "offline",
    is_flag=True,
    help="Print the SQL that creates a new database's schema (for --db's kind of "
    "database) instead of connecting; existing databases are upgraded online.",
)
@json_option
@store_options
def db_upgrade(offline: bool, as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Upgrade the database's schema to this release's newest revision."""
    if offline:
        click.echo(schema_sql(parse_db_url(db_url).get_backend_name()), nl=False)
        return
    before = _state(db_url)
    _open(db_url, key_file).close()  # opening the store runs the upgrade
    after = _state(db_url)
    if as_json:
        echo_json({"from": before.revision, "to": after.revision, "schema_version": after.version})
    elif before.revision == after.revision:
        click.echo(f"already at revision {_revision(after)}; nothing changed")
    else:
        click.echo(
            f"upgraded from revision {_revision(before)} (schema version {before.version}) "
            f"to {after.revision} (schema version {after.version})"
        )
