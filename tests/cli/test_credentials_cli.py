"""`sso-bridge accounts unlock | set-password | set-contacts`: the administrator's side of
local logins, against the same database the broker uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers.accounts import KEY, ORGS, make_account
from sso_bridge.cli import main
from sso_bridge.cli.credentials import open_credentials
from sso_bridge.errors import BridgeError
from sso_bridge.mfa import LocalPasswords
from sso_bridge.model import AuditAction
from sso_bridge.store.sql import SqlStore, open_store

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


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


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["accounts", *args], input=stdin, catch_exceptions=False)


def test_set_password_then_it_checks(store: SqlStore) -> None:
    result = run(
        "set-password", "t1", "--password-stdin", "--actor", "admin:olga", stdin="Шк0ла-2026\n"
    )
    assert result.exit_code == 0, result.output
    passwords = LocalPasswords(open_credentials(store, KEY))
    passwords.check("t1", "Шк0ла-2026", NOW)
    with pytest.raises(BridgeError, match=r"^auth\.bad_password:"):
        passwords.check("t1", "wrong-password", NOW)
    [event] = [e for e in store.tail(10) if e.action is AuditAction.CREDENTIALS]
    assert (event.actor, event.account_id, event.detail) == ("admin:olga", "t1", "password set")
    assert "Шк0ла" not in repr(store.tail(10))


def test_a_weak_password_is_refused_and_nothing_is_set(store: SqlStore) -> None:
    result = run("set-password", "t1", "--password-stdin", stdin="123\n")
    assert result.exit_code == 3  # bad input
    assert "auth.weak_password" in result.output
    credentials = open_credentials(store, KEY).get("t1")
    assert credentials is None or credentials.password_hash is None


def test_unlock_lifts_the_lockout(store: SqlStore) -> None:
    passwords = LocalPasswords(open_credentials(store, KEY))
    passwords.set_password("t1", "the-right-1", NOW)
    for _ in range(5):
        with pytest.raises(BridgeError):
            passwords.check("t1", "the-wrong-1", NOW)
    with pytest.raises(BridgeError, match=r"^auth\.locked:"):
        passwords.check("t1", "the-right-1", NOW)
    result = run("unlock", "t1")
    assert result.exit_code == 0, result.output
    passwords.check("t1", "the-right-1", NOW)
    assert AuditAction.UNLOCK in [e.action for e in store.tail(10)]


def test_an_unknown_account_is_refused(store: SqlStore) -> None:
    for args in (("unlock", "nobody"), ("set-contacts", "nobody", "--phone", "+79000000000")):
        result = run(*args)
        assert result.exit_code == 4  # not found
        assert "account.not_found" in result.output


def test_set_contacts_directs_the_codes(store: SqlStore) -> None:
    result = run("set-contacts", "t1", "--phone", "+7 900 000-00-01", "--email", "t1@school.test")
    assert result.exit_code == 0, result.output
    credentials = open_credentials(store, KEY).get("t1")
    assert credentials is not None
    assert (credentials.phone, credentials.email) == ("+7 900 000-00-01", "t1@school.test")
