"""The refusals of signed-token checks, below every package that checks tokens.

:class:`OidcError` is the family of OpenID Connect refusals (``oidc.*``) and
:class:`IdTokenError` the refusal of a signed token (its form, algorithm or signature);
:class:`AuthorizationError` and :class:`TokenError` are the IdP's refusals of the two
requests. They live here rather than
in :mod:`sso_bridge.oidc` so that a module which only verifies a token's signature (ESIA's
GOST tokens, :mod:`sso_bridge.esia.tokens`) raises them without depending on the relying
party; :mod:`sso_bridge.oidc.errors` is their public home.
"""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, ConfigError, declare

__all__ = [
    "AuthorizationError",
    "IdTokenError",
    "OidcConfigError",
    "OidcError",
    "OidcLogoutError",
    "TokenError",
]


class OidcError(BridgeError):
    """A login over OIDC was refused; ``code`` says which check failed."""

    family = "oidc"
    about = (
        "The OIDC relying party: its settings, discovery, the callback, the token endpoint, "
        "the ID token and userinfo ([protocols.md](protocols.md)). Codes named after an OAuth"
        " `error` (`oidc.access_denied`, ...) carry the IdP's own refusal."
    )
    codes = declare(
        Code("oidc.error", 502, "An OIDC login failed; the message says why."),
        Code("oidc.config_invalid", 500, "The OIDC client settings are wrong; fix the one named."),
        Code(
            "oidc.discovery_invalid", 502, "The IdP's discovery document failed or lacks a field."
        ),
        Code(
            "oidc.discovery_issuer_mismatch", 502, "Discovery names another issuer; fix the issuer."
        ),
        Code("oidc.http_error", 503, "The IdP cannot be reached (network error, timeout); retry."),
        Code(
            "oidc.bad_response", 502, "The IdP answered an HTTP error or a body that is not JSON."
        ),
        Code(
            "oidc.response_too_large", 502, "The IdP's answer is over the relying party's size cap."
        ),
        Code("oidc.jwks_invalid", 502, "The IdP's key set (JWKS) failed to load or has no keys."),
        Code("oidc.no_pending_login", 400, "No login is pending in this session; start it again."),
        Code(
            "oidc.pending_invalid", 400, "The login kept in the session is unreadable; start again."
        ),
        Code(
            "oidc.state_mismatch", 400, "The callback's state is not this browser's; start again."
        ),
        Code("oidc.state_reused", 400, "This callback was already used; start the login again."),
        Code("oidc.login_expired", 400, "The login took too long; start it again."),
        Code(
            "oidc.wrong_provider", 400, "The callback or login belongs to another configured IdP."
        ),
        Code(
            "oidc.iss_missing", 400, "The callback lacks iss, which the IdP announced (RFC 9207)."
        ),
        Code("oidc.iss_mismatch", 400, "The callback's iss is not the configured IdP."),
        Code("oidc.missing_code", 400, "The callback carries no authorization code."),
        Code("oidc.access_denied", 401, "The person cancelled the login or the IdP denied it."),
        Code("oidc.login_required", 401, "The IdP requires the person to log in again."),
        Code("oidc.consent_required", 401, "The person did not consent to share the data."),
        Code("oidc.invalid_scope", 500, "The IdP refused the requested scopes; fix the scopes."),
        Code(
            "oidc.invalid_request", 500, "The IdP refused the request; check the client settings."
        ),
        Code("oidc.invalid_grant", 400, "The code is invalid, expired or used; log in again."),
        Code(
            "oidc.client_auth_failed", 500, "The IdP refused the client's credentials; check them."
        ),
        Code("oidc.invalid_id_token", 401, "The ID token failed validation."),
        Code("oidc.malformed_token", 502, "The ID token is not a well-formed signed JWT."),
        Code("oidc.alg_not_allowed", 401, "The ID token's algorithm is not on the allow-list."),
        Code("oidc.kid_ambiguous", 502, "Several JWKS keys fit the ID token, which names no kid."),
        Code(
            "oidc.unknown_kid", 401, "The ID token's key is not in the JWKS, even after a refresh."
        ),
        Code("oidc.key_alg_mismatch", 401, "The ID token's key does not fit its algorithm."),
        Code("oidc.bad_signature", 401, "The ID token's signature does not verify."),
        Code("oidc.missing_claim", 401, "The ID token lacks a required claim."),
        Code(
            "oidc.wrong_issuer", 401, "The ID token is from another issuer than the configured IdP."
        ),
        Code("oidc.wrong_audience", 401, "The ID token is not for this client_id."),
        Code("oidc.wrong_azp", 401, "The ID token's azp names another client."),
        Code(
            "oidc.expired", 401, "The ID token has expired; check the server clock if this repeats."
        ),
        Code(
            "oidc.issued_in_future", 401, "The ID token is issued in the future; check the clock."
        ),
        Code("oidc.not_yet_valid", 401, "The ID token is not valid yet; check the server clock."),
        Code(
            "oidc.nonce_mismatch", 401, "The ID token's nonce is not this login's; maybe a replay."
        ),
        Code("oidc.bad_at_hash", 401, "The ID token's at_hash does not match the access token."),
        Code(
            "oidc.userinfo_sub_mismatch", 502, "Userinfo is about another person than the ID token."
        ),
        Code(
            "oidc.weak_key", 502, "The IdP's signing key is RSA under 2048 bits (or the minimum)."
        ),
    )
    code = "oidc.error"


class OidcConfigError(OidcError, ConfigError):
    """The OIDC client settings are wrong; also a :class:`~sso_bridge.errors.ConfigError`."""

    code = "oidc.config_invalid"


class IdTokenError(OidcError):
    """The ID token failed validation."""

    code = "oidc.invalid_id_token"


class MalformedToken(IdTokenError):
    """The token is not a well-formed signed JWT (``oidc.malformed_token``)."""

    code = "oidc.malformed_token"


class TokenAlgorithmRefused(IdTokenError):
    """The token's ``alg`` is not the pinned one (``oidc.alg_not_allowed``)."""

    code = "oidc.alg_not_allowed"


class BadTokenSignature(IdTokenError):
    """The token's signature does not verify (``oidc.bad_signature``)."""

    code = "oidc.bad_signature"


class AuthorizationError(OidcError):
    """The IdP answered the authorization request with an ``error`` (RFC 6749 §4.1.2.1).

    ``message`` replaces the default wording, for a provider profile that reads the
    IdP's error itself.
    """

    codes = declare(
        Code(
            "oidc.authorization_error", 401, "The IdP refused the login; see the message for why."
        ),
    )
    code = "oidc.authorization_error"

    def __init__(
        self,
        error: str,
        description: str | None,
        *,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        if message is None:
            message = f"the IdP refused the login: {error} ({description or '-'})"
        super().__init__(message, code=code)
        self.error = error
        self.description = description


class TokenError(OidcError):
    """The token endpoint refused the request or gave an unusable answer."""

    codes = declare(
        Code("oidc.token_error", 502, "The token endpoint refused or gave an unusable answer."),
    )
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


class OidcLogoutError(OidcError):
    """Logout over OpenID Connect refused: a back-channel logout token, or no way to log out."""

    codes = declare(
        Code(
            "oidc.logout_token_invalid",
            400,
            "The logout token's issuer, audience or times are wrong, or a claim is missing.",
        ),
        Code("oidc.logout_token_event", 400, "The logout token lacks the back-channel event."),
        Code("oidc.logout_token_nonce", 400, "The logout token carries a nonce; it must not."),
        Code("oidc.logout_token_no_session", 400, "The logout token names neither sid nor sub."),
        Code("oidc.logout_token_replayed", 400, "This logout token (its jti) was already used."),
        Code(
            "oidc.no_end_session",
            500,
            "Logout at the IdP needs its end_session_endpoint and a post-logout address.",
        ),
    )
    code = "oidc.logout_token_invalid"
