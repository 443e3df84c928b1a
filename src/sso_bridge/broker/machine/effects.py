"""The machine's effects: what the shell does, in order, after a transition.

:class:`Ask` effects are questions: the shell reads or does what they say and feeds the
answer back as the next event (the transient state that asked accepts only it). The
``Show*`` effects and :class:`SendToIdp` are the reply to the person; :class:`Refuse`
ends the request with its error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import attrs

from sso_bridge.broker.machine.states import Offer, Person, StepIdentity
from sso_bridge.errors import BridgeError
from sso_bridge.model import AuditAction, Challenge, IdpSession, LinkMethod, LocalAccount

__all__ = [
    "Ask",
    "AskCode",
    "AskContacts",
    "AskLinks",
    "AskMatch",
    "AskOpenChallenge",
    "AskPassword",
    "AskRecoveryCode",
    "AskResend",
    "Effect",
    "Hide",
    "IssueSession",
    "Link",
    "LinkFromSettings",
    "Record",
    "Refuse",
    "SendToIdp",
    "ShowChooser",
    "ShowCodeForm",
    "ShowLocalLogin",
    "StepUpPassed",
]


@attrs.frozen
class Record:
    """Write one audit record."""

    action: AuditAction
    account_id: str | None = None
    issuer: str | None = None
    subject: str | None = None
    code: str | None = None
    detail: str | None = None


@attrs.frozen
class Link:
    """Link the identity to the account (``method``: auto, chosen or local login)."""

    identity: StepIdentity
    account_id: str
    method: LinkMethod


@attrs.frozen
class LinkFromSettings:
    """Link the identity to a logged-in account; the reply is the link made."""

    identity: StepIdentity
    account_id: str


@attrs.frozen
class IssueSession:
    """Start a session for ``account_id`` (or, for a switch with the session's token, rotate
    that session), and write the login and session-start records.

    ``accounts`` are the session's switchable accounts; with ``add_linked`` the active
    accounts linked to ``issuer`` and ``subject`` are added, read after any link was made.
    """

    account_id: str
    second_factor: bool
    method: Literal["local", "federated"]
    issuer: str | None
    subject: str | None
    accounts: tuple[str, ...]
    add_linked: bool
    not_on_or_after: datetime | None
    kept: str | None
    switch: bool
    idp_session: IdpSession | None = None
    offer: Offer | None = None
    """What the login offered; its unlinked accounts stay offered by the account switcher
    (their linking proof is kept for the session's life, bound to the browser)."""
    person: Person | None = None


@attrs.frozen
class StepUpPassed:
    """Record for the session that its person authenticated again at ``auth_time`` (with
    ``acr``); the reply sends the person on to ``return_to``."""

    session_id: str
    auth_time: datetime
    acr: str | None
    return_to: str | None


@attrs.frozen
class SendToIdp:
    """Send the browser to the IdP's ``url`` (with ``fields``: have it POST them there)."""

    url: str
    fields: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Hide:
    """Stop offering ``account_id`` to issuer and subject (stored and audited)."""

    issuer: str
    subject: str
    account_id: str


@attrs.frozen
class ShowChooser:
    accounts: tuple[LocalAccount, ...]
    linking: bool
    linked: tuple[str, ...] = ()
    """The accounts already linked (all of them when not ``linking``)."""
    hiding: bool = False
    """Whether one of them can be hidden (a chooser of every account)."""


@attrs.frozen
class ShowLocalLogin:
    reason: Literal["local", "prove", "unverified"]
    organisations: tuple[str, ...] = ()
    error: BridgeError | None = None


@attrs.frozen
class ShowCodeForm:
    challenge: Challenge
    error: BridgeError | None = None


@attrs.frozen
class Refuse:
    """End the request with ``error`` (the shell raises it; it is audited as refused)."""

    error: BridgeError


# -- questions -------------------------------------------------------------------------------


@attrs.frozen
class AskLinks:
    """Answer :class:`~.events.LinksRead`: the accounts linked to issuer and subject."""

    issuer: str
    subject: str


@attrs.frozen
class AskMatch:
    """Answer :class:`~.events.Matched`: record matching for the identity, and the accounts
    it hid when, with the ``linked`` ones, there are several to offer."""

    identity: StepIdentity
    linked: tuple[str, ...] = ()


@attrs.frozen
class AskPassword:
    """Answer :class:`~.events.PasswordChecked`. ``only`` not empty: an account outside it
    is checked as unknown (the time of one check is spent, nothing is counted)."""

    org_id: str
    login: str
    password: str = attrs.field(repr=False)
    only: tuple[str, ...]


@attrs.frozen
class AskContacts:
    """Answer :class:`~.events.ContactsRead`: where the account's codes can go."""

    account_id: str


@attrs.frozen
class AskOpenChallenge:
    """Answer :class:`~.events.ChallengeOpened`: open a challenge (and send its code)."""

    account_id: str
    channel: Literal["totp", "sms", "email"]
    destination: str
    owner: str


@attrs.frozen
class AskCode:
    """Answer :class:`~.events.CodeChecked`. With ``recheck`` (issuer, subject) the links
    of that subject are read again once the code passes."""

    challenge_id: str
    account_id: str
    code: str = attrs.field(repr=False)
    recheck: tuple[str, str] | None


@attrs.frozen
class AskRecoveryCode:
    """Answer :class:`~.events.CodeChecked` for a recovery code given instead of the
    challenge's code: spent if it is one of the account's, else a wrong code of the
    challenge. ``recheck`` as for :class:`AskCode`."""

    challenge_id: str
    account_id: str
    code: str = attrs.field(repr=False)
    recheck: tuple[str, str] | None


@attrs.frozen
class AskResend:
    """Answer :class:`~.events.CodeResent`."""

    challenge_id: str
    account_id: str


Ask = (
    AskLinks
    | AskMatch
    | AskPassword
    | AskContacts
    | AskOpenChallenge
    | AskCode
    | AskRecoveryCode
    | AskResend
)

Effect = (
    Record
    | Link
    | LinkFromSettings
    | Hide
    | StepUpPassed
    | IssueSession
    | SendToIdp
    | ShowChooser
    | ShowLocalLogin
    | ShowCodeForm
    | Refuse
    | Ask
)
