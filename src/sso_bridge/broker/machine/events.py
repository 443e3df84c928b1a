"""The machine's events: what the shell learnt — from the person, the IdP or its ports.

``Begin*`` and ``*Given`` events come from a public broker call; the others answer a
question the machine asked (:mod:`.effects`), and are only accepted in the transient
state that asked it.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs

from sso_bridge.broker.machine.states import ChoosingAccount, IdpRequest, Person
from sso_bridge.errors import BridgeError
from sso_bridge.model import Challenge, LocalAccount, MatchDecision

__all__ = [
    "AccountChosen",
    "AccountHidden",
    "ChallengeNotOpened",
    "ChallengeOpened",
    "CodeChecked",
    "CodeGiven",
    "CodePassed",
    "CodeRefused",
    "CodeResent",
    "CodeWrong",
    "Contacts",
    "ContactsRead",
    "Event",
    "FederatedBegun",
    "IdpAnswered",
    "LinkBegun",
    "LinksRead",
    "LocalBegun",
    "MachineEvent",
    "Matched",
    "PasswordChecked",
    "PasswordFailed",
    "PasswordGiven",
    "PasswordPassed",
    "ResendAsked",
    "ResendFailed",
    "Resent",
    "StepUpBegun",
    "SwitchBegun",
    "UnsolicitedAnswer",
]


class Event(enum.StrEnum):
    """The kind of each event class (``kind``)."""

    BEGIN_FEDERATED = "begin_federated"
    BEGIN_LINK = "begin_link"
    BEGIN_LOCAL = "begin_local"
    BEGIN_SWITCH = "begin_switch"
    BEGIN_STEP_UP = "begin_step_up"
    UNSOLICITED_ANSWER = "unsolicited_answer"
    IDP_ANSWERED = "idp_answered"
    LINKS_READ = "links_read"
    MATCHED = "matched"
    ACCOUNT_CHOSEN = "account_chosen"
    ACCOUNT_HIDDEN = "account_hidden"
    PASSWORD_GIVEN = "password_given"  # noqa: S105 - a name, not a password
    PASSWORD_CHECKED = "password_checked"  # noqa: S105 - a name, not a password
    CONTACTS_READ = "contacts_read"
    CHALLENGE_OPENED = "challenge_opened"
    CODE_GIVEN = "code_given"
    CODE_CHECKED = "code_checked"
    RESEND_ASKED = "resend_asked"
    CODE_RESENT = "code_resent"


# -- from the public calls -------------------------------------------------------------------


@attrs.frozen
class FederatedBegun:
    """The shell built the request to the IdP for a login: the browser goes to ``url``
    (with ``fields``: it POSTs them there)."""

    kind: ClassVar[Event] = Event.BEGIN_FEDERATED
    browser: str
    provider: str
    request: IdpRequest
    url: str
    kept: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    fresh: bool = False
    """The request asked the IdP for a fresh authentication (shared-computer mode)."""


@attrs.frozen
class LinkBegun:
    """The shell built the request to the IdP to link from a session's settings."""

    kind: ClassVar[Event] = Event.BEGIN_LINK
    browser: str
    provider: str
    request: IdpRequest
    url: str
    account_id: str
    session_id: str
    fields: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class StepUpBegun:
    """The shell built the request to the IdP for a step-up of a federated session: the
    answer must be ``issuer`` and ``subject`` again, authenticated within ``max_age``
    seconds of this step, with one of ``acr_values`` when there are any."""

    kind: ClassVar[Event] = Event.BEGIN_STEP_UP
    browser: str
    provider: str
    request: IdpRequest
    url: str
    session_id: str
    issuer: str
    subject: str
    max_age: int
    acr_values: tuple[str, ...] = ()
    return_to: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class LocalBegun:
    kind: ClassVar[Event] = Event.BEGIN_LOCAL
    browser: str
    kept: str | None = None


@attrs.frozen
class SwitchBegun:
    """A session asks to switch to ``account_id``.

    ``account`` is that account as the directory has it (None: unknown); ``linked_now``
    the accounts linked to the session's issuer and subject, read now (None: a session
    of a local login, which has neither).
    """

    kind: ClassVar[Event] = Event.BEGIN_SWITCH
    browser: str
    session_id: str
    session_accounts: tuple[str, ...]
    second_factor: bool
    issuer: str | None
    subject: str | None
    account_id: str
    account: LocalAccount | None
    linked_now: frozenset[str] | None
    proof: ChoosingAccount | None = None
    """The linking proof of the unlinked accounts the login offered, taken (consumed) by
    the shell when ``account_id`` is not linked now (None: there is none)."""


@attrs.frozen
class IdpAnswered:
    """The IdP's answer to the step's request, verified."""

    kind: ClassVar[Event] = Event.IDP_ANSWERED
    person: Person


@attrs.frozen
class UnsolicitedAnswer:
    """A verified SAML answer that no login of ours asked for (IdP-initiated)."""

    kind: ClassVar[Event] = Event.UNSOLICITED_ANSWER
    browser: str
    person: Person


@attrs.frozen
class AccountChosen:
    """The chooser's answer; ``account`` as the directory has it (None: unknown)."""

    kind: ClassVar[Event] = Event.ACCOUNT_CHOSEN
    account_id: str
    account: LocalAccount | None


@attrs.frozen
class AccountHidden:
    """The person asked the chooser not to offer ``account_id`` any more; ``remaining``
    are the other offered accounts as the directory has them now."""

    kind: ClassVar[Event] = Event.ACCOUNT_HIDDEN
    account_id: str
    remaining: tuple[LocalAccount, ...]


@attrs.frozen
class PasswordGiven:
    kind: ClassVar[Event] = Event.PASSWORD_GIVEN
    org_id: str
    login: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class CodeGiven:
    kind: ClassVar[Event] = Event.CODE_GIVEN
    code: str = attrs.field(repr=False)


@attrs.frozen
class ResendAsked:
    kind: ClassVar[Event] = Event.RESEND_ASKED


# -- answers to the machine's questions ------------------------------------------------------


@attrs.frozen
class LinksRead:
    """The accounts linked to the identity (active or not)."""

    kind: ClassVar[Event] = Event.LINKS_READ
    accounts: tuple[LocalAccount, ...]


@attrs.frozen
class Matched:
    kind: ClassVar[Event] = Event.MATCHED
    decision: MatchDecision
    hidden: frozenset[str] = frozenset()
    """The accounts the person asked not to be offered (docs/broker.md)."""


@attrs.frozen
class PasswordPassed:
    """The password is the account's."""

    account: LocalAccount


@attrs.frozen
class PasswordFailed:
    """Refused: an unknown login, a wrong password, a locked account...; ``account_id``
    is the account named, when there is one (for the audit trail)."""

    error: BridgeError
    account_id: str | None


@attrs.frozen
class PasswordChecked:
    kind: ClassVar[Event] = Event.PASSWORD_CHECKED
    verdict: PasswordPassed | PasswordFailed


@attrs.frozen
class Contacts:
    """Where a one-time code can go (empty strings: nowhere)."""

    totp: bool
    phone: str
    email: str


@attrs.frozen
class ContactsRead:
    kind: ClassVar[Event] = Event.CONTACTS_READ
    contacts: Contacts


@attrs.frozen
class ChallengeNotOpened:
    """A limit refused the challenge (the second factor locked, too many codes sent)."""

    error: BridgeError


@attrs.frozen
class ChallengeOpened:
    kind: ClassVar[Event] = Event.CHALLENGE_OPENED
    challenge: Challenge | ChallengeNotOpened


@attrs.frozen
class CodePassed:
    """The code is right. ``account`` as the directory has it now (None: gone);
    ``linked_now``: the accounts linked now, when the machine asked (a switch);
    ``recovery_left``: set when a recovery code passed, the codes left after it."""

    account: LocalAccount | None
    linked_now: frozenset[str] | None
    recovery_left: int | None = None


@attrs.frozen
class CodeWrong:
    """A wrong code with attempts left; ``challenge`` is still open."""

    error: BridgeError
    challenge: Challenge


@attrs.frozen
class CodeRefused:
    """The challenge is over (too many attempts, expired, unknown...)."""

    error: BridgeError


@attrs.frozen
class CodeChecked:
    kind: ClassVar[Event] = Event.CODE_CHECKED
    verdict: CodePassed | CodeWrong | CodeRefused


@attrs.frozen
class Resent:
    challenge: Challenge


@attrs.frozen
class ResendFailed:
    """No new code; ``current`` is the challenge still open (None: there is none)."""

    error: BridgeError
    current: Challenge | None


@attrs.frozen
class CodeResent:
    kind: ClassVar[Event] = Event.CODE_RESENT
    result: Resent | ResendFailed


MachineEvent = (
    FederatedBegun
    | LinkBegun
    | LocalBegun
    | SwitchBegun
    | StepUpBegun
    | IdpAnswered
    | UnsolicitedAnswer
    | LinksRead
    | Matched
    | AccountChosen
    | AccountHidden
    | PasswordGiven
    | PasswordChecked
    | ContactsRead
    | ChallengeOpened
    | CodeGiven
    | CodeChecked
    | ResendAsked
    | CodeResent
)
