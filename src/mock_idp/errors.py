"""Refusals of the mock IdP's OIDC side: :class:`EsiaError` and its table of codes.

Each stable ``esia.*`` code fixes the OAuth ``error``, the ``ESIA-0070NN`` number that starts
``error_description`` and the HTTP status (:data:`ESIA_ERRORS`). The numbers of the v2/v3
client authentication are ESIA's own, taken from the relying party's table
(:data:`sso_bridge.esia.errors_table.ESIA_NUMBERS`) so that both sides read them alike; the
older ones are this mock's table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

from sso_bridge.errors import BridgeError
from sso_bridge.esia.errors_table import ESIA_NUMBERS

__all__ = ["ESIA_ERRORS", "EsiaError", "EsiaErrorKind"]

# error_description numbers of the mock's own table, in ESIA's style
ESIA_BAD_REQUEST = "ESIA-007002"
ESIA_UNKNOWN_CLIENT = "ESIA-007004"
ESIA_BAD_REDIRECT = "ESIA-007005"
ESIA_BAD_SCOPE = "ESIA-007007"
ESIA_WRONG_CREDENTIALS = "ESIA-007011"
ESIA_NOT_CONFIRMED = "ESIA-007013"
ESIA_SECOND_FACTOR_FAILED = "ESIA-007014"
ESIA_CLIENT_AUTH = "ESIA-007053"
ESIA_BAD_GRANT = "ESIA-007055"
ESIA_EXPIRED = "ESIA-007059"
ESIA_SERVER_ERROR = "ESIA-007008"
ESIA_FORBIDDEN = "ESIA-007023"
ESIA_NOT_FOUND = "ESIA-007024"

# ESIA's own numbers for the v2/v3 client authentication, from the relying party's table
ESIA_MISSING_PARAMETER = ESIA_NUMBERS["ESIA-007014"].number  # a mandatory parameter is missing
ESIA_BAD_TIMESTAMP = ESIA_NUMBERS["ESIA-007015"].number  # wrong request time
ESIA_CLIENT_SECRET_WRONG = ESIA_NUMBERS["ESIA-007053"].number  # bad secret or certificate hash


class EsiaErrorKind(NamedTuple):
    """What an ``esia.*`` code means on the wire."""

    error: str  # OAuth 2.0 ``error``
    esia_code: str  # the ``ESIA-0070NN`` that starts ``error_description``
    status: int  # HTTP status of a JSON answer or an error page


ESIA_ERRORS: Final[Mapping[str, EsiaErrorKind]] = {
    # authorization request
    "esia.unknown_client": EsiaErrorKind("unauthorized_client", ESIA_UNKNOWN_CLIENT, 400),
    "esia.bad_redirect_uri": EsiaErrorKind("invalid_request", ESIA_BAD_REDIRECT, 400),
    "esia.unsupported_response_type": EsiaErrorKind(
        "unsupported_response_type", ESIA_BAD_REQUEST, 400
    ),
    "esia.invalid_request": EsiaErrorKind("invalid_request", ESIA_BAD_REQUEST, 400),
    "esia.invalid_scope": EsiaErrorKind("invalid_scope", ESIA_BAD_SCOPE, 400),
    # login pages
    "esia.login_over": EsiaErrorKind("invalid_request", ESIA_EXPIRED, 400),
    "esia.login_timed_out": EsiaErrorKind("access_denied", ESIA_EXPIRED, 400),
    "esia.wrong_credentials": EsiaErrorKind("access_denied", ESIA_WRONG_CREDENTIALS, 400),
    "esia.not_confirmed": EsiaErrorKind("access_denied", ESIA_NOT_CONFIRMED, 400),
    "esia.second_factor_failed": EsiaErrorKind("access_denied", ESIA_SECOND_FACTOR_FAILED, 400),
    "esia.login_wrong_browser": EsiaErrorKind("access_denied", ESIA_FORBIDDEN, 403),
    # token endpoint
    "esia.invalid_client": EsiaErrorKind("invalid_client", ESIA_CLIENT_AUTH, 401),
    "esia.unsupported_grant_type": EsiaErrorKind("unsupported_grant_type", ESIA_BAD_REQUEST, 400),
    "esia.invalid_grant": EsiaErrorKind("invalid_grant", ESIA_BAD_GRANT, 400),
    "esia.code_expired": EsiaErrorKind("invalid_grant", ESIA_EXPIRED, 400),
    # ESIA v2/v3 (GOST) client authentication, at v2/ac and v3/te
    "esia.parameter_missing": EsiaErrorKind("invalid_request", ESIA_MISSING_PARAMETER, 400),
    "esia.timestamp_invalid": EsiaErrorKind("invalid_client", ESIA_BAD_TIMESTAMP, 401),
    "esia.timestamp_stale": EsiaErrorKind("invalid_client", ESIA_BAD_TIMESTAMP, 401),
    "esia.secret_malformed": EsiaErrorKind("invalid_client", ESIA_CLIENT_SECRET_WRONG, 401),
    "esia.secret_bad_signature": EsiaErrorKind("invalid_client", ESIA_CLIENT_SECRET_WRONG, 401),
    "esia.field_too_long": EsiaErrorKind("invalid_request", ESIA_BAD_REQUEST, 400),
    # userinfo and the person API
    "esia.invalid_token": EsiaErrorKind("invalid_token", ESIA_BAD_GRANT, 401),
    "esia.forbidden": EsiaErrorKind("access_denied", ESIA_FORBIDDEN, 403),
    "esia.not_found": EsiaErrorKind("not_found", ESIA_NOT_FOUND, 404),
    # anything unexpected
    "esia.server_error": EsiaErrorKind("server_error", ESIA_SERVER_ERROR, 500),
}
"""Every refusal of the OIDC side by its stable code: OAuth ``error``, ESIA number, status."""


class EsiaError(BridgeError):
    """A refusal with a stable ``esia.*`` code, an OAuth ``error``, an ESIA-style
    ``error_description`` and an HTTP ``status``, all three given by the code
    (:data:`ESIA_ERRORS`)."""

    code = "esia.invalid_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        try:
            kind = ESIA_ERRORS[self.code]
        except KeyError:
            raise ValueError(f"unknown ESIA error code {self.code!r}") from None
        self.error = kind.error
        self.esia_code = kind.esia_code
        self.status = kind.status
        self.description = f"{kind.esia_code}: {message}"
