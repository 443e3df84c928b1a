"""`sso-bridge audit verify` and `audit tail`: the chain checked, filters, escaped output."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from helpers.accounts import KEY
from sso_bridge.audit.retention import purge
from sso_bridge.cli import main
from sso_bridge.cli.output import exit_status
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.store.sql import SqlStore, open_store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
Run = Callable[..., Result]


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("SSO_BRIDGE_DB", url)
    monkeypatch.setenv("SSO_BRIDGE_KEY", KEY.hex())
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = open_store(db_url, KEY)
    yield s
    s.close()


@pytest.fixture
def cli(db_url: str) -> Run:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, ["audit", *args], catch_exceptions=False)

    return run


def fill(store: SqlStore) -> list[AuditEvent]:
    """Six events a day apart, alternating between accounts a0 and a1."""
    return [
        store.record(
            AuditEvent(
                AuditAction.LOGIN,
                T0 + timedelta(days=i),
                "web",
                subject=str(1_000_000_000 + i),
                account_id=f"a{i % 2}",
                ip="10.0.0.7",
                user_agent="Firefox",
            )
        )
        for i in range(6)
    ]


def error_line(result: Result, code: str) -> str:
    assert result.exit_code == exit_status(code)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {code}: "), result.stderr
    return lines[0]


def test_verify_an_intact_trail(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    result = cli("verify")
    assert result.exit_code == 0
    assert result.stdout == "audit trail intact: 6 records in 1 chain(s), 0 root(s) checked\n"
    data = json.loads(cli("verify", "--json").stdout)
    assert data == {
        "ok": True,
        "records": 6,
        "chains": 1,
        "roots": 0,
        "root_id": None,
        "root_hash": None,
        "head_id": stored[-1].event_id,
        "head": stored[-1].chain_hash,
        "first_bad": None,
        "reason": None,
        "problems": [],
    }


def test_verify_an_empty_trail(cli: Run, store: SqlStore) -> None:
    assert (
        cli("verify").stdout == "audit trail intact: 0 records in 0 chain(s), 0 root(s) checked\n"
    )


def test_verify_names_the_first_tampered_record(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    bad = stored[3].event_id
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE audit SET actor = 'admin' WHERE event_id = {bad}"))
    line = error_line(cli("verify"), "audit.chain_broken")
    assert f"chain 0: record {bad}: hash does not match its content or its predecessor" in line
    assert "(3 record(s) before it in the chain are intact)" in line
    result = cli("verify", "--json")
    assert result.exit_code == 4  # a conflict with what is stored
    data = json.loads(result.stdout)
    assert (data["ok"], data["first_bad"], data["records"]) == (False, bad, 3)
    assert data["head"] == stored[2].chain_hash


def test_verify_notices_a_deleted_record(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM audit WHERE event_id = {stored[0].event_id}"))
    assert f"record {stored[1].event_id}:" in error_line(cli("verify"), "audit.chain_broken")


def test_seal_then_verify_from_the_anchored_root(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    sealed = cli("seal")
    assert sealed.exit_code == 0
    anchor = sealed.stdout.strip()
    root_id, root_hash = anchor.split(":")
    assert (root_id, len(root_hash)) == ("1", 64)
    later = store.record(attrs.evolve(stored[0], event_id=None, chain_hash=None))
    result = cli("verify", "--since", anchor, "--json")
    data = json.loads(result.stdout)
    assert (result.exit_code, data["ok"], data["records"]) == (0, True, 1)
    assert (data["root_id"], data["root_hash"]) == (1, root_hash)
    assert data["head_id"] == later.event_id
    full = cli("verify")
    assert full.stdout.splitlines() == [
        "audit trail intact: 7 records in 1 chain(s), 1 root(s) checked",
        f"newest root: {anchor}",
    ]


def test_verify_since_a_root_with_another_hash_fails(cli: Run, store: SqlStore) -> None:
    fill(store)
    cli("seal")
    line = error_line(cli("verify", "--since", "1:" + "0" * 64), "audit.chain_broken")
    assert "root 1: hash differs from the anchored one" in line
    line = error_line(cli("verify", "--since", "9"), "audit.chain_broken")
    assert "root 9: the anchored root is not in the trail" in line


@pytest.mark.parametrize("anchor", ["", "x", "0", "1:abc", "1:" + "g" * 64, "-3", "1:2:3"])
def test_a_malformed_anchor_is_refused(cli: Run, store: SqlStore, anchor: str) -> None:
    line = error_line(cli("verify", "--since", anchor), "audit.bad_anchor")
    assert "is not a root" in line


def test_records_cut_from_the_end_are_found_through_the_root(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    cli("seal")
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM audit WHERE event_id >= {stored[4].event_id}"))
    line = error_line(cli("verify"), "audit.chain_broken")
    assert f"chain 0: record {stored[5].event_id}: named by root 1" in line


def test_tail_filters_by_account_and_since(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    result = cli("tail", "--account", "a1", "--since", "2026-03-03", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [e["event_id"] for e in data] == [stored[3].event_id, stored[5].event_id]
    assert data[0]["account_id"] == "a1"
    assert data[0]["at"] == "2026-03-04T09:00:00+00:00"
    assert data[0]["user_agent"] == "Firefox"
    assert data[0]["chain_hash"] == stored[3].chain_hash
    # a time with an offset is compared in UTC: 12:00+03:00 is 09:00Z, the fifth event
    result = cli("tail", "--since", "2026-03-05T12:00:00+03:00", "--json")
    assert [e["event_id"] for e in json.loads(result.stdout)] == [
        stored[4].event_id,
        stored[5].event_id,
    ]


def test_tail_json_names_the_purged_fields(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    assert json.loads(cli("tail", "--json").stdout)[0]["purged"] == []
    # by default IPs and user agents are kept six months, the rest of a login a year
    purge(store, now=stored[-1].at + timedelta(days=200), apply=True)
    data = json.loads(cli("tail", "--json", "--account", "a1").stdout)
    assert data[0]["event_id"] == stored[1].event_id
    assert data[0]["purged"] == ["ip", "user_agent"]
    assert data[0]["ip"] is None and data[0]["user_agent"] is None
    assert data[0]["subject"] == stored[1].subject


def test_tail_limit(cli: Run, store: SqlStore) -> None:
    stored = fill(store)
    lines = cli("tail", "--limit", "2").stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        f"#{stored[4].event_id}",
        f"#{stored[5].event_id}",
    ]
    assert len(cli("tail", "-n", "1").stdout.splitlines()) == 1


@pytest.mark.parametrize("since", ["yesterday", "2026-02-30", "2026-03-01\nerror: forged"])
def test_a_bad_since_is_one_error_line(cli: Run, store: SqlStore, since: str) -> None:
    error_line(cli("tail", "--since", since), "audit.bad_since")


def test_tail_escapes_what_came_from_outside(cli: Run, store: SqlStore) -> None:
    forged = "2026-03-01T09:00:00\tlogin\t-\tadmin\t10.0.0.1"
    store.record(
        AuditEvent(
            AuditAction.LOGIN_REFUSED,
            T0,
            "web",
            subject="1\n" + forged,
            ip="10.0.0.9\x1b[2K",
            code="login.refused",
            detail="bad\npassword\x07",
            user_agent="curl\r\n" + forged + "\x1b]0;owned\x07\u202e",
        )
    )
    out = cli("tail").stdout
    assert len(out.splitlines()) == 1
    # id, time, action, method, actor, IP, issuer and subject, account, code, user agent
    assert out.count("\t") == 9
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in out
    assert "curl\\r\\n2026" in out
    assert "10.0.0.9\\x1b[2K" in out
    assert "bad\\npassword\\x07" in out
    data = cli("tail", "--json").stdout
    for raw in ("\x1b", "\x07", "\r", "\u202e"):
        assert raw not in data
    assert json.loads(data)[0]["user_agent"].endswith("\x1b]0;owned\x07\u202e")
