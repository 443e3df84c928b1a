"""Errors of sessions and kept requests; each refusal has its own stable ``session.*`` code."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sso_bridge.errors import BridgeError

if TYPE_CHECKING:
    from sso_bridge.sessions.model import Session

__all__ = ["SessionError", "SessionExpired", "SessionIpChanged"]


class SessionError(BridgeError):
    """A session or a kept request was refused; ``code`` says why (``session.*``)."""


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

    The session has been ended when this is raised. ``session.ip`` is the address it was
    bound to and ``seen_ip`` the one the request came from: the caller writes a security
    event and calls its alert hook with both.
    """

    code = "session.ip_changed"

    def __init__(self, session: Session, seen_ip: str) -> None:
        super().__init__(f"the session of {session.ip} was used from {seen_ip}; it has been ended")
        self.session = session
        self.seen_ip = seen_ip

    @property
    def bound_ip(self) -> str:
        """The address the session was bound to."""
        return self.session.ip
