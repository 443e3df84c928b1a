"""Errors of the OIDC relying party; each refusal has its own stable ``oidc.*`` code."""

from __future__ import annotations

from sso_bridge.token_errors import (
    AuthorizationError,
    BadTokenSignature,
    IdTokenError,
    MalformedToken,
    OidcConfigError,
    OidcError,
    TokenAlgorithmRefused,
    TokenError,
)

__all__ = [
    "AuthorizationError",
    "BadTokenSignature",
    "IdTokenError",
    "MalformedToken",
    "OidcConfigError",
    "OidcError",
    "TokenAlgorithmRefused",
    "TokenError",
]
