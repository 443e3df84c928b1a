"""``sso-bridge links``: list, add and remove links; list, approve and refuse the link
requests queued for an administrator."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from sso_bridge.cli.main import _open, actor_option, main, store_options
from sso_bridge.cli.output import echo_json, identifier, json_option, text
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.linking.requests import DEFAULT_TTL, MAX_PENDING, LinkRequest, LinkRequests
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


# -- link requests queued for an administrator (docs/reauthentication.md) -----------------


def _requests(db_url: str, key_file: Path | None, ttl_days: int) -> LinkRequests:
    store = _open(db_url, key_file)
    return LinkRequests(store, Linker(store, store, store), store, ttl=timedelta(days=ttl_days))


def request_options(func: F) -> F:
    func = store_options(func)
    return click.option(
        "--ttl-days",
        default=DEFAULT_TTL.days,
        show_default=True,
        type=click.IntRange(1, 3650),
        help="How many days a request waits before it expires.",
    )(func)


def _request_json(request: LinkRequest) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "account_id": request.account_id,
        "issuer": request.issuer,
        "subject": request.subject,
        "differing": request.differing,
        "created_at": request.created_at.isoformat(),
        "ip": request.ip,
    }


@links.command("requests")
@click.option("--account", "account_id", callback=identifier)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, MAX_PENDING))
@json_option
@request_options
def links_requests(
    account_id: str | None,
    limit: int,
    as_json: bool,
    ttl_days: int,
    db_url: str,
    key_file: Path | None,
) -> None:
    """List the pending link requests, oldest first."""
    found = _requests(db_url, key_file, ttl_days).pending(account_id=account_id, limit=limit)
    if as_json:
        echo_json([_request_json(r) for r in found])
        return
    for request in found:
        fields = (
            request.request_id,
            request.issuer,
            request.subject,
            request.account_id,
            request.differing,
            request.created_at.isoformat(timespec="seconds"),
        )
        click.echo("\t".join(text(f) for f in fields))


@links.command("approve")
@click.argument("request_id", callback=identifier)
@actor_option
@json_option
@request_options
def links_approve(
    request_id: str,
    actor: str,
    as_json: bool,
    ttl_days: int,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Approve a pending link request: link it (administrator's decision)."""
    link = _requests(db_url, key_file, ttl_days).approve(request_id, actor)
    if as_json:
        echo_json({"approved": request_id, "link": link_json(link)})
        return
    who = f"{text(link.issuer)} {text(link.subject)} -> {text(link.account_id)}"
    click.echo(f"approved {text(request_id)}, linked: {who}")


@links.command("refuse")
@click.argument("request_id", callback=identifier)
@actor_option
@json_option
@request_options
def links_refuse(
    request_id: str,
    actor: str,
    as_json: bool,
    ttl_days: int,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Refuse a pending link request; nothing is linked."""
    request = _requests(db_url, key_file, ttl_days).refuse(request_id, actor)
    if as_json:
        echo_json({"refused": _request_json(request)})
        return
    click.echo(f"refused {text(request_id)}: {text(request.account_id)} stays unlinked")
