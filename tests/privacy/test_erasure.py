"""Export and erasure of one person (sso_bridge.privacy) on every backend: the export
holds what it should and no secret; after an erasure no table row and no short-lived
entry holds the erased identifiers, and the person's other account and other people are
as they were."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from helpers.accounts import ISSUER
from privacy.world import World, found_in_tables, holds
from sso_bridge.audit import verify_log
from sso_bridge.errors import InvalidInput
from sso_bridge.mfa.limits import LOCK_KIND, Limit, Limiter
from sso_bridge.model import AuditAction
from sso_bridge.privacy import Person, erase_person, export_person
from sso_bridge.serialize import audit_json
from sso_bridge.store.memory import InMemoryEphemeralStore


def short_lived_hits(world: World, needles: list[str]) -> list[str]:
    """Every short-lived entry (key, owner or value) holding one of ``needles``; for Redis
    every key and value of the whole database."""
    store: Any = world.ephemeral
    hits: list[str] = []
    if isinstance(store, InMemoryEphemeralStore):
        for (kind, key), (value, _expires, owner) in store._entries.items():
            hits += [
                f"{kind}:{key}"
                for n in needles
                if holds(key, n) or holds(value, n) or holds(owner, n)
            ]
        return hits
    client = getattr(store, "client", None)
    if client is None:
        return hits  # kept in the SQL database: the table scan covers it
    for name in client.scan_iter(count=1000):
        kind = client.type(name)
        if kind == b"string":
            values = [client.get(name)]
        elif kind == b"set":
            values = list(client.smembers(name))
        else:
            values = [repr(client.dump(name))]
        for needle in needles:
            if holds(name, needle) or any(holds(v, needle) for v in values):
                hits.append(f"{name!r} holds {needle}")
    return hits


def snapshot(world: World, account_id: str) -> dict[str, Any]:
    """What an untouched account looks like: its entry, links, sessions, credentials and
    the audit records naming it."""
    store, now = world.store, world.clock.now()
    sessions = world.sessions.sessions_of(account_id, now)
    return {
        "account": store.get_account(account_id),
        "links": store.links_for_account(account_id),
        "sessions": sorted((s.session_id, s.issuer, s.subject, s.ip) for s in sessions),
        "credentials": world.credentials.get(account_id),
        "recovery": world.credentials.recovery_code_hashes(account_id),
        "audit": [
            audit_json(e)
            for e in store.tail(1000, account_id=account_id)
            if e.action is not AuditAction.PERSON_EXPORTED
        ],
    }


def test_export_of_an_account_holds_its_data_and_no_secret(world: World) -> None:
    a1 = world.a1.account_id
    export = export_person(world.stores, Person.account(a1), "admin:dpo")
    text = json.dumps(export, ensure_ascii=False)
    json.loads(text)  # JSON-able as it is

    assert export["person"] == {"account_id": a1}
    [entry] = export["accounts"]
    assert entry["record"]["middle_name"] == world.a1.middle_name
    assert entry["record"]["login"] == world.a1.login
    assert entry["password"]["set"] is True and entry["password"]["failed_logins"] == 1
    second = entry["second_factor"]
    assert second["totp_enrolled"] is True and second["recovery_codes_left"] == 3
    assert second["phone"] == "+7 *** ***-**-33"
    assert entry["second_factor_locked"] is True
    assert [(x["subject"], x["account_id"]) for x in export["links"]] == [(world.p_subject, a1)]
    assert [x["account_id"] for x in export["hidden_accounts"]] == [a1]
    assert len(export["sessions"]) == 2
    assert {s["method"] for s in export["sessions"]} == {"federated", "local"}
    actions = {r["action"] for r in export["audit"]}
    assert {"link", "login", "account_hidden"} <= actions
    assert all(r["account_id"] == a1 for r in export["audit"])
    if world.extra.get("link_request"):
        assert [r["request_id"] for r in export["link_requests"]] == [world.extra["link_request"]]

    # never secrets, hashes or tokens
    for session in world.sessions.sessions_of(a1, world.clock.now()):
        assert session.session_id not in text
    for forbidden in ("$argon2id", "snils", "passport", "name_key", "totp_secret", "900 111"):
        assert forbidden not in text
    for code_hash in world.credentials.recovery_code_hashes(a1):
        assert code_hash.hex() not in text

    [record] = [e for e in world.store.tail(5) if e.action is AuditAction.PERSON_EXPORTED]
    assert record.actor == "admin:dpo" and record.account_id == a1


def test_export_of_an_identity_holds_its_accounts_and_its_sessions(world: World) -> None:
    export = export_person(world.stores, Person.identity(ISSUER, world.p_subject), "admin:dpo")
    ids = {world.a1.account_id, world.a2.account_id}
    assert {a["account_id"] for a in export["accounts"]} == ids
    assert {x["account_id"] for x in export["links"]} == ids
    assert {s["account_id"] for s in export["sessions"]} == ids  # the local one is A1's own
    assert all(s["subject"] == world.p_subject for s in export["sessions"])
    assert world.q.account_id not in json.dumps(export)


def test_erasure_also_drops_entries_expired_but_still_kept(world: World) -> None:
    if getattr(world.ephemeral, "client", None) is not None:
        pytest.skip("Redis drops an expired entry itself")
    # the login step offering A1 has timed out, but its row is still in the store
    world.clock.advance(timedelta(days=3))
    erase_person(world.stores, Person.account(world.a1.account_id), "admin:dpo")
    needles = world.needles_of_a1()
    assert found_in_tables(world.store.engine, needles) == []
    assert short_lived_hits(world, needles) == []


def test_erasing_an_account_leaves_nothing_of_it(world: World) -> None:
    a1, a2, q = world.a1.account_id, world.a2.account_id, world.q.account_id
    now = world.clock.now()
    before = {a2: snapshot(world, a2), q: snapshot(world, q)}
    export_person(world.stores, Person.account(a1), "admin:dpo")

    report = erase_person(world.stores, Person.account(a1), "admin:dpo")

    assert (report.accounts, report.links, report.hidden_accounts) == (1, 1, 1)
    assert report.sessions == 2 and report.kept_requests == 1 and report.credentials == 1
    assert report.short_lived == 2  # P's step (offering A1) and A1's challenge
    assert report.second_factor_locks == 1
    needles = world.needles_of_a1()
    assert found_in_tables(world.store.engine, needles) == []
    assert short_lived_hits(world, needles) == []

    # A2 and Q as they were; A2's sessions no longer offer A1
    assert snapshot(world, q) == before[q]
    after = snapshot(world, a2)
    assert after == before[a2]
    for session in world.sessions.sessions_of(a2, now):
        assert session.accounts == (a2,)
    assert world.ephemeral.get(LOCK_KIND, q, now) is not None
    assert world.store.links_for_subject(ISSUER, world.p_subject)[0].account_id == a2
    # counters by account start afresh
    assert (
        Limiter(world.ephemeral).count("2fa-failures", a1, Limit(9, timedelta(hours=1)), now) == 1
    )

    # one erasure record naming nobody, by the operator
    [record] = [e for e in world.store.tail(10) if e.action is AuditAction.ERASURE]
    assert record.actor == "admin:dpo" and report.reference in (record.detail or "")
    assert (record.account_id, record.subject, record.ip) == (None, None, None)


def test_erasing_an_identity_leaves_its_accounts(world: World) -> None:
    a1, a2, q = world.a1.account_id, world.a2.account_id, world.q.account_id
    before_q = snapshot(world, q)
    report = erase_person(world.stores, Person.identity(ISSUER, world.p_subject), "admin:dpo")

    assert (report.accounts, report.links, report.hidden_accounts) == (0, 2, 1)
    assert report.sessions == 2  # the two federated ones; A1's local login is the account's
    needles = [world.p_subject, f"sid-p-{world.tag}"]
    assert found_in_tables(world.store.engine, needles) == []
    assert short_lived_hits(world, needles) == []
    assert world.store.get_account(a1) is not None and world.store.get_account(a2) is not None
    assert world.credentials.get(a1) is not None
    assert [s.method for s in world.sessions.sessions_of(a1, world.clock.now())] == ["local"]
    assert snapshot(world, q) == before_q


def test_erasure_is_idempotent_and_the_chain_still_verifies(world: World) -> None:
    person = Person.account(world.a1.account_id)
    first = erase_person(world.stores, person, "admin:dpo")
    again = erase_person(world.stores, person, "admin:dpo")
    assert first.audit_records == 3  # link, account_hidden, login
    assert (again.accounts, again.links, again.sessions, again.credentials) == (0, 0, 0, 0)
    assert again.reference != first.reference
    report = verify_log(world.store)
    assert report.ok, report


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"account_id": "a", "issuer": ISSUER, "subject": "s"}, "input.invalid"),
        ({"issuer": ISSUER}, "input.invalid"),
        ({"account_id": ""}, "input.invalid"),
        ({"account_id": "a\nforged"}, "input.control_characters"),
    ],
)
def test_a_bad_reference_is_refused(fields: dict[str, str], code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Person(**fields)
    assert caught.value.code == code


def test_a_bad_operator_changes_nothing(world: World) -> None:
    a1 = world.a1.account_id
    with pytest.raises(InvalidInput):
        erase_person(world.stores, Person.account(a1), "")
    assert world.store.get_account(a1) is not None
    assert world.sessions.sessions_of(a1, world.clock.now())
