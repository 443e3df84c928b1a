"""Refusals of the mock's SAML IdP and the helpers that word them."""

from __future__ import annotations

from sso_bridge.errors import Code, declare
from sso_bridge.saml.errors import SamlError, SamlInputError

__all__ = ["SamlRequestError", "bad_metadata", "one_line", "reason", "refused"]


class SamlRequestError(SamlError):
    """A SAML message refused by the IdP, with a stable ``code``.

    ``saml.bad_request`` (missing, undecodable, too large, not well-formed, with a DTD, of
    the wrong kind or invalid), ``saml.unknown_sp``, ``saml.bad_request_signature`` (missing
    where required, not following the SAML signature profile, or not verifying with the
    service provider's metadata), ``saml.bad_destination``, ``saml.bad_acs``,
    ``saml.unsupported_binding``, ``saml.no_logout_endpoint``, ``saml.nothing_to_replay``,
    ``saml.no_saml_session`` (no NameID was issued to the SP in that IdP session),
    ``saml.bad_logout_response`` (a LogoutResponse that is malformed, unsigned, not
    verifying, from another SP or not answering a pending LogoutRequest).

    When the library refused the message, the message ends with the library's own code in
    parentheses, e.g. ``(saml.bad_canonicalization)``.
    """

    codes = declare(
        Code(
            "saml.bad_request", 400, "The SAML request is missing, malformed or of the wrong kind."
        ),
        Code("saml.unknown_sp", 403, "The service provider is not registered with the IdP."),
        Code("saml.bad_request_signature", 403, "The request's signature is missing or wrong."),
        Code("saml.bad_destination", 400, "The request is addressed to another IdP endpoint."),
        Code("saml.bad_acs", 403, "The requested ACS is not in the SP's metadata."),
        Code("saml.unsupported_binding", 400, "Responses are sent over HTTP-POST only."),
        Code("saml.no_logout_endpoint", 400, "The SP's metadata has no SingleLogoutService."),
        Code("saml.nothing_to_replay", 409, "No assertion was sent to this SP yet to replay."),
        Code("saml.no_saml_session", 404, "The SP got no login in that IdP session."),
        Code(
            "saml.bad_logout_response",
            400,
            "The LogoutResponse is malformed, unsigned or answers no pending LogoutRequest.",
        ),
    )
    code = "saml.bad_request"


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines too) made one space."""
    return " ".join(str(text).split())


def reason(exc: SamlError) -> str:
    """The library's refusal as one line: its message and, in parentheses, its code."""
    return one_line(f"{exc.message} ({exc.code})")


def refused(exc: SamlError, code: str) -> SamlRequestError:
    """A refusal of the library as the IdP's own refusal ``code``."""
    return SamlRequestError(reason(exc), code=code)


def bad_metadata(message: str) -> SamlInputError:
    """Service provider metadata (or settings) the IdP cannot use."""
    return SamlInputError(message, code="saml.bad_metadata")
