"""The machine's states: one frozen class per state, each with exactly what it needs.

*Stored* states wait for the person (or the IdP) between two requests and are kept in
the step store under a fresh id; *transient* states wait, inside one request, for the
answer to something the machine asked the shell to read or do; *final* states end the
login and are never stored. The values they carry (:mod:`.state_values`) are re-exported
here.
"""

from __future__ import annotations

import enum
from typing import ClassVar, Literal

import attrs

from sso_bridge.broker.machine.state_values import (
    Entry,
    Frame,
    IdpRequest,
    Offer,
    Person,
    StepIdentity,
    ViaIdp,
    ViaPassword,
    ViaSwitch,
)
from sso_bridge.model import LocalAccount

__all__ = [
    "FINAL",
    "STORED",
    "AwaitingIdp",
    "AwaitingIdpToLink",
    "AwaitingIdpToStepUp",
    "AwaitingLocalLogin",
    "AwaitingProof",
    "AwaitingSecondFactor",
    "CheckingCode",
    "CheckingPassword",
    "ChoosingAccount",
    "Entry",
    "Frame",
    "IdpRequest",
    "LinkMade",
    "MachineState",
    "Matching",
    "MatchingLinked",
    "NoAccount",
    "Offer",
    "OpeningChallenge",
    "Person",
    "ReadingContacts",
    "ReadingLinks",
    "Refused",
    "Resending",
    "SessionIssued",
    "Start",
    "State",
    "StepIdentity",
    "SteppedUp",
    "ViaIdp",
    "ViaPassword",
    "ViaSwitch",
]


class State(enum.StrEnum):
    """The kind of each state class (``kind``); the names of the transition table."""

    START = "start"
    AWAITING_IDP = "awaiting_idp"
    AWAITING_IDP_TO_LINK = "awaiting_idp_to_link"
    AWAITING_IDP_TO_STEP_UP = "awaiting_idp_to_step_up"
    READING_LINKS = "reading_links"
    MATCHING = "matching"
    MATCHING_LINKED = "matching_linked"
    CHOOSING_ACCOUNT = "choosing_account"
    AWAITING_LOCAL_LOGIN = "awaiting_local_login"
    AWAITING_PROOF = "awaiting_proof"
    CHECKING_PASSWORD = "checking_password"  # noqa: S105 - a name, not a password
    READING_CONTACTS = "reading_contacts"
    OPENING_CHALLENGE = "opening_challenge"
    AWAITING_SECOND_FACTOR = "awaiting_second_factor"
    CHECKING_CODE = "checking_code"
    RESENDING = "resending"
    LOGGED_IN = "logged_in"
    LINKED = "linked"
    STEPPED_UP = "stepped_up"
    NO_ACCOUNT = "no_account"
    REFUSED = "refused"


# -- the states ----------------------------------------------------------------------------


@attrs.frozen
class Start:
    kind: ClassVar[State] = State.START


@attrs.frozen
class AwaitingIdp:
    """The browser was sent to the IdP to log in."""

    kind: ClassVar[State] = State.AWAITING_IDP
    frame: Frame
    provider: str
    request: IdpRequest
    fresh: bool = False  # a fresh authentication was asked for (shared-computer mode)


@attrs.frozen
class AwaitingIdpToLink:
    """The browser was sent to the IdP to link its answer to a logged-in account."""

    kind: ClassVar[State] = State.AWAITING_IDP_TO_LINK
    frame: Frame
    provider: str
    request: IdpRequest
    account_id: str
    session_id: str


@attrs.frozen
class ReadingLinks:
    """Asked for the accounts already linked to the IdP's subject."""

    kind: ClassVar[State] = State.READING_LINKS
    frame: Frame
    person: Person
    idp_initiated: bool


@attrs.frozen
class Matching:
    """Asked for the match decision of an identity that nothing links yet."""

    kind: ClassVar[State] = State.MATCHING
    frame: Frame
    person: Person


@attrs.frozen
class MatchingLinked:
    """A verified subject that has links: asked for the candidates that record matching
    still finds for it, to offer them beside the ``linked`` accounts."""

    kind: ClassVar[State] = State.MATCHING_LINKED
    frame: Frame
    person: Person
    linked: tuple[LocalAccount, ...]


@attrs.frozen
class ChoosingAccount:
    """The person picks one of ``offered``; ``linking``: the pick is linked unless it is
    one of ``linked`` (already linked to the person).

    Kept as well, for as long as the session lives, as the proof of the unlinked accounts
    the account switcher offers (docs/broker.md, "Every account at every login").
    """

    kind: ClassVar[State] = State.CHOOSING_ACCOUNT
    frame: Frame
    person: Person
    offered: tuple[str, ...]
    weak: tuple[str, ...]
    """Offered accounts matched on full name and birth date alone."""
    linking: bool
    linked: tuple[str, ...] = ()

    @property
    def every(self) -> bool:
        """A chooser of every account of a verified person (not only the linked accounts of
        an unconfirmed subject or of an IdP-initiated login): one of them can be hidden."""
        return self.linking or bool(self.linked)

    @property
    def unlinked(self) -> tuple[str, ...]:
        """The offered accounts that picking links (in the order offered)."""
        if not self.linking:
            return ()
        return tuple(a for a in self.offered if a not in self.linked)


@attrs.frozen
class AwaitingLocalLogin:
    """The plain local login form."""

    kind: ClassVar[State] = State.AWAITING_LOCAL_LOGIN
    frame: Frame


@attrs.frozen
class AwaitingProof:
    """A local login that links the account logged in to the IdP's identity.

    ``offered`` empty: the identity is unconfirmed, any account may be proved
    (reason ``unverified``); else only those (``prove``).
    """

    kind: ClassVar[State] = State.AWAITING_PROOF
    frame: Frame
    person: Person
    offered: tuple[str, ...]
    organisations: tuple[str, ...]
    offer: Offer | None = None
    """What the login offered, for the session's switcher (None: only the linked)."""

    @property
    def reason(self) -> Literal["prove", "unverified"]:
        return "prove" if self.offered else "unverified"


@attrs.frozen
class CheckingPassword:
    kind: ClassVar[State] = State.CHECKING_PASSWORD
    back: AwaitingLocalLogin | AwaitingProof


@attrs.frozen
class ReadingContacts:
    """A second factor is needed: asked where codes can go."""

    kind: ClassVar[State] = State.READING_CONTACTS
    frame: Frame
    account_id: str
    entry: Entry


@attrs.frozen
class OpeningChallenge:
    kind: ClassVar[State] = State.OPENING_CHALLENGE
    frame: Frame
    account_id: str
    entry: Entry


@attrs.frozen
class AwaitingSecondFactor:
    kind: ClassVar[State] = State.AWAITING_SECOND_FACTOR
    frame: Frame
    account_id: str
    challenge_id: str
    entry: Entry


@attrs.frozen
class CheckingCode:
    kind: ClassVar[State] = State.CHECKING_CODE
    back: AwaitingSecondFactor


@attrs.frozen
class Resending:
    kind: ClassVar[State] = State.RESENDING
    back: AwaitingSecondFactor


@attrs.frozen
class SessionIssued:
    kind: ClassVar[State] = State.LOGGED_IN
    account_id: str


@attrs.frozen
class LinkMade:
    kind: ClassVar[State] = State.LINKED
    account_id: str


@attrs.frozen
class NoAccount:
    kind: ClassVar[State] = State.NO_ACCOUNT


@attrs.frozen
class Refused:
    kind: ClassVar[State] = State.REFUSED
    code: str


from sso_bridge.broker.machine.step_up_states import AwaitingIdpToStepUp, SteppedUp  # noqa: E402

MachineState = (
    Start
    | AwaitingIdp
    | AwaitingIdpToLink
    | AwaitingIdpToStepUp
    | ReadingLinks
    | Matching
    | MatchingLinked
    | ChoosingAccount
    | AwaitingLocalLogin
    | AwaitingProof
    | CheckingPassword
    | ReadingContacts
    | OpeningChallenge
    | AwaitingSecondFactor
    | CheckingCode
    | Resending
    | SessionIssued
    | LinkMade
    | SteppedUp
    | NoAccount
    | Refused
)

StoredState = (
    AwaitingIdp
    | AwaitingIdpToLink
    | AwaitingIdpToStepUp
    | ChoosingAccount
    | AwaitingLocalLogin
    | AwaitingProof
    | AwaitingSecondFactor
)

STORED: frozenset[State] = frozenset(
    {
        State.AWAITING_IDP,
        State.AWAITING_IDP_TO_LINK,
        State.AWAITING_IDP_TO_STEP_UP,
        State.CHOOSING_ACCOUNT,
        State.AWAITING_LOCAL_LOGIN,
        State.AWAITING_PROOF,
        State.AWAITING_SECOND_FACTOR,
    }
)
"""States kept between two requests; the others live within one request."""

FINAL: frozenset[State] = frozenset(
    {State.LOGGED_IN, State.LINKED, State.STEPPED_UP, State.NO_ACCOUNT, State.REFUSED}
)
"""States that end a login; nothing leaves them."""
