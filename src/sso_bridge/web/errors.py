"""Refusals of the web adapters themselves (``web.*`` codes)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["RequestRefused", "WebError"]


class WebError(BridgeError):
    """A request the web layer cannot turn into a broker call."""

    code = "web.error"


class RequestRefused(WebError):
    """A request over one of the limits of :mod:`sso_bridge.web.body`, or malformed; its
    page is sent with ``Connection: close``, since part of the body may be left unread."""
