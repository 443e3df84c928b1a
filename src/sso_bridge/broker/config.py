"""What a broker is configured with: its providers and its policies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import attrs

from sso_bridge.address import ClientAddress, as_address
from sso_bridge.broker.providers import IdentityProvider, OidcProvider, SamlProvider
from sso_bridge.esia.roles import StaffRolePolicy
from sso_bridge.mfa import SecondFactorPolicy
from sso_bridge.mfa.limits import LimitPolicy
from sso_bridge.sessions import SessionPolicy

__all__ = [
    "AlertHook",
    "BrokerPolicy",
    "Client",
    "OidcProvider",
    "Provider",
    "SamlProvider",
    "SecurityAlert",
    "SharedComputerMode",
]


Provider = IdentityProvider
"""A provider the broker logs people in through: any :class:`~sso_bridge.idp.IdentityProvider`
(:class:`OidcProvider`, :class:`SamlProvider`, ``sso_bridge.esia.EsiaProvider``, your own)."""


def _auto_link(_: object, __: object, value: str) -> None:
    if value not in ("any", "strong"):
        raise ValueError(f"auto_link must be 'any' or 'strong', not {value!r}")


def _names(value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError("give a collection of names, not one string")
    return frozenset(str(item) for item in value)  # type: ignore[attr-defined]


def _positive(_: object, __: object, value: timedelta) -> None:
    if value <= timedelta(0):
        raise ValueError(f"must be positive, not {value}")


@attrs.frozen
class SharedComputerMode:
    """Shared-computer mode (docs/reauthentication.md): for computers that several people
    use in turn, such as a classroom's.

    A login through one of ``providers`` (None: every provider) asks the IdP to
    authenticate the person afresh (OpenID Connect ``prompt=login`` and ``max_age=0``,
    SAML ``ForceAuthn``) and takes only an answer whose ``auth_time`` (``AuthnInstant``)
    is not before the login began, so the next person never inherits the previous one's
    IdP session; the session it opens lasts at most ``session_lifetime``. ``organisations``
    (None: every organisation) narrows :meth:`applies` for the parts that know the
    account's organisation, such as logging out through the IdP; a login does not know
    it when it starts, so it asks for the fresh authentication whenever the provider is
    covered.
    """

    providers: frozenset[str] | None = attrs.field(default=None, converter=_names)
    organisations: frozenset[str] | None = attrs.field(default=None, converter=_names)
    session_lifetime: timedelta = attrs.field(default=timedelta(minutes=20), validator=_positive)

    def applies(self, provider: str | None, org_id: str | None = None) -> bool:
        """Whether the mode covers a login through ``provider`` (None: a local login,
        covered only when the mode names no providers) into an account of ``org_id``
        (None: not known yet, covered)."""
        if self.providers is not None and provider not in self.providers:
            return False
        return self.organisations is None or org_id is None or org_id in self.organisations


@attrs.frozen
class BrokerPolicy:
    """The rules of docs/matching.md and docs/broker.md that a deployment chooses.

    ``auto_link="strong"`` links a candidate matched on name and birth date alone only
    after the person proves that account with a local login. ``staff`` (None: off) makes
    staff accounts log in through ESIA only for people ESIA lists as working for the
    account's organisation (docs/esia.md). ``shared_computer`` (None: off) is
    shared-computer mode (:class:`SharedComputerMode`). ``skew`` is the clock tolerance
    when an IdP's ``auth_time`` is checked against the step that asked for a fresh
    authentication (linking, shared-computer logins, step-up). ``limits`` are the
    account-wide and per-IP limits (docs/security.md, "Limits").
    """

    auto_link: Literal["any", "strong"] = attrs.field(default="any", validator=_auto_link)
    step_lifetime: timedelta = timedelta(minutes=15)
    second_factor: SecondFactorPolicy = attrs.field(factory=SecondFactorPolicy)
    sessions: SessionPolicy = attrs.field(factory=SessionPolicy)
    staff: StaffRolePolicy | None = None
    shared_computer: SharedComputerMode | None = None
    skew: timedelta = attrs.field(default=timedelta(seconds=60))
    limits: LimitPolicy = attrs.field(factory=LimitPolicy)
    logout_at_idp: Literal["always", "offer", "never"] = attrs.field(
        default="always", validator=attrs.validators.in_(("always", "offer", "never"))
    )
    """Whether a logout also ends the person's session at the IdP, for sessions from an
    IdP that can (docs/logout.md): ``"always"``, ``"offer"`` (the person chooses), or
    ``"never"``. Where shared-computer mode applies it is always."""
    queue_mismatched_links: bool = False
    """Whether a link from settings refused only because the identity does not agree with
    the account is queued for an administrator (:mod:`sso_bridge.linking.requests`)
    instead of only refused; the link store must keep link requests then."""

    @skew.validator
    def _skew(self, _: object, value: timedelta) -> None:
        if not timedelta(0) <= value <= timedelta(minutes=10):
            raise ValueError(f"skew must be between 0 and 10 minutes, not {value}")

    def shared_computer_applies(self, provider: str | None, org_id: str | None = None) -> bool:
        """Whether shared-computer mode covers ``provider`` and ``org_id`` (False when off):
        what the logout decides by, whether to end the IdP's session too."""
        mode = self.shared_computer
        return mode is not None and mode.applies(provider, org_id)


@attrs.frozen
class Client:
    """The browser a request comes from, as the web layer resolved it.

    ``browser_id`` is the value of the browser cookie (random, set on the first visit);
    ``ip`` is the client address after the configured trusted-proxy handling, parsed once
    at the web edge (:func:`sso_bridge.sessions.client_address`). Its text form is
    still accepted here and parsed (``input.bad_ip`` if it is not an address).
    """

    browser_id: str = attrs.field(repr=False)
    ip: ClientAddress = attrs.field(converter=as_address)
    user_agent: str | None = None


@attrs.frozen
class SecurityAlert:
    """Given to the alert hook, e.g. to notify an administrator. ``ip`` and
    ``previous_ip`` are addresses in their canonical text form, as audited."""

    code: str
    message: str
    at: datetime
    account_id: str | None
    ip: str
    previous_ip: str | None = None


AlertHook = Callable[[SecurityAlert], None]
