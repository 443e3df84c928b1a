"""``sso-bridge``: inspect, import, match and link accounts from the command line.

Every command takes ``--db URL`` (or ``SSO_BRIDGE_DB``) and ``--json``. A database is
created only by ``init`` and ``accounts import``; every other command refuses one that
does not exist (``store.not_found``). Errors are one line on stderr, ``error: <code>:
<message>`` (with ``--json``: ``{"error": ...}`` on stdout), and an exit status from
:func:`sso_bridge.cli.output.exit_status`; a refused command writes nothing.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
import sqlalchemy as sa

from sso_bridge import __version__
from sso_bridge.audit.chain import verify_log
from sso_bridge.audit.errors import ChainBroken
from sso_bridge.audit.show import event_line, parse_since, report_json
from sso_bridge.cli.output import (
    JSON_META,
    echo_json,
    exit_status,
    fail,
    identifier,
    json_option,
    text,
)
from sso_bridge.errors import AccountNotFound, BridgeError, StoreError
from sso_bridge.importing import import_accounts_files
from sso_bridge.keyfile import KEY_ENV, key_path, resolve_key, sqlite_path
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.serialize import account_json, audit_json, full_name, link_json
from sso_bridge.store.sql import SqlStore, check_database_file, open_store, parse_db_url

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
    except StoreError as exc:
        if exc.code != "store.not_found":
            raise
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


# -- accounts -----------------------------------------------------------------------------


@main.group()
def accounts() -> None:
    """The local accounts directory."""


@accounts.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows; list the bad ones.")
@json_option
@store_options
def accounts_import(
    files: Sequence[Path], skip_invalid: bool, as_json: bool, db_url: str, key_file: Path | None
) -> None:
    """Import accounts from CSV FILES, all in one transaction; re-import updates."""
    store, made = _open_or_create(db_url, key_file)
    if not as_json:
        for what in made:
            click.echo(f"created {text(what)}")
    sizes = [p.stat().st_size if p.is_file() else 0 for p in files]
    if sys.stderr.isatty() and not as_json:
        with click.progressbar(
            length=sum(sizes), label=f"importing {len(files)} file(s)", file=sys.stderr
        ) as bar:
            reports = import_accounts_files(
                store, files, skip_invalid=skip_invalid, progress=bar.update
            )
    else:
        reports = import_accounts_files(store, files, skip_invalid=skip_invalid)
    if as_json:
        echo_json(
            {
                "created": made,
                "files": [
                    {
                        "file": r.source,
                        "imported": r.imported,
                        "skipped": [str(row) for row in r.skipped],
                        "warnings": [str(w) for w in r.warnings],
                    }
                    for r in reports
                ],
            }
        )
        return
    for report in reports:
        for warning in report.warnings:
            click.echo(
                text(f"{warning.source}:{warning.line}: warning: {warning.reason}"), err=True
            )
        for row in report.skipped:
            click.echo(f"{text(row)}  (skipped)", err=True)
        skipped = f", skipped {len(report.skipped)} bad row(s)" if report.skipped else ""
        click.echo(f"{text(report.source)}: imported {report.imported} account(s){skipped}")


@accounts.command("list")
@click.option("--org", "org_id", callback=identifier, help="Only accounts of this organisation.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--offset", default=0, type=click.IntRange(0))
@json_option
@store_options
def accounts_list(
    org_id: str | None,
    limit: int,
    offset: int,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """List local accounts."""
    store = _open(db_url, key_file)
    found = store.list_accounts(org_id=org_id, limit=limit, offset=offset)
    if as_json:
        echo_json([account_json(a) for a in found])
        return
    for a in found:
        birth = a.birth_date.isoformat() if a.birth_date else "-"
        roles = ",".join(a.roles) or "-"
        name = full_name(a.last_name, a.first_name, a.middle_name)
        fields = (a.account_id, a.org_id, roles, name, birth, a.status.value)
        click.echo("\t".join(text(f) for f in fields))


@accounts.command("show")
@click.argument("account_id", callback=identifier)
@json_option
@store_options
def accounts_show(account_id: str, as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Show one account, what is on file for matching, and its links."""
    store = _open(db_url, key_file)
    entry = store.get_entry(account_id)
    if entry is None:
        raise AccountNotFound(f"no local account {account_id!r}")
    links = store.links_for_account(account_id)
    data = account_json(entry.account, entry.organization)
    data["snils_on_file"] = entry.keys.snils is not None
    data["passport_on_file"] = entry.keys.passport is not None
    data["links"] = [link_json(link) for link in links]
    if as_json:
        echo_json(data)
        return
    a = entry.account
    rows = [
        ("account", f"{a.account_id} ({a.status.value})"),
        ("organisation", f"{entry.organization.name} ({a.org_id})"),
        ("name", full_name(a.last_name, a.first_name, a.middle_name)),
        ("login", a.login or "-"),
        ("roles", ", ".join(a.roles) or "-"),
        ("birth date", a.birth_date.isoformat() if a.birth_date else "-"),
        ("SNILS", "on file" if data["snils_on_file"] else "-"),
        ("passport", "on file" if data["passport_on_file"] else "-"),
    ]
    rows.extend(
        (
            "link",
            f"{link.issuer} {link.subject} ({link.method.value}, "
            f"{link.created_at:%Y-%m-%d %H:%M} by {link.created_by})",
        )
        for link in links
    )
    if not links:
        rows.append(("links", "-"))
    for label, value in rows:
        click.echo(f"{label:<12} {text(value)}")


# -- links --------------------------------------------------------------------------------


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


# -- audit --------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("tail")
@click.option(
    "-n", "--limit", "--lines", "limit", default=20, show_default=True, type=click.IntRange(1)
)
@click.option(
    "--account", "account_id", callback=identifier, help="Only events about this local account."
)
@click.option("--since", help="Only events at or after this ISO date or date-time (UTC).")
@json_option
@store_options
def audit_tail(
    limit: int,
    account_id: str | None,
    since: str | None,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Show the newest audit events, oldest first."""
    when = None if since is None else parse_since(since)
    store = _open(db_url, key_file)
    events = store.tail(limit, account_id=account_id, since=when)
    if as_json:
        echo_json([audit_json(e) for e in events])
        return
    for e in events:
        click.echo(event_line(e))


@audit.command("verify")
@json_option
@store_options
def audit_verify(as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Check the hash chain of the whole audit trail; name the first bad record."""
    store = _open(db_url, key_file)
    report = verify_log(store)
    if as_json:
        data = report_json(report)
        if not report.ok:
            data["error"] = {"code": "audit.chain_broken", "message": _broken(report)}
        echo_json(data)
        if not report.ok:
            sys.exit(exit_status("audit.chain_broken"))
        return
    if not report.ok:
        raise ChainBroken(_broken(report), code="audit.chain_broken")
    click.echo(f"audit chain intact: {report.checked} records")


def _broken(report: Any) -> str:
    return (
        f"record {report.first_bad}: {report.reason} "
        f"({report.checked} record(s) before it are intact)"
    )
