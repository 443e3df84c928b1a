"""The error family of :mod:`sso_bridge.esia`."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, ConfigError, declare
from sso_bridge.token_errors import AuthorizationError, TokenError

__all__ = [
    "EsiaAuthorizationError",
    "EsiaClientAuthError",
    "EsiaConfigError",
    "EsiaError",
    "EsiaTimestampError",
    "EsiaTokenError",
]


class EsiaError(BridgeError):
    """ESIA's GOST keys, certificates, signers or client secrets were refused or failed,
    or ESIA refused a request with one of its ``ESIA-0NNNNN`` numbers."""

    family = "esia"
    about = (
        "ESIA's `client_secret`, a detached CMS signature (`sso_bridge.esia.cms`), and the "
        "refusals of the mock IdP's OIDC side, which it sends as an OAuth `error` with an "
        "`ESIA-0NNNNN` description ([mock-idp.md](mock-idp.md))."
    )
    codes = declare(
        Code("esia.unsupported_key", 500, "The ESIA client key must be RSA or EC P-256."),
        Code(
            "esia.weak_key", 500, "An ESIA RSA key or certificate is under 2048 bits; replace it."
        ),
        Code("esia.key_mismatch", 500, "The ESIA client key does not belong to its certificate."),
        Code(
            "esia.timestamp_invalid",
            401,
            "The timestamp is not YYYY.MM.DD HH:MM:SS +hhmm (+0000 v1, +0300 v2).",
        ),
        Code(
            "esia.timestamp_stale", 401, "The timestamp is too far off; check the client's clock."
        ),
        Code(
            "esia.secret_malformed",
            401,
            "The client_secret is not a CMS SignedData (v1) or a GOST signature (v2).",
        ),
        Code("esia.secret_not_detached", 401, "The client_secret must be a detached signature."),
        Code(
            "esia.secret_wrong_signer", 401, "The client_secret has another signer than registered."
        ),
        Code(
            "esia.secret_unsupported_algorithm", 401, "The client_secret uses a refused algorithm."
        ),
        Code(
            "esia.secret_bad_digest", 401, "The client_secret signs another scope, time or state."
        ),
        Code("esia.secret_bad_signature", 401, "The client_secret's signature does not verify."),
        Code("esia.field_too_long", 400, "A client-authentication field is over its size limit."),
        Code("esia.error", 500, "An ESIA client-authentication step failed; the message says why."),
        Code(
            "esia.gost_bad_key",
            500,
            "A GOST key is unreadable, out of range, off its curve or on an unknown curve.",
        ),
        Code(
            "esia.gost_bad_certificate",
            500,
            "The certificate is not X.509 with a GOST R 34.10-2012 256-bit key.",
        ),
        Code(
            "esia.signer_not_configured",
            500,
            "The openssl signer cannot start: key, certificate, openssl or gost engine.",
        ),
        Code(
            "esia.signer_failed",
            503,
            "The openssl signer failed, timed out or gave no 64-byte signature.",
        ),
        Code(
            "esia.state_mismatch",
            400,
            "The v3/te answer's state is not the one our token request sent.",
        ),
        Code(
            "esia.access_token_invalid",
            401,
            "ESIA's access token is malformed or has a wrong header or claim.",
        ),
        Code(
            "esia.access_token_bad_signature",
            401,
            "ESIA's access token's signature does not verify with ESIA's keys.",
        ),
        Code(
            "esia.access_token_expired",
            401,
            "ESIA's access token is expired or not yet valid; check the server clock.",
        ),
        Code(
            "esia.subject_mismatch", 502, "ESIA's access token and ID token name different people."
        ),
        Code(
            "esia.parameter_missing",
            400,
            "ESIA-007014: a mandatory parameter is missing, usually client_certificate_hash.",
        ),
        Code(
            "esia.client_secret_wrong",
            500,
            "ESIA-007053: the client_secret or certificate hash is wrong, "
            "or the certificate inactive.",
        ),
        Code(
            "esia.certificate_not_registered",
            500,
            "ESIA-007002: ESIA has no certificate, or another one, for this system.",
        ),
        Code(
            "esia.client_not_authorized",
            500,
            "ESIA-007005: this system may not get tokens this way.",
        ),
        Code(
            "esia.request_time_wrong",
            500,
            "ESIA-007015: ESIA refused the timestamp; check the server clock.",
        ),
        Code(
            "esia.request_invalid",
            500,
            "ESIA-007003/-007038: a parameter is missing, wrong or repeated.",
        ),
        Code(
            "esia.scope_refused",
            500,
            "ESIA-007006/-007013: a scope is unknown, not granted or missing.",
        ),
        Code(
            "esia.grant_unsupported",
            500,
            "ESIA-007009/-007012: this grant or response type is not supported.",
        ),
        Code(
            "esia.redirect_uri_refused",
            500,
            "ESIA-007023: the redirect_uri is not registered for the system.",
        ),
        Code(
            "esia.client_auth_failed",
            500,
            "ESIA-008010: ESIA could not authenticate the client system.",
        ),
        Code("esia.access_denied", 401, "ESIA-007004: the person or ESIA declined the request."),
        Code(
            "esia.code_refused",
            400,
            "ESIA-007011: the code is invalid, expired, used or another client's.",
        ),
        Code(
            "esia.pkce_refused",
            400,
            "ESIA-007039/-007040: the code_verifier does not match the code_challenge.",
        ),
        Code("esia.permission_missing", 403, "ESIA-007019: the person has not granted the access."),
        Code(
            "esia.second_factor_unavailable",
            403,
            "ESIA-007046: the scope needs a second factor the person cannot use.",
        ),
        Code(
            "esia.account_not_confirmed",
            403,
            "ESIA-007055: the person's ESIA account is not confirmed.",
        ),
        Code(
            "esia.org_scope_refused",
            403,
            "ESIA-007194: an organisation scope for an organisation the person is not in.",
        ),
        Code("esia.idp_failed", 503, "ESIA-007007: ESIA failed unexpectedly; retry later."),
        Code(
            "esia.idp_unavailable",
            503,
            "ESIA-007008: ESIA is overloaded or under maintenance; retry later.",
        ),
        Code("esia.roles_invalid", 502, "ESIA's roles answer is not a list of organisations."),
        Code(
            "esia.organisation_invalid",
            502,
            "ESIA's organisation answer (/rs/orgs/{oid}) is not usable.",
        ),
    )
    code = "esia.error"


class EsiaClientAuthError(EsiaError):
    """A client's authentication was refused: its ``client_secret`` or a field of it;
    an IdP answers the client with this code as it is."""

    code = "esia.secret_malformed"


class EsiaTimestampError(EsiaClientAuthError):
    """The ``timestamp`` of a client's authentication is malformed or too far off."""

    code = "esia.timestamp_invalid"


class EsiaConfigError(EsiaError, ConfigError):
    """An ESIA client key or certificate that cannot be used; also a
    :class:`~sso_bridge.errors.ConfigError`."""

    code = "esia.unsupported_key"


class EsiaAuthorizationError(EsiaError, AuthorizationError):
    """ESIA refused the authorization request with an ``ESIA-0NNNNN`` number; also an
    :class:`~sso_bridge.oidc.errors.AuthorizationError`."""

    code = "esia.access_denied"


class EsiaTokenError(EsiaError, TokenError):
    """ESIA refused the token request with an ``ESIA-0NNNNN`` number; also a
    :class:`~sso_bridge.oidc.errors.TokenError`."""

    code = "esia.request_invalid"
