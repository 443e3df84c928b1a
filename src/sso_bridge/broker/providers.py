"""The identity providers the broker logs people in through.

Any object of the :class:`~sso_bridge.idp.IdentityProvider` shape plugs in (docs/broker.md,
"Writing a provider"). Three come with the library: :class:`OidcProvider` (OpenID Connect,
:mod:`sso_bridge.oidc.provider`), :class:`SamlProvider` (SAML 2.0, here) and
:class:`~sso_bridge.esia.provider.EsiaProvider` (ESIA, which ``OidcProvider`` builds for an
ESIA relying party).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

import attrs

from sso_bridge.broker.errors import BrokerError
from sso_bridge.idp import (
    NO_ASKS,
    NO_REQUIREMENTS,
    Answer,
    Asks,
    AuthnRequirements,
    Extra,
    IdentityProvider,
    PostTo,
    RedirectTo,
    Remembered,
    Started,
    VerifiedLogin,
)
from sso_bridge.model import IdpSession
from sso_bridge.oidc.provider import OidcProvider
from sso_bridge.saml.config import ServiceProviderConfig
from sso_bridge.saml.requests import build_authn_request
from sso_bridge.saml.response import process_response
from sso_bridge.saml.slo import SamlLogout
from sso_bridge.saml.stores import ReplayCache, RequestStore

__all__ = [
    "NO_ASKS",
    "Answer",
    "Asks",
    "Extra",
    "IdentityProvider",
    "OidcProvider",
    "PostTo",
    "RedirectTo",
    "Remembered",
    "SamlProvider",
    "Started",
    "VerifiedLogin",
]


class _Stopped:
    """A clock stopped at the request's ``now``."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


@attrs.frozen
class SamlProvider(SamlLogout):
    """A federated IdP reached over SAML 2.0; the stores must be shared by all instances.

    :meth:`start` sends an AuthnRequest (HTTP-Redirect binding) with a fresh RelayState,
    under which the login step is kept; :meth:`finish` checks the POSTed response, which
    must answer that very request. A response without RelayState is finished without a
    step: accepted only as an IdP-initiated login (when the configuration allows them).
    """

    name: str
    config: ServiceProviderConfig
    request_store: RequestStore
    replay_cache: ReplayCache
    title: str = "Госуслуги (SAML)"
    enabled: bool = True
    idp_slo_post_url: str | None = None
    """The IdP's HTTP-POST SingleLogoutService (None: logout messages go over Redirect)."""
    logout_binding: Literal["redirect", "post"] = "redirect"
    """How a logout started here goes to the IdP (see :class:`~sso_bridge.saml.slo.SamlLogout`)."""

    @property
    def issuer(self) -> str:
        return self.config.idp_entity_id

    def start(self, *, now: datetime, authn: AuthnRequirements = NO_REQUIREMENTS) -> Started:
        """The AuthnRequest; ``authn.force`` or any ``max_age`` (SAML has no such field)
        sends ``ForceAuthn="true"``, and ``acr_values`` a ``RequestedAuthnContext``."""
        relay = secrets.token_urlsafe(32)
        redirect = build_authn_request(
            self.config,
            request_store=self.request_store,
            clock=_Stopped(now),
            relay_state=relay,
            force_authn=authn.force or authn.max_age is not None,
            authn_contexts=authn.acr_values,
        )
        return Started(RedirectTo(redirect.url), relay, {"request_id": redirect.request_id})

    def step_id(self, answer: Answer) -> str | None:
        """The RelayState; None without one (an IdP-initiated answer)."""
        return answer.get("RelayState") or None

    def finish(
        self,
        answer: Answer,
        remembered: Remembered | None,
        *,
        now: datetime,
        asks: Asks = NO_ASKS,
    ) -> VerifiedLogin:
        result = process_response(
            answer.get("SAMLResponse", ""),
            self.config,
            request_store=self.request_store,
            replay_cache=self.replay_cache,
            clock=_Stopped(now),
        )
        if remembered is not None and result.in_response_to != remembered.get("request_id"):
            raise BrokerError(
                "the SAML answer is for a login started elsewhere",
                code="broker.saml_request_mismatch",
            )
        return VerifiedLogin(
            result.identity,
            authn_context=result.authn_context,
            not_on_or_after=result.session_not_on_or_after,
            auth_time=result.authn_instant,
            unsolicited=remembered is None and result.idp_initiated,
            idp_session=IdpSession(self.name, sid=result.session_index, name_id=result.name_id),
        )
