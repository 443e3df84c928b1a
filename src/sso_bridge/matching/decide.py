"""The match decision of docs/matching.md as a pure function over found accounts."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import attrs

from sso_bridge.matching.keys import MatchKeys
from sso_bridge.model import (
    Candidate,
    FederatedIdentity,
    LocalAccount,
    MatchDecision,
    MatchKey,
    Organisation,
    Outcome,
    Rejection,
    RejectReason,
)


@attrs.frozen(init=False)
class AccountEntry:
    """A local account as the directory holds it: organisation, match keys, link.

    ``linked_subject`` is the subject of the identity's issuer that the account already
    links to, if any. Directories of the host build these; the keyword ``organization=``
    (the old spelling of ``organisation=``) is accepted for one release.
    """

    account: LocalAccount
    organisation: Organisation
    keys: MatchKeys
    linked_subject: str | None = None

    def __init__(
        self,
        account: LocalAccount,
        organisation: Organisation | None = None,
        keys: MatchKeys | None = None,
        linked_subject: str | None = None,
        *,
        organization: Organisation | None = None,
    ) -> None:
        if organization is not None:
            if organisation is not None:
                raise TypeError("AccountEntry: give organisation= or organization=, not both")
            warnings.warn(
                "AccountEntry(organization=...) is deprecated: pass organisation=",
                DeprecationWarning,
                stacklevel=2,
            )
            organisation = organization
        if organisation is None or keys is None:
            raise TypeError("AccountEntry needs an account, its organisation and its keys")
        self.__attrs_init__(account, organisation, keys, linked_subject)

    @property
    def organization(self) -> Organisation:
        """The old spelling of :attr:`organisation`, kept for one release."""
        return self.organisation


def _matched_on(ours: MatchKeys, theirs: MatchKeys) -> tuple[MatchKey, ...]:
    keys = []
    if ours.birth_date is not None and ours.birth_date == theirs.birth_date:
        keys.append(MatchKey.BIRTH_DATE)
    if ours.snils is not None and ours.snils == theirs.snils:
        keys.append(MatchKey.SNILS)
    if ours.passport is not None and ours.passport == theirs.passport:
        keys.append(MatchKey.PASSPORT)
    return tuple(keys)


def judge(
    identity: FederatedIdentity, keys: MatchKeys, found: AccountEntry
) -> Candidate | Rejection | None:
    """Candidate, rejection with its reason, or ``None`` when the account is unrelated."""
    theirs = found.keys
    matched_on = _matched_on(keys, theirs)
    if not matched_on:
        return None

    def reject(reason: RejectReason) -> Rejection:
        return Rejection(found.account.account_id, found.account.org_id, reason)

    if not keys.same_person_name(theirs):
        return reject(RejectReason.NAME_DIFFERS)
    if keys.snils is not None and theirs.snils is not None and keys.snils != theirs.snils:
        return reject(RejectReason.SNILS_CONFLICT)
    notes: list[str] = []
    if (
        keys.birth_date is not None
        and theirs.birth_date is not None
        and keys.birth_date != theirs.birth_date
    ):
        if MatchKey.SNILS not in matched_on and MatchKey.PASSPORT not in matched_on:
            return reject(RejectReason.BIRTH_DATE_CONFLICT)
        notes.append("birth_date_differs")
    if found.linked_subject is not None and found.linked_subject != identity.subject:
        return reject(RejectReason.LINKED_TO_OTHER_SUBJECT)
    if not found.account.active:
        return reject(RejectReason.ACCOUNT_BLOCKED)
    return Candidate(
        account=found.account,
        organisation=found.organisation,
        matched_on=matched_on,
        already_linked=found.linked_subject == identity.subject,
        notes=tuple(notes),
    )


def decide(
    identity: FederatedIdentity,
    keys: MatchKeys,
    found: Iterable[AccountEntry],
    warnings: tuple[str, ...] = (),
) -> MatchDecision:
    """Apply the candidate rule, the vetoes and the outcome table of docs/matching.md."""
    if not identity.verified:
        # Nothing about local accounts may reach a person whose identity is unchecked.
        return MatchDecision(Outcome.LOCAL_LOGIN_REQUIRED, warnings=warnings)
    candidates: dict[str, Candidate] = {}
    rejected: dict[str, Rejection] = {}
    if keys.last and keys.first:
        for item in found:
            account_id = item.account.account_id
            if account_id in candidates or account_id in rejected:
                continue
            verdict = judge(identity, keys, item)
            if isinstance(verdict, Candidate):
                candidates[account_id] = verdict
            elif isinstance(verdict, Rejection):
                rejected[account_id] = verdict
    else:
        warnings = (*warnings, "identity.name_missing")
    ordered = tuple(
        sorted(
            candidates.values(),
            key=lambda c: (c.organisation.name, c.organisation.org_id, c.account.account_id),
        )
    )
    outcome = {0: Outcome.NO_MATCH, 1: Outcome.AUTO_LINK}.get(len(ordered), Outcome.CHOOSE)
    return MatchDecision(
        outcome,
        candidates=ordered,
        rejected=tuple(sorted(rejected.values(), key=lambda r: r.account_id)),
        warnings=warnings,
    )
