"""``sso-bridge``: inspect, import, match and link accounts from the command line.

Every command takes ``--db URL`` (or ``SSO_BRIDGE_DB``). Errors are one line on stderr,
``error: <code>: <message>``, and a non-zero exit; nothing is half-written.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
import sqlalchemy as sa

from sso_bridge import __version__
from sso_bridge.audit.chain import verify_log
from sso_bridge.audit.errors import ChainBroken
from sso_bridge.audit.show import event_line, json_safe, parse_since, report_json
from sso_bridge.errors import AccountNotFound, BridgeError, ImportRejected, InvalidInput
from sso_bridge.importing import import_accounts_csv
from sso_bridge.keyfile import resolve_key
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.matching import Matcher
from sso_bridge.model import Candidate, MatchDecision, Outcome, RejectReason
from sso_bridge.serialize import (
    account_json,
    audit_json,
    decision_json,
    full_name,
    identity_from_text,
    link_json,
)
from sso_bridge.store.sql import SqlStore, open_store, parse_db_url

DEFAULT_DB = "sqlite:///sso_bridge.db"
F = TypeVar("F", bound=Callable[..., Any])


class _Cli(click.Group):
    """Turns every sso_bridge error into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportRejected as exc:
            for row in exc.errors:
                click.echo(str(row), err=True)
            _fail(exc)
        except BridgeError as exc:
            _fail(exc)
        except sa.exc.SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            click.echo(f"error: store.error: {str(orig).splitlines()[0]}", err=True)
            sys.exit(1)


def _fail(exc: BridgeError) -> None:
    click.echo(f"error: {exc.code}: {exc.message}", err=True)
    sys.exit(1)


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
        help="Who is acting, as written to the audit trail.",
    )(func)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _open(db_url: str, key_file: Path | None) -> SqlStore:
    parse_db_url(db_url)
    return open_store(db_url, resolve_key(db_url, key_file))


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sso-bridge")
def main() -> None:
    """Identity broker administration: accounts, record matching, links, audit."""


# -- accounts -----------------------------------------------------------------------------


@main.group()
def accounts() -> None:
    """The local accounts directory."""


@accounts.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows; list the bad ones.")
@store_options
def accounts_import(
    files: Sequence[Path], skip_invalid: bool, db_url: str, key_file: Path | None
) -> None:
    """Import accounts from CSV FILES (each file all-or-nothing); re-import updates."""
    store = _open(db_url, key_file)
    for path in files:
        if sys.stderr.isatty() and path.is_file():
            with click.progressbar(
                length=path.stat().st_size, label=f"importing {path}", file=sys.stderr
            ) as bar:
                report = import_accounts_csv(
                    store, path, skip_invalid=skip_invalid, progress=bar.update
                )
        else:
            report = import_accounts_csv(store, path, skip_invalid=skip_invalid)
        for warning in report.warnings:
            click.echo(f"{warning.source}:{warning.line}: warning: {warning.reason}", err=True)
        for row in report.skipped:
            click.echo(f"{row}  (skipped)", err=True)
        skipped = f", skipped {len(report.skipped)} bad row(s)" if report.skipped else ""
        click.echo(f"{path}: imported {report.imported} account(s){skipped}")


@accounts.command("list")
@click.option("--org", "org_id", help="Only accounts of this organisation.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
        _echo_json([account_json(a) for a in found])
        return
    for a in found:
        birth = a.birth_date.isoformat() if a.birth_date else "-"
        roles = ",".join(a.roles) or "-"
        name = full_name(a.last_name, a.first_name, a.middle_name)
        click.echo(f"{a.account_id}\t{a.org_id}\t{roles}\t{name}\t{birth}\t{a.status.value}")


@accounts.command("show")
@click.argument("account_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
        _echo_json(data)
        return
    a = entry.account
    click.echo(f"account      {a.account_id} ({a.status.value})")
    click.echo(f"organisation {entry.organization.name} ({a.org_id})")
    click.echo(f"name         {full_name(a.last_name, a.first_name, a.middle_name)}")
    click.echo(f"login        {a.login or '-'}")
    click.echo(f"roles        {', '.join(a.roles) or '-'}")
    click.echo(f"birth date   {a.birth_date.isoformat() if a.birth_date else '-'}")
    click.echo(f"SNILS        {'on file' if data['snils_on_file'] else '-'}")
    click.echo(f"passport     {'on file' if data['passport_on_file'] else '-'}")
    for link in links:
        click.echo(
            f"link         {link.issuer} {link.subject} ({link.method.value}, "
            f"{link.created_at:%Y-%m-%d %H:%M} by {link.created_by})"
        )
    if not links:
        click.echo("links        -")


# -- links --------------------------------------------------------------------------------


@main.group()
def links() -> None:
    """Links between federated identities and local accounts."""


@links.command("list")
@click.option("--issuer")
@click.option("--subject")
@click.option("--account", "account_id")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_options
def links_list(
    issuer: str | None,
    subject: str | None,
    account_id: str | None,
    limit: int,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """List links, optionally only those of an issuer, subject or account."""
    store = _open(db_url, key_file)
    found = store.list_links(issuer=issuer, subject=subject, account_id=account_id, limit=limit)
    if as_json:
        _echo_json([link_json(link) for link in found])
        return
    for link in found:
        click.echo(
            f"{link.issuer}\t{link.subject}\t{link.account_id}\t{link.method.value}\t"
            f"{link.created_at.isoformat(timespec='seconds')}\t{link.created_by}"
        )


@links.command("add")
@click.option("--issuer", required=True)
@click.option("--subject", required=True)
@click.option("--account", "account_id", required=True)
@actor_option
@store_options
def links_add(
    issuer: str, subject: str, account_id: str, actor: str, db_url: str, key_file: Path | None
) -> None:
    """Link a federated identity to a local account (administrator's decision)."""
    store = _open(db_url, key_file)
    result = Linker(store, store, store).link_admin(
        issuer, subject, account_id, RequestContext(actor)
    )
    state = "linked" if result.created else "already linked"
    click.echo(f"{state}: {issuer} {subject} -> {account_id}")


@links.command("remove")
@click.option("--issuer", required=True)
@click.option("--subject", required=True)
@click.option("--account", "account_id", required=True)
@actor_option
@store_options
def links_remove(
    issuer: str, subject: str, account_id: str, actor: str, db_url: str, key_file: Path | None
) -> None:
    """Remove a link."""
    store = _open(db_url, key_file)
    Linker(store, store, store).unlink(issuer, subject, account_id, RequestContext(actor))
    click.echo(f"unlinked: {issuer} {subject} -x- {account_id}")


# -- audit --------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("tail")
@click.option(
    "-n", "--limit", "--lines", "limit", default=20, show_default=True, type=click.IntRange(1)
)
@click.option("--account", "account_id", help="Only events about this local account.")
@click.option("--since", help="Only events at or after this ISO date or date-time (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
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
        click.echo(json_safe(json.dumps([audit_json(e) for e in events], ensure_ascii=False)))
        return
    for e in events:
        click.echo(event_line(e))


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result and the head hash.")
@store_options
def audit_verify(as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Check the hash chain of the whole audit trail; name the first bad record."""
    store = _open(db_url, key_file)
    report = verify_log(store)
    if as_json:
        _echo_json(report_json(report))
    if not report.ok:
        raise ChainBroken(
            f"record {report.first_bad}: {report.reason} "
            f"({report.checked} record(s) before it are intact)",
            code="audit.chain_broken",
        )
    if not as_json:
        click.echo(f"audit chain intact: {report.checked} records")


# -- match --------------------------------------------------------------------------------

_REASONS = {
    RejectReason.NAME_DIFFERS: "full name differs (a key matched)",
    RejectReason.SNILS_CONFLICT: "SNILS differs: a namesake",
    RejectReason.BIRTH_DATE_CONFLICT: "birth date differs and neither SNILS nor passport matches",
    RejectReason.LINKED_TO_OTHER_SUBJECT: "already linked to another subject of this issuer",
    RejectReason.ACCOUNT_BLOCKED: "the account is blocked",
}
_OUTCOMES = {
    Outcome.AUTO_LINK: "exactly one account matches; it is linked automatically",
    Outcome.CHOOSE: "several accounts match; the person picks organisation and account",
    Outcome.NO_MATCH: (
        "no local account matches; the person can link one from the account's settings "
        "or an administrator can (sso-bridge links add)"
    ),
    Outcome.LOCAL_LOGIN_REQUIRED: (
        "the identity is not verified; the person logs in once with local credentials, "
        "then the link is made. No account was looked up."
    ),
}


def _candidate_line(c: Candidate) -> str:
    a = c.account
    extra = [f"matched on {', '.join(k.value for k in c.matched_on)}"]
    if c.already_linked:
        extra.append("already linked")
    extra.extend(n.replace("_", " ") for n in c.notes)
    return (
        f"  + {a.account_id}  {c.organization.name} ({a.org_id})  "
        f"{', '.join(a.roles) or '-'}  {full_name(a.last_name, a.first_name, a.middle_name)}"
        f"  [{'; '.join(extra)}]"
    )


def _explain(decision: MatchDecision, verbose: bool) -> None:
    click.echo(f"outcome: {decision.outcome.value}")
    if verbose:
        click.echo(f"  {_OUTCOMES[decision.outcome]}")
    for c in decision.candidates:
        click.echo(_candidate_line(c))
    if verbose:
        for r in decision.rejected:
            click.echo(f"  - {r.account_id}  ({r.org_id})  {r.reason.value}: {_REASONS[r.reason]}")
    for w in decision.warnings:
        click.echo(f"  ! {w}: treated as absent" if w != "identity.name_missing" else f"  ! {w}")


@main.command()
@click.argument("identity_file", default="-", type=click.File("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.option("--explain", is_flag=True, help="Say why, for every account considered.")
@click.option("--apply", is_flag=True, help="Make the link (AUTO_LINK, or CHOOSE with --account).")
@click.option("--account", "account_id", help="With --apply: the candidate to link for CHOOSE.")
@actor_option
@store_options
def match(
    identity_file: TextIO,
    as_json: bool,
    explain: bool,
    apply: bool,
    account_id: str | None,
    actor: str,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Decide which local accounts belong to a federated identity (JSON, file or stdin)."""
    if account_id and not apply:
        raise InvalidInput("--account needs --apply", code="cli.usage")
    identity = identity_from_text(identity_file.read())
    store = _open(db_url, key_file)
    decision = Matcher(store).match(identity)
    data = decision_json(decision)
    linked = None
    if apply:
        linker = Linker(store, store, store)
        ctx = RequestContext(actor)
        if account_id is not None:
            linked = linker.link_chosen(identity, account_id, ctx)
        elif decision.outcome is Outcome.AUTO_LINK:
            linked = linker.link_auto(identity, ctx)
        elif decision.outcome is Outcome.CHOOSE:
            if as_json:
                _echo_json(data)
            else:
                _explain(decision, explain)
            raise InvalidInput(
                "several candidates: say which with --account", code="match.choice_required"
            )
        data["link"] = None if linked is None else link_json(linked.link)
    if as_json:
        _echo_json(data)
        return
    _explain(decision, explain)
    if linked is not None:
        state = "linked" if linked.created else "already linked"
        click.echo(f"{state}: {identity.issuer} {identity.subject} -> {linked.link.account_id}")
    elif apply:
        click.echo("no link made")
