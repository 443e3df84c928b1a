"""Settling on one account: the blocked and staff checks, the second factor, the session.

Shared by every path that ends on an account (the IdP's answer, the chooser, the local
login, the switch) and by the second factor's own events.
"""

from __future__ import annotations

from typing import Literal

from sso_bridge.broker.machine.effects import (
    AskCode,
    AskContacts,
    AskOpenChallenge,
    AskRecoveryCode,
    AskResend,
    Effect,
    IssueSession,
    Link,
    Record,
    ShowCodeForm,
)
from sso_bridge.broker.machine.events import (
    ChallengeNotOpened,
    ChallengeOpened,
    CodeChecked,
    CodeGiven,
    CodePassed,
    CodeResent,
    CodeWrong,
    ContactsRead,
    ResendAsked,
    Resent,
)
from sso_bridge.broker.machine.outcome import Outcome, refusal, refuse
from sso_bridge.broker.machine.policy import Policy
from sso_bridge.broker.machine.states import (
    AwaitingSecondFactor,
    CheckingCode,
    Entry,
    Frame,
    OpeningChallenge,
    ReadingContacts,
    Resending,
    SessionIssued,
    ViaIdp,
    ViaSwitch,
)
from sso_bridge.errors import AccountNotFound, BridgeError
from sso_bridge.model import AuditAction, LocalAccount

__all__ = [
    "challenge_opened",
    "code_checked",
    "code_given",
    "code_resent",
    "contacts_read",
    "resend_asked",
    "settle",
]


def _issuer_subject(entry: Entry) -> tuple[str, str] | None:
    if isinstance(entry, ViaIdp):
        return entry.person.identity.issuer, entry.person.identity.subject
    if isinstance(entry, ViaSwitch) and entry.issuer is not None and entry.subject is not None:
        return entry.issuer, entry.subject
    return None


def _idp_mfa(entry: Entry) -> bool:
    if isinstance(entry, ViaIdp):
        return entry.person.idp_mfa
    if isinstance(entry, ViaSwitch):
        return entry.second_factor
    return False


def settle(
    policy: Policy,
    frame: Frame,
    account: LocalAccount,
    entry: Entry,
    *,
    known_accounts: tuple[str, ...] | None = None,
    before: tuple[Effect, ...] = (),
) -> Outcome:
    """The account is known: a second factor if the policy asks, else the session.

    ``known_accounts``: the session's accounts when they were just read.
    """
    if not account.active:
        return refuse(
            refusal(
                "broker.account_blocked",
                "this school account is blocked; ask the school administrator",
            ),
            before,
        )
    who = _issuer_subject(entry)
    if who is not None:
        organisations = entry.person.organisations if isinstance(entry, ViaIdp) else None
        if not policy.staff(account, organisations):
            return refuse(
                refusal(
                    "broker.not_an_employee",
                    "ESIA does not list you as working for this organisation, so this staff "
                    "account cannot be used; ask the school administrator",
                ),
                before,
            )
    mfa = _idp_mfa(entry)
    issuer = None if who is None else who[0]
    if policy.second_factor(account, issuer, mfa):
        return Outcome(
            ReadingContacts(frame, account.account_id, entry),
            (*before, AskContacts(account.account_id)),
        )
    return log_in(frame, account.account_id, entry, mfa, known_accounts, before)


def log_in(
    frame: Frame,
    account_id: str,
    entry: Entry,
    second_factor: bool,
    known_accounts: tuple[str, ...] | None,
    before: tuple[Effect, ...] = (),
) -> Outcome:
    """Link if the login links, then issue the session."""
    effects = list(before)
    if isinstance(entry, ViaIdp) and entry.link is not None:
        effects.append(Link(entry.person.identity, account_id, entry.link))
    who = _issuer_subject(entry)
    offer = entry.offer if isinstance(entry, ViaIdp) else None
    accounts = known_accounts or (account_id,)
    if offer is not None:  # every account the login offered, the one logged in among them
        accounts = tuple(sorted({*offer.accounts, account_id}))
    effects.append(
        IssueSession(
            account_id=account_id,
            second_factor=second_factor,
            method="local" if who is None else "federated",
            issuer=None if who is None else who[0],
            subject=None if who is None else who[1],
            accounts=accounts,
            add_linked=known_accounts is None and offer is None and who is not None,
            not_on_or_after=entry.person.not_on_or_after if isinstance(entry, ViaIdp) else None,
            kept=frame.kept,
            switch=isinstance(entry, ViaSwitch),
            idp_session=entry.person.idp_session if isinstance(entry, ViaIdp) else None,
            offer=offer,
            person=entry.person if offer is not None and isinstance(entry, ViaIdp) else None,
        )
    )
    return Outcome(SessionIssued(account_id), tuple(effects))


# -- the second factor -------------------------------------------------------------------------


def contacts_read(state: ReadingContacts, event: ContactsRead) -> Outcome:
    """The channel: the authenticator app when enrolled, else SMS, else e-mail."""
    contacts = event.contacts
    channel: Literal["totp", "sms", "email"]
    if contacts.totp:
        channel, destination = "totp", ""
    elif contacts.phone:
        channel, destination = "sms", contacts.phone
    elif contacts.email:
        channel, destination = "email", contacts.email
    else:
        return refuse(
            refusal(
                "broker.no_second_factor",
                "this account needs a second factor but has no phone, e-mail or "
                "authenticator app on record; ask the school administrator",
            )
        )
    ask = AskOpenChallenge(state.account_id, channel, destination, state.frame.browser)
    return Outcome(OpeningChallenge(state.frame, state.account_id, state.entry), (ask,))


def challenge_opened(state: OpeningChallenge, event: ChallengeOpened) -> Outcome:
    if isinstance(event.challenge, ChallengeNotOpened):
        error = event.challenge.error
        failed = Record(AuditAction.SECOND_FACTOR_FAILED, state.account_id, code=error.code)
        return refuse(error, (failed,))
    nxt = AwaitingSecondFactor(
        state.frame, state.account_id, event.challenge.challenge_id, state.entry
    )
    return Outcome(nxt, (ShowCodeForm(event.challenge),))


# One-time and TOTP codes have 6 or 8 digits; anything longer is taken as a recovery code.
_LONGEST_CODE = 8


def code_given(state: AwaitingSecondFactor, event: CodeGiven) -> Outcome:
    recheck = _issuer_subject(state.entry) if isinstance(state.entry, ViaSwitch) else None
    code = event.code.strip()
    ask: AskCode | AskRecoveryCode
    if len("".join(code.split()).replace("-", "")) > _LONGEST_CODE:
        ask = AskRecoveryCode(state.challenge_id, state.account_id, code, recheck)
    else:
        ask = AskCode(state.challenge_id, state.account_id, code, recheck)
    return Outcome(CheckingCode(state), (ask,))


def code_checked(state: CheckingCode, event: CodeChecked) -> Outcome:
    back, verdict = state.back, event.verdict
    account_id = back.account_id
    if isinstance(verdict, CodeWrong):
        failed = Record(AuditAction.SECOND_FACTOR_FAILED, account_id, code=verdict.error.code)
        return Outcome(back, (failed, ShowCodeForm(verdict.challenge, verdict.error)))
    if not isinstance(verdict, CodePassed):
        failed = Record(AuditAction.SECOND_FACTOR_FAILED, account_id, code=verdict.error.code)
        return refuse(verdict.error, (failed,))
    passed: tuple[Record, ...] = (Record(AuditAction.SECOND_FACTOR_PASSED, account_id),)
    if verdict.recovery_left is not None:
        left = f"{verdict.recovery_left} recovery code(s) left"
        passed = (Record(AuditAction.RECOVERY_CODE_USED, account_id, detail=left), *passed)
    if verdict.linked_now is not None and account_id not in verdict.linked_now:
        return refuse(not_linked(), passed)
    if verdict.account is None:
        return refuse(AccountNotFound(f"no local account {account_id!r}"), passed)
    return log_in(back.frame, account_id, back.entry, True, None, passed)


def not_linked() -> BridgeError:
    return refusal(
        "broker.not_linked", "that account is no longer linked to your state-portal account"
    )


def resend_asked(state: AwaitingSecondFactor, _: ResendAsked) -> Outcome:
    return Outcome(Resending(state), (AskResend(state.challenge_id, state.account_id),))


def code_resent(state: Resending, event: CodeResent) -> Outcome:
    result = event.result
    if isinstance(result, Resent):
        return Outcome(state.back, (ShowCodeForm(result.challenge),))
    if result.current is None:
        return refuse(result.error)
    return Outcome(state.back, (ShowCodeForm(result.current, result.error),))
