"""`sso-bridge audit export` and `sso-bridge events dead-letter`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from helpers.accounts import KEY
from sso_bridge.cli import main
from sso_bridge.cli.output import exit_status
from sso_bridge.events import DeadLetter
from sso_bridge.events.export import export_events
from sso_bridge.store.sql import SqlStore, open_store
from sso_bridge.store.sql_events import SqlEventStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'export.db'}"
    monkeypatch.setenv("SSO_BRIDGE_DB", url)
    monkeypatch.setenv("SSO_BRIDGE_KEY", KEY.hex())
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    s = open_store(url, KEY)
    yield s
    s.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def fill(store: SqlStore, make_event: Any, days: int = 6) -> None:
    for i in range(days):
        store.record(make_event(i, T0 + timedelta(days=i)))


def test_export_writes_one_event_a_line_in_the_window(store: SqlStore, make_event: Any) -> None:
    fill(store, make_event)
    done = run("audit", "export", "--since", "2026-03-02", "--until", "2026-03-05")
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in done.output.splitlines()]
    assert [e["event_id"] for e in lines] == ["audit-2", "audit-3", "audit-4"]
    assert all(e["schema"] == 1 and e["kind"] == "audit.login" for e in lines)
    assert "secret" not in done.output  # no personal values unless asked


def test_export_adds_the_personal_fields_asked_for(store: SqlStore, make_event: Any) -> None:
    fill(store, make_event, 2)
    done = run("audit", "export", "--fields", "account_id,subject")
    fields = [json.loads(line)["fields"] for line in done.output.splitlines()]
    assert [f["account_id"] for f in fields] == ["account-secret-0", "account-secret-1"]
    assert "actor" not in fields[0] and "detail-secret" not in done.output


def test_export_refuses_bad_input_with_a_code(store: SqlStore) -> None:
    bad = run("audit", "export", "--fields", "snils")
    assert bad.exit_code == exit_status("events.bad_fields")
    assert "events.bad_fields" in bad.output
    bad = run("audit", "export", "--until", "yesterday")
    assert "events.bad_time" in bad.output and bad.exit_code == exit_status("events.bad_time")


def test_export_finds_its_start_among_many_records(store: SqlStore, make_event: Any) -> None:
    store.record_many([make_event(i, T0 + timedelta(hours=i)) for i in range(500)])
    since = T0 + timedelta(hours=400)
    got = [e["fields"]["record_id"] for e in export_events(store, since=since, batch=7)]
    assert got == list(range(401, 501))


def test_dead_letters_listed_retried_and_dropped(store: SqlStore) -> None:
    events = SqlEventStore(store.engine)
    for i in (1, 2):
        events.add_dead_letter(
            DeadLetter(
                "hook", f"audit-{i}", "audit.login", "{}", "events.refused: http 400", 1, T0, 400
            )
        )
    listed = json.loads(run("events", "dead-letter", "list", "--json").output)
    assert [(d["id"], d["event_id"], d["retry"]) for d in listed] == [
        (1, "audit-1", False),
        (2, "audit-2", False),
    ]
    assert "1 dead letter(s) marked" in run("events", "dead-letter", "retry", "1").output
    assert [d.letter_id for d in events.dead_letters(retry_only=True)] == [1]
    missing = run("events", "dead-letter", "drop", "7")
    assert missing.exit_code == exit_status("events.dead_letter_not_found")
    assert len(events.dead_letters()) == 2  # a refused command changes nothing
    assert "2 dead letter(s) dropped" in run("events", "dead-letter", "drop", "--all").output
    assert not events.dead_letters()
