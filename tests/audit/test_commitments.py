"""Commitments to personal fields: the chain covers them, so values can be purged."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from sso_bridge.audit import GENESIS, MISMATCH, InMemoryAuditLog, canonical, chain_hash, verify_log
from sso_bridge.audit.chain import COMMITTED_FORMAT, verify_chain
from sso_bridge.audit.commit import CommitmentKey, value_problem
from sso_bridge.errors import ConfigError
from sso_bridge.model import AUDIT_PERSONAL_FIELDS, AuditAction, AuditEvent

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
KEY = CommitmentKey(bytes(range(32)))


def event(i: int = 0, **kw: object) -> AuditEvent:
    values: dict[str, object] = {
        "actor": f"login:pupil{i}",
        "issuer": "https://esia.example/",
        "subject": f"subject-{i}",
        "account_id": f"acc-{i}",
        "ip": "10.0.0.7",
        "user_agent": "Firefox",
        "detail": "Petrov Ivan",
        "code": "ok",
        **kw,
    }
    return AuditEvent(AuditAction.LOGIN, NOW + timedelta(seconds=i), **values)  # type: ignore[arg-type]


def log_of(n: int) -> tuple[InMemoryAuditLog, list[AuditEvent]]:
    log = InMemoryAuditLog(KEY)
    return log, [log.record(event(i)) for i in range(n)]


def test_the_chain_covers_commitments_not_values() -> None:
    _, (stored,) = log_of(1)
    encoded = canonical(stored).decode()
    assert encoded.startswith(f'["{COMMITTED_FORMAT}",1,')
    for value in ("pupil0", "subject-0", "acc-0", "10.0.0.7", "Firefox", "Petrov"):
        assert value not in encoded
    assert "esia.example" in encoded and '"ok"' in encoded  # not personal: in clear
    purged = KEY.purge(stored, AUDIT_PERSONAL_FIELDS)
    assert purged.ip is None and purged.actor == "" and purged.subject is None
    assert canonical(purged) == canonical(stored)
    assert chain_hash(GENESIS, purged) == stored.chain_hash
    assert purged.purged == frozenset(AUDIT_PERSONAL_FIELDS)
    assert stored.purged == frozenset()


def test_a_purge_removes_the_nonce_so_guesses_cannot_be_tested() -> None:
    _, (stored,) = log_of(1)
    assert stored.commitments is not None
    ip_entry = stored.commitments.split(",")[3]
    commitment, nonce = ip_entry.split(".")
    purged = KEY.purge(stored, ["ip"])
    assert purged.commitments is not None
    assert purged.commitments.split(",")[3] == commitment
    assert nonce not in purged.commitments
    assert purged.purged == frozenset({"ip"}) and purged.subject == "subject-0"


def test_the_same_value_gets_a_new_commitment_in_every_record() -> None:
    _, (a, b) = log_of(2)
    assert a.commitments is not None and b.commitments is not None
    assert a.commitments.split(",")[3] != b.commitments.split(",")[3]  # same IP


def test_missing_values_have_no_commitment_and_stay_distinct_from_empty() -> None:
    log = InMemoryAuditLog(KEY)
    none = log.record(event(1, ip=None))
    empty = log.record(event(2, ip=""))
    assert none.commitments is not None and empty.commitments is not None
    assert none.commitments.split(",")[3] == ""
    assert empty.commitments.split(",")[3] != ""
    assert verify_log(log).ok


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda e: attrs.evolve(e, subject="subject-9"), id="edited value"),
        pytest.param(lambda e: attrs.evolve(e, ip=None), id="value removed with its nonce kept"),
        pytest.param(lambda e: attrs.evolve(e, code="forged"), id="edited plain field"),
        pytest.param(
            lambda e: attrs.evolve(e, commitments=(e.commitments or "").replace(",", ";", 1)),
            id="unreadable commitments",
        ),
        pytest.param(lambda e: attrs.evolve(e, commitments=None), id="downgraded to format 1"),
    ],
)
def test_tampering_with_a_committed_record_is_found(tamper: object) -> None:
    log, _ = log_of(3)
    events = list(log.events())
    events[1] = tamper(events[1])  # type: ignore[operator]
    report = verify_chain(events, key=KEY)
    assert (report.first_bad, report.checked) == (2, 1)


def test_a_purged_value_put_back_is_found_even_without_the_key() -> None:
    log, stored = log_of(2)
    purged = KEY.purge(stored[0], ["subject"])
    assert log.store_purged([purged]) == 1
    assert verify_log(log).ok
    restored = attrs.evolve(log.events()[0], subject="subject-0")
    assert value_problem(restored, None) == "the subject does not match its commitment"
    report = verify_chain([restored, stored[1]])
    assert (report.first_bad, report.reason) == (1, MISMATCH)


def test_the_key_checks_values_that_keep_their_shape() -> None:
    _, stored = log_of(1)
    forged = attrs.evolve(stored[0], detail="Sidorov Pyotr")
    assert verify_chain([forged]).ok  # without the key: only the shape
    assert verify_chain([forged], key=KEY).first_bad == 1
    other = CommitmentKey.random()
    assert verify_chain(stored, key=other).first_bad == 1


def test_format_1_and_format_2_records_share_a_chain() -> None:
    old = attrs.evolve(event(0), event_id=1)
    old = attrs.evolve(old, chain_hash=chain_hash(GENESIS, old))
    new = attrs.evolve(KEY.commit(event(1)), event_id=2)
    new = attrs.evolve(new, chain_hash=chain_hash(old.chain_hash or "", new))
    assert verify_chain([old, new], key=KEY).checked == 2
    assert KEY.purge(old, AUDIT_PERSONAL_FIELDS) is old  # chained over its values: kept
    assert verify_chain([attrs.evolve(old, ip=None), new], key=KEY).first_bad == 1


def test_the_key_is_derived_with_its_own_label_and_survives_pickling() -> None:
    secret = bytes(range(32))
    derived = CommitmentKey.derive(secret)
    assert derived.key != secret and len(derived.key) == 32
    assert derived == CommitmentKey.derive(secret)
    assert derived != CommitmentKey.derive(bytes(range(1, 33)))
    copy = pickle.loads(pickle.dumps(derived))  # noqa: S301 - our own bytes
    assert copy.commit_field(0, b"n" * 16, "x") == derived.commit_field(0, b"n" * 16, "x")
    assert "key=" not in repr(derived)
    with pytest.raises(ConfigError):
        CommitmentKey(b"short")


def test_records_of_and_erase_values_on_the_memory_log() -> None:
    log, _ = log_of(5)
    assert [e.event_id for e in log.records_of(account_ids=["acc-1", "acc-3"])] == [2, 4]
    found = log.records_of(subjects=[("https://esia.example/", "subject-2")], limit=5)
    assert [e.event_id for e in found] == [3]
    assert log.records_of(account_ids=["acc-1"], limit=0) == []
    assert (
        log.erase_values(account_ids=["acc-1"], subjects=[("https://esia.example/", "subject-2")])
        == 2
    )
    assert log.records_of(account_ids=["acc-1"]) == []
    erased = log.events()[1]
    assert erased.purged == frozenset(AUDIT_PERSONAL_FIELDS) and erased.issuer is not None
    assert log.events()[0].account_id == "acc-0"
    assert log.erase_values(account_ids=["acc-1"]) == 0
    assert verify_log(log).ok


def test_store_purged_skips_a_record_whose_hash_changed() -> None:
    log, stored = log_of(1)
    stale = attrs.evolve(KEY.purge(stored[0], ["ip"]), chain_hash="0" * 64)
    assert log.store_purged([stale]) == 0
    assert log.events()[0].ip == "10.0.0.7"
