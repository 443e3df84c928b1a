"""Refusals of the mock IdP's OIDC side: :class:`EsiaError` and its table of codes.

Each stable ``esia.*`` code fixes the OAuth ``error``, the ``ESIA-0NNNNN`` number that
starts ``error_description`` and the HTTP status (:data:`ESIA_ERRORS`). Every number is
ESIA's own, with ESIA's meaning, taken from the relying party's table
(:data:`sso_bridge.esia.errors_table.ESIA_NUMBERS`), so that a relying party reading the
mock's answers with :func:`sso_bridge.esia.errors_table.esia_refusal` gets the meaning the
mock intended. A refusal that has no ESIA number (an unknown access token, a missing
document of the REST API) carries none: its description is then the plain message.

* ``ESIA-007002``: ``esia.unknown_client``;
* ``ESIA-007003``: ``esia.invalid_request``, ``esia.field_too_long``,
  ``esia.request_replayed``;
* ``ESIA-007004``: ``esia.wrong_credentials``, ``esia.login_over``,
  ``esia.login_timed_out``, ``esia.login_wrong_browser``, ``esia.second_factor_failed``,
  ``esia.login_cancelled``;
* ``ESIA-007006``: ``esia.invalid_scope``; ``ESIA-007013``: ``esia.scope_missing``;
* ``ESIA-007007``: ``esia.server_error``;
* ``ESIA-007009``: ``esia.unsupported_grant_type``; ``ESIA-007012``:
  ``esia.unsupported_response_type``;
* ``ESIA-007011``: ``esia.invalid_grant``, ``esia.code_expired``;
* ``ESIA-007014``: ``esia.parameter_missing``; ``ESIA-007015``: ``esia.timestamp_invalid``,
  ``esia.timestamp_stale``;
* ``ESIA-007019``: ``esia.forbidden``; ``ESIA-007023``: ``esia.bad_redirect_uri``;
* ``ESIA-007039``: ``esia.pkce_verifier_unexpected``; ``ESIA-007040``: ``esia.pkce_mismatch``;
* ``ESIA-007053``: ``esia.certificate_hash_wrong``, ``esia.secret_malformed``,
  ``esia.secret_bad_signature``;
* ``ESIA-007055``: ``esia.not_confirmed``; ``ESIA-008010``: ``esia.invalid_client``;
* no number: ``esia.invalid_token``, ``esia.not_found``, ``esia.login_required``
  (OIDC ``prompt=none`` without a session that may answer), ``esia.bad_id_token_hint``
  and ``esia.bad_post_logout_redirect_uri`` (OIDC RP-Initiated Logout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from sso_bridge.errors import BridgeError, Code, InvalidInput, declare
from sso_bridge.esia import errors as esia_errors
from sso_bridge.esia.errors_table import ESIA_NUMBERS

__all__ = [
    "ESIA_ERRORS",
    "EsiaError",
    "EsiaErrorKind",
    "MockIdpConfigError",
    "MockIdpError",
    "RedirectableError",
    "SamlLoginFailed",
    "WrongCode",
]


def _esia(number: str) -> str:
    """``number`` as ESIA's table has it; a number missing from it is a bug (KeyError)."""
    return ESIA_NUMBERS[number].number


# ESIA's numbers, by the meaning ESIA gives them
ESIA_CERTIFICATE_UNKNOWN = _esia("ESIA-007002")  # no certificate, or another, for the client
ESIA_BAD_REQUEST = _esia("ESIA-007003")  # a parameter is missing, wrong or repeated
ESIA_DECLINED = _esia("ESIA-007004")  # the owner or the service declined
ESIA_BAD_SCOPE = _esia("ESIA-007006")  # a scope is wrong or unknown
ESIA_SERVER_ERROR = _esia("ESIA-007007")  # an unexpected failure
ESIA_GRANT_UNSUPPORTED = _esia("ESIA-007009")  # the grant type is not supported
ESIA_BAD_GRANT = _esia("ESIA-007011")  # the code or refresh token is invalid or expired
ESIA_RESPONSE_TYPE_UNSUPPORTED = _esia("ESIA-007012")
ESIA_NO_SCOPE = _esia("ESIA-007013")  # the request names no scope
ESIA_MISSING_PARAMETER = _esia("ESIA-007014")  # a mandatory parameter is missing
ESIA_BAD_TIMESTAMP = _esia("ESIA-007015")  # wrong request time
ESIA_FORBIDDEN = _esia("ESIA-007019")  # no permission for the access
ESIA_BAD_REDIRECT = _esia("ESIA-007023")  # redirect_uri not registered
ESIA_PKCE_UNEXPECTED = _esia("ESIA-007039")  # code_verifier, but no code_challenge at v2/ac
ESIA_PKCE_MISMATCH = _esia("ESIA-007040")  # code_verifier does not match code_challenge
ESIA_CLIENT_SECRET_WRONG = _esia("ESIA-007053")  # client_secret or certificate hash wrong
ESIA_NOT_CONFIRMED = _esia("ESIA-007055")  # login with an unconfirmed account
ESIA_CLIENT_AUTH = _esia("ESIA-008010")  # the client's authentication failed


class EsiaErrorKind(NamedTuple):
    """What an ``esia.*`` code means on the wire."""

    error: str  # OAuth 2.0 ``error``
    esia_code: str | None  # the ``ESIA-0NNNNN`` that starts ``error_description``, if any
    status: int  # HTTP status of a JSON answer or an error page


ESIA_ERRORS: Final[Mapping[str, EsiaErrorKind]] = {
    # authorization request
    "esia.unknown_client": EsiaErrorKind("unauthorized_client", ESIA_CERTIFICATE_UNKNOWN, 400),
    "esia.bad_redirect_uri": EsiaErrorKind("invalid_request", ESIA_BAD_REDIRECT, 400),
    "esia.unsupported_response_type": EsiaErrorKind(
        "unsupported_response_type", ESIA_RESPONSE_TYPE_UNSUPPORTED, 400
    ),
    "esia.invalid_request": EsiaErrorKind("invalid_request", ESIA_BAD_REQUEST, 400),
    "esia.invalid_scope": EsiaErrorKind("invalid_scope", ESIA_BAD_SCOPE, 400),
    "esia.scope_missing": EsiaErrorKind("invalid_scope", ESIA_NO_SCOPE, 400),
    "esia.request_replayed": EsiaErrorKind("invalid_request", ESIA_BAD_REQUEST, 400),
    "esia.login_required": EsiaErrorKind("login_required", None, 400),
    # RP-initiated logout
    "esia.bad_id_token_hint": EsiaErrorKind("invalid_request", None, 400),
    "esia.bad_post_logout_redirect_uri": EsiaErrorKind("invalid_request", None, 400),
    # login pages
    "esia.login_over": EsiaErrorKind("access_denied", ESIA_DECLINED, 400),
    "esia.login_timed_out": EsiaErrorKind("access_denied", ESIA_DECLINED, 400),
    "esia.wrong_credentials": EsiaErrorKind("access_denied", ESIA_DECLINED, 400),
    "esia.not_confirmed": EsiaErrorKind("access_denied", ESIA_NOT_CONFIRMED, 400),
    "esia.second_factor_failed": EsiaErrorKind("access_denied", ESIA_DECLINED, 400),
    "esia.login_wrong_browser": EsiaErrorKind("access_denied", ESIA_DECLINED, 403),
    "esia.login_cancelled": EsiaErrorKind("access_denied", ESIA_DECLINED, 400),
    # token endpoint
    "esia.invalid_client": EsiaErrorKind("invalid_client", ESIA_CLIENT_AUTH, 401),
    "esia.unsupported_grant_type": EsiaErrorKind(
        "unsupported_grant_type", ESIA_GRANT_UNSUPPORTED, 400
    ),
    "esia.invalid_grant": EsiaErrorKind("invalid_grant", ESIA_BAD_GRANT, 400),
    "esia.code_expired": EsiaErrorKind("invalid_grant", ESIA_BAD_GRANT, 400),
    "esia.pkce_verifier_unexpected": EsiaErrorKind("invalid_grant", ESIA_PKCE_UNEXPECTED, 400),
    "esia.pkce_mismatch": EsiaErrorKind("invalid_grant", ESIA_PKCE_MISMATCH, 400),
    # ESIA v2/v3 (GOST) client authentication, at v2/ac and v3/te
    "esia.parameter_missing": EsiaErrorKind("invalid_request", ESIA_MISSING_PARAMETER, 400),
    "esia.field_too_long": EsiaErrorKind("invalid_request", ESIA_BAD_REQUEST, 400),
    "esia.certificate_hash_wrong": EsiaErrorKind("invalid_client", ESIA_CLIENT_SECRET_WRONG, 401),
    "esia.timestamp_invalid": EsiaErrorKind("invalid_client", ESIA_BAD_TIMESTAMP, 401),
    "esia.timestamp_stale": EsiaErrorKind("invalid_client", ESIA_BAD_TIMESTAMP, 401),
    "esia.secret_malformed": EsiaErrorKind("invalid_client", ESIA_CLIENT_SECRET_WRONG, 401),
    "esia.secret_bad_signature": EsiaErrorKind("invalid_client", ESIA_CLIENT_SECRET_WRONG, 401),
    # userinfo and the REST API (persons, organisations)
    "esia.invalid_token": EsiaErrorKind("invalid_token", None, 401),
    "esia.forbidden": EsiaErrorKind("access_denied", ESIA_FORBIDDEN, 403),
    "esia.not_found": EsiaErrorKind("not_found", None, 404),
    # anything unexpected
    "esia.server_error": EsiaErrorKind("server_error", ESIA_SERVER_ERROR, 500),
}
"""Every refusal of the OIDC side by its stable code: OAuth ``error``, ESIA number, status."""


class EsiaError(esia_errors.EsiaError):
    """A refusal with a stable ``esia.*`` code, an OAuth ``error``, an ESIA-style
    ``error_description`` and an HTTP ``status``, all three given by the code
    (:data:`ESIA_ERRORS`). The codes only the mock IdP raises are declared here; it
    shares the others (client authentication) with :mod:`sso_bridge.esia`."""

    codes = declare(
        Code("esia.unknown_client", 400, "The client_id is not registered with the IdP."),
        Code("esia.bad_redirect_uri", 400, "The redirect_uri is not registered for this client."),
        Code("esia.unsupported_response_type", 400, "The response_type must be code."),
        Code("esia.invalid_request", 400, "The request lacks a parameter or has a bad one."),
        Code("esia.invalid_scope", 400, "A scope is unknown."),
        Code("esia.scope_missing", 400, "The authorization request names no scope."),
        Code("esia.request_replayed", 400, "The same signed authorization request came twice."),
        Code(
            "esia.login_required",
            400,
            "The request said prompt=none, but the person must log in at the IdP.",
        ),
        Code(
            "esia.bad_id_token_hint",
            400,
            "The logout's id_token_hint is not an ID token this IdP issued to the client.",
        ),
        Code(
            "esia.bad_post_logout_redirect_uri",
            400,
            "The post_logout_redirect_uri is not registered for the client, or no client is named.",
        ),
        Code("esia.login_over", 400, "The login attempt is over; start the login again."),
        Code("esia.login_timed_out", 400, "The login attempt timed out; start the login again."),
        Code("esia.wrong_credentials", 400, "Wrong login or password; the attempt is over."),
        Code("esia.not_confirmed", 400, "The client requires a confirmed account."),
        Code(
            "esia.second_factor_failed", 400, "Too many wrong one-time codes; the attempt is over."
        ),
        Code(
            "esia.login_wrong_browser", 403, "The login began in another browser; start it again."
        ),
        Code("esia.login_cancelled", 400, "The person cancelled the login at the IdP."),
        Code(
            "esia.invalid_client", 401, "The client's authentication failed; check its credentials."
        ),
        Code("esia.unsupported_grant_type", 400, "The grant_type is not one the IdP supports."),
        Code(
            "esia.invalid_grant", 400, "The code or refresh token is unknown, used or mismatched."
        ),
        Code("esia.code_expired", 400, "The authorization code expired; log in again."),
        Code(
            "esia.pkce_verifier_unexpected", 400, "A code_verifier for a code without a challenge."
        ),
        Code("esia.pkce_mismatch", 400, "The code_verifier does not match the code_challenge."),
        Code(
            "esia.certificate_hash_wrong",
            401,
            "The client_certificate_hash is not the registered one.",
        ),
        Code("esia.invalid_token", 401, "The access token is unknown or expired."),
        Code("esia.forbidden", 403, "The access token lacks the scope or is another person's."),
        Code("esia.not_found", 404, "No such person, organisation, collection or element."),
        Code("esia.server_error", 500, "The mock IdP failed unexpectedly; see its log."),
    )
    code = "esia.invalid_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        try:
            kind = ESIA_ERRORS[self.code if code is None else code]
        except KeyError:
            raise ValueError(f"unknown ESIA error code {code!r}") from None
        super().__init__(message, code=code)
        self.error = kind.error
        self.esia_code = kind.esia_code
        self.status = kind.status
        self.description = message if kind.esia_code is None else f"{kind.esia_code}: {message}"


class RedirectableError(EsiaError):
    """An :class:`EsiaError` that goes back to the client's redirect URI (``status`` 302)."""

    def __init__(
        self, message: str, *, code: str | None = None, redirect_uri: str, state: str
    ) -> None:
        super().__init__(message, code=code)
        self.status = 302
        self.redirect_uri = redirect_uri
        self.state = state


class SamlLoginFailed(EsiaError):
    """An :class:`EsiaError` that ends a SAML login: it goes back to the service provider
    as a signed Response with a failure status (``saml_request`` is the AuthnRequest)."""

    def __init__(self, message: str, *, code: str | None = None, saml_request: Any) -> None:
        super().__init__(message, code=code)
        self.saml_request = saml_request


class MockIdpError(BridgeError):
    """The mock IdP's own configuration, keys or login pages failed."""

    family = "mock_idp"
    about = "The mock IdP's own configuration, keys and login pages."
    codes = declare(
        Code("mock_idp.config_unreadable", 500, "The mock IdP's config file cannot be read."),
        Code(
            "mock_idp.config_invalid", 500, "The mock IdP's config file is not a YAML/JSON mapping."
        ),
        Code("mock_idp.bad_person", 500, "A person in the mock IdP's config has an invalid field."),
        Code("mock_idp.bad_key", 500, "A mock IdP key cannot be loaded or does not fit."),
        Code("mock_idp.bad_algorithm", 500, "The mock IdP has no key for the requested algorithm."),
        Code("mock_idp.wrong_code", 401, "A wrong one-time code; the person may try again."),
    )
    code = "mock_idp.config_invalid"


class MockIdpConfigError(MockIdpError, InvalidInput):
    """The mock IdP's configuration, a person in it or a key cannot be used; also an
    :class:`~sso_bridge.errors.InvalidInput`."""


class WrongCode(MockIdpError):
    """A wrong second-factor code; the person may try again (``mock_idp.wrong_code``)."""

    code = "mock_idp.wrong_code"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(f"wrong code; {attempts_left} attempts left")
        self.attempts_left = attempts_left
