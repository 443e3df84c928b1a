"""The broker's refusals: ``broker.*`` codes (docs/errors.md)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, declare
from sso_bridge.mfa.errors import AuthError

__all__ = ["BadCredentials", "BrokerError"]


class BrokerError(BridgeError):
    """A login step refused by the broker's rules."""

    family = "broker"
    about = "The broker's login steps and rules (docs/broker.md)."
    codes = declare(
        Code("broker.error", 500, "A login step failed; the message says why."),
        Code(
            "broker.out_of_order",
            409,
            "A login step was taken out of order; start the login again.",
        ),
        Code(
            "broker.step_unknown",
            400,
            "The login step is unknown, used or expired; start the login again.",
        ),
        Code("broker.step_foreign", 403, "The login step belongs to another browser."),
        Code("broker.not_offered", 403, "That account was not offered to this person."),
        Code("broker.not_linked", 403, "That account is no longer linked to this person's login."),
        Code(
            "broker.no_match",
            404,
            "No school account is linked or matched; log in locally, then link.",
        ),
        Code(
            "broker.account_blocked",
            403,
            "The linked school account is blocked; ask the administrator.",
        ),
        Code(
            "broker.no_second_factor",
            403,
            "A second factor is required but none is on record for the account.",
        ),
        Code(
            "broker.provider_disabled",
            403,
            "Login through this provider is switched off in configuration.",
        ),
        Code("broker.unknown_provider", 404, "No provider of that name is configured."),
        Code(
            "broker.wrong_provider",
            400,
            "The answer came from another provider than the login started with.",
        ),
        Code(
            "broker.idp_initiated",
            403,
            "A login started at the IdP never links an account; log in from the site.",
        ),
        Code(
            "broker.saml_request_mismatch", 401, "The SAML answer is for a login started elsewhere."
        ),
        Code("broker.session_not_yours", 404, "No session of this account has that id."),
        Code(
            "broker.not_an_employee",
            403,
            "A staff account, but ESIA does not list the person in its organisation.",
        ),
    )
    code = "broker.error"


class BadCredentials(AuthError, BrokerError):
    """Unknown login and wrong password look the same to the person (``auth.*``, but
    also a :class:`BrokerError`)."""

    code = "auth.bad_password"

    def __init__(self) -> None:
        super().__init__("wrong organisation, login or password")
