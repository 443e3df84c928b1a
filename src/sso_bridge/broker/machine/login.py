"""The decisions of a login up to its account: starting, the IdP's answer, record
matching, the chooser, the local login, and the switch of a logged-in person. The rules
of the chooser's and the local login's answers are in :mod:`.answers` (re-exported)."""

from __future__ import annotations

from datetime import datetime

import attrs

from sso_bridge.broker.machine.answers import (
    account_chosen,
    account_hidden,
    password_checked,
    password_given,
    to_proof,
)
from sso_bridge.broker.machine.effects import (
    AskLinks,
    AskMatch,
    LinkFromSettings,
    Record,
    SendToIdp,
    ShowChooser,
    ShowLocalLogin,
)
from sso_bridge.broker.machine.events import (
    FederatedBegun,
    IdpAnswered,
    LinkBegun,
    LinksRead,
    LocalBegun,
    Matched,
    SwitchBegun,
    UnsolicitedAnswer,
)
from sso_bridge.broker.machine.outcome import Outcome, refusal, refuse
from sso_bridge.broker.machine.policy import Policy
from sso_bridge.broker.machine.settle import not_linked, settle
from sso_bridge.broker.machine.states import (
    AwaitingIdp,
    AwaitingIdpToLink,
    AwaitingLocalLogin,
    ChoosingAccount,
    Frame,
    LinkMade,
    Matching,
    MatchingLinked,
    NoAccount,
    Offer,
    Person,
    ReadingLinks,
    Start,
    ViaIdp,
    ViaSwitch,
)
from sso_bridge.broker.machine.step_up import not_fresh
from sso_bridge.errors import AccountNotFound, BridgeError
from sso_bridge.model import (
    AuditAction,
    Candidate,
    LinkMethod,
    LocalAccount,
    MatchDecision,
    MatchKey,
)
from sso_bridge.model import Outcome as MatchOutcome

__all__ = [
    "account_chosen",
    "account_hidden",
    "federated_begun",
    "idp_answered",
    "link_begun",
    "linked_idp_answered",
    "linked_matched",
    "links_read",
    "local_begun",
    "matched",
    "password_checked",
    "password_given",
    "switch_begun",
    "unsolicited_answer",
]


def _frame(policy: Policy, browser: str, now: datetime, kept: str | None = None) -> Frame:
    return Frame(browser, now, now + policy.step_lifetime, kept)


def _weak(candidate: Candidate) -> bool:
    """Matched on full name and birth date alone (docs/matching.md, match strength)."""
    return (
        MatchKey.SNILS not in candidate.matched_on and MatchKey.PASSPORT not in candidate.matched_on
    )


# -- starting --------------------------------------------------------------------------------


def federated_begun(p: Policy, _: Start, e: FederatedBegun, now: datetime) -> Outcome:
    state = AwaitingIdp(_frame(p, e.browser, now, e.kept), e.provider, e.request, e.fresh)
    return Outcome(state, (SendToIdp(e.url, e.fields),))


def link_begun(p: Policy, _: Start, e: LinkBegun, now: datetime) -> Outcome:
    frame = _frame(p, e.browser, now)
    state = AwaitingIdpToLink(frame, e.provider, e.request, e.account_id, e.session_id)
    return Outcome(state, (SendToIdp(e.url, e.fields),))


def local_begun(p: Policy, _: Start, e: LocalBegun, now: datetime) -> Outcome:
    return Outcome(
        AwaitingLocalLogin(_frame(p, e.browser, now, e.kept)), (ShowLocalLogin("local"),)
    )


def switch_begun(p: Policy, _: Start, e: SwitchBegun, now: datetime) -> Outcome:
    if e.account_id not in e.session_accounts:
        return refuse(
            refusal("broker.not_offered", "that account is not one of yours in this session")
        )
    choice = Record(AuditAction.CHOICE, e.account_id, e.issuer, e.subject)
    if e.linked_now is not None and e.account_id not in e.linked_now:
        if e.proof is None or e.account_id not in e.proof.unlinked:
            return refuse(not_linked())
        return _switch_to_unlinked(p, e, e.proof, now, choice)
    if e.account is None:
        return refuse(AccountNotFound(f"no local account {e.account_id!r}"))
    entry = ViaSwitch(e.session_id, e.second_factor, e.issuer, e.subject)
    return settle(p, _frame(p, e.browser, now), e.account, entry, before=(choice,))


def _switch_to_unlinked(
    p: Policy, e: SwitchBegun, proof: ChoosingAccount, now: datetime, choice: Record
) -> Outcome:
    """An unlinked account the login offered: linked through the login's proof, as a pick
    in the chooser is (a weak-only match under ``auto_link="strong"``: a local login to
    it first), after the second factor its policy asks for; the session is replaced."""
    identity = proof.person.identity
    if (identity.issuer, identity.subject) != (e.issuer, e.subject):
        return refuse(not_linked())
    frame = _frame(p, e.browser, now)
    if e.account is None:
        return refuse(AccountNotFound(f"no local account {e.account_id!r}"), (choice,))
    # the second factor is the session's to say, as for any switch, also when the chosen
    # account must first be proven with its password
    person = attrs.evolve(proof.person, idp_mfa=e.second_factor)
    if p.auto_link == "strong" and e.account_id in proof.weak:
        offer = Offer(e.session_accounts, proof.unlinked, proof.weak)
        orgs = (e.account.org_id,)
        proving = to_proof(frame, person, (e.account_id,), orgs, offer)
        return Outcome(proving.state, (choice, *proving.effects))
    unlinked = tuple(a for a in proof.unlinked if a != e.account_id)
    offer = Offer(e.session_accounts, unlinked, tuple(a for a in proof.weak if a in unlinked))
    entry = ViaIdp(person, LinkMethod.CHOSEN, offer)
    return settle(p, frame, e.account, entry, before=(choice,))


# -- the IdP's answer ------------------------------------------------------------------------


def _read_links(frame: Frame, person: Person, idp_initiated: bool) -> Outcome:
    identity = person.identity
    state = ReadingLinks(frame, person, idp_initiated)
    return Outcome(state, (AskLinks(identity.issuer, identity.subject),))


def idp_answered(p: Policy, s: AwaitingIdp, e: IdpAnswered, now: datetime) -> Outcome:
    """A login that asked for a fresh authentication (shared-computer mode) takes only a
    fresh one, and its session ends within the mode's lifetime."""
    person = e.person
    if s.fresh:
        stale = not_fresh(person, s.frame.created_at, now, max_age=0, skew=p.skew)
        if stale is not None:
            identity = person.identity
            record = Record(
                AuditAction.LOGIN_REFUSED,
                issuer=identity.issuer,
                subject=identity.subject,
                code=stale.code,
                detail="shared-computer mode: the IdP did not authenticate afresh",
            )
            return refuse(stale, (record,))
        if p.shared_lifetime is not None:
            cap = now + p.shared_lifetime
            ends = person.not_on_or_after
            person = attrs.evolve(person, not_on_or_after=cap if ends is None else min(ends, cap))
    return _read_links(s.frame, person, idp_initiated=False)


def unsolicited_answer(p: Policy, _: Start, e: UnsolicitedAnswer, now: datetime) -> Outcome:
    return _read_links(_frame(p, e.browser, now), e.person, idp_initiated=True)


def linked_idp_answered(p: Policy, s: AwaitingIdpToLink, e: IdpAnswered, now: datetime) -> Outcome:
    """Linking from settings takes only a fresh authentication at the IdP: whoever still
    has a session there (the previous person at a shared computer) is never linked."""
    stale = not_fresh(e.person, s.frame.created_at, now, max_age=0, skew=p.skew)
    if stale is not None:
        identity = e.person.identity
        record = Record(
            AuditAction.LINK_REFUSED,
            s.account_id,
            identity.issuer,
            identity.subject,
            code=stale.code,
            detail="linking needs a fresh authentication at the IdP",
        )
        return refuse(stale, (record,))
    effect = LinkFromSettings(e.person.identity, s.account_id)
    return Outcome(LinkMade(s.account_id), (effect,))


def links_read(p: Policy, s: ReadingLinks, e: LinksRead, now: datetime) -> Outcome:
    if e.accounts and not s.idp_initiated and s.person.identity.verified:
        # every account that is the person's: the linked ones and what matching still finds
        state = MatchingLinked(s.frame, s.person, e.accounts)
        linked = tuple(a.account_id for a in e.accounts)
        return Outcome(state, (AskMatch(s.person.identity, linked),))
    if e.accounts:
        active = tuple(a for a in e.accounts if a.active)
        if not active:
            return refuse(
                refusal(
                    "broker.account_blocked",
                    "every account linked to this person is blocked; ask the school administrator",
                )
            )
        if len(active) == 1:
            ids = (active[0].account_id,)
            return settle(p, s.frame, active[0], ViaIdp(s.person, None), known_accounts=ids)
        return _chooser(s.frame, s.person, active, linking=False, weak=())
    if s.idp_initiated:
        return refuse(
            refusal(
                "broker.idp_initiated",
                "no account is linked to this person, and a login started at the IdP never "
                "links one: log in from this site instead",
            )
        )
    return Outcome(Matching(s.frame, s.person), (AskMatch(s.person.identity),))


def matched(p: Policy, s: Matching, e: Matched, now: datetime) -> Outcome:
    decision = e.decision
    if decision.outcome is MatchOutcome.LOCAL_LOGIN_REQUIRED:
        return to_proof(s.frame, s.person, (), ())
    if decision.outcome is MatchOutcome.NO_MATCH:
        return Outcome(NoAccount(), refuse(_no_match()).effects)
    if decision.outcome is MatchOutcome.AUTO_LINK:
        account = decision.candidates[0].account
        if p.auto_link == "strong" and _weak(decision.candidates[0]):
            return to_proof(s.frame, s.person, (account.account_id,), (account.org_id,))
        offer = Offer((account.account_id,))
        return settle(p, s.frame, account, ViaIdp(s.person, LinkMethod.AUTO, offer))
    return _offer(p, s.frame, s.person, (), decision, e.hidden)


def linked_matched(p: Policy, s: MatchingLinked, e: Matched, now: datetime) -> Outcome:
    """A subject with links is offered them and the unlinked candidates matching still
    finds (same policy and vetoes as a first login), less the accounts it hid."""
    linked = tuple(a for a in s.linked if a.active)
    if not linked and not _unlinked(e.decision, s.linked):
        return refuse(
            refusal(
                "broker.account_blocked",
                "every account linked to this person is blocked; ask the school administrator",
            )
        )
    return _offer(p, s.frame, s.person, linked, e.decision, e.hidden)


def _unlinked(decision: MatchDecision, linked: tuple[LocalAccount, ...]) -> tuple[Candidate, ...]:
    """The decision's candidates that are not linked to the person yet."""
    if decision.outcome not in (MatchOutcome.AUTO_LINK, MatchOutcome.CHOOSE):
        return ()
    ids = {a.account_id for a in linked}
    return tuple(
        c for c in decision.candidates if not c.already_linked and c.account.account_id not in ids
    )


def _offer(
    p: Policy,
    frame: Frame,
    person: Person,
    linked: tuple[LocalAccount, ...],
    decision: MatchDecision,
    hidden: frozenset[str],
) -> Outcome:
    """One account in all: straight in (linked, or linked now); several: the chooser,
    which marks the linked ones. Hidden accounts are left out unless nothing is left."""
    candidates = _unlinked(decision, linked)
    everyone = (*linked, *(c.account for c in candidates))
    shown = tuple(a for a in everyone if a.account_id not in hidden) or everyone
    ids = tuple(a.account_id for a in shown)
    linked_ids = tuple(a.account_id for a in linked if a.account_id in ids)
    weak = tuple(
        c.account.account_id for c in candidates if _weak(c) and c.account.account_id in ids
    )
    unlinked = tuple(a for a in ids if a not in linked_ids)
    offer = Offer(ids, unlinked, weak)
    if len(shown) == 1:
        account = shown[0]
        if linked_ids:
            return settle(p, frame, account, ViaIdp(person, None, offer), known_accounts=ids)
        if p.auto_link == "strong" and weak:
            return to_proof(frame, person, ids, (account.org_id,), offer)
        return settle(p, frame, account, ViaIdp(person, LinkMethod.CHOSEN, offer))
    state = ChoosingAccount(frame, person, ids, weak, linking=bool(unlinked), linked=linked_ids)
    return Outcome(state, (ShowChooser(shown, bool(unlinked), linked_ids, hiding=True),))


def _no_match() -> BridgeError:
    return refusal(
        "broker.no_match",
        "no school account is linked to this state-portal account. Log in with the "
        "login and password from your school, then link the state-portal account in "
        "your personal settings",
    )


def _chooser(
    frame: Frame,
    person: Person,
    accounts: tuple[LocalAccount, ...],
    *,
    linking: bool,
    weak: tuple[str, ...],
) -> Outcome:
    offered = tuple(a.account_id for a in accounts)
    state = ChoosingAccount(frame, person, offered, weak, linking)
    return Outcome(state, (ShowChooser(accounts, linking),))
