"""Refusals of the mock's SAML IdP and the helpers that word them."""

from __future__ import annotations

from sso_bridge.errors import InvalidInput
from sso_bridge.saml.errors import SamlError

__all__ = ["SamlRequestError", "bad_metadata", "one_line", "reason", "refused"]


class SamlRequestError(SamlError):
    """A SAML message refused by the IdP, with a stable ``code``.

    ``saml.bad_request`` (missing, undecodable, too large, not well-formed, with a DTD, of
    the wrong kind or invalid), ``saml.unknown_sp``, ``saml.bad_request_signature`` (missing
    where required, not following the SAML signature profile, or not verifying with the
    service provider's metadata), ``saml.bad_destination``, ``saml.bad_acs``,
    ``saml.unsupported_binding``, ``saml.no_logout_endpoint``, ``saml.nothing_to_replay``.

    When the library refused the message, the message ends with the library's own code in
    parentheses, e.g. ``(saml.bad_canonicalization)``.
    """

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


def bad_metadata(message: str) -> InvalidInput:
    """Service provider metadata (or settings) the IdP cannot use."""
    return InvalidInput(message, code="saml.bad_metadata")
