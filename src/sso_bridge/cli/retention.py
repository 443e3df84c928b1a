"""``sso-bridge purge``: remove personal values past their retention period from the
audit trail (docs/audit.md, "Retention")."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from sso_bridge.audit.retention import DEFAULT_POLICY, load_policy, purge
from sso_bridge.cli.main import _open, actor_option, main, store_options
from sso_bridge.cli.output import echo_json, json_option


@main.command("purge")
@click.option(
    "--apply", is_flag=True, help="Remove the values (without it: only count what is due)."
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Retention periods (TOML or JSON) over the defaults; see docs/audit.md.",
)
@actor_option
@json_option
@store_options
def purge_command(
    apply: bool,
    policy_file: Path | None,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Purge personal values of audit records older than their retention period.

    A dry run by default; with --apply the values go (their commitments stay, so
    `audit verify` still holds) and one purge record is written.
    """
    policy = DEFAULT_POLICY if policy_file is None else load_policy(policy_file)
    store = _open(db_url, key_file)
    report = purge(store, policy, datetime.now(UTC), apply=apply, actor=actor)
    if as_json:
        echo_json(report.as_json())
        return
    verb = "purged" if apply else "due (dry run; --apply to purge)"
    click.echo(f"{report.values} value(s) in {report.records} record(s) {verb}")
    for name, count in sorted(report.fields.items()):
        click.echo(f"  {name}: {count}")
    for action, count in sorted(report.actions.items()):
        click.echo(f"  records of {action}: {count}")
    if report.unpurgeable:
        click.echo(
            f"{report.unpurgeable} record(s) from before commitments are past their period "
            "but chained over their values: kept"
        )
    if report.event_id is not None:
        click.echo(f"purge record: #{report.event_id}")
