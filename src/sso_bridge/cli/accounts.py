"""``sso-bridge accounts``: import, list and show local accounts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click

from sso_bridge.cli.main import _open, _open_or_create, main, store_options
from sso_bridge.cli.output import echo_json, identifier, json_option, text
from sso_bridge.errors import AccountNotFound
from sso_bridge.importing import import_accounts_files
from sso_bridge.serialize import account_json, full_name, link_json


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
    data = account_json(entry.account, entry.organisation)
    data["snils_on_file"] = entry.keys.snils is not None
    data["passport_on_file"] = entry.keys.passport is not None
    data["links"] = [link_json(link) for link in links]
    if as_json:
        echo_json(data)
        return
    a = entry.account
    rows = [
        ("account", f"{a.account_id} ({a.status.value})"),
        ("organisation", f"{entry.organisation.name} ({a.org_id})"),
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
