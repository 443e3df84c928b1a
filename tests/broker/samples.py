"""One value of every state and event kind of the broker's machine, for the table tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine import states as st
from sso_bridge.matching.keys import MatchKeys
from sso_bridge.mfa import Challenge
from sso_bridge.mfa.errors import MfaError
from sso_bridge.model import LinkMethod, LocalAccount, MatchDecision, Outcome

NOW = datetime(2025, 9, 1, 8, 0, tzinfo=UTC)
BROWSER = "b" * 64
FRAME = st.Frame(BROWSER, NOW, NOW + timedelta(minutes=15))
KEYS = MatchKeys("иванов", "иван", None, date(2011, 5, 5), b"\x01" * 32, None)
IDENTITY = st.StepIdentity("https://idp.test", "1000", True, KEYS, "Иванов", "Иван")
PERSON = st.Person(IDENTITY, idp_mfa=False)


def account(
    account_id: str = "a1", roles: tuple[str, ...] = ("parent",), **kw: Any
) -> LocalAccount:
    org_id = kw.pop("org_id", "sch1")
    return LocalAccount(account_id, org_id, "Иванов", "Иван", login=account_id, roles=roles, **kw)


def challenge(account_id: str = "a1", attempts: int = 0) -> Challenge:
    return Challenge(
        challenge_id="c1",
        account_id=account_id,
        channel="sms",
        destination="+7 *** 01",
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=5),
        attempts=attempts,
        sends=1,
        last_sent_at=NOW,
    )


SECOND = st.AwaitingSecondFactor(FRAME, "a1", "c1", st.ViaPassword())

STATES: dict[st.State, st.MachineState] = {
    st.State.START: st.Start(),
    st.State.AWAITING_IDP: st.AwaitingIdp(FRAME, "esia", st.IdpRequest("s1", {"request_id": "r1"})),
    st.State.AWAITING_IDP_TO_LINK: st.AwaitingIdpToLink(
        FRAME, "esia", st.IdpRequest("s1", {"state": "s1"}), "a1", "sess1"
    ),
    st.State.AWAITING_IDP_TO_STEP_UP: st.AwaitingIdpToStepUp(
        FRAME, "esia", st.IdpRequest("s1", {"state": "s1"}), "sess1", "i", "1000", 0
    ),
    st.State.READING_LINKS: st.ReadingLinks(FRAME, PERSON, idp_initiated=False),
    st.State.MATCHING: st.Matching(FRAME, PERSON),
    st.State.MATCHING_LINKED: st.MatchingLinked(FRAME, PERSON, (account(),)),
    st.State.CHOOSING_ACCOUNT: st.ChoosingAccount(FRAME, PERSON, ("a1", "a2"), (), True),
    st.State.AWAITING_LOCAL_LOGIN: st.AwaitingLocalLogin(FRAME),
    st.State.AWAITING_PROOF: st.AwaitingProof(FRAME, PERSON, ("a1",), ("sch1",)),
    st.State.CHECKING_PASSWORD: st.CheckingPassword(st.AwaitingLocalLogin(FRAME)),
    st.State.READING_CONTACTS: st.ReadingContacts(FRAME, "a1", st.ViaPassword()),
    st.State.OPENING_CHALLENGE: st.OpeningChallenge(FRAME, "a1", st.ViaPassword()),
    st.State.AWAITING_SECOND_FACTOR: SECOND,
    st.State.CHECKING_CODE: st.CheckingCode(SECOND),
    st.State.RESENDING: st.Resending(SECOND),
    st.State.LOGGED_IN: st.SessionIssued("a1"),
    st.State.LINKED: st.LinkMade("a1"),
    st.State.STEPPED_UP: st.SteppedUp("sess1"),
    st.State.NO_ACCOUNT: st.NoAccount(),
    st.State.REFUSED: st.Refused("broker.no_match"),
}

WRONG = MfaError("the code is wrong", code="mfa.wrong_code")

EVENTS: dict[ev.Event, ev.MachineEvent] = {
    ev.Event.BEGIN_FEDERATED: ev.FederatedBegun(
        BROWSER, "esia", st.IdpRequest("s1", {"request_id": "r1"}), "https://idp.test/sso"
    ),
    ev.Event.BEGIN_LINK: ev.LinkBegun(
        BROWSER,
        "esia",
        st.IdpRequest("s1", {"request_id": "r1"}),
        "https://idp.test/sso",
        "a1",
        "sess1",
    ),
    ev.Event.BEGIN_LOCAL: ev.LocalBegun(BROWSER),
    ev.Event.BEGIN_STEP_UP: ev.StepUpBegun(
        BROWSER, "esia", st.IdpRequest("s1", {"state": "s1"}), "u", "sess1", "i", "1000", 0
    ),
    ev.Event.BEGIN_SWITCH: ev.SwitchBegun(
        BROWSER, "sess1", ("a0", "a1"), False, None, None, "a1", account(), None
    ),
    ev.Event.UNSOLICITED_ANSWER: ev.UnsolicitedAnswer(BROWSER, PERSON),
    ev.Event.IDP_ANSWERED: ev.IdpAnswered(PERSON),
    ev.Event.LINKS_READ: ev.LinksRead((account(),)),
    ev.Event.MATCHED: ev.Matched(MatchDecision(Outcome.NO_MATCH)),
    ev.Event.ACCOUNT_CHOSEN: ev.AccountChosen("a1", account()),
    ev.Event.ACCOUNT_HIDDEN: ev.AccountHidden("a1", (account("a2"),)),
    ev.Event.PASSWORD_GIVEN: ev.PasswordGiven("sch1", "a1", "secret"),
    ev.Event.PASSWORD_CHECKED: ev.PasswordChecked(ev.PasswordPassed(account())),
    ev.Event.CONTACTS_READ: ev.ContactsRead(ev.Contacts(totp=False, phone="+7 900", email="")),
    ev.Event.CHALLENGE_OPENED: ev.ChallengeOpened(challenge()),
    ev.Event.CODE_GIVEN: ev.CodeGiven("123456"),
    ev.Event.CODE_CHECKED: ev.CodeChecked(ev.CodePassed(account(), None)),
    ev.Event.RESEND_ASKED: ev.ResendAsked(),
    ev.Event.CODE_RESENT: ev.CodeResent(ev.Resent(challenge())),
}

LINK = LinkMethod
