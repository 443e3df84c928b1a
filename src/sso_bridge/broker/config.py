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
from sso_bridge.sessions import SessionPolicy

__all__ = [
    "AlertHook",
    "BrokerPolicy",
    "Client",
    "OidcProvider",
    "Provider",
    "SamlProvider",
    "SecurityAlert",
]


Provider = IdentityProvider
"""A provider the broker logs people in through: any :class:`~sso_bridge.idp.IdentityProvider`
(:class:`OidcProvider`, :class:`SamlProvider`, ``sso_bridge.esia.EsiaProvider``, your own)."""


def _auto_link(_: object, __: object, value: str) -> None:
    if value not in ("any", "strong"):
        raise ValueError(f"auto_link must be 'any' or 'strong', not {value!r}")


@attrs.frozen
class BrokerPolicy:
    """The rules of docs/matching.md and docs/broker.md that a deployment chooses.

    ``auto_link="strong"`` links a candidate matched on name and birth date alone only
    after the person proves that account with a local login. ``staff`` (None: off) makes
    staff accounts log in through ESIA only for people ESIA lists as working for the
    account's organisation (docs/esia.md).
    """

    auto_link: Literal["any", "strong"] = attrs.field(default="any", validator=_auto_link)
    step_lifetime: timedelta = timedelta(minutes=15)
    second_factor: SecondFactorPolicy = attrs.field(factory=SecondFactorPolicy)
    sessions: SessionPolicy = attrs.field(factory=SessionPolicy)
    staff: StaffRolePolicy | None = None


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
