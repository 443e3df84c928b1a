"""`sso-bridge person export | erase`: an access or erasure request from the command line,
against the database (and short-lived store) the broker uses."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers.accounts import ISSUER, KEY
from privacy.world import World, build, found_in_tables
from sso_bridge.cli import main
from sso_bridge.model import AuditAction
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_ephemeral import SqlEphemeralStore


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    url = f"sqlite:///{tmp_path / 'bridge.db'}"
    monkeypatch.setenv("SSO_BRIDGE_DB", url)
    monkeypatch.setenv("SSO_BRIDGE_KEY", KEY.hex())
    monkeypatch.setenv("SSO_BRIDGE_EPHEMERAL_URL", url)
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    return build(url, SqlEphemeralStore(create_engine(url)))


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["person", *args], input=stdin, catch_exceptions=False)


def test_export_to_a_new_file_only_its_owner_reads(world: World, tmp_path: Path) -> None:
    out = tmp_path / "export.json"
    result = run("export", "--account", world.a1.account_id, "--out", str(out), "--actor", "dpo")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["accounts"][0]["record"]["login"] == world.a1.login
    assert world.a1.login not in result.output
    [record] = [e for e in world.store.tail(5) if e.action is AuditAction.PERSON_EXPORTED]
    assert record.actor == "dpo"

    again = run("export", "--account", world.a1.account_id, "--out", str(out))
    assert again.exit_code == 3 and "input.invalid" in again.output


def test_export_by_identity_to_stdout(world: World) -> None:
    result = run("export", "--issuer", ISSUER, "--subject", world.p_subject)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["person"] == {"issuer": ISSUER, "subject": world.p_subject}
    assert len(data["links"]) == 2


@pytest.mark.parametrize(
    "args",
    [
        ("--account", "x", "--issuer", ISSUER, "--subject", "s"),
        ("--issuer", ISSUER),
        (),
    ],
)
def test_a_person_named_wrong_is_a_usage_error(world: World, args: tuple[str, ...]) -> None:
    result = run("erase", *args, "--yes")
    assert result.exit_code == 2 and "cli.usage" in result.output
    assert world.store.get_account(world.a1.account_id) is not None


def test_erase_asks_first_and_a_no_changes_nothing(world: World) -> None:
    result = run("erase", "--account", world.a1.account_id, stdin="n\n")
    assert result.exit_code != 0
    assert "cannot be undone" in result.output
    assert world.store.get_account(world.a1.account_id) is not None
    assert not [e for e in world.store.tail(5) if e.action is AuditAction.ERASURE]


def test_erase_with_yes(world: World) -> None:
    result = run("erase", "--account", world.a1.account_id, "--yes", "--json", "--actor", "dpo")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["accounts"] == 1 and report["sessions"] == 2 and report["not_reached"] == []
    assert found_in_tables(world.store.engine, world.needles_of_a1()) == []
    [record] = [e for e in world.store.tail(5) if e.action is AuditAction.ERASURE]
    assert record.actor == "dpo" and report["reference"] in (record.detail or "")


def test_erase_without_the_short_lived_store_says_what_it_did_not_reach(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSO_BRIDGE_EPHEMERAL_URL")
    result = run("erase", "--issuer", ISSUER, "--subject", world.p_subject, "--yes")
    assert result.exit_code == 0, result.output
    assert "not reached: sessions" in result.output
    assert "not reached: short-lived entries" in result.output
