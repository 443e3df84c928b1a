"""What a broker call asks the web layer to do next: redirect, show a form, or log in."""

from __future__ import annotations

import attrs

from sso_bridge.errors import BridgeError
from sso_bridge.linking.requests import LinkRequest
from sso_bridge.mfa import Challenge
from sso_bridge.model import Link
from sso_bridge.sessions import SavedRequest, Session

__all__ = [
    "AccountOption",
    "ChooseAccount",
    "LinkRequested",
    "LinkedFromSettings",
    "LocalLoginForm",
    "LoggedIn",
    "Redirect",
    "SecondFactorForm",
    "StepResult",
    "StepUpDone",
]


@attrs.frozen
class Redirect:
    """Send the browser to ``url`` (the IdP); with ``fields``, have it POST them there
    (e.g. the SAML HTTP-POST binding)."""

    url: str
    fields: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class AccountOption:
    """One account offered by the chooser: organisation and roles, no personal data."""

    account_id: str
    org_id: str
    organisation: str
    """The organisation's name."""
    roles: tuple[str, ...]
    linked: bool = False
    """Already linked to the person; picking another one links it."""

    @property
    def organization(self) -> str:
        """The old spelling of :attr:`organisation`, kept for one release."""
        return self.organisation


@attrs.frozen
class ChooseAccount:
    """Show the chooser of organisation + account; answer with :meth:`Broker.choose`."""

    step_id: str
    options: tuple[AccountOption, ...]
    linking: bool
    """True when picking an account not marked ``linked`` links it (a candidate of
    record matching that has no link yet)."""
    hiding: bool = False
    """True when an account can be hidden from later logins (:meth:`Broker.hide`)."""


@attrs.frozen
class LocalLoginForm:
    """Show the local login form; answer with :meth:`Broker.local_login`.

    ``reason`` is ``"local"`` (a plain local login), ``"unverified"`` (the federated
    identity is not confirmed: log in once locally to link it) or ``"prove"`` (prove one
    of the offered accounts before it is linked). ``organisations`` narrows the selector
    when not empty. ``error`` is the refusal of the previous attempt, if any.
    """

    step_id: str
    reason: str
    organisations: tuple[str, ...] = ()
    error: BridgeError | None = None

    @property
    def organizations(self) -> tuple[str, ...]:
        """The old spelling of :attr:`organisations`, kept for one release."""
        return self.organisations


@attrs.frozen
class SecondFactorForm:
    """Show the code form; answer with :meth:`Broker.second_factor`."""

    step_id: str
    challenge: Challenge
    attempts_left: int
    error: BridgeError | None = None


@attrs.frozen
class LoggedIn:
    """A session was issued: set the cookie to ``token``.

    ``restored`` is the request kept when the previous session expired, when the same
    account logged back in; the web layer replays it or shows its form filled in.
    """

    token: str = attrs.field(repr=False)
    session: Session
    restored: SavedRequest | None = None


@attrs.frozen
class LinkedFromSettings:
    """A link was made from the settings page; the session is unchanged."""

    link: Link


@attrs.frozen
class LinkRequested:
    """Linking from settings was refused only because the identity does not agree with
    the account, and the host queues such links: ``request`` waits for an administrator
    (docs/reauthentication.md); the session is unchanged."""

    request: LinkRequest


@attrs.frozen
class StepUpDone:
    """A step-up passed (:meth:`Broker.begin_step_up`); the session is unchanged. Send the
    person on to ``return_to`` (None: wherever the host sees fit)."""

    return_to: str | None = None


StepResult = Redirect | ChooseAccount | LocalLoginForm | SecondFactorForm | LoggedIn
