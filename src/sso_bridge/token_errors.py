"""The refusals of signed-token checks, below every package that checks tokens.

:class:`OidcError` is the family of OpenID Connect refusals and :class:`IdTokenError` the
refusal of a signed token (its form, algorithm or signature). They live here rather than
in :mod:`sso_bridge.oidc` so that a module which only verifies a token's signature (ESIA's
GOST tokens, :mod:`sso_bridge.esia.tokens`) raises them without depending on the relying
party; :mod:`sso_bridge.oidc.errors` is their public home.
"""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["IdTokenError", "OidcError"]


class OidcError(BridgeError):
    """A login over OIDC was refused; ``code`` says which check failed."""

    code = "oidc.error"


class IdTokenError(OidcError):
    """The ID token failed validation."""

    code = "oidc.invalid_id_token"
