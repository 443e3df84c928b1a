"""``sso-bridge``: inspect, import, match and link accounts from the command line.

This module holds the command group, the options every command shares, opening the
database, and ``init``; the commands are in :mod:`.accounts`, :mod:`.links`,
:mod:`.audit`, :mod:`.match`, :mod:`.credentials`, :mod:`.esia` and :mod:`.person`.

Every command takes ``--db URL`` (or ``SSO_BRIDGE_DB``) and ``--json``. A database is
created only by ``init`` and ``accounts import``; every other command refuses one that
does not exist (``store.not_found``). Errors are one line on stderr, ``error: <code>:
<message>`` (with ``--json``: ``{"error": ...}`` on stdout), and an exit status from
:func:`sso_bridge.cli.output.exit_status`; a refused command writes nothing.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa

from sso_bridge import __version__
from sso_bridge.cli.output import JSON_META, echo_json, fail, identifier, json_option, text
from sso_bridge.errors import BridgeError, StoreError, StoreNotFound
from sso_bridge.keyfile import KEY_ENV, key_path, resolve_key, sqlite_path
from sso_bridge.store.open import open_store
from sso_bridge.store.sql_engine import check_database_file, parse_db_url
from sso_bridge.store.sql_store import SqlStore

DEFAULT_DB = "sqlite:///sso_bridge.db"
F = TypeVar("F", bound=Callable[..., Any])


class _Cli(click.Group):
    """Turns every error into one line (or JSON) and the exit status of its code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[JSON_META] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        as_json = bool(ctx.meta.get(JSON_META))
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BridgeError as exc:
            fail(exc, as_json)
        except sa.exc.SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            fail(StoreError((str(orig).splitlines() or ["?"])[0]), as_json)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            fail(BridgeError(f"unexpected {message}"), as_json)


def store_options(func: F) -> F:
    func = click.option(
        "--key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="SSO_BRIDGE_KEY_FILE",
        help="Blind-index key file (default for SQLite: <database>.key beside it).",
    )(func)
    return click.option(
        "--db",
        "db_url",
        envvar="SSO_BRIDGE_DB",
        default=DEFAULT_DB,
        show_default=True,
        help="Database URL: sqlite:///FILE or postgresql://USER@HOST/DB (env SSO_BRIDGE_DB).",
    )(func)


def actor_option(func: F) -> F:
    return click.option(
        "--actor",
        default=lambda: f"admin:{_user()}",
        show_default="admin:$USER",
        callback=identifier,
        help="Who is acting, as written to the audit trail.",
    )(func)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _open(db_url: str, key_file: Path | None) -> SqlStore:
    """The existing database at ``db_url``; ``store.not_found`` when there is none."""
    parse_db_url(db_url)
    check_database_file(db_url)
    return open_store(db_url, resolve_key(db_url, key_file, create=False), create=False)


def _open_or_create(db_url: str, key_file: Path | None) -> tuple[SqlStore, list[str]]:
    """The database at ``db_url``, created with its key when missing; what was created."""
    try:
        return _open(db_url, key_file), []
    except StoreNotFound:
        pass
    made: list[str] = [f"database {parse_db_url(db_url).render_as_string()}"]
    new_key = None if key_file or os.environ.get(KEY_ENV) else key_path(db_url)
    if new_key is not None and not new_key.exists():
        made.append(f"key file {new_key} (mode 0600; back it up with the database)")
    db_path = sqlite_path(db_url)
    if db_path is not None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    return open_store(db_url, resolve_key(db_url, key_file), create=True), made


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sso-bridge")
def main() -> None:
    """Identity broker administration: accounts, record matching, links, audit."""


@main.command("init")
@json_option
@store_options
def init(as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Create the database and its key (nothing changes if it exists)."""
    _store, made = _open_or_create(db_url, key_file)
    if as_json:
        echo_json({"created": made})
    elif made:
        for what in made:
            click.echo(f"created {text(what)}")
    else:
        click.echo("the database exists already; nothing changed")
