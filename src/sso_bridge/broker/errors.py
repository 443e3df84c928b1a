"""The broker's refusals: ``broker.*`` codes (docs/errors.md)."""

from __future__ import annotations

import math
from datetime import timedelta

from sso_bridge.errors import BridgeError, Code, declare
from sso_bridge.mfa.errors import AuthError

__all__ = ["BadCredentials", "BrokerError", "LogoutError", "StepUpRequired", "TooManyStarts"]


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
            "broker.hide_last",
            409,
            "The only account offered cannot be hidden from the chooser.",
        ),
        Code(
            "broker.hide_unsupported",
            501,
            "The site's link store cannot hide accounts from the chooser.",
        ),
        Code(
            "broker.not_federated",
            409,
            "Only a session of a login through the state portal has accounts to hide.",
        ),
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
        Code(
            "broker.stale_authentication",
            401,
            "The IdP answered from an earlier login, or did not say when; log in at the IdP again.",
        ),
        Code(
            "broker.acr_not_met",
            401,
            "The IdP did not authenticate the person as strongly as the action needs.",
        ),
        Code(
            "broker.step_up_wrong_person",
            403,
            "The IdP authenticated someone else than the person of the session.",
        ),
        Code(
            "broker.step_up_unavailable",
            403,
            "The session did not come from an IdP login, so it cannot be stepped up.",
        ),
    )
    code = "broker.error"


class StepUpRequired(BrokerError):
    """The action needs the person to authenticate again at the IdP first (a step-up,
    docs/reauthentication.md)."""

    codes = declare(
        Code(
            "broker.step_up_required",
            401,
            "This action needs a fresh or stronger authentication at the IdP first.",
        ),
    )
    code = "broker.step_up_required"


class BadCredentials(AuthError, BrokerError):
    """Unknown login and wrong password look the same to the person (``auth.*``, but
    also a :class:`BrokerError`)."""

    code = "auth.bad_password"

    def __init__(self) -> None:
        super().__init__("wrong organisation, login or password")


class LogoutError(BrokerError):
    """A logout message that no logout of this broker explains, or a provider that cannot
    hear it (docs/logout.md)."""

    codes = declare(
        Code(
            "broker.logout_unknown",
            400,
            "The IdP's logout answer matches no logout of this browser (used or expired).",
        ),
        Code(
            "broker.logout_unsupported",
            404,
            "This provider takes no logout messages from its IdP (none is configured).",
        ),
    )
    code = "broker.logout_unknown"


class TooManyStarts(BrokerError):
    """Too many logins started at an IdP from one IP address (docs/security.md, "Limits");
    ``retry_after`` is the wait until the window ends."""

    codes = declare(
        Code(
            "broker.ip_start_limit",
            429,
            "Too many logins started at the IdP from this IP address for now; wait.",
        ),
    )
    code = "broker.ip_start_limit"

    def __init__(self, retry_after: timedelta) -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(
            f"too many logins started from this network address; try again in {seconds} s"
        )
        self.retry_after = retry_after
