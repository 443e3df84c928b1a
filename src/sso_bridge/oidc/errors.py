"""Errors of the OIDC relying party; each refusal has its own stable ``oidc.*`` code."""

from __future__ import annotations

from sso_bridge.token_errors import (
    AuthorizationError,
    IdTokenError,
    OidcConfigError,
    OidcError,
    TokenError,
)

__all__ = ["AuthorizationError", "IdTokenError", "OidcConfigError", "OidcError", "TokenError"]
