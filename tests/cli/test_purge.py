"""`sso-bridge purge`: a dry run by default, --apply, --policy, --json, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers.accounts import KEY
from sso_bridge.audit import verify_log
from sso_bridge.cli import main
from sso_bridge.cli.output import exit_status
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.store.sql import SqlStore, open_store


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("SSO_BRIDGE_DB", url)
    monkeypatch.setenv("SSO_BRIDGE_KEY", KEY.hex())
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    s = open_store(url, KEY)
    now = datetime.now(UTC)
    for age in (10, 200, 400):
        s.record(
            AuditEvent(
                AuditAction.LOGIN,
                now - timedelta(days=age),
                "web",
                subject=f"subject-{age}",
                ip="10.0.0.1",
            )
        )
    yield s
    s.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["purge", *args], catch_exceptions=False)


def test_a_dry_run_is_the_default_and_changes_nothing(store: SqlStore) -> None:
    before = store.events()
    result = run()
    assert result.exit_code == 0, result.output
    assert "4 value(s) in 2 record(s) due (dry run; --apply to purge)" in result.output
    assert store.events() == before


def test_apply_purges_and_reports_as_json(store: SqlStore) -> None:
    result = run("--apply", "--json", "--actor", "admin:olga")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["applied"] is True
    assert (data["records"], data["values"]) == (2, 4)
    assert data["fields"] == {"actor": 1, "ip": 2, "subject": 1}
    events = store.events()
    assert [e.ip for e in events[:3]] == ["10.0.0.1", None, None]
    assert events[-1].action is AuditAction.PURGE and events[-1].actor == "admin:olga"
    assert events[-1].event_id == data["event_id"]
    assert verify_log(store).ok
    again = json.loads(run("--apply", "--json").output)
    assert again["values"] == 0


def test_a_policy_file_changes_the_periods(store: SqlStore, tmp_path: Path) -> None:
    policy = tmp_path / "retention.toml"
    policy.write_text('[fields]\nip = "5d"\nsubject = "keep"\nactor = "keep"\n')
    result = run("--json", "--policy", str(policy))
    assert json.loads(result.output)["fields"] == {"ip": 3}


def test_a_bad_policy_is_one_line_and_changes_nothing(store: SqlStore, tmp_path: Path) -> None:
    policy = tmp_path / "retention.json"
    policy.write_text('{"fields": {"snils": 1}}')
    before = store.events()
    result = run("--apply", "--policy", str(policy))
    assert result.exit_code == exit_status("audit.bad_policy")
    assert result.output.strip().splitlines() == [
        "error: audit.bad_policy: not a personal field of an audit record: snils"
    ]
    assert store.events() == before
