"""The person's answers within a login: the chooser (an account picked or hidden) and the
local login form (a password given and its verdict)."""

from __future__ import annotations

from datetime import datetime

import attrs

from sso_bridge.broker.machine.effects import AskPassword, Hide, Record, ShowChooser, ShowLocalLogin
from sso_bridge.broker.machine.events import (
    AccountChosen,
    AccountHidden,
    PasswordChecked,
    PasswordFailed,
    PasswordGiven,
)
from sso_bridge.broker.machine.outcome import Outcome, refusal, refuse
from sso_bridge.broker.machine.policy import Policy
from sso_bridge.broker.machine.settle import settle
from sso_bridge.broker.machine.states import (
    AwaitingLocalLogin,
    AwaitingProof,
    CheckingPassword,
    ChoosingAccount,
    Frame,
    Offer,
    Person,
    ViaIdp,
    ViaPassword,
)
from sso_bridge.errors import AccountNotFound
from sso_bridge.model import AuditAction, LinkMethod

__all__ = ["account_chosen", "account_hidden", "password_checked", "password_given", "to_proof"]


def to_proof(
    frame: Frame,
    person: Person,
    offered: tuple[str, ...],
    organisations: tuple[str, ...],
    offer: Offer | None = None,
) -> Outcome:
    """The local login that links the account it proves: one of ``offered``, or any
    account when ``offered`` is empty (an unconfirmed identity)."""
    state = AwaitingProof(frame, person, offered, organisations, offer)
    return Outcome(state, (ShowLocalLogin(state.reason, organisations),))


def account_chosen(p: Policy, s: ChoosingAccount, e: AccountChosen, now: datetime) -> Outcome:
    """One of the offered accounts, and nothing else."""
    if e.account_id not in s.offered:
        return refuse(
            refusal(
                "broker.not_offered", "that account was not offered to you; start the login again"
            )
        )
    identity = s.person.identity
    choice = Record(AuditAction.CHOICE, e.account_id, identity.issuer, identity.subject)
    if s.linking and p.auto_link == "strong" and e.account_id in s.weak:
        orgs = () if e.account is None else (e.account.org_id,)
        offer = Offer(s.offered, s.unlinked, s.weak) if s.every else None
        proof = to_proof(s.frame, s.person, (e.account_id,), orgs, offer)
        return Outcome(proof.state, (choice, *proof.effects))
    if e.account is None:
        return refuse(AccountNotFound(f"no local account {e.account_id!r}"), (choice,))
    unlinked = s.unlinked
    link = LinkMethod.CHOSEN if e.account_id in unlinked else None
    # a chooser of every account (not only the linked ones of an unconfirmed subject or an
    # IdP-initiated login): the session's switcher offers what it offered
    offer = Offer(s.offered, unlinked, s.weak) if s.every else None
    return settle(p, s.frame, e.account, ViaIdp(s.person, link, offer), before=(choice,))


def account_hidden(p: Policy, s: ChoosingAccount, e: AccountHidden, now: datetime) -> Outcome:
    """The person asks not to be offered an account any more: stored for them, and the
    chooser again without it, under a new step. The last account offered cannot be
    hidden."""
    if not s.every:
        return refuse(
            refusal("broker.out_of_order", "this chooser offers only the linked accounts")
        )
    if e.account_id not in s.offered:
        return refuse(
            refusal(
                "broker.not_offered", "that account was not offered to you; start the login again"
            )
        )
    offered = tuple(a for a in s.offered if a != e.account_id)
    accounts = tuple(a for a in e.remaining if a.account_id in offered)
    if not accounts:
        return refuse(
            refusal(
                "broker.hide_last",
                "the only account offered cannot be hidden; pick it, or show the others "
                "again from your settings",
            )
        )
    identity = s.person.identity
    state = attrs.evolve(
        s,
        offered=tuple(a.account_id for a in accounts),
        weak=tuple(a for a in s.weak if a in offered),
        linked=tuple(a for a in s.linked if a in offered),
    )
    hide = Hide(identity.issuer, identity.subject, e.account_id)
    linking = s.linking and bool(state.unlinked)
    return Outcome(state, (hide, ShowChooser(accounts, linking, state.linked, hiding=True)))


def password_given(
    _: Policy, s: AwaitingLocalLogin | AwaitingProof, e: PasswordGiven, now: datetime
) -> Outcome:
    only = s.offered if isinstance(s, AwaitingProof) else ()
    return Outcome(CheckingPassword(s), (AskPassword(e.org_id, e.login, e.password, only),))


def password_checked(p: Policy, s: CheckingPassword, e: PasswordChecked, now: datetime) -> Outcome:
    """A wrong password or a locked account gives the form again with the error."""
    back, verdict = s.back, e.verdict
    if not isinstance(verdict, PasswordFailed) and not verdict.account.active:
        verdict = PasswordFailed(
            refusal(
                "auth.account_blocked",
                "this school account is blocked; ask the school administrator to unblock it",
            ),
            verdict.account.account_id,
        )
    if isinstance(verdict, PasswordFailed):
        error = verdict.error
        record = Record(
            AuditAction.LOGIN_REFUSED, verdict.account_id, code=error.code, detail=error.message
        )
        if isinstance(back, AwaitingProof):
            form = ShowLocalLogin(back.reason, back.organisations, error)
        else:
            form = ShowLocalLogin("local", (), error)
        return Outcome(back, (record, form))
    if isinstance(back, AwaitingProof):
        entry: ViaIdp | ViaPassword = ViaIdp(back.person, LinkMethod.LOCAL_LOGIN, back.offer)
    else:
        entry = ViaPassword()
    return settle(p, back.frame, verdict.account, entry)
