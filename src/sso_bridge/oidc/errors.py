"""Errors of the OIDC relying party; each refusal has its own stable ``oidc.*`` code."""

from __future__ import annotations

from sso_bridge.token_errors import IdTokenError, OidcError

__all__ = ["AuthorizationError", "IdTokenError", "OidcError", "TokenError"]


class AuthorizationError(OidcError):
    """The IdP answered the authorization request with an ``error`` (RFC 6749 §4.1.2.1)."""

    code = "oidc.authorization_error"

    def __init__(self, error: str, description: str | None, *, code: str | None = None) -> None:
        super().__init__(f"the IdP refused the login: {error} ({description or '-'})", code=code)
        self.error = error
        self.description = description


class TokenError(OidcError):
    """The token endpoint refused the request or gave an unusable answer."""

    code = "oidc.token_error"

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        description: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.error = error
        self.description = description
