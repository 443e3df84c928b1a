"""``sso-bridge links``: list, add and remove links."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sso_bridge.cli.main import _open, actor_option, main, store_options
from sso_bridge.cli.output import echo_json, identifier, json_option, text
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.serialize import link_json

F = TypeVar("F", bound=Callable[..., Any])


@main.group()
def links() -> None:
    """Links between federated identities and local accounts."""


@links.command("list")
@click.option("--issuer", callback=identifier)
@click.option("--subject", callback=identifier)
@click.option("--account", "account_id", callback=identifier)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--offset", default=0, type=click.IntRange(0, 1_000_000))
@json_option
@store_options
def links_list(
    issuer: str | None,
    subject: str | None,
    account_id: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """List links, optionally only those of an issuer, subject or account."""
    store = _open(db_url, key_file)
    found = store.list_links(
        issuer=issuer, subject=subject, account_id=account_id, limit=offset + limit
    )[offset:]
    if as_json:
        echo_json([link_json(link) for link in found])
        return
    for link in found:
        fields = (
            link.issuer,
            link.subject,
            link.account_id,
            link.method.value,
            link.created_at.isoformat(timespec="seconds"),
            link.created_by,
        )
        click.echo("\t".join(text(f) for f in fields))


def link_options(func: F) -> F:
    func = click.option("--account", "account_id", required=True, callback=identifier)(func)
    func = click.option("--subject", required=True, callback=identifier)(func)
    return click.option("--issuer", required=True, callback=identifier)(func)


@links.command("add")
@link_options
@actor_option
@json_option
@store_options
def links_add(
    issuer: str,
    subject: str,
    account_id: str,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Link a federated identity to a local account (administrator's decision)."""
    store = _open(db_url, key_file)
    result = Linker(store, store, store).link_admin(
        issuer, subject, account_id, RequestContext(actor)
    )
    if as_json:
        echo_json({"created": result.created, "link": link_json(result.link)})
        return
    state = "linked" if result.created else "already linked"
    click.echo(f"{state}: {text(issuer)} {text(subject)} -> {text(account_id)}")


@links.command("remove")
@link_options
@actor_option
@json_option
@store_options
def links_remove(
    issuer: str,
    subject: str,
    account_id: str,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Remove a link."""
    store = _open(db_url, key_file)
    link = Linker(store, store, store).unlink(issuer, subject, account_id, RequestContext(actor))
    if as_json:
        echo_json({"removed": link_json(link)})
        return
    click.echo(f"unlinked: {text(issuer)} {text(subject)} -x- {text(account_id)}")
