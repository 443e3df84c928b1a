"""The views of the auth pages and :func:`require_session`: translation only."""

from __future__ import annotations

import functools
from collections.abc import Callable, Container, Iterator, Mapping
from http.cookies import Morsel
from typing import Any, TypeVar, cast

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
    HttpResponseNotFound,
)
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from sso_bridge.observe import Exchange
from sso_bridge.observe.requests import HEADER
from sso_bridge.web.core import AuthRoutes, Head, Reading, WebRequest, WebResponse
from sso_bridge.web.django.apps import auth
from sso_bridge.web.errors import RequestRefused

__all__ = ["console_route", "probe", "require_session", "route", "to_response"]

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def _head(request: HttpRequest) -> Head:
    meta = request.META
    query, client = meta.get("QUERY_STRING", ""), meta.get("REMOTE_ADDR", "")
    headers = request.headers.items()
    return Head(request.method or "GET", request.path, query, headers, request.COOKIES, client)


def _reader(request: HttpRequest) -> Callable[[Reading], WebRequest]:
    def fields() -> Iterator[tuple[str, str]]:
        return ((name, value) for name, values in request.POST.lists() for value in values)

    def read(reading: Reading) -> WebRequest:
        # Django bounds the body by its Content-Length, which Reading checked already
        try:
            reading.add(request.body)
        except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE, when below our limit
            raise RequestRefused(
                "the request body is too large", code="web.form_too_large"
            ) from None
        return reading.request(fields, errors=(SuspiciousOperation, MultiPartParserError))

    return read


class _SetCookie(Morsel[str]):
    """A ``Set-Cookie`` value as the library wrote it, among ``response.cookies`` (which
    Django sends one header each; of two with one name the later is kept, as browsers do)."""

    def __init__(self, header: str) -> None:
        super().__init__()
        name, _, rest = header.partition("=")
        value = rest.split(";", 1)[0]
        self.set(name, value, value)
        self.header = header

    def OutputString(self, attrs: Container[str] | None = None) -> str:
        return self.header


def _cookie(response: HttpResponseBase, header: str) -> None:
    morsel = _SetCookie(header)
    response.cookies[morsel.key] = morsel


def to_response(auth: AuthRoutes, response: WebResponse) -> HttpResponse:
    """A Django response for ``response`` (rendered, with its cookies). ``Connection`` is
    left to the server: WSGI forbids it to applications (Django's server closes a
    connection whose body was left unread itself)."""
    rendered = auth.rendered(response)
    result = HttpResponse(rendered.body, status=rendered.status)

    def header(name: str, value: str) -> None:
        if name.lower() != "connection":
            result[name] = value

    rendered.write(header, functools.partial(_cookie, result))
    return result


def _exchange(pages: AuthRoutes, request: HttpRequest, route: str | None = None) -> Exchange:
    client = request.META.get("REMOTE_ADDR", "")
    exchange = pages.exchange(request.method or "GET", request.path, request.headers.get(HEADER))
    exchange.ip, exchange.route = str(client), route
    return exchange


def _answered(exchange: Exchange, response: HttpResponseBase) -> HttpResponseBase:
    response[HEADER] = exchange.request_id
    exchange.close(response.status_code)
    return response


def _observed(
    view: Callable[..., HttpResponseBase], route: str | None = None
) -> Callable[..., HttpResponseBase]:
    """``view`` with its request's log line and id."""

    @functools.wraps(view)
    def observed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        exchange = _exchange(auth(), request, route)
        try:
            return _answered(exchange, view(request, *args, **kwargs))
        finally:
            exchange.close(500)  # nothing answered: the view failed

    return observed


def probe(name: str) -> Callable[..., HttpResponseBase]:
    """The view of a probe route (``healthz``, ``readyz``, ``metrics``)."""

    def view(request: HttpRequest) -> HttpResponseBase:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET"])
        pages = auth()
        return to_response(pages, pages.probe(name))

    return _observed(view)


def route(methods: Mapping[str, str]) -> Callable[..., HttpResponseBase]:
    """The view of one path of the auth pages: ``methods`` maps each method to its route
    (:data:`~sso_bridge.web.core.PATHS`). The pages check their own CSRF tokens."""

    def view(request: HttpRequest, **params: str) -> HttpResponseBase:
        name = methods.get(request.method or "")
        if name is None:
            return HttpResponseNotAllowed(list(methods))
        pages = auth()
        return to_response(
            pages, pages.serve(name, pages.read(_head(request), _reader(request)), **params)
        )

    return csrf_exempt(_observed(view))


def console_route(name: str, method: str) -> Callable[..., HttpResponseBase]:
    """The view of one route of the operator's console: 404 while
    ``SSO_BRIDGE["CONFIG"]["console"]`` is unset, else the role check (403), then the page."""

    def view(request: HttpRequest) -> HttpResponseBase:
        pages = auth()
        console = pages.console
        if console is None:
            return HttpResponseNotFound()
        if request.method != method:
            return HttpResponseNotAllowed([method])
        read = functools.partial(pages.read, _head(request), _reader(request))
        return to_response(pages, console.answer(name, request, read))

    return csrf_exempt(_observed(view))


def require_session(view: View) -> View:
    """Let only a live session through to ``view`` (see :meth:`AuthRoutes.require`); for a
    class-based view, ``method_decorator(require_session)``. The view finds
    ``request.sso_session``, ``request.sso_csrf_token`` and ``request.sso_restored`` (see
    ``WebConfig.restore_in_place``); a POST, PUT, PATCH or DELETE must carry the token
    (in place of Django's own CSRF check, which this view skips)."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        pages = auth()
        passed = pages.admit(pages.read(_head(request), _reader(request)))
        if isinstance(passed, WebResponse):
            return to_response(pages, passed)
        setattr(request, "sso_session", passed.session)  # noqa: B010 - not an HttpRequest field
        setattr(request, "sso_csrf_token", passed.csrf_token)  # noqa: B010
        setattr(request, "sso_restored", passed.restored)  # noqa: B010
        response = view(request, *args, **kwargs)
        passed.write(functools.partial(_cookie, response))
        return response

    return cast(View, csrf_exempt(_observed(guarded)))
