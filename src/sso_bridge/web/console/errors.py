"""Refusals of the operator's console (``console.*`` codes)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, InvalidInput, declare

__all__ = ["ConsoleError", "ConsoleForbidden", "ConsoleInputError"]


class ConsoleError(BridgeError):
    """A console request that cannot be served; nothing was changed."""

    family = "console"
    about = "The operator's console ([console.md](console.md))."
    codes = declare(
        Code("console.forbidden", 403, "The host's role check did not admit this request."),
        Code("console.bad_input", 400, "A console field is missing, too long or malformed."),
        Code("console.bad_date", 400, "The birth date is not a date of the form YYYY-MM-DD."),
        Code("console.unknown_action", 404, "The console has no action of this name."),
        Code(
            "console.requests_off",
            404,
            "Link requests are not kept by this installation (no link request store).",
        ),
    )
    code = "console.bad_input"


class ConsoleForbidden(ConsoleError):
    """The role check refused the request (the answer is a bare 403)."""

    code = "console.forbidden"


class ConsoleInputError(ConsoleError, InvalidInput):
    """A malformed console field; also an :class:`~sso_bridge.errors.InvalidInput`."""

    code = "console.bad_input"
