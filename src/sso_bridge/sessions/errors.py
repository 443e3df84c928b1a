"""Errors of sessions and kept requests; each refusal has its own stable ``session.*`` code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sso_bridge.address import ClientAddress, parse_address
from sso_bridge.errors import BridgeError, Code, declare

if TYPE_CHECKING:
    from sso_bridge.sessions.model import Session

__all__ = [
    "SessionEnded",
    "SessionError",
    "SessionExpired",
    "SessionIpChanged",
    "SessionMissing",
    "SessionUnknown",
]


class SessionError(BridgeError):
    """A session or a kept request was refused; ``code`` says why (``session.*``).

    It has no default code: every refusal names its own (or is a subclass that does).
    """

    family = "session"
    about = (
        "Sessions bound to the client IP and a lifetime, CSRF tokens, and requests kept "
        "across a new login."
    )
    codes = declare(
        Code("session.missing", 401, "No session token, or one that is not well-formed; log in."),
        Code(
            "session.unknown",
            401,
            "No such session: revoked, rotated, ended or long expired; log in.",
        ),
        Code(
            "session.ended_elsewhere",
            401,
            "The session was ended from another device or by the state portal; log in again.",
        ),
        Code("session.expired", 401, "The session reached its absolute lifetime; log in again."),
        Code("session.idle_expired", 401, "The session was idle too long; log in again."),
        Code(
            "session.ip_changed", 401, "The session was used from another IP address and was ended."
        ),
        Code("session.account_not_offered", 403, "This session may not switch to that account."),
        Code(
            "session.csrf_invalid",
            403,
            "The form's CSRF token is wrong or missing; reload the page.",
        ),
        Code("session.kept_request_unknown", 404, "No kept request with this id for this browser."),
        Code(
            "session.kept_request_other_account",
            403,
            "Another account logged in; the kept request was discarded.",
        ),
        Code(
            "session.kept_request_too_large",
            413,
            "The request is too large to keep across the login.",
        ),
        Code(
            "session.kept_request_bad_path",
            400,
            "A kept request must go to a local path of this site.",
        ),
        Code("session.kept_request_bad_method", 400, "Only GET and POST requests are kept."),
    )


class SessionMissing(SessionError):
    """No session token came with the request, or one that is not well-formed."""

    code = "session.missing"


class SessionUnknown(SessionError):
    """The token names no live session: revoked, rotated, ended or long expired."""

    code = "session.unknown"


class SessionExpired(SessionError):
    """The session has passed its absolute (``session.expired``) or idle
    (``session.idle_expired``) deadline; ``account_id`` says whose it was, so that the
    person can be asked to log in again as that account."""

    def __init__(self, message: str, *, session: Session, code: str) -> None:
        super().__init__(message, code=code)
        self.session = session
        self.account_id = session.account_id


class SessionIpChanged(SessionError):
    """A request came from another client than the one the session is bound to.

    The session has been ended when this is raised. ``bound`` is the address it was
    bound to and ``seen`` the one the request came from (both
    :data:`~sso_bridge.address.ClientAddress`): the caller writes a security event and
    calls its alert hook with both.
    """

    code = "session.ip_changed"

    def __init__(self, session: Session, seen: ClientAddress) -> None:
        super().__init__(f"the session of {session.ip} was used from {seen}; it has been ended")
        self.session = session
        self.bound: ClientAddress = parse_address(session.ip)
        self.seen: ClientAddress = seen

    @property
    def bound_ip(self) -> str:
        """``bound`` as text (the former interface)."""
        return str(self.bound)

    @property
    def seen_ip(self) -> str:
        """``seen`` as text (the former interface)."""
        return str(self.seen)


class SessionEnded(SessionUnknown):
    """The token's session was ended on purpose by someone other than this browser: from
    another of the person's devices (the sessions page, "log out everywhere") or by the
    state portal (a back-channel or IdP-initiated logout). ``reason`` is ``"elsewhere"``
    or ``"idp"``."""

    code = "session.ended_elsewhere"

    def __init__(self, reason: str) -> None:
        super().__init__("the session was ended from elsewhere", code=self.code)
        self.reason = reason
