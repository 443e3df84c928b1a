"""Every rule of docs/matching.md: candidates, vetoes, outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.accounts import ISSUER, KEY, make_account
from sso_bridge.matching import AccountEntry, BlindIndex, Matcher, account_keys, decide
from sso_bridge.matching.keys import identity_keys
from sso_bridge.model import (
    AccountStatus,
    FederatedIdentity,
    LocalAccount,
    MatchKey,
    Organisation,
    Outcome,
    RejectReason,
)
from sso_bridge.store.sql import SqlStore

SNILS_A = "112-233-445 95"
SNILS_B = "123-456-789 64"
INDEX = BlindIndex(KEY)


def person(**kw: object) -> FederatedIdentity:
    fields: dict[str, object] = {
        "issuer": ISSUER,
        "subject": "1000001",
        "verified": True,
        "last_name": "Смирнова",
        "first_name": "Мария",
        "middle_name": "Петровна",
        "birth_date": date(1984, 3, 12),
    }
    fields.update(kw)
    return FederatedIdentity(**fields)  # type: ignore[arg-type]


def entry(account: LocalAccount, linked: str | None = None) -> AccountEntry:
    return AccountEntry(
        account, Organisation(account.org_id, account.org_id), account_keys(account, INDEX), linked
    )


def run(identity: FederatedIdentity, *entries: AccountEntry):  # type: ignore[no-untyped-def]
    keys, warnings = identity_keys(identity, INDEX)
    return decide(identity, keys, entries, warnings)


# -- the pure decision ---------------------------------------------------------------------


def test_name_and_birth_date_make_a_candidate() -> None:
    d = run(person(), entry(make_account("a1")))
    assert d.outcome is Outcome.AUTO_LINK
    assert d.candidates[0].matched_on == (MatchKey.BIRTH_DATE,)


def test_middle_name_absent_on_either_side_still_matches() -> None:
    assert run(person(middle_name=None), entry(make_account("a1"))).outcome is Outcome.AUTO_LINK
    acc = make_account("a1", middle_name=None)
    assert run(person(), entry(acc)).outcome is Outcome.AUTO_LINK


def test_different_middle_names_do_not_match() -> None:
    d = run(person(), entry(make_account("a1", middle_name="Ивановна")))
    assert d.outcome is Outcome.NO_MATCH
    assert [(r.account_id, r.reason) for r in d.rejected] == [("a1", RejectReason.NAME_DIFFERS)]


def test_name_alone_is_never_enough() -> None:
    acc = make_account("a1", birth_date=None)
    assert run(person(), entry(acc)).outcome is Outcome.NO_MATCH
    assert run(person(birth_date=None), entry(make_account("a1"))).outcome is Outcome.NO_MATCH


def test_snils_and_passport_are_keys() -> None:
    acc = make_account("a1", birth_date=None, snils=SNILS_A, passport="4506 123456")
    d = run(person(snils="11223344595", passport="4506123456"), entry(acc))
    assert d.outcome is Outcome.AUTO_LINK
    assert d.candidates[0].matched_on == (MatchKey.SNILS, MatchKey.PASSPORT)


def test_snils_conflict_vetoes_a_namesake() -> None:
    d = run(person(snils=SNILS_A), entry(make_account("a1", snils=SNILS_B)))
    assert d.outcome is Outcome.NO_MATCH
    assert d.rejected[0].reason is RejectReason.SNILS_CONFLICT


def test_birth_date_conflict_vetoes_unless_snils_or_passport_match() -> None:
    other_day = date(1985, 3, 12)
    # found through the passport, birth dates differ, no SNILS: a data-entry error
    acc = make_account("a1", birth_date=other_day, passport="4506123456")
    d = run(person(passport="4506 123456"), entry(acc))
    assert d.outcome is Outcome.AUTO_LINK
    assert d.candidates[0].notes == ("birth_date_differs",)
    acc = make_account("a1", birth_date=other_day, snils=SNILS_A)
    assert run(person(snils=SNILS_A), entry(acc)).outcome is Outcome.AUTO_LINK
    # passport differs, birth date differs: nothing holds the account
    acc = make_account("a1", birth_date=other_day, passport="4506000000", snils=SNILS_A)
    d = run(person(passport="4506123456"), entry(acc))
    assert d.outcome is Outcome.NO_MATCH


def test_birth_date_conflict_reason_recorded() -> None:
    # matched on the passport would have kept it; here only the SNILS is shared and differs
    acc = make_account("a1", birth_date=date(1990, 1, 1), snils=SNILS_B, passport="4506123456")
    d = run(person(snils=SNILS_A, passport="4506123456"), entry(acc))
    assert d.rejected[0].reason is RejectReason.SNILS_CONFLICT
    acc = make_account("a1", birth_date=date(1990, 1, 1))
    keys, _ = identity_keys(person(), INDEX)
    # a store would not find this row, but the decision must still veto it if handed it
    fake = AccountEntry(acc, Organisation("sch1", "x"), keys, None)
    assert run(person(), fake).outcome is Outcome.AUTO_LINK  # same keys: a genuine match
    shifted = AccountEntry(
        acc,
        Organisation("sch1", "x"),
        account_keys(make_account("a1", birth_date=date(1990, 1, 1), passport="4506123456"), INDEX),
        None,
    )
    d = run(person(passport="4506000000"), shifted)
    assert d.outcome is Outcome.NO_MATCH  # no key shared: not even a rejection
    assert d.rejected == ()


def test_passport_difference_alone_vetoes_nothing() -> None:
    acc = make_account("a1", passport="4506 000000")
    d = run(person(passport="4506 123456"), entry(acc))
    assert d.outcome is Outcome.AUTO_LINK
    assert d.candidates[0].matched_on == (MatchKey.BIRTH_DATE,)


def test_account_linked_to_another_subject_is_vetoed() -> None:
    d = run(person(), entry(make_account("a1"), linked="someone-else"))
    assert d.outcome is Outcome.NO_MATCH
    assert d.rejected[0].reason is RejectReason.LINKED_TO_OTHER_SUBJECT
    d = run(person(), entry(make_account("a1"), linked="1000001"))
    assert d.outcome is Outcome.AUTO_LINK
    assert d.candidates[0].already_linked


def test_blocked_accounts_are_not_candidates() -> None:
    acc = make_account("a1", status=AccountStatus.BLOCKED)
    d = run(person(), entry(acc))
    assert d.outcome is Outcome.NO_MATCH
    assert d.rejected[0].reason is RejectReason.ACCOUNT_BLOCKED


def test_several_candidates_mean_choose() -> None:
    d = run(person(), entry(make_account("a1")), entry(make_account("a2", "sch2")))
    assert d.outcome is Outcome.CHOOSE
    assert [c.account.account_id for c in d.candidates] == ["a1", "a2"]


def test_unverified_identity_reveals_nothing() -> None:
    d = run(person(verified=False), entry(make_account("a1")), entry(make_account("a2")))
    assert d.outcome is Outcome.LOCAL_LOGIN_REQUIRED
    assert d.candidates == ()
    assert d.rejected == ()


def test_invalid_identity_snils_is_absent_and_reported() -> None:
    acc = make_account("a1", snils=SNILS_B)
    d = run(person(snils="112-233-445 96"), entry(acc))  # wrong check digits
    assert d.outcome is Outcome.AUTO_LINK  # not a conflict
    assert d.warnings == ("snils.checksum",)
    d = run(person(passport="12"), entry(make_account("a1")))
    assert d.warnings == ("passport.malformed",)


def test_identity_without_a_name_matches_nothing() -> None:
    d = run(person(last_name=None), entry(make_account("a1")))
    assert d.outcome is Outcome.NO_MATCH
    assert "identity.name_missing" in d.warnings


def test_normalisation_applies_to_both_sides() -> None:
    acc = make_account("a1", last_name="Cмирновa", first_name="МАРИЯ", middle_name="петровна")
    assert run(person(last_name="смирнова"), entry(acc)).outcome is Outcome.AUTO_LINK
    acc = make_account("a1", last_name="Фёдорова")
    assert run(person(last_name="Федорова"), entry(acc)).outcome is Outcome.AUTO_LINK


# -- properties -----------------------------------------------------------------------------

snils_pool = st.sampled_from([None, SNILS_A, SNILS_B])
passport_pool = st.sampled_from([None, "4506123456", "4506000000"])
birth_pool = st.sampled_from([None, date(1984, 3, 12), date(1985, 1, 1)])
middle_pool = st.sampled_from([None, "Петровна", "Ивановна"])

accounts_strategy = st.lists(
    st.builds(
        lambda i, middle, birth, snils, passport, blocked, linked: (
            make_account(
                f"a{i}",
                middle_name=middle,
                birth_date=birth,
                snils=snils,
                passport=passport,
                status=AccountStatus.BLOCKED if blocked else AccountStatus.ACTIVE,
            ),
            linked,
        ),
        st.integers(0, 10_000),
        middle_pool,
        birth_pool,
        snils_pool,
        passport_pool,
        st.booleans(),
        st.sampled_from([None, None, "1000001", "other"]),
    ),
    max_size=8,
    unique_by=lambda pair: pair[0].account_id,
)
identity_strategy = st.builds(
    lambda verified, middle, birth, snils, passport: person(
        verified=verified, middle_name=middle, birth_date=birth, snils=snils, passport=passport
    ),
    st.booleans(),
    middle_pool,
    birth_pool,
    snils_pool,
    passport_pool,
)


@settings(max_examples=300)
@given(identity_strategy, accounts_strategy)
def test_decision_properties(identity: FederatedIdentity, pairs: list) -> None:  # type: ignore[type-arg]
    d = run(identity, *(entry(acc, linked) for acc, linked in pairs))
    if not identity.verified:
        # an unverified identity never auto-links and never sees a candidate
        assert d.outcome is Outcome.LOCAL_LOGIN_REQUIRED
        assert d.candidates == ()
        assert d.rejected == ()
        return
    # two or more candidates never auto-link
    assert (d.outcome is Outcome.AUTO_LINK) == (len(d.candidates) == 1)
    assert (d.outcome is Outcome.CHOOSE) == (len(d.candidates) >= 2)
    keys, _ = identity_keys(identity, INDEX)
    by_id = {acc.account_id: acc for acc, _ in pairs}
    for c in d.candidates:
        ck = account_keys(by_id[c.account.account_id], INDEX)
        # a SNILS conflict always vetoes
        assert not (keys.snils and ck.snils and keys.snils != ck.snils)
        assert c.account.active
        assert c.matched_on
    for acc, linked in pairs:
        ak = account_keys(acc, INDEX)
        if keys.snils and ak.snils and keys.snils != ak.snils:
            assert acc.account_id not in {c.account.account_id for c in d.candidates}
        if linked == "other":
            assert acc.account_id not in {c.account.account_id for c in d.candidates}


# -- through a store ------------------------------------------------------------------------


def test_matcher_finds_candidates_through_the_store(
    store: SqlStore, add_accounts: Callable[..., None]
) -> None:
    add_accounts(
        make_account("t1", "sch1", roles=("teacher",), snils=SNILS_A),
        make_account("p1", "sch2", last_name="CMИPHOBA", roles=("parent",)),  # Latin C, M, H, B
        make_account(
            "p2",
            "sch3",
            middle_name=None,
            roles=("parent",),
            birth_date=None,
            passport="4506123456",
        ),
        make_account("n1", "sch3", birth_date=date(1990, 1, 1)),  # namesake, other birthday
        make_account("n2", "sch2", snils=SNILS_B),  # namesake with a different SNILS
        make_account("x1", "sch1", last_name="Иванова", snils=SNILS_A),  # SNILS, other name
    )
    d = Matcher(store).match(person(snils=SNILS_A, passport="4506 123456"))
    assert d.outcome is Outcome.CHOOSE
    assert {c.account.account_id for c in d.candidates} == {"t1", "p1", "p2"}
    assert {c.organisation.name for c in d.candidates} == {"Школа № 1", "Школа № 2", "Гимназия № 3"}
    assert {(r.account_id, r.reason) for r in d.rejected} == {
        ("n2", RejectReason.SNILS_CONFLICT),
        ("x1", RejectReason.NAME_DIFFERS),
    }


def test_matcher_does_not_look_up_unverified_identities(
    store: SqlStore, add_accounts: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_accounts(make_account("t1"))

    def boom(*_: object) -> None:
        raise AssertionError("looked up")

    monkeypatch.setattr(store, "find_accounts", boom)
    d = Matcher(store).match(person(verified=False))
    assert d.outcome is Outcome.LOCAL_LOGIN_REQUIRED


def test_candidate_lookup_uses_indexes_not_a_scan(sqlite_store: SqlStore) -> None:
    sqlite_store.import_accounts([make_account(f"a{i}") for i in range(50)])
    keys, _ = identity_keys(person(snils=SNILS_A, passport="4506123456"), sqlite_store.blind_index)
    compiled = sqlite_store._find.compile(
        dialect=sqlite_store.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    params = {
        "name_key": keys.name_key,
        "snils": keys.snils,
        "passport": keys.passport,
        "issuer": ISSUER,
    }
    with sqlite_store.engine.connect() as conn:
        ordered = tuple(params[name] for name in compiled.positiontup or ())
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), ordered).all()
    details = [row[-1] for row in plan]
    assert not [d for d in details if d.startswith("SCAN accounts") or d == "SCAN a"], details
    assert any("ix_accounts_name_key" in d for d in details), details
    assert any("ix_accounts_snils" in d for d in details), details
    assert any("ix_accounts_passport" in d for d in details), details
