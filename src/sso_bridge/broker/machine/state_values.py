"""The values the machine's states carry: the identity, the frame every step of a login
shares, what the IdP said, the request sent to it, and how the person came to the account
being settled on (:data:`Entry`). Re-exported by :mod:`.states`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import attrs

from sso_bridge.model import (
    EsiaOrganisation,
    FederatedIdentity,
    IdpSession,
    LinkMethod,
    MatchKeys,
)

__all__ = [
    "Entry",
    "Frame",
    "IdpRequest",
    "Offer",
    "Person",
    "StepIdentity",
    "ViaIdp",
    "ViaPassword",
    "ViaSwitch",
]


@attrs.frozen
class StepIdentity:
    """A verified federated identity as a step keeps it: no SNILS or passport in clear."""

    issuer: str
    subject: str
    verified: bool
    keys: MatchKeys
    last_name: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    birth_date: date | None = None

    def identity(self) -> FederatedIdentity:
        """The identity for matching and linking (pass ``keys`` along with it)."""
        return FederatedIdentity(
            issuer=self.issuer,
            subject=self.subject,
            verified=self.verified,
            last_name=self.last_name,
            first_name=self.first_name,
            middle_name=self.middle_name,
            birth_date=self.birth_date,
        )

    @classmethod
    def of(cls, identity: FederatedIdentity, keys: MatchKeys) -> StepIdentity:
        return cls(
            issuer=identity.issuer,
            subject=identity.subject,
            verified=identity.verified,
            keys=keys,
            last_name=identity.last_name,
            first_name=identity.first_name,
            middle_name=identity.middle_name,
            birth_date=identity.birth_date,
        )


@attrs.frozen
class Frame:
    """What every step of one login shares: its browser, its lifetime, the kept request."""

    browser: str
    created_at: datetime
    expires_at: datetime
    kept: str | None = None
    """The id of a request kept when the previous session expired (None: nothing kept)."""


@attrs.frozen
class Person:
    """What the IdP said, once its answer was verified."""

    identity: StepIdentity
    idp_mfa: bool
    not_on_or_after: datetime | None = None
    """The IdP's SessionNotOnOrAfter (SAML; None: the IdP set no limit)."""
    organisations: tuple[EsiaOrganisation, ...] | None = None
    """Where ESIA lists the person as working (None: not read, the staff policy is off)."""
    idp_session: IdpSession | None = None
    """The IdP's own session, kept on the broker's session for logging out there."""
    auth_time: datetime | None = None  # when the IdP last authenticated the person
    acr: str | None = None  # how: OpenID Connect acr, SAML AuthnContextClassRef


@attrs.frozen
class IdpRequest:
    """A request sent to the IdP: the step is kept under ``step_id``, the value the IdP's
    answer brings back (OpenID Connect ``state``, SAML ``RelayState``); ``remembered`` is
    the provider's own, JSON-serialisable, for checking the answer."""

    step_id: str
    remembered: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


# How the person came to the account being settled on --------------------------------------


@attrs.frozen
class ViaPassword:
    """A plain local login (organisation, login, password)."""


@attrs.frozen
class Offer:
    """Every account a verified person was offered at login: ``accounts`` (linked and
    unlinked, hidden ones left out), of which ``unlinked`` are candidates of record
    matching without a link yet, and ``weak`` those of them matched on full name and
    birth date alone. The session's account switcher offers the same set."""

    accounts: tuple[str, ...]
    unlinked: tuple[str, ...] = ()
    weak: tuple[str, ...] = ()


@attrs.frozen
class ViaIdp:
    """A federated login; ``link`` is how the account gets linked once logged in;
    ``offer`` what the login offered (None: only the accounts linked)."""

    person: Person
    link: LinkMethod | None
    offer: Offer | None = None


@attrs.frozen
class ViaSwitch:
    """A logged-in person switching to another of the session's accounts."""

    session_id: str
    second_factor: bool
    """Whether the session's login passed a second factor."""
    issuer: str | None
    subject: str | None


Entry = ViaPassword | ViaIdp | ViaSwitch
