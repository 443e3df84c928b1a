"""The seams through which a provider that departs from plain OpenID Connect plugs in.

Plain OpenID Connect needs none of this. A provider profile with rules of its own
subclasses :class:`~sso_bridge.oidc.config.ProviderConfig` for what is checked without
I/O, and overrides its hooks:

* ``client_authentication()``: a :class:`ClientAuthentication` (parameters it adds to the
  authorization request and to the token request), instead of the standard methods;
* ``new_state()`` and ``sends_nonce``: the form of ``state``, and whether a ``nonce`` is
  sent and checked;
* ``token_algorithms``: :class:`TokenAlgorithm` values, signature algorithms outside the
  JOSE registry, each with its own hash for ``at_hash`` and a bound on token length;
* ``refusal()``: a :class:`Refusal` (stable code, message) for an IdP error it can read;
* ``id_token_expected`` and ``openid_optional``: whether the token answer may come without
  an ID token (the profile then names the subject from the access token);
* ``relying_party_type()``: the :class:`~sso_bridge.oidc.rp.RelyingParty` subclass that
  ``RelyingParty(config, http)`` builds for such a config.

The relying party subclass overrides the steps with I/O: ``default_keys()`` (a
:class:`KeySource` other than the JWKS), ``check_token_answer()`` (the token answer
beyond OAuth's own members), ``token_subject()`` (the subject, from the ID token or the
access token) and ``identity()`` (where the person's attributes come from).
The functions of :mod:`.flow`, :mod:`.client_auth` and :mod:`.idtoken` call the config's
hooks, so they serve such a provider unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from sso_bridge.token_errors import AuthorizationError, TokenError

if TYPE_CHECKING:
    from sso_bridge.oidc.config import ProviderConfig

__all__ = ["ClientAuthentication", "KeySource", "Refusal", "TokenAlgorithm"]


@attrs.frozen
class TokenAlgorithm:
    """A JWS ``alg`` outside the JOSE registry that a provider signs its tokens with.

    ``digest`` is the hash ``at_hash`` takes the left half of. A token signed with it that
    is longer than ``max_token_length`` characters is refused before anything is hashed,
    and so is an access token of that length when ``at_hash`` is checked. An
    ``exclusive`` algorithm must be the only one on the allow-list. The signature itself
    is checked by the provider's :class:`KeySource`.
    """

    name: str
    digest: Callable[[bytes], bytes] = attrs.field(eq=False, repr=False)
    max_token_length: int
    exclusive: bool = True


@attrs.frozen
class Refusal:
    """An IdP's refusal as a provider profile reads it: the stable code and a message,
    and the errors that carry a code of that family, of the authorization request
    (``authorization``) and of the token request (``token``)."""

    code: str
    message: str
    authorization: type[AuthorizationError] = AuthorizationError
    token: type[TokenError] = TokenError


class ClientAuthentication(Protocol):
    """How the client proves who it is, on the authorization and the token request."""

    def authorization_params(
        self, config: ProviderConfig, state: str, now: datetime
    ) -> Mapping[str, str]:
        """Parameters added to the authorization request for ``state``."""
        ...

    def token_params(
        self, config: ProviderConfig, code: str, now: datetime
    ) -> tuple[Mapping[str, str], Mapping[str, str]]:
        """Form fields and headers added to the token request that redeems ``code``."""
        ...


class KeySource(Protocol):
    """The provider's signature keys: ``key(kid, alg)`` returns an object whose
    ``verify(signing_input, signature)`` says whether the signature is the provider's."""

    def key(self, kid: str | None, alg: str) -> Any:
        """The key (or keys) for ``kid`` and ``alg``; an ``oidc.*`` refusal if none."""
        ...
