"""Refusals of the web adapters themselves (``web.*`` codes)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError

__all__ = ["WebError", "form_too_large"]


class WebError(BridgeError):
    """A request the web layer cannot turn into a broker call."""

    code = "web.error"


def form_too_large(limit: int) -> WebError:
    """The refusal of a request body over ``limit`` bytes (``web.form_too_large``)."""
    return WebError(f"the form is larger than {limit} bytes", code="web.form_too_large")
