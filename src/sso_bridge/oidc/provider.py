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
from datetime import datetime
from typing import Any, Self

import attrs

from sso_bridge.idp import (
    NO_ASKS,
    Answer,
    Asks,
    Extra,
    RedirectTo,
    Remembered,
    Started,
    VerifiedLogin,
)
from sso_bridge.oidc.flow import PendingLogin
from sso_bridge.oidc.rp import LoginResult, RelyingParty

__all__ = ["OidcProvider"]


@attrs.frozen
class OidcProvider:
    """A federated IdP reached over OpenID Connect (the state portal's default path).

    For a relying party that names a subclass of its own (``relying_party.provider_type()``,
    a provider profile's), ``OidcProvider(name, relying_party)`` builds that subclass.
    """

    name: str
    relying_party: RelyingParty
    title: str = "Госуслуги"
    enabled: bool = True

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

    def start(self, *, now: datetime) -> Started:
        """The authorization request (the relying party's clock dates it)."""
        request = self.relying_party.start()
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
        return VerifiedLogin(
            result.identity,
            amr=tuple(a for a in amr if isinstance(a, str)) if isinstance(amr, list) else None,
            acr=acr if isinstance(acr, str) else None,
            extras=self.extras(result, asks),
        )

    def extras(self, result: LoginResult, asks: Asks) -> Mapping[Extra[Any, Any], object]:
        """The answers to ``asks`` about the login ``result`` (hook: none here)."""
        return {}
