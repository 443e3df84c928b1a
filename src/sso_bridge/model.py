"""Value types shared by every part of sso_bridge.

All of them are frozen attrs classes. SNILS and passport numbers are personal data: they
are kept out of ``repr`` so that they never reach a log line by accident.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from sso_bridge.errors import IdentityError


class AccountStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class Outcome(enum.StrEnum):
    """What record matching concluded for a federated identity (docs/matching.md)."""

    AUTO_LINK = "AUTO_LINK"
    CHOOSE = "CHOOSE"
    NO_MATCH = "NO_MATCH"
    LOCAL_LOGIN_REQUIRED = "LOCAL_LOGIN_REQUIRED"


class MatchKey(enum.StrEnum):
    """Which identity datum, besides the full name, tied a candidate to the identity."""

    BIRTH_DATE = "birth_date"
    SNILS = "snils"
    PASSPORT = "passport"


class RejectReason(enum.StrEnum):
    """Why an account that shares a key with the identity is not a candidate."""

    NAME_DIFFERS = "name_differs"
    SNILS_CONFLICT = "snils_conflict"
    BIRTH_DATE_CONFLICT = "birth_date_conflict"
    LINKED_TO_OTHER_SUBJECT = "linked_to_other_subject"
    ACCOUNT_BLOCKED = "account_blocked"


class LinkMethod(enum.StrEnum):
    """How a link came to be (or was removed)."""

    AUTO = "auto"
    CHOSEN = "chosen"
    LOCAL_LOGIN = "local-login"
    SETTINGS = "settings"
    ADMIN = "admin"


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _opt_str(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


@attrs.frozen
class FederatedIdentity:
    """A person as the federated IdP describes them after a login.

    ``verified`` is the IdP's assurance that the personal data was checked against
    documents (ESIA: ``trusted=true``, i.e. a confirmed account).
    """

    issuer: str
    subject: str
    verified: bool
    last_name: str | None = attrs.field(default=None, converter=_opt_str)
    first_name: str | None = attrs.field(default=None, converter=_opt_str)
    middle_name: str | None = attrs.field(default=None, converter=_opt_str)
    birth_date: date | None = None
    snils: str | None = attrs.field(default=None, converter=_opt_str, repr=False)
    passport: str | None = attrs.field(default=None, converter=_opt_str, repr=False)
    email: str | None = attrs.field(default=None, converter=_opt_str, repr=False)
    phone: str | None = attrs.field(default=None, converter=_opt_str, repr=False)
    claims: Mapping[str, Any] = attrs.field(factory=dict, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if not self.issuer or not self.subject:
            raise IdentityError(
                "a federated identity needs an issuer and a subject",
                code="identity.missing_subject",
            )


@attrs.frozen
class Organisation:
    """A school or another organisation of the school system; its accounts name it by
    ``org_id``."""

    org_id: str
    name: str


Organization = Organisation
"""The old spelling of :class:`Organisation`, kept for one release."""


@attrs.frozen
class LocalAccount:
    """An account in the school system's own directory.

    ``snils`` and ``passport`` are only filled in on the way *into* a store; stores keep
    keyed hashes of them and give accounts back without the clear values.
    """

    account_id: str
    org_id: str
    last_name: str
    first_name: str
    middle_name: str | None = attrs.field(default=None, converter=_opt_str)
    login: str | None = attrs.field(default=None, converter=_opt_str)
    roles: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    birth_date: date | None = None
    snils: str | None = attrs.field(default=None, converter=_opt_str, repr=False)
    passport: str | None = attrs.field(default=None, converter=_opt_str, repr=False)
    status: AccountStatus = AccountStatus.ACTIVE

    @property
    def active(self) -> bool:
        return self.status is AccountStatus.ACTIVE


@attrs.frozen
class Link:
    """Ties (issuer, subject) of a federated identity to one local account."""

    issuer: str
    subject: str
    account_id: str
    method: LinkMethod
    created_at: datetime
    created_by: str
    ip: str | None = None


@attrs.frozen
class Candidate:
    """A local account that record matching accepted for the identity."""

    account: LocalAccount
    organisation: Organisation
    matched_on: tuple[MatchKey, ...]
    already_linked: bool = False
    notes: tuple[str, ...] = ()

    @property
    def organization(self) -> Organisation:
        """The old spelling of :attr:`organisation`, kept for one release."""
        return self.organisation


@attrs.frozen
class Rejection:
    """An account that shared a key with the identity but was dropped, and why."""

    account_id: str
    org_id: str
    reason: RejectReason


@attrs.frozen
class MatchDecision:
    """The typed result of record matching, with per-candidate reasons.

    For an unverified identity the outcome is ``LOCAL_LOGIN_REQUIRED`` and both
    ``candidates`` and ``rejected`` are empty: nothing about local accounts is revealed.
    """

    outcome: Outcome
    candidates: tuple[Candidate, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    warnings: tuple[str, ...] = ()


@attrs.frozen
class MatchKeys:
    """What record matching compares (built by :mod:`sso_bridge.matching.keys`). Names are
    normalised; ``None`` means absent."""

    last: str
    first: str
    middle: str | None
    birth_date: date | None
    snils: bytes | None = attrs.field(repr=False)
    passport: bytes | None = attrs.field(repr=False)

    @property
    def name_key(self) -> int | None:
        """The lookup key of (last name, first name, birth date); None without a birth date."""
        if self.birth_date is None:
            return None
        return name_key(self.last, self.first, date_number(self.birth_date))

    def same_person_name(self, other: MatchKeys) -> bool:
        """Full names equal; middle names equal or absent on either side."""
        return (
            self.last == other.last
            and self.first == other.first
            and (self.middle is None or other.middle is None or self.middle == other.middle)
        )


def date_number(value: date) -> int:
    """A date as the integer ``YYYYMMDD``, the form stores keep it in."""
    return value.year * 10000 + value.month * 100 + value.day


def name_key(last: str, first: str, birth: int) -> int:
    """A 64-bit index key for (normalised last name, first name, birth date as YYYYMMDD).

    Only an index: every account found through it is compared again on the names and the
    date themselves, so a collision can add a row to look at but never a wrong match.
    """
    digest = hashlib.blake2b(f"{last}\x1f{first}\x1f{birth}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@attrs.frozen
class EsiaOrganisation:
    """One organisation from ESIA's roles list, with the person's standing in it (read by
    :mod:`sso_bridge.esia.roles`)."""

    oid: str
    name: str
    ogrn: str | None = None
    inn: str | None = None
    kpp: str | None = None
    active: bool = True


@attrs.frozen
class Challenge:
    """A one-time code challenge (:mod:`sso_bridge.mfa.challenges`) as the broker shows it;
    ``destination`` is masked for display."""

    challenge_id: str
    account_id: str
    channel: str
    destination: str
    created_at: datetime
    expires_at: datetime
    attempts: int
    sends: int
    last_sent_at: datetime | None


@attrs.frozen
class IdpSession:
    """What a federated login said about the person's session at the IdP, kept on the
    broker's session so that a logout can end it there too.

    ``provider`` is the broker's name of the provider; ``sid`` the IdP's id of its session
    (OpenID Connect ``sid``, SAML ``SessionIndex``); ``name_id`` and ``name_id_format``
    the SAML NameID a LogoutRequest must name; ``id_token`` the ID token, sent back as
    ``id_token_hint`` (kept out of ``repr``)."""

    provider: str
    sid: str | None = None
    name_id: str | None = None
    name_id_format: str | None = None
    id_token: str | None = attrs.field(default=None, repr=False)


class AuditAction(enum.StrEnum):
    """What an audit record is about; ``code`` says the outcome or the reason."""

    LINK = "link"
    UNLINK = "unlink"
    LINK_REFUSED = "link_refused"
    LOGIN = "login"
    LOGIN_REFUSED = "login_refused"
    SECOND_FACTOR_PASSED = "second_factor_passed"
    SECOND_FACTOR_FAILED = "second_factor_failed"
    CHOICE = "choice"
    SESSION_START = "session_start"
    SESSION_END = "session_end"
    SESSION_REVOKED = "session_revoked"
    SECURITY = "security"
    UNLOCK = "unlock"
    CREDENTIALS = "credentials"
    """An administrator set a password or the contacts for one-time codes."""
    LIMIT_REACHED = "limit_reached"
    """A limit of docs/security.md ("Limits") refused a step; ``code`` names the limit."""
    RECOVERY_CODES_GENERATED = "recovery_codes_generated"
    """A new set of recovery codes replaced any earlier one (by the person or an administrator)."""
    RECOVERY_CODE_USED = "recovery_code_used"
    """A recovery code passed as the second factor; ``detail`` says how many are left."""
    LOGOUT_AT_IDP = "logout_at_idp"
    """A logout sent on to the IdP, or the IdP's answer to it (``code`` when refused)."""
    LOGOUT_EVERYWHERE = "logout_everywhere"
    """A person ended every session of every account linked to them."""
    LOGOUT_FROM_IDP = "logout_from_idp"
    """The IdP ended sessions (back-channel logout token, SAML LogoutRequest)."""
    STEP_UP = "step_up"
    """A logged-in person authenticated again at the IdP for an action that needs it."""
    ACCOUNT_HIDDEN = "account_hidden"
    """A person asked not to be offered an account at login any more."""
    ACCOUNT_SHOWN = "account_shown"
    """A person asked for a hidden account to be offered again (from the settings)."""
    LINK_REQUESTED = "link_requested"
    """A link from the settings that did not agree was queued for an administrator."""
    LINK_REQUEST_REFUSED = "link_request_refused"
    """An administrator refused a queued link request (an approval is a ``link`` record)."""
    SESSIONS_ENDED = "sessions_ended"
    """An administrator ended every session of an account."""
    PURGE = "purge"
    """Personal values past their retention period were removed from the audit trail."""
    PERSON_EXPORTED = "person_exported"
    """Everything held about an account or a federated identity was exported."""
    ERASURE = "erasure"
    """An account's or a federated identity's personal data was erased."""


AUDIT_PERSONAL_FIELDS = ("actor", "subject", "account_id", "ip", "detail", "user_agent")
"""The fields of an :class:`AuditEvent` that may name or describe a person: the chain
covers keyed commitments to them rather than their values, so they can be purged
(docs/audit.md); the order is the one of their commitments."""


@attrs.frozen
class AuditEvent:
    """One line of the audit trail. Never carries SNILS or passport numbers.

    ``commitments`` is set by the log: for each of :data:`AUDIT_PERSONAL_FIELDS`, the
    commitment to its value and, while the value is kept, the nonce it was made with
    (``None`` for a record chained over its values, the format from before).
    A purged value reads as ``None`` (``actor``: ``""``); :attr:`purged` names them.
    """

    action: AuditAction
    at: datetime
    actor: str
    method: LinkMethod | None = None
    issuer: str | None = None
    subject: str | None = None
    account_id: str | None = None
    ip: str | None = None
    code: str | None = None
    detail: str | None = None
    user_agent: str | None = None
    event_id: int | None = None
    chain_hash: str | None = None
    commitments: str | None = None

    @property
    def purged(self) -> frozenset[str]:
        """The personal fields whose values were purged (their commitments stay)."""
        if not self.commitments:
            return frozenset()
        entries = self.commitments.split(",")
        return frozenset(
            name
            for name, entry in zip(AUDIT_PERSONAL_FIELDS, entries, strict=False)
            if entry and "." not in entry
        )
