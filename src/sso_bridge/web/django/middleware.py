"""A log line and a request id for every request of a Django project::

    MIDDLEWARE = ["sso_bridge.web.django.middleware.RequestLogMiddleware", ...]

First in the list, so that the lines of every other middleware carry the id. Without it
the auth routes, the probes and ``require_session`` views still log themselves.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from sso_bridge.observe import Exchange
from sso_bridge.observe.requests import HEADER

__all__ = ["RequestLogMiddleware"]


class RequestLogMiddleware:
    """One ``sso_bridge.request`` line per request; the id echoed in ``X-Request-ID``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        client = str(request.META.get("REMOTE_ADDR", ""))
        method, given = request.method or "GET", request.headers.get(HEADER)
        exchange = Exchange.open(method, request.path, given, client)
        try:
            response = self.get_response(request)
            match = request.resolver_match
            if match is not None and match.route:
                exchange.route = "/" + match.route
            response[HEADER] = exchange.request_id
            exchange.close(response.status_code)
            return response
        finally:
            exchange.close(500)  # nothing answered: the request failed
