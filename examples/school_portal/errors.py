"""Refusals of the portal's own pages (``portal.*`` codes)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["PortalError"]


class PortalError(BridgeError):
    """A request to a diary page that the portal refuses.

    ``status`` is the HTTP status of the page that explains it.
    """

    code = "portal.error"

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message, code=code)
        self.status = status
