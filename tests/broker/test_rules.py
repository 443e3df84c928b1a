"""What each rule of the broker's machine decides: next state and effects, for the
branches of the IdP's answer, matching, the chooser, the local login, the switch and the
second factor."""

from __future__ import annotations

import json
from typing import Any

import attrs

from broker.samples import (
    BROWSER,
    FRAME,
    NOW,
    PERSON,
    SECOND,
    WRONG,
    account,
    challenge,
)
from sso_bridge.broker.codec import decode_state, encode_state
from sso_bridge.broker.config import BrokerPolicy
from sso_bridge.broker.core import machine_policy
from sso_bridge.broker.machine import Outcome, transition
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine import states as st
from sso_bridge.mfa import SecondFactorPolicy
from sso_bridge.model import (
    AccountStatus,
    AuditAction,
    Candidate,
    LinkMethod,
    MatchDecision,
    MatchKey,
    Organisation,
)
from sso_bridge.model import (
    Outcome as Match,
)

POLICY = BrokerPolicy()
NO_FACTOR = BrokerPolicy(second_factor=SecondFactorPolicy(staff_roles=(), for_local_logins=False))


def run(state: Any, event: Any, policy: BrokerPolicy = POLICY) -> Outcome:
    return transition(machine_policy(policy), state, event, NOW)


def kinds(outcome: Outcome) -> list[type]:
    return [type(e) for e in outcome.effects]


def refused_with(outcome: Outcome) -> str:
    assert isinstance(outcome.state, st.Refused)
    last = outcome.effects[-1]
    assert isinstance(last, fx.Refuse)
    return last.error.code


def candidate(account_id: str, *on: MatchKey) -> Candidate:
    return Candidate(account(account_id), Organisation("sch1", "Школа"), on)


# -- starting ------------------------------------------------------------------------------


def test_a_login_starts_with_a_frame_of_the_step_lifetime() -> None:
    out = run(st.Start(), ev.LocalBegun(BROWSER, kept="k1"))
    assert out.state == st.AwaitingLocalLogin(
        st.Frame(BROWSER, NOW, NOW + POLICY.step_lifetime, "k1")
    )
    assert out.effects == (fx.ShowLocalLogin("local"),)


def test_the_idp_answer_asks_for_the_links_first() -> None:
    waiting = st.AwaitingIdp(FRAME, "esia", st.IdpRequest("s", {"request_id": "r"}))
    out = run(waiting, ev.IdpAnswered(PERSON))
    assert out.state == st.ReadingLinks(FRAME, PERSON, idp_initiated=False)
    assert out.effects == (fx.AskLinks("https://idp.test", "1000"),)


def test_a_link_from_settings_links_and_ends() -> None:
    waiting = st.AwaitingIdpToLink(FRAME, "esia", st.IdpRequest("s", {"state": "s"}), "a9", "x")
    # linking takes a fresh authentication only (tests/broker/test_step_up_rules.py)
    out = run(waiting, ev.IdpAnswered(attrs.evolve(PERSON, auth_time=FRAME.created_at)))
    assert out.state == st.LinkMade("a9")
    assert out.effects == (fx.LinkFromSettings(PERSON.identity, "a9"),)


# -- after the links are read --------------------------------------------------------------


def reading(idp_initiated: bool = False) -> st.ReadingLinks:
    return st.ReadingLinks(FRAME, PERSON, idp_initiated)


def linked_then(
    linked: tuple[Any, ...],
    decision: MatchDecision,
    hidden: frozenset[str] = frozenset(),
    policy: BrokerPolicy = NO_FACTOR,
) -> Outcome:
    """Links read for a verified subject, then the candidates matching still finds."""
    out = run(reading(), ev.LinksRead(linked), policy)
    assert out.state == st.MatchingLinked(FRAME, PERSON, linked)
    assert out.effects == (fx.AskMatch(PERSON.identity, tuple(a.account_id for a in linked)),)
    return run(out.state, ev.Matched(decision, hidden), policy)


def linked_candidate(account_id: str) -> Candidate:
    found = candidate(account_id, MatchKey.SNILS)
    return attrs.evolve(found, already_linked=True)


def test_one_linked_account_and_no_other_candidate_logs_in_without_linking() -> None:
    decision = MatchDecision(Match.AUTO_LINK, (linked_candidate("a1"),))
    out = linked_then((account("a1"),), decision)
    assert out.state == st.SessionIssued("a1")
    [issue] = out.effects
    assert isinstance(issue, fx.IssueSession)
    assert (issue.accounts, issue.add_linked, issue.method) == (("a1",), False, "federated")
    assert issue.offer == st.Offer(("a1",), (), ())


def test_several_linked_accounts_go_to_a_chooser_that_links_nothing() -> None:
    out = linked_then((account("a1"), account("a2")), MatchDecision(Match.NO_MATCH))
    assert isinstance(out.state, st.ChoosingAccount)
    assert (out.state.offered, out.state.linking, out.state.linked) == (
        ("a1", "a2"),
        False,
        ("a1", "a2"),
    )
    assert kinds(out) == [fx.ShowChooser]


def test_a_linked_subject_is_offered_the_unlinked_candidates_too() -> None:
    decision = MatchDecision(
        Match.CHOOSE,
        (
            linked_candidate("a1"),
            candidate("a2", MatchKey.SNILS),
            candidate("a3", MatchKey.BIRTH_DATE),
        ),
    )
    out = linked_then((account("a1"),), decision)
    assert isinstance(out.state, st.ChoosingAccount)
    assert (out.state.offered, out.state.linked, out.state.weak) == (
        ("a1", "a2", "a3"),
        ("a1",),
        ("a3",),
    )
    assert out.state.linking
    [show] = out.effects
    assert isinstance(show, fx.ShowChooser)
    assert (show.linking, show.linked) == (True, ("a1",))


def test_a_pick_of_an_unlinked_account_links_it_and_a_linked_one_does_not() -> None:
    chooser = st.ChoosingAccount(FRAME, PERSON, ("a1", "a2"), (), True, linked=("a1",))
    picked = run(chooser, ev.AccountChosen("a2", account("a2")), NO_FACTOR)
    links = [e for e in picked.effects if isinstance(e, fx.Link)]
    assert [(e.account_id, e.method) for e in links] == [("a2", LinkMethod.CHOSEN)]
    issue = picked.effects[-1]
    assert isinstance(issue, fx.IssueSession)
    assert issue.accounts == ("a1", "a2")
    assert issue.offer == st.Offer(("a1", "a2"), ("a2",), ())
    again = run(chooser, ev.AccountChosen("a1", account("a1")), NO_FACTOR)
    assert not [e for e in again.effects if isinstance(e, fx.Link)]


def test_a_weak_unlinked_pick_under_strong_needs_the_local_login() -> None:
    chooser = st.ChoosingAccount(FRAME, PERSON, ("a1", "a2"), ("a2",), True, linked=("a1",))
    strong = BrokerPolicy(auto_link="strong", second_factor=NO_FACTOR.second_factor)
    out = run(chooser, ev.AccountChosen("a2", account("a2")), strong)
    assert isinstance(out.state, st.AwaitingProof)
    assert out.state.offered == ("a2",)
    # a linked one goes straight in under the same policy
    linked = run(chooser, ev.AccountChosen("a1", account("a1")), strong)
    assert linked.state == st.SessionIssued("a1")


def test_hidden_accounts_are_not_offered_unless_nothing_else_is() -> None:
    decision = MatchDecision(
        Match.CHOOSE, (candidate("a2", MatchKey.SNILS), candidate("a3", MatchKey.SNILS))
    )
    out = linked_then((account("a1"),), decision, frozenset({"a2"}))
    assert isinstance(out.state, st.ChoosingAccount)
    assert out.state.offered == ("a1", "a3")
    alone = linked_then((account("a1"),), MatchDecision(Match.NO_MATCH), frozenset({"a1"}))
    assert alone.state == st.SessionIssued("a1")


def test_one_unlinked_account_in_all_is_linked_and_logged_in() -> None:
    blocked = account("a1", status=AccountStatus.BLOCKED)
    decision = MatchDecision(Match.AUTO_LINK, (candidate("a2", MatchKey.SNILS),))
    out = linked_then((blocked,), decision)
    assert out.state == st.SessionIssued("a2")
    assert [(e.account_id, e.method) for e in out.effects if isinstance(e, fx.Link)] == [
        ("a2", LinkMethod.CHOSEN)
    ]


def test_hiding_shows_the_chooser_again_without_the_account() -> None:
    chooser = st.ChoosingAccount(FRAME, PERSON, ("a1", "a2", "a3"), ("a3",), True, linked=("a1",))
    out = run(chooser, ev.AccountHidden("a3", (account("a1"), account("a2"))))
    assert isinstance(out.state, st.ChoosingAccount)
    assert (out.state.offered, out.state.weak, out.state.linked) == (("a1", "a2"), (), ("a1",))
    hide, show = out.effects
    assert hide == fx.Hide("https://idp.test", "1000", "a3")
    assert isinstance(show, fx.ShowChooser)
    assert [a.account_id for a in show.accounts] == ["a1", "a2"]


def test_a_chooser_of_the_linked_accounts_of_an_unconfirmed_subject_hides_nothing() -> None:
    chooser = st.ChoosingAccount(FRAME, PERSON, ("a1", "a2"), (), False)
    out = run(chooser, ev.AccountHidden("a1", (account("a2"),)))
    assert refused_with(out) == "broker.out_of_order"


def test_the_last_account_or_one_not_offered_cannot_be_hidden() -> None:
    chooser = st.ChoosingAccount(FRAME, PERSON, ("a1",), (), True)
    assert refused_with(run(chooser, ev.AccountHidden("a1", ()))) == "broker.hide_last"
    assert refused_with(run(chooser, ev.AccountHidden("a9", ()))) == "broker.not_offered"


def test_every_linked_account_blocked_is_refused() -> None:
    blocked = account("a1", status=AccountStatus.BLOCKED)
    out = linked_then((blocked,), MatchDecision(Match.NO_MATCH))
    assert refused_with(out) == "broker.account_blocked"


def test_an_unverified_subject_with_links_is_offered_only_them() -> None:
    unverified = attrs.evolve(PERSON, identity=attrs.evolve(PERSON.identity, verified=False))
    out = run(st.ReadingLinks(FRAME, unverified, False), ev.LinksRead((account("a1"),)), NO_FACTOR)
    assert out.state == st.SessionIssued("a1")


def test_an_unsolicited_answer_never_links() -> None:
    out = run(st.Start(), ev.UnsolicitedAnswer(BROWSER, PERSON))
    assert isinstance(out.state, st.ReadingLinks)
    assert refused_with(run(out.state, ev.LinksRead(()))) == "broker.idp_initiated"


def test_nothing_linked_asks_for_matching() -> None:
    out = run(reading(), ev.LinksRead(()))
    assert out.state == st.Matching(FRAME, PERSON)
    assert out.effects == (fx.AskMatch(PERSON.identity),)


# -- matching ------------------------------------------------------------------------------


def matched(outcome: Match, *candidates: Candidate, policy: BrokerPolicy = NO_FACTOR) -> Outcome:
    return run(st.Matching(FRAME, PERSON), ev.Matched(MatchDecision(outcome, candidates)), policy)


def test_auto_link_links_with_the_session() -> None:
    out = matched(Match.AUTO_LINK, candidate("a1", MatchKey.SNILS))
    assert out.state == st.SessionIssued("a1")
    assert kinds(out) == [fx.Link, fx.IssueSession]
    link = out.effects[0]
    assert isinstance(link, fx.Link) and link.method is LinkMethod.AUTO


def test_strong_policy_asks_to_prove_a_weak_match() -> None:
    strong = attrs.evolve(NO_FACTOR, auto_link="strong")
    out = matched(Match.AUTO_LINK, candidate("a1"), policy=strong)
    assert out.state == st.AwaitingProof(FRAME, PERSON, ("a1",), ("sch1",))
    assert out.effects == (fx.ShowLocalLogin("prove", ("sch1",)),)


def test_no_match_ends_without_an_account() -> None:
    out = matched(Match.NO_MATCH)
    assert isinstance(out.state, st.NoAccount)
    last = out.effects[-1]
    assert isinstance(last, fx.Refuse) and last.error.code == "broker.no_match"


def test_an_unconfirmed_identity_proves_any_account() -> None:
    out = matched(Match.LOCAL_LOGIN_REQUIRED)
    assert out.state == st.AwaitingProof(FRAME, PERSON, (), ())
    assert out.effects == (fx.ShowLocalLogin("unverified", ()),)


def test_several_candidates_go_to_a_linking_chooser_with_the_weak_ones_marked() -> None:
    out = matched(Match.CHOOSE, candidate("a1", MatchKey.SNILS), candidate("a2"))
    assert isinstance(out.state, st.ChoosingAccount)
    assert (out.state.offered, out.state.weak, out.state.linking) == (("a1", "a2"), ("a2",), True)


# -- the chooser ---------------------------------------------------------------------------


CHOOSING = st.ChoosingAccount(FRAME, PERSON, ("a1", "a2"), ("a2",), True)


def test_an_account_not_offered_is_refused() -> None:
    out = run(CHOOSING, ev.AccountChosen("a3", account("a3")))
    assert refused_with(out) == "broker.not_offered"
    assert kinds(out) == [fx.Refuse]


def test_a_pick_is_recorded_then_linked_with_the_session() -> None:
    out = run(CHOOSING, ev.AccountChosen("a1", account("a1")), NO_FACTOR)
    assert kinds(out) == [fx.Record, fx.Link, fx.IssueSession]
    record = out.effects[0]
    assert isinstance(record, fx.Record) and record.action is AuditAction.CHOICE


def test_a_weak_pick_under_the_strong_policy_is_proved_first() -> None:
    strong = attrs.evolve(NO_FACTOR, auto_link="strong")
    out = run(CHOOSING, ev.AccountChosen("a2", account("a2")), strong)
    offer = st.Offer(("a1", "a2"), ("a1", "a2"), ("a2",))  # for the session's switcher
    assert out.state == st.AwaitingProof(FRAME, PERSON, ("a2",), ("sch1",), offer)


def test_a_pick_that_vanished_is_refused() -> None:
    assert refused_with(run(CHOOSING, ev.AccountChosen("a1", None))) == "account.not_found"


# -- local login ---------------------------------------------------------------------------


def test_a_password_is_checked_only_against_the_offered_accounts() -> None:
    proof = st.AwaitingProof(FRAME, PERSON, ("a1",), ("sch1",))
    out = run(proof, ev.PasswordGiven("sch1", "a1", "pw"))
    assert out.state == st.CheckingPassword(proof)
    assert out.effects == (fx.AskPassword("sch1", "a1", "pw", ("a1",)),)


def test_a_refused_password_gives_the_form_again_with_the_error() -> None:
    back = st.AwaitingProof(FRAME, PERSON, ("a1",), ("sch1",))
    out = run(st.CheckingPassword(back), ev.PasswordChecked(ev.PasswordFailed(WRONG, "a1")))
    assert out.state == back
    assert out.effects[1] == fx.ShowLocalLogin("prove", ("sch1",), WRONG)
    record = out.effects[0]
    assert isinstance(record, fx.Record) and record.account_id == "a1"


def test_the_right_password_of_a_blocked_account_is_refused_with_its_own_code() -> None:
    blocked = account("a1", status=AccountStatus.BLOCKED)
    back = st.AwaitingLocalLogin(FRAME)
    out = run(st.CheckingPassword(back), ev.PasswordChecked(ev.PasswordPassed(blocked)))
    assert out.state == back
    form = out.effects[-1]
    assert isinstance(form, fx.ShowLocalLogin) and form.error is not None
    assert form.error.code == "auth.account_blocked"


def test_a_local_login_needs_a_second_factor_by_default() -> None:
    out = run(
        st.CheckingPassword(st.AwaitingLocalLogin(FRAME)),
        ev.PasswordChecked(ev.PasswordPassed(account())),
    )
    assert out.state == st.ReadingContacts(FRAME, "a1", st.ViaPassword())
    assert out.effects == (fx.AskContacts("a1"),)


def test_a_proof_links_by_local_login() -> None:
    back = st.AwaitingProof(FRAME, PERSON, (), ())
    out = run(
        st.CheckingPassword(back), ev.PasswordChecked(ev.PasswordPassed(account())), NO_FACTOR
    )
    link = out.effects[0]
    assert isinstance(link, fx.Link) and link.method is LinkMethod.LOCAL_LOGIN


# -- the second factor ---------------------------------------------------------------------


def contacts(totp: bool = False, phone: str = "", email: str = "") -> ev.ContactsRead:
    return ev.ContactsRead(ev.Contacts(totp=totp, phone=phone, email=email))


def test_the_channel_is_the_app_then_sms_then_email() -> None:
    state = st.ReadingContacts(FRAME, "a1", st.ViaPassword())
    for read, channel in (
        (contacts(True, "+7", "a@b"), "totp"),
        (contacts(False, "+7", "a@b"), "sms"),
        (contacts(False, "", "a@b"), "email"),
    ):
        [ask] = run(state, read).effects
        assert isinstance(ask, fx.AskOpenChallenge) and ask.channel == channel
    assert refused_with(run(state, contacts())) == "broker.no_second_factor"


def test_an_open_challenge_shows_the_code_form() -> None:
    out = run(st.OpeningChallenge(FRAME, "a1", st.ViaPassword()), ev.ChallengeOpened(challenge()))
    assert out.state == SECOND
    assert out.effects == (fx.ShowCodeForm(challenge()),)


def test_a_wrong_code_with_attempts_left_is_the_form_again() -> None:
    out = run(st.CheckingCode(SECOND), ev.CodeChecked(ev.CodeWrong(WRONG, challenge(attempts=1))))
    assert out.state == SECOND
    assert kinds(out) == [fx.Record, fx.ShowCodeForm]


def test_a_spent_challenge_ends_the_login() -> None:
    over = WRONG.__class__("void", code="mfa.too_many_attempts")
    out = run(st.CheckingCode(SECOND), ev.CodeChecked(ev.CodeRefused(over)))
    assert refused_with(out) == "mfa.too_many_attempts"
    assert kinds(out) == [fx.Record, fx.Refuse]


def test_the_right_code_issues_a_session_with_the_second_factor() -> None:
    out = run(st.CheckingCode(SECOND), ev.CodeChecked(ev.CodePassed(account(), None)))
    assert out.state == st.SessionIssued("a1")
    issue = out.effects[-1]
    assert isinstance(issue, fx.IssueSession) and issue.second_factor


def test_a_switch_rechecks_the_link_once_the_code_passes() -> None:
    switch = attrs.evolve(SECOND, entry=st.ViaSwitch("s1", False, "https://idp.test", "1000"))
    [ask] = run(switch, ev.CodeGiven(" 123456 ")).effects
    assert ask == fx.AskCode("c1", "a1", "123456", ("https://idp.test", "1000"))
    gone = ev.CodeChecked(ev.CodePassed(account(), frozenset({"a0"})))
    assert refused_with(run(st.CheckingCode(switch), gone)) == "broker.not_linked"


def test_a_resend_shows_the_new_or_the_current_challenge() -> None:
    assert run(SECOND, ev.ResendAsked()).effects == (fx.AskResend("c1", "a1"),)
    resending = st.Resending(SECOND)
    assert run(resending, ev.CodeResent(ev.Resent(challenge()))).state == SECOND
    kept = run(resending, ev.CodeResent(ev.ResendFailed(WRONG, challenge())))
    assert kept.effects == (fx.ShowCodeForm(challenge(), WRONG),)
    assert refused_with(run(resending, ev.CodeResent(ev.ResendFailed(WRONG, None)))) == (
        "mfa.wrong_code"
    )


# -- the switch ----------------------------------------------------------------------------


def switch(**changes: Any) -> ev.SwitchBegun:
    base = ev.SwitchBegun(
        BROWSER,
        "s1",
        ("a0", "a1"),
        False,
        "https://idp.test",
        "1000",
        "a1",
        account(),
        frozenset({"a0", "a1"}),
    )
    return attrs.evolve(base, **changes)


def test_a_switch_is_only_to_the_sessions_accounts_still_linked() -> None:
    assert refused_with(run(st.Start(), switch(account_id="a7"))) == "broker.not_offered"
    assert refused_with(run(st.Start(), switch(linked_now=frozenset()))) == "broker.not_linked"
    assert refused_with(run(st.Start(), switch(account=None))) == "account.not_found"


def test_a_switch_rotates_the_session() -> None:
    out = run(st.Start(), switch(), NO_FACTOR)
    issue = out.effects[-1]
    assert isinstance(issue, fx.IssueSession) and issue.switch
    assert kinds(out) == [fx.Record, fx.IssueSession]


def test_staff_policy_refuses_a_staff_switch_without_esia_organisations() -> None:
    from sso_bridge.esia.roles import StaffRolePolicy  # noqa: PLC0415

    staff = attrs.evolve(NO_FACTOR, staff=StaffRolePolicy(strict=True))
    out = run(st.Start(), switch(account=account("a1", roles=("teacher",))), staff)
    assert refused_with(out) == "broker.not_an_employee"


def test_the_stored_steps_keep_what_the_login_offered() -> None:
    offer = st.Offer(("a1", "a2", "a3"), ("a2", "a3"), ("a3",))
    entry = st.ViaIdp(PERSON, LinkMethod.CHOSEN, offer)
    for state in (
        st.ChoosingAccount(FRAME, PERSON, ("a1", "a2"), ("a2",), True, linked=("a1",)),
        st.AwaitingProof(FRAME, PERSON, ("a3",), ("sch1",), offer),
        st.AwaitingSecondFactor(FRAME, "a2", "c1", entry),
    ):
        assert decode_state(encode_state(state)) == state


def test_a_step_stored_before_every_login_offered_all_is_read_as_before() -> None:
    chooser = st.ChoosingAccount(FRAME, PERSON, ("a1", "a2"), (), True)
    data = json.loads(encode_state(chooser))
    del data["linked"]
    assert decode_state(json.dumps(data).encode()) == chooser
    second = st.AwaitingSecondFactor(FRAME, "a1", "c1", st.ViaIdp(PERSON, LinkMethod.CHOSEN))
    assert "offer" not in json.loads(encode_state(second))["entry"]
    assert decode_state(encode_state(second)) == second
