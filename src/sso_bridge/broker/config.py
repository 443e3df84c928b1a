"""What a broker is configured with: its providers and its policies."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import attrs

from sso_bridge.esia.roles import StaffRolePolicy
from sso_bridge.mfa import SecondFactorPolicy
from sso_bridge.oidc.rp import RelyingParty
from sso_bridge.saml.config import ServiceProviderConfig
from sso_bridge.saml.stores import ReplayCache, RequestStore
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


@attrs.frozen
class OidcProvider:
    """A federated IdP reached over OpenID Connect (ESIA's default path)."""

    name: str
    relying_party: RelyingParty
    title: str = "Госуслуги"
    enabled: bool = True

    @property
    def issuer(self) -> str:
        return self.relying_party.config.issuer


@attrs.frozen
class SamlProvider:
    """A federated IdP reached over SAML 2.0; the stores must be shared by all instances."""

    name: str
    config: ServiceProviderConfig
    request_store: RequestStore
    replay_cache: ReplayCache
    title: str = "Госуслуги (SAML)"
    enabled: bool = True

    @property
    def issuer(self) -> str:
        return self.config.idp_entity_id


Provider = OidcProvider | SamlProvider


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
    ``ip`` is the client address after the configured trusted-proxy handling.
    """

    browser_id: str = attrs.field(repr=False)
    ip: str
    user_agent: str | None = None


@attrs.frozen
class SecurityAlert:
    """Given to the alert hook, e.g. to notify an administrator."""

    code: str
    message: str
    at: datetime
    account_id: str | None
    ip: str
    previous_ip: str | None = None


AlertHook = Callable[[SecurityAlert], None]
