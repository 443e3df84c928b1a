"""``sso-bridge match``: which local accounts belong to a federated identity, and why."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import click

from sso_bridge.cli.main import _open, actor_option, main, store_options
from sso_bridge.cli.output import echo_json, identifier, json_option, text
from sso_bridge.errors import IdentityError, MatchError, UsageError
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.matching import Matcher
from sso_bridge.model import Candidate, MatchDecision, Outcome, RejectReason
from sso_bridge.serialize import decision_json, full_name, identity_from_text, link_json

__all__ = ["match"]

MAX_IDENTITY_BYTES = 64 * 1024
"""An identity file larger than this is refused unread (``identity.bad_json``)."""

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
    return text(
        f"  + {a.account_id}  {c.organisation.name} ({a.org_id})  "
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
            line = f"  - {r.account_id}  ({r.org_id})  {r.reason.value}: {_REASONS[r.reason]}"
            click.echo(text(line))
    for w in decision.warnings:
        click.echo(
            text(f"  ! {w}: treated as absent" if w != "identity.name_missing" else f"  ! {w}")
        )


@main.command()
@click.argument("identity_file", default="-", type=click.File("rb"))
@json_option
@click.option("--explain", is_flag=True, help="Say why, for every account considered.")
@click.option("--apply", is_flag=True, help="Make the link (AUTO_LINK, or CHOOSE with --account).")
@click.option(
    "--account",
    "account_id",
    callback=identifier,
    help="With --apply: the candidate to link for CHOOSE.",
)
@actor_option
@store_options
def match(
    identity_file: BinaryIO,
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
        raise UsageError("--account needs --apply", code="cli.usage")
    raw = identity_file.read(MAX_IDENTITY_BYTES + 1)
    if len(raw) > MAX_IDENTITY_BYTES:
        raise IdentityError(
            f"the identity is larger than {MAX_IDENTITY_BYTES} bytes", code="identity.bad_json"
        )
    identity = identity_from_text(raw)
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
                echo_json(data)
            else:
                _explain(decision, explain)
            raise MatchError(
                "several candidates: say which with --account", code="match.choice_required"
            )
        data["link"] = None if linked is None else link_json(linked.link)
    if as_json:
        echo_json(data)
        return
    _explain(decision, explain)
    if linked is not None:
        state = "linked" if linked.created else "already linked"
        click.echo(
            text(f"{state}: {identity.issuer} {identity.subject} -> {linked.link.account_id}")
        )
    elif apply:
        click.echo("no link made")
