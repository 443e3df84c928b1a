"""The demo region: accounts per person, passwords and phones, the links it starts with,
and what record matching decides for each person's state-portal account (idp.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from school_portal.seed import (
    DEMO_ISSUER,
    PEOPLE,
    DemoPerson,
    add_synthetic_region,
    open_region,
    seed_region,
)

from helpers.clock import NOW
from sso_bridge.matching import Matcher, parse_date
from sso_bridge.mfa import AccountLocked, BadPassword, LocalPasswords
from sso_bridge.model import FederatedIdentity, MatchDecision, Outcome, RejectReason
from sso_bridge.store import SqlStore

IDP_YAML = Path(__file__).resolve().parents[2] / "examples" / "school_portal" / "idp.yaml"
BY_KEY = {p.key: p for p in PEOPLE}


@pytest.fixture(scope="module", params=[0, 3000], ids=["alone", "in-a-synthetic-region"])
def region(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """The demo region, alone and among generated accounts of other schools: every
    decision below must hold in both."""
    db = tmp_path_factory.mktemp("region") / "demo.db"
    seed_region(db, NOW)
    if request.param:
        assert add_synthetic_region(db, request.param) >= 10
    return db


def _idp_people() -> dict[int, dict[str, Any]]:
    data = yaml.safe_load(IDP_YAML.read_text(encoding="utf-8"))
    return {int(u["oid"]): u for u in data["users"]}


def _decision(store: SqlStore, person: DemoPerson) -> MatchDecision:
    assert person.oid is not None
    data = _idp_people()[person.oid]
    identity = FederatedIdentity(
        issuer=DEMO_ISSUER,
        subject=str(person.oid),
        verified=data["level"] == "confirmed",
        last_name=data["last_name"],
        first_name=data["first_name"],
        middle_name=data.get("middle_name"),
        birth_date=parse_date(str(data["birth_date"])),
        snils=data.get("snils"),
    )
    return Matcher(store).match(identity)


def test_every_account_of_every_person_is_in_the_directory(region: Path) -> None:
    store, credentials = open_region(region)
    try:
        for person in PEOPLE:
            for account_id in person.accounts:
                account = store.get_account(account_id)
                assert account is not None, account_id
                assert f"{account.last_name} {account.first_name}" in person.name
                record = credentials.get(account_id)
                assert record is not None and record.phone == person.phone
        assert len(BY_KEY["teacher_parent"].accounts) == 3
        login = store.find_by_login("sch17", "smirnova")
        assert login is not None and login.account_id == "t-smirnova"
    finally:
        store.close()


def test_local_passwords_are_set_and_lock_after_five_failures(region: Path) -> None:
    store, credentials = open_region(region)
    try:
        passwords = LocalPasswords(credentials)
        person = BY_KEY["locked_demo"]
        assert person.password is not None
        passwords.check("t-fedorov", person.password, NOW)
        for _ in range(4):
            with pytest.raises(BadPassword):
                passwords.check("t-fedorov", "wrong-password-1", NOW)
        with pytest.raises(AccountLocked):
            passwords.check("t-fedorov", "wrong-password-1", NOW)
    finally:
        passwords.unlock("t-fedorov")
        store.close()


def test_the_people_of_idp_yaml_are_the_people_of_the_table() -> None:
    idp = _idp_people()
    for person in PEOPLE:
        if person.esia_login is None:
            continue
        assert person.oid is not None
        data = idp[person.oid]
        assert (data["login"], data["password"]) == (person.esia_login, person.esia_password)
        assert data["second_factor"] == person.esia_second_factor
        assert f"{data['last_name']} {data['first_name']}" in person.name
    kids = [k["oid"] for k in idp[1000000101]["kids"]]
    assert BY_KEY["pupil"].oid in kids  # the pupil's is a child account


def test_the_teacher_parent_chooses_among_three_accounts(region: Path) -> None:
    store, _ = open_region(region)
    try:
        decision = _decision(store, BY_KEY["teacher_parent"])
        assert decision.outcome is Outcome.CHOOSE
        found = {c.account.account_id for c in decision.candidates}
        assert found == set(BY_KEY["teacher_parent"].accounts)
        assert [r.reason for r in decision.rejected] == [RejectReason.SNILS_CONFLICT]
    finally:
        store.close()


@pytest.mark.parametrize("key", ["unique", "pupil", "staff_totp"])
def test_a_person_with_one_matching_account_is_linked_automatically(region: Path, key: str) -> None:
    store, _ = open_region(region)
    try:
        decision = _decision(store, BY_KEY[key])
        assert decision.outcome is Outcome.AUTO_LINK
        assert decision.candidates[0].account.account_id == BY_KEY[key].accounts[0]
    finally:
        store.close()


def test_the_unconfirmed_account_must_log_in_locally(region: Path) -> None:
    store, _ = open_region(region)
    try:
        decision = _decision(store, BY_KEY["unconfirmed"])
        assert decision.outcome is Outcome.LOCAL_LOGIN_REQUIRED
    finally:
        store.close()


def test_the_namesakes_accounts_are_vetoed(region: Path) -> None:
    store, _ = open_region(region)
    try:
        decision = _decision(store, BY_KEY["namesake"])
        assert decision.outcome is Outcome.AUTO_LINK
        assert [c.account.account_id for c in decision.candidates] == ["p-smirnova-s3"]
        vetoed = {r.account_id: r.reason for r in decision.rejected}
        assert vetoed == dict.fromkeys(
            BY_KEY["teacher_parent"].accounts, RejectReason.SNILS_CONFLICT
        )
    finally:
        store.close()


def test_the_region_starts_with_the_seeded_links(region: Path) -> None:
    store, _ = open_region(region)
    try:
        for key in ("teacher_parent", "linked"):
            person = BY_KEY[key]
            links = store.links_for_subject(DEMO_ISSUER, str(person.oid))
            assert sorted(link.account_id for link in links) == sorted(person.linked)
        assert store.links_for_subject(DEMO_ISSUER, str(BY_KEY["unique"].oid)) == []
    finally:
        store.close()


def test_the_quickstart_table_shows_the_seeded_people() -> None:
    # one source: the table is the seed's people, each promise in its words (test_portal
    # and the browser tests hold the portal to them)
    text = (Path(__file__).resolve().parents[2] / "docs" / "quickstart.md").read_text("utf-8")
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ") and not line.startswith("| who ")
    ]
    assert [row[0] for row in rows] == [p.key for p in PEOPLE]
    for row, person in zip(rows, PEOPLE, strict=True):
        assert row[1] == person.name
        if person.esia_login:
            factor = (person.esia_second_factor or "").upper()
            assert row[2] == f"{person.esia_login} / {person.esia_password} / {factor}"
        assert row[3].endswith(f"/ {person.login}")
        assert row[4] == person.shows
