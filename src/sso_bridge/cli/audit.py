"""``sso-bridge audit``: read the audit trail and verify its hash chain."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sso_bridge.audit.errors import ChainBroken
from sso_bridge.audit.show import event_line, json_safe, parse_anchor, parse_since, report_json
from sso_bridge.audit.trail import TrailReport, verify_log
from sso_bridge.cli.main import _open, main, store_options
from sso_bridge.cli.output import echo_json, exit_status, identifier, json_option
from sso_bridge.events.export import export_events, parse_until
from sso_bridge.events.model import check_personal
from sso_bridge.serialize import audit_json


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
@click.option(
    "--since",
    "anchor",
    metavar="ROOT[:HASH]",
    help="Check from this root on (its id, and its hash as an earlier run printed it).",
)
@json_option
@store_options
def audit_verify(anchor: str | None, as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Check every chain of the audit trail and the roots over them.

    Names the first bad record of each broken chain, and any chain cut short.
    """
    since = None if anchor is None else parse_anchor(anchor)
    store = _open(db_url, key_file)
    report = verify_log(store) if since is None else verify_log(store, since=since)
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
    click.echo(
        f"audit trail intact: {report.checked} records in {len(report.chains)} chain(s), "
        f"{report.roots_checked} root(s) checked"
    )
    if report.root_id is not None:
        click.echo(f"newest root: {report.root_id}:{report.root_hash}")


@audit.command("seal")
@json_option
@store_options
def audit_seal(as_json: bool, db_url: str, key_file: Path | None) -> None:
    """Write a root over the heads of every chain now and print it (ID:HASH)."""
    store = _open(db_url, key_file)
    root = store.seal()
    if as_json:
        echo_json({"root_id": root.root_id, "root_hash": root.root_hash})
        return
    click.echo(f"{root.root_id}:{root.root_hash}")


@audit.command("export")
@click.option("--since", help="Only records at or after this ISO date or date-time (UTC).")
@click.option("--until", help="Only records before this ISO date or date-time (UTC).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl"]),
    default="jsonl",
    show_default=True,
    help="One JSON object per line (the event form of docs/events.md).",
)
@click.option(
    "--fields",
    default="",
    metavar="NAME,...",
    help="Personal fields to include (subject, account_id, ip, user_agent, actor, detail); "
    "none by default.",
)
@json_option
@store_options
def audit_export(
    since: str | None,
    until: str | None,
    fmt: str,
    fields: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Write the audit records as events, one JSON object per line, oldest first.

    The output is JSON either way; --json makes errors JSON too.
    """
    del fmt, as_json  # jsonl is the only format
    personal = check_personal(fields.split(","))
    start = None if since is None else parse_since(since)
    end = None if until is None else parse_until(until)
    store = _open(db_url, key_file)
    for data in export_events(store, since=start, until=end, personal=personal):
        click.echo(json_safe(json.dumps(data, ensure_ascii=False, separators=(",", ":"))))


def _broken(report: TrailReport) -> str:
    return "; ".join(problem.line() for problem in report.problems)
