"""``sso-bridge events dead-letter``: the events a sink did not take (docs/events.md)."""

from __future__ import annotations

from pathlib import Path

import click

from sso_bridge.cli.main import _open, main, store_options
from sso_bridge.cli.output import echo_json, identifier, json_option, text
from sso_bridge.errors import UsageError
from sso_bridge.events.errors import EventsInputError
from sso_bridge.events.store import DeadLetter
from sso_bridge.store.sql_events import SqlEventStore


@main.group()
def events() -> None:
    """Events out to webhooks, syslog and JSON lines."""


def _store(db_url: str, key_file: Path | None) -> SqlEventStore:
    return SqlEventStore(_open(db_url, key_file).engine)


def _letter_json(letter: DeadLetter) -> dict[str, object]:
    return {
        "id": letter.letter_id,
        "sink": letter.sink,
        "event_id": letter.event_id,
        "kind": letter.kind,
        "reason": letter.reason,
        "attempts": letter.attempts,
        "last_status": letter.last_status,
        "created_at": letter.created_at.isoformat(),
        "retry": letter.retry,
    }


@events.command("dead-letter")
@click.argument("action", type=click.Choice(["list", "retry", "drop"]))
@click.argument("letter_ids", nargs=-1, type=click.IntRange(1))
@click.option("--all", "every", is_flag=True, help="retry, drop: every dead letter (of --sink).")
@click.option("--sink", callback=identifier, help="Only this sink's dead letters.")
@click.option("--after", "after_id", default=0, type=click.IntRange(0), help="list: ids above.")
@click.option("-n", "--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@store_options
def dead_letter(
    action: str,
    letter_ids: tuple[int, ...],
    every: bool,
    sink: str | None,
    after_id: int,
    limit: int,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Events a sink did not take: list them, send them again (retry) or drop them.

    retry marks them for the delivery worker, which sends them on its next pass.
    """
    store = _store(db_url, key_file)
    if action == "list":
        if letter_ids or every:
            raise UsageError("dead-letter list takes no ids and no --all", code="cli.usage")
        _list(store.dead_letters(sink=sink, after_id=after_id, limit=limit), as_json)
        return
    ids = _ids(letter_ids, every, store, sink)
    if letter_ids:
        _missing(store, ids)
    if action == "retry":
        done = store.mark_retry(ids) if ids else 0
        key, said = "marked", "marked for retry"
    else:
        done = store.drop_dead_letters(ids) if ids else 0
        key, said = "dropped", "dropped"
    if as_json:
        echo_json({key: done})
    else:
        click.echo(f"{done} dead letter(s) {said}")


def _list(letters: list[DeadLetter], as_json: bool) -> None:
    if as_json:
        echo_json([_letter_json(d) for d in letters])
        return
    for d in letters:
        mark = " (retry asked)" if d.retry else ""
        status = "-" if d.last_status is None else str(d.last_status)
        click.echo(
            f"{d.letter_id}  {text(d.sink)}  {text(d.event_id)}  {text(d.kind)}  "
            f"{d.created_at.isoformat()}  attempts={d.attempts} status={status}  "
            f"{text(d.reason)}{mark}"
        )


def _ids(given: tuple[int, ...], every: bool, store: SqlEventStore, sink: str | None) -> list[int]:
    if every == bool(given):
        raise UsageError("name dead letters by id, or give --all (not both)", code="cli.usage")
    if given:
        return list(given)
    found: list[int] = []
    after = 0
    while batch := store.dead_letters(sink=sink, after_id=after, limit=1000):
        found.extend(d.letter_id or 0 for d in batch)
        after = found[-1]
    return found


def _missing(store: SqlEventStore, ids: list[int]) -> None:
    known: set[int] = set()
    for i in ids:
        known.update(d.letter_id or 0 for d in store.dead_letters(after_id=i - 1, limit=1))
    absent = sorted(set(ids) - known)
    if absent:
        raise EventsInputError(
            f"no dead letter with id {', '.join(map(str, absent))}",
            code="events.dead_letter_not_found",
        )
