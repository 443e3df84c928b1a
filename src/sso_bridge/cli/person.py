"""``sso-bridge person export | erase``: answer a person's access or erasure request
(docs/privacy.md).

A person is named by ``--account ID`` or by ``--issuer URL --subject S``. Both commands
reach the database (accounts, links, hidden accounts, credentials, link requests, event
dead letters, audit trail) and, with ``--ephemeral-url``, the brokers' short-lived store
(sessions, kept requests, login steps, second-factor locks).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from sso_bridge.cli.credentials import open_credentials
from sso_bridge.cli.main import _open, actor_option, main, store_options
from sso_bridge.cli.output import echo_json, identifier, json_option, text
from sso_bridge.errors import InvalidInput, UsageError
from sso_bridge.keyfile import resolve_key
from sso_bridge.privacy import ErasureReport, Person, PersonStores, erase_person, export_person
from sso_bridge.privacy.stores import ErasableRecords
from sso_bridge.store import open_ephemeral_store
from sso_bridge.store.sql_events import SqlEventStore

__all__ = ["person"]

F = TypeVar("F", bound=Callable[..., Any])


@main.group()
def person() -> None:
    """Export or erase what is held about one person."""


def _person_options(func: F) -> F:
    for option in reversed(
        (
            click.option("--account", "account_id", callback=identifier, help="A local account."),
            click.option("--issuer", callback=identifier, help="The IdP of a federated identity."),
            click.option("--subject", callback=identifier, help="Its subject at that IdP."),
            click.option(
                "--ephemeral-url",
                envvar="SSO_BRIDGE_EPHEMERAL_URL",
                help="The brokers' short-lived store (redis://... or a database URL): "
                "sessions, kept requests, login steps (env SSO_BRIDGE_EPHEMERAL_URL).",
            ),
        )
    ):
        func = option(func)
    return func


def _person(account_id: str | None, issuer: str | None, subject: str | None) -> Person:
    if account_id is not None and (issuer is not None or subject is not None):
        raise UsageError("give --account, or --issuer and --subject, not both")
    if account_id is not None:
        return Person.account(account_id)
    if issuer is None or subject is None:
        raise UsageError("give --account, or both --issuer and --subject")
    return Person.identity(issuer, subject)


@contextmanager
def _stores(
    db_url: str, key_file: Path | None, ephemeral_url: str | None
) -> Iterator[PersonStores]:
    store = _open(db_url, key_file)
    ephemeral = None if not ephemeral_url else open_ephemeral_store(ephemeral_url)
    try:
        yield PersonStores(
            store=store,
            credentials=open_credentials(store, resolve_key(db_url, key_file)),
            ephemeral=ephemeral,
            link_requests=store if isinstance(store, ErasableRecords) else None,
            events=SqlEventStore(store.engine),
        )
    finally:
        close = getattr(ephemeral, "close", None)
        if close is not None:
            close()
        store.close()


def _write_new(path: Path, data: str) -> None:
    """Write ``data`` to a new file only its owner can read."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(f"{path} exists; name a new file", code="input.invalid") from None
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}", code="input.invalid") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(data)


@person.command("export")
@_person_options
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to this new file."
)
@actor_option
@json_option
@store_options
def person_export(
    account_id: str | None,
    issuer: str | None,
    subject: str | None,
    ephemeral_url: str | None,
    out: Path | None,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Everything held about a person, as JSON (audited as person_exported)."""
    who = _person(account_id, issuer, subject)
    with _stores(db_url, key_file, ephemeral_url) as stores:
        export = export_person(stores, who, actor)
    if out is None:
        echo_json(export)
        return
    _write_new(out, json.dumps(export, ensure_ascii=False, indent=2) + "\n")
    if as_json:
        echo_json({"exported_to": str(out)})
    else:
        click.echo(f"exported to {text(out)} (mode 0600)")


def _say(report: ErasureReport) -> None:
    click.echo(f"erased; reference {report.reference}")
    for name, value in report.as_json().items():
        if name not in ("reference", "person", "not_reached") and value is not None:
            click.echo(f"  {name.replace('_', ' ')}: {value}")
    for what in report.not_reached:
        click.echo(f"  not reached: {what}")


@person.command("erase")
@_person_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@actor_option
@json_option
@store_options
def person_erase(
    account_id: str | None,
    issuer: str | None,
    subject: str | None,
    ephemeral_url: str | None,
    yes: bool,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Erase what is held about a person (audited as erasure); asks first unless --yes."""
    who = _person(account_id, issuer, subject)
    if not yes:
        named = (
            f"account {who.account_id}"
            if who.account_id is not None
            else f"federated identity {who.issuer} {who.subject}"
        )
        click.confirm(
            f"erase everything held about {text(named)}? This cannot be undone", abort=True
        )
    with _stores(db_url, key_file, ephemeral_url) as stores:
        report = erase_person(stores, who, actor)
    if as_json:
        echo_json(report.as_json())
    else:
        _say(report)
