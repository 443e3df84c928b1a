"""Retention periods and purge() on the memory log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from sso_bridge.audit import GENESIS, InMemoryAuditLog, chain_hash, verify_log
from sso_bridge.audit.errors import AuditInputError
from sso_bridge.audit.retention import (
    DEFAULT_POLICY,
    KEPT_LONGER,
    RetentionPolicy,
    load_policy,
    parse_period,
    purge,
)
from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditAction, AuditEvent

NOW = datetime(2026, 12, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def event(action: AuditAction, age_days: int, i: int = 0) -> AuditEvent:
    return AuditEvent(
        action,
        NOW - age_days * DAY,
        f"admin:olga{i}",
        issuer="https://esia.example/",
        subject=f"s{i}",
        account_id=f"a{i}",
        ip="10.0.0.1",
        user_agent="Firefox",
        detail="note",
    )


def test_the_defaults() -> None:
    policy = DEFAULT_POLICY
    assert policy.period("login", "ip") == policy.period("security", "user_agent") == 183 * DAY
    assert policy.period("login", "subject") == policy.period("session_start", "actor") == 365 * DAY
    for action in KEPT_LONGER:
        assert policy.period(action.value, "account_id") == 1096 * DAY
    assert {AuditAction.ERASURE, AuditAction.LINK, AuditAction.SECURITY} <= KEPT_LONGER


def test_a_dry_run_counts_and_changes_nothing() -> None:
    log = InMemoryAuditLog()
    log.record(event(AuditAction.LOGIN, 200))  # ip and user agent due
    log.record(event(AuditAction.LOGIN, 400))  # everything due
    log.record(event(AuditAction.SECURITY, 400))  # ip and user agent due
    log.record(event(AuditAction.LOGIN, 10))  # nothing due
    before = list(log.events())
    report = purge(log, now=NOW)
    assert not report.applied and report.event_id is None
    assert (report.records, report.values) == (3, 10)
    assert report.fields == {
        "ip": 3,
        "user_agent": 3,
        "actor": 1,
        "subject": 1,
        "account_id": 1,
        "detail": 1,
    }
    assert report.actions == {"login": 2, "security": 1}
    assert log.events() == before


def test_apply_purges_writes_one_record_and_is_idempotent() -> None:
    log = InMemoryAuditLog()
    for i in range(30):
        log.record(event(AuditAction.LOGIN, 400, i))
    report = purge(log, now=NOW, apply=True)
    assert report.records == 30 and report.values == 180
    assert all(e.purged == frozenset(AUDIT_PERSONAL_FIELDS) for e in log.events()[:30])
    (record,) = [e for e in log.events() if e.action is AuditAction.PURGE]
    assert record.event_id == report.event_id and record.actor == "purge"
    assert record.detail == report.summary()
    assert "records=30 values=180" in (record.detail or "")
    assert "[redacted]" not in (record.detail or "")
    assert verify_log(log).ok
    again = purge(log, now=NOW, apply=True)
    assert (again.records, again.values) == (0, 0)
    assert verify_log(log).ok


def test_large_counts_are_written_without_being_redacted() -> None:
    report = purge(InMemoryAuditLog(), now=NOW)
    big = attrs.evolve(report, records=12_345, values=1_000_000)
    assert big.summary().startswith("records=12_345 values=1_000_000")


def test_format_1_records_are_counted_and_kept() -> None:
    log = InMemoryAuditLog()
    old = attrs.evolve(event(AuditAction.LOGIN, 400), event_id=1)
    log._events.append(attrs.evolve(old, chain_hash=chain_hash(GENESIS, old)))
    report = purge(log, now=NOW, apply=True)
    assert (report.records, report.unpurgeable) == (0, 1)
    assert log.events()[0].ip == "10.0.0.1"
    assert verify_log(log).ok


def test_purge_needs_an_aware_now() -> None:
    with pytest.raises(AuditInputError) as caught:
        purge(InMemoryAuditLog(), now=datetime(2026, 1, 1))
    assert caught.value.code == "audit.invalid_event"


@pytest.mark.parametrize(
    ("text", "days"), [(30, 30), ("30", 30), ("30d", 30), ("2w", 14), ("3y", 1095), ("keep", None)]
)
def test_periods(text: object, days: int | None) -> None:
    assert parse_period(text) == (None if days is None else days * DAY)


@pytest.mark.parametrize("bad", ["-1", "3 months", True, 1.5, "", None, [1]])
def test_bad_periods(bad: object) -> None:
    with pytest.raises(AuditInputError) as caught:
        parse_period(bad)
    assert caught.value.code == "audit.bad_policy"


def test_a_policy_file_overrides_the_defaults(tmp_path: Path) -> None:
    toml = tmp_path / "retention.toml"
    toml.write_text('[fields]\nip = "30d"\n[actions.security]\nip = "1y"\nsubject = "keep"\n')
    policy = load_policy(toml)
    assert policy.period("login", "ip") == 30 * DAY
    assert policy.period("security", "ip") == 365 * DAY
    assert policy.period("security", "subject") is None
    assert policy.period("security", "actor") == 1096 * DAY  # the default stays
    data = {"fields": {"user_agent": 7}}
    (tmp_path / "r.json").write_text(json.dumps(data))
    assert load_policy(tmp_path / "r.json").period("login", "user_agent") == 7 * DAY


@pytest.mark.parametrize(
    "content",
    [
        '{"fields": {"snils": 30}}',
        '{"actions": {"lunch": {"ip": 30}}}',
        '{"fields": {"ip": "soon"}}',
        '{"retention": {}}',
        '{"actions": []}',
        "not json",
    ],
)
def test_a_bad_policy_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(AuditInputError) as caught:
        load_policy(path)
    assert caught.value.code == "audit.bad_policy"
    with pytest.raises(AuditInputError):
        load_policy(tmp_path / "missing.json")


def test_a_policy_that_keeps_everything_purges_nothing() -> None:
    log = InMemoryAuditLog()
    log.record(event(AuditAction.LOGIN, 4000))
    keep_all = RetentionPolicy(dict.fromkeys(AUDIT_PERSONAL_FIELDS))
    assert purge(log, keep_all, NOW, apply=True).values == 0
    assert log.events()[0].ip == "10.0.0.1"
