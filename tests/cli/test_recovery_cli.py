"""`sso-bridge accounts recovery-codes`: a new set printed once, only hashes kept, audited."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers.accounts import KEY, ORGS, make_account
from sso_bridge.cli import main
from sso_bridge.cli.credentials import open_credentials
from sso_bridge.mfa import RecoveryCodes
from sso_bridge.mfa.recovery import COUNT
from sso_bridge.model import AuditAction
from sso_bridge.store.sql import SqlStore, open_store

SHOWN = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'cred.db'}"
    monkeypatch.setenv("SSO_BRIDGE_DB", url)
    monkeypatch.setenv("SSO_BRIDGE_KEY", KEY.hex())
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    s = open_store(url, KEY)
    s.import_accounts([make_account("t1", login="smirnova")], ORGS)
    yield s
    s.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["accounts", *args], catch_exceptions=False)


def test_codes_are_printed_once_and_replace_the_old_set(store: SqlStore) -> None:
    credentials = open_credentials(store, KEY)
    credentials.set_totp("t1", b"12345678901234567890")
    old = RecoveryCodes(credentials).generate("t1")
    result = run("recovery-codes", "t1", "--actor", "admin:olga")
    assert result.exit_code == 0, result.output
    codes = result.output.split()
    assert len(codes) == COUNT and all(SHOWN.match(c) for c in codes)
    recovery = RecoveryCodes(credentials)
    assert recovery.use("t1", old[0]) is None
    assert recovery.use("t1", codes[0]) == COUNT - 1
    [event] = [e for e in store.tail(10) if e.action is AuditAction.RECOVERY_CODES_GENERATED]
    assert (event.actor, event.account_id) == ("admin:olga", "t1")
    assert not any(c in repr(store.tail(10)) for c in codes)


def test_json_output(store: SqlStore) -> None:
    open_credentials(store, KEY).set_totp("t1", b"12345678901234567890")
    result = run("recovery-codes", "t1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["account_id"] == "t1" and len(data["recovery_codes"]) == COUNT


def test_an_account_without_an_app_gets_none(store: SqlStore) -> None:
    result = run("recovery-codes", "t1")
    assert result.exit_code != 0
    assert "mfa.totp_not_enrolled" in result.output
    assert open_credentials(store, KEY).recovery_code_hashes("t1") == ()
    assert not [e for e in store.tail(10) if e.action is AuditAction.RECOVERY_CODES_GENERATED]


def test_an_unknown_account_is_refused(store: SqlStore) -> None:
    result = run("recovery-codes", "nobody")
    assert result.exit_code != 0
    assert "account" in result.output
