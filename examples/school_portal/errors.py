"""Refusals of the portal's own pages (``portal.*`` codes)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, declare

__all__ = ["PortalError"]


class PortalError(BridgeError):
    """A request to a diary page that the portal refuses.

    ``status`` is the HTTP status of the page that explains it.
    """

    family = "portal"
    about = "The school portal's own diary pages."
    codes = declare(
        Code("portal.error", 400, "The portal refused the request."),
        Code("portal.class_unavailable", 404, "The class is not in the teacher's journal."),
        Code("portal.bad_grade", 400, "The grade or the pupil of a grade is not valid."),
        Code("portal.account_unavailable", 404, "The session's account no longer exists."),
    )
    code = "portal.error"

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code)
        self.status = status
