"""An OpenID Connect IdP as a provider of the broker (:class:`~sso_bridge.idp.IdentityProvider`).

:class:`OidcProvider` wraps a :class:`~sso_bridge.oidc.rp.RelyingParty`: :meth:`start` is
the authorization request (the login step is kept under its ``state`` and remembers the
pending login), :meth:`finish` the callback: the code redeemed, the ID token checked, the
identity read, the ``amr`` and ``acr`` claims reported.

A provider profile whose relying party knows more than plain OpenID Connect subclasses it
and answers the broker's :class:`~sso_bridge.idp.Asks` in :meth:`OidcProvider.extras`; the
relying party names that subclass (``RelyingParty.provider_type()``), and
``OidcProvider(name, relying_party)`` builds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Self

import attrs

from sso_bridge.idp import (
    NO_ASKS,
    NO_REQUIREMENTS,
    Answer,
    Asks,
    AuthnRequirements,
    Extra,
    RedirectTo,
    Remembered,
    Started,
    VerifiedLogin,
)
from sso_bridge.model import IdpSession
from sso_bridge.oidc.flow import PendingLogin
from sso_bridge.oidc.idtoken import numeric_date
from sso_bridge.oidc.logout import OidcLogout
from sso_bridge.oidc.rp import LoginResult, RelyingParty

__all__ = ["OidcProvider"]


@attrs.frozen
class OidcProvider(OidcLogout):
    """A federated IdP reached over OpenID Connect (the state portal's default path).

    For a relying party that names a subclass of its own (``relying_party.provider_type()``,
    a provider profile's), ``OidcProvider(name, relying_party)`` builds that subclass.
    """

    name: str
    relying_party: RelyingParty
    title: str = "Госуслуги"
    enabled: bool = True
    post_logout_redirect_uri: str | None = None
    """Where the IdP sends the browser back after a logout there (registered at the IdP;
    None: logout ends the broker's session only)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        relying_party = kwargs.get("relying_party", args[1] if len(args) > 1 else None)
        wanted = relying_party.provider_type() if isinstance(relying_party, RelyingParty) else None
        if wanted is not None and issubclass(wanted, cls):
            made: Self = super().__new__(wanted)
            return made
        return super().__new__(cls)

    @property
    def issuer(self) -> str:
        return self.relying_party.config.issuer

    def start(self, *, now: datetime, authn: AuthnRequirements = NO_REQUIREMENTS) -> Started:
        """The authorization request (the relying party's clock dates it); ``authn.force``
        sends ``prompt=login``, and ``max_age`` and ``acr_values`` go as they are."""
        request = self.relying_party.start(
            prompt="login" if authn.force else None,
            max_age=authn.max_age,
            acr_values=authn.acr_values,
        )
        pending = request.pending
        return Started(RedirectTo(request.url), pending.state, pending.to_dict())

    def step_id(self, answer: Answer) -> str:
        """The callback's ``state`` ("" when missing: no answer comes unasked)."""
        return answer.get("state", "")

    def finish(
        self,
        answer: Answer,
        remembered: Remembered | None,
        *,
        now: datetime,
        asks: Asks = NO_ASKS,
    ) -> VerifiedLogin:
        """The callback: checked, the code redeemed, the identity read."""
        pending = None if remembered is None else PendingLogin.from_dict(remembered)
        # the broker has consumed the login step kept under the state: that is its one use
        result = self.relying_party.complete(answer, pending, state_taken=True)
        id_token = result.tokens.id_token
        claims: Mapping[str, Any] = id_token.claims if id_token is not None else {}
        amr, acr = claims.get("amr"), claims.get("acr")
        # validate_id_token range-checked auth_time whenever present
        auth_time = numeric_date(claims, "auth_time") if "auth_time" in claims else None
        return VerifiedLogin(
            result.identity,
            amr=tuple(a for a in amr if isinstance(a, str)) if isinstance(amr, list) else None,
            acr=acr if isinstance(acr, str) else None,
            auth_time=None if auth_time is None else datetime.fromtimestamp(auth_time, UTC),
            extras=self.extras(result, asks),
            idp_session=self.idp_session(id_token.raw if id_token is not None else None, claims),
        )

    def idp_session(self, raw_id_token: str | None, claims: Mapping[str, Any]) -> IdpSession:
        """The IdP's session behind a login: its ``sid``, and the ID token as a hint."""
        sid = claims.get("sid")
        return IdpSession(
            self.name, sid=sid if isinstance(sid, str) and sid else None, id_token=raw_id_token
        )

    def extras(self, result: LoginResult, asks: Asks) -> Mapping[Extra[Any, Any], object]:
        """The answers to ``asks`` about the login ``result`` (hook: none here)."""
        return {}
