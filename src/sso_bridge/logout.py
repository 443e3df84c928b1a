"""The optional logout capabilities of a provider (docs/logout.md).

A provider that can end the person's session at the IdP as well has the shape of
:class:`LogsOutAtIdp`: :meth:`~LogsOutAtIdp.start_logout` says where to send the browser
(and what to remember), :meth:`~LogsOutAtIdp.finish_logout` checks the IdP's answer when
the browser comes back. A provider whose IdP can tell the broker that a session ended has
the shape of :class:`HearsIdpLogout` (an OpenID Connect back-channel logout token, a SAML
LogoutRequest). A provider with neither logs people out locally only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs

from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.idp import Answer, PostTo, RedirectTo, Remembered
from sso_bridge.model import IdpSession

__all__ = ["HearsIdpLogout", "IdpLogoutNotice", "LoggedOutAtIdp", "LogoutStarted", "LogsOutAtIdp"]


@attrs.frozen
class LogoutStarted:
    """A logout sent on to the IdP.

    ``go`` is what the browser must do. ``state`` is the value the IdP's answer brings back
    (OpenID Connect ``state``, SAML ``RelayState``), unguessable; None when the IdP's answer
    brings nothing back to check (ESIA's logout). ``remembered`` is given back to
    :meth:`LogsOutAtIdp.finish_logout`.
    """

    go: RedirectTo | PostTo
    state: str | None
    remembered: Remembered = attrs.field(factory=dict)


@attrs.frozen
class LoggedOutAtIdp:
    """The IdP's answer to a logout, checked."""

    provider: str


@runtime_checkable
class LogsOutAtIdp(Protocol):
    """A provider that can end the person's session at its IdP (front channel)."""

    @property
    def name(self) -> str: ...

    def can_log_out(self) -> bool:
        """Whether logout at the IdP is configured (an endpoint and a return address)."""
        ...

    def start_logout(self, idp: IdpSession, *, now: datetime) -> LogoutStarted:
        """Where to send the browser to end ``idp`` at the IdP."""
        ...

    def logout_state(self, answer: Answer) -> str | None:
        """The ``state`` the IdP's answer brings back (None: none)."""
        ...

    def finish_logout(
        self,
        answer: Answer,
        remembered: Remembered | None,
        *,
        now: datetime,
        query_string: str | None = None,
    ) -> LoggedOutAtIdp:
        """Check the IdP's answer to :meth:`start_logout` (``remembered``: what it kept;
        ``query_string``: the raw query, for a signature over it). Refusals are
        :class:`~sso_bridge.errors.BridgeError` subclasses with a stable code."""
        ...


@attrs.frozen
class IdpLogoutNotice:
    """An IdP saying that sessions ended: those it names by ``sids`` (OpenID Connect
    ``sid``, SAML ``SessionIndex``), else by ``name_id`` (SAML), else by ``subject``.
    Where it gives several, a session must agree with each given."""

    issuer: str
    sids: tuple[str, ...] = ()
    subject: str | None = None
    name_id: str | None = None


@runtime_checkable
class HearsIdpLogout(Protocol):
    """A provider whose IdP can tell the broker that sessions ended (OpenID Connect
    back-channel logout; SAML IdP-initiated single logout has its own entry, see
    :class:`~sso_bridge.broker.providers.SamlProvider`)."""

    @property
    def name(self) -> str: ...

    def read_logout_token(
        self, token: str, *, now: datetime, replay: EphemeralStore
    ) -> IdpLogoutNotice:
        """The sessions a back-channel logout token ends, once it is verified (``replay``
        keeps the ids of tokens already used)."""
        ...
