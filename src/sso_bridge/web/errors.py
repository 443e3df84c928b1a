"""Refusals of the web adapters themselves (``web.*`` codes)."""

from __future__ import annotations

from sso_bridge.errors import BridgeError, Code, declare

__all__ = ["RequestRefused", "WebError"]


class WebError(BridgeError):
    """A request the web layer cannot turn into a broker call."""

    family = "web"
    about = "The web adapters for Starlette/FastAPI and Flask (docs/integration.md)."
    codes = declare(
        Code("web.error", 400, "The web adapter refused the request; the message says why."),
        Code("web.form_too_large", 413, "The submitted form is larger than the adapter's limit."),
        Code("web.too_many_fields", 413, "The form has more fields than the adapter's limit."),
        Code("web.field_too_large", 413, "A form field is larger than the adapter's limit."),
        Code("web.bad_form", 400, "The form body is malformed, or the client stopped mid-body."),
        Code(
            "web.query_too_large", 414, "The query string is too long or has too many parameters."
        ),
        Code(
            "web.headers_too_large", 431, "The request has more headers than the adapter's limit."
        ),
        Code("web.bad_language", 400, "The language switch names a language the pages lack."),
        Code("web.bad_next", 400, "The language switch's return address is not of this site."),
    )
    code = "web.error"


class RequestRefused(WebError):
    """A request over one of the limits of :mod:`sso_bridge.web.body`, or malformed; its
    page is sent with ``Connection: close``, since part of the body may be left unread."""
