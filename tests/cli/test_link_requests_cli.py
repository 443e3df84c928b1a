"""`sso-bridge links requests | approve | refuse`: the administrator's side of the link
requests queued from settings, against the same database the broker uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from helpers.accounts import ISSUER, KEY, ORGS, make_account
from sso_bridge.cli import main
from sso_bridge.linking.requests import LinkRequest
from sso_bridge.model import AuditAction, LinkMethod
from sso_bridge.store.sql import SqlStore, open_store

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlStore]:
    url = f"sqlite:///{tmp_path / 'requests.db'}"
    monkeypatch.setenv("SSO_BRIDGE_DB", url)
    monkeypatch.setenv("SSO_BRIDGE_KEY", KEY.hex())
    monkeypatch.delenv("SSO_BRIDGE_KEY_FILE", raising=False)
    s = open_store(url, KEY)
    s.import_accounts([make_account("t1"), make_account("t2")], ORGS)
    s.add(LinkRequest("req-1", "t1", ISSUER, "1000001", "full name", NOW, "203.0.113.7"))
    s.add(LinkRequest("req-2", "t2", ISSUER, "1000002", "birth date", NOW + timedelta(1)))
    yield s
    s.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["links", *args], catch_exceptions=False)


def test_requests_lists_the_pending_ones(store: SqlStore) -> None:
    result = run("requests", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [r["request_id"] for r in listed] == ["req-1", "req-2"]
    assert listed[0] == {
        "request_id": "req-1",
        "account_id": "t1",
        "issuer": ISSUER,
        "subject": "1000001",
        "differing": "full name",
        "created_at": NOW.isoformat(),
        "ip": "203.0.113.7",
    }
    text = run("requests", "--account", "t2")
    assert text.exit_code == 0
    assert text.output.splitlines()[0].split("\t")[:5] == [
        "req-2",
        ISSUER,
        "1000002",
        "t2",
        "birth date",
    ]
    assert len(text.output.splitlines()) == 1


def test_approve_links_with_the_actor_and_consumes(store: SqlStore) -> None:
    result = run("approve", "req-1", "--actor", "admin:olga", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["link"]["account_id"] == "t1"
    [link] = store.links_for_account("t1")
    assert (link.subject, link.method, link.created_by) == (
        "1000001",
        LinkMethod.ADMIN,
        "admin:olga",
    )
    [event] = [e for e in store.tail(10) if e.action is AuditAction.LINK]
    assert event.actor == "admin:olga"
    assert [r.request_id for r in store.pending()] == ["req-2"]
    again = run("approve", "req-1", "--actor", "admin:olga")
    assert again.exit_code != 0
    assert "link_request.not_found" in again.output


def test_refuse_audits_and_links_nothing(store: SqlStore) -> None:
    result = run("refuse", "req-2", "--actor", "admin:ivan")
    assert result.exit_code == 0, result.output
    assert "refused req-2" in result.output
    assert store.links_for_account("t2") == []
    [event] = [e for e in store.tail(10) if e.action is AuditAction.LINK_REQUEST_REFUSED]
    assert (event.actor, event.account_id) == ("admin:ivan", "t2")
    assert "link_request.not_found" in run("refuse", "req-2").output


def test_expired_requests_are_not_listed_or_approved(store: SqlStore) -> None:
    store.add(LinkRequest("old", "t1", ISSUER, "1000009", "passport", NOW - timedelta(days=40)))
    listed = json.loads(run("requests", "--json").output)
    assert "old" not in {r["request_id"] for r in listed}
    assert "link_request.not_found" in run("approve", "old").output
    short = json.loads(run("requests", "--json", "--ttl-days", "1").output)
    assert [r["request_id"] for r in short] == ["req-1", "req-2"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("approve", "x" * 65), "link_request.bad_id"),
        (("refuse", "a/b"), "link_request.bad_id"),
        (("approve", "req-1", "--actor", "a\u200bb"), "input.control_characters"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    store: SqlStore, args: tuple[str, ...], code: str
) -> None:
    before = store.tail(20)
    result = run(*args)
    assert result.exit_code != 0
    assert code in result.output
    assert "Traceback" not in result.output
    assert len(store.pending()) == 2
    assert store.tail(20) == before
