"""The auth pages in a Starlette or FastAPI application::

    app = Starlette(routes=[auth_routes(broker, WebConfig()), Route("/grades", grades)])

    @require_session
    async def grades(request: Request) -> Response:
        session = request.state.sso_session  # and request.state.sso_csrf_token

Translation only (see :mod:`sso_bridge.web.core`); the broker is called in a worker
thread, since its stores block.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Message, Receive, Scope, Send

from sso_bridge.broker import Broker
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.inline import WouldBlock, on_loop
from sso_bridge.observe import Exchange, Observe
from sso_bridge.observe.requests import HEADER
from sso_bridge.web.asgi import BodyLimit, RequestLog
from sso_bridge.web.console.config import CONSOLE_ROUTES
from sso_bridge.web.console.pages import ConsolePages
from sso_bridge.web.core import (
    ROUTES,
    Authenticated,
    AuthRoutes,
    RouteSpec,
    WebConfig,
    WebRequest,
    WebResponse,
)
from sso_bridge.web.errors import RequestRefused
from sso_bridge.web.incoming import Head, Reading, bad_form

__all__ = ["AuthMount", "BodyLimit", "RequestLog", "auth_routes", "read_request"]
__all__ += ["require_session"]
__all__ += ["in_language", "replayed", "to_response", "web_request"]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


_CONSOLE_ROUTE = "sso_bridge.console_route"
"""The scope key under which :class:`AuthMount` notes the console route it matched."""


class AuthMount(Mount):
    """The auth routes mounted at :attr:`WebConfig.prefix`; :attr:`auth` serves them.
    With :attr:`WebConfig.console` it also serves the operator's console, at the
    console's own prefix (which need not lie under the auth prefix)."""

    def __init__(self, auth: AuthRoutes) -> None:
        routes = [
            Route(s.path, _endpoint(auth, s), methods=[s.method], name=s.name) for s in ROUTES
        ]
        routes += [Route(s.path, _probe(auth, s.name), name=s.name) for s in auth.probes]
        super().__init__(auth.config.prefix, routes=routes, name="sso_bridge")
        self.auth = auth
        console = auth.console
        self.console_routes = (
            []
            if console is None
            else [
                Route(
                    console.config.url(s.path),
                    _console_endpoint(auth, console, s.name),
                    methods=[s.method],
                    name=s.name,
                )
                for s in CONSOLE_ROUTES
            ]
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        partial: tuple[Match, Scope] | None = None
        for route in self.console_routes:  # first: the console may sit under the prefix
            match, child = route.matches(scope)
            if match is Match.FULL:
                return match, {**child, _CONSOLE_ROUTE: route}
            if match is Match.PARTIAL and partial is None:
                partial = match, {**child, _CONSOLE_ROUTE: route}
        # a console path asked with another method: 405 from the console's route, not
        # 404 from the auth routes around it
        return partial if partial is not None else super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = scope.get(_CONSOLE_ROUTE)
        if isinstance(route, Route):
            await route.handle(scope, receive, send)
        else:
            await super().handle(scope, receive, send)


def auth_routes(
    broker: Broker,
    config: WebConfig | None = None,
    *,
    observe: Observe | Mapping[str, Any] | None = None,
) -> AuthMount:
    """The auth pages of ``broker`` (and the probes) as one mount, to put among the
    application's routes; ``observe``: see :class:`~sso_bridge.observe.Observe`."""
    return AuthMount(AuthRoutes(broker, config, observe=observe))


def replayed(request: Request, body: bytes) -> Request:
    """A request over the same scope whose body is ``body`` (already read, within the
    limits), for the view and for Starlette's own form parser."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()  # after the body: the disconnect, when it comes

    return Request(request.scope, receive)


def _head(request: Request) -> Head:
    raw = ((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw)
    client = request.client.host if request.client else ""
    return Head(request.method, request.url.path, request.url.query, raw, request.cookies, client)


async def read_request(request: Request, config: WebConfig) -> tuple[WebRequest, Request]:
    """``request`` as a :class:`WebRequest` within every limit, and the request to hand on,
    whose body is the one read here (one the framework read first is taken from its cache)."""
    reading = Reading(config, _head(request))
    if _bodiless(reading):  # HTTP/1.1 framing: nothing follows the head; keep it as it is
        return reading.request(), request
    onward = request
    try:
        async for chunk in request.stream():
            reading.add(chunk)  # refused past the limit: the rest is never received
        onward = replayed(request, reading.counter.body())
    except ClientDisconnect:
        raise RequestRefused("the client went away mid-body", code="web.bad_form") from None
    except RuntimeError:  # read by the framework before the view (FastAPI's Form parameters)
        pass
    parsed: list[tuple[str, Any]] = []
    if onward is request or reading.multipart:  # Starlette's parser, under our limits
        fields, size = config.max_form_fields, config.max_field_bytes
        try:
            form = await onward.form(max_files=fields, max_fields=fields, max_part_size=size)
        except HTTPException:
            raise bad_form() from None
        parsed = form.multi_items()
    return reading.request(lambda: parsed, parsed=onward is request), onward


def _bodiless(reading: Reading) -> bool:
    """Whether the request can carry no body: neither ``Content-Length`` (other than 0)
    nor ``Transfer-Encoding`` (RFC 9112 6.3); a multipart one goes to the framework's
    parser whatever its length, as before."""
    headers = reading.headers
    if "transfer-encoding" in headers or reading.multipart:
        return False
    return headers.get("content-length", "0").strip() in ("", "0")


async def web_request(request: Request, config: WebConfig) -> WebRequest:
    """``request`` as a :class:`WebRequest`, within the limits (see :func:`read_request`)."""
    return (await read_request(request, config))[0]


def to_response(auth: AuthRoutes, response: WebResponse) -> Response:
    """A Starlette response for ``response`` (rendered; ``Set-Cookie`` may repeat)."""
    rendered = auth.rendered(response)
    result = Response(rendered.body, status_code=rendered.status)
    rendered.write(
        result.headers.__setitem__, functools.partial(result.headers.append, "Set-Cookie")
    )
    return result


def in_language(auth: AuthRoutes, request: Request, response: WebResponse) -> WebResponse:
    """``response`` in the language of ``request`` (the switch's cookie, else
    ``Accept-Language``, else :attr:`WebConfig.language`), for a host's own page; its
    language switch leads back to the page."""
    web = WebRequest(
        request.method,
        request.url.path,
        cookies=request.cookies,
        headers={"accept-language": request.headers.get("accept-language", "")},
        query_string=request.url.query,
    )
    return response.speaking(auth.language_of(web), auth.here(web))


async def _read(auth: AuthRoutes, request: Request) -> tuple[WebRequest, Request] | Response:
    try:
        return await read_request(request, auth.config)
    except BridgeError as exc:
        return to_response(auth, auth.refusal(exc, Head(request.method, request.url.path)))


def _exchange(auth: AuthRoutes, request: Request, route: str | None = None) -> Exchange:
    client = request.client.host if request.client else ""
    exchange = auth.exchange(request.method, request.url.path, request.headers.get(HEADER), client)
    exchange.route = route
    return exchange


def _answered(exchange: Exchange, response: Any) -> Any:
    status = 200  # what FastAPI answers for a view's plain value
    if isinstance(response, Response):
        response.headers[HEADER] = exchange.request_id
        status = response.status_code
    exchange.close(status)
    return response


def _endpoint(auth: AuthRoutes, spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    route = auth.config.url(spec.path)

    async def endpoint(request: Request) -> Response:
        exchange = _exchange(auth, request, route)
        try:
            read = await _read(auth, request)
            if isinstance(read, Response):
                return cast(Response, _answered(exchange, read))
            params = {k: str(v) for k, v in request.path_params.items()}
            served = await run_in_threadpool(auth.handle, spec.name, read[0], **params)
            return cast(Response, _answered(exchange, to_response(auth, served)))
        finally:
            exchange.close(500)  # nothing answered: the request failed

    return endpoint


def _console_endpoint(
    auth: AuthRoutes, console: ConsolePages, name: str
) -> Callable[[Request], Awaitable[Response]]:
    route = console.config.url(next(s.path for s in CONSOLE_ROUTES if s.name == name))

    async def endpoint(request: Request) -> Response:
        exchange = _exchange(auth, request, route)
        try:
            operator = await run_in_threadpool(console.operator, request)
            if operator is None:  # the body is never read
                return cast(Response, _answered(exchange, to_response(auth, console.forbidden())))
            read = await _read(auth, request)
            if isinstance(read, Response):
                return cast(Response, _answered(exchange, read))
            served = await run_in_threadpool(console.serve, name, read[0], operator)
            return cast(Response, _answered(exchange, to_response(auth, served)))
        finally:
            exchange.close(500)

    return endpoint


def _probe(auth: AuthRoutes, name: str) -> Callable[[Request], Awaitable[Response]]:
    route = auth.config.url(f"/{name}")

    async def probe(request: Request) -> Response:
        exchange = _exchange(auth, request, route)
        try:
            served = await run_in_threadpool(auth.probe, name)
            return cast(Response, _answered(exchange, to_response(auth, served)))
        finally:
            exchange.close(500)

    return probe


def _find_auth(routes: Iterable[BaseRoute]) -> AuthRoutes | None:
    for route in routes:
        found = route.auth if isinstance(route, AuthMount) else None
        if found is None and isinstance(route, Mount):
            found = _find_auth(route.routes)
        if found is not None:
            return found
    return None


def _auth_of(request: Request) -> AuthRoutes:
    state = request.app.state
    if getattr(state, "sso_bridge", None) is None:
        state.sso_bridge = _find_auth(request.app.routes)
        if state.sso_bridge is None:
            message = "require_session needs the auth routes: add auth_routes(...) to the app"
            raise ConfigError(message, code="config.invalid")
    return cast(AuthRoutes, state.sso_bridge)


async def _required(auth: AuthRoutes, web: WebRequest) -> Authenticated | WebResponse:
    """``auth.require(web)`` on the event loop when what it reads could be read ahead
    without blocking and it needs nothing more; on a worker thread otherwise
    (:mod:`sso_bridge.inline`)."""
    ahead = await auth.prefetch(web)
    if isinstance(ahead, WebResponse):
        return ahead
    if ahead is not None:
        try:
            with on_loop(ahead):
                return auth.require(web)
        except WouldBlock:
            pass
    return await run_in_threadpool(auth.require, web)


def require_session(endpoint: Endpoint) -> Endpoint:
    """Let only a live session through to ``endpoint`` (a Starlette endpoint, a method
    of an ``HTTPEndpoint``, or a FastAPI path operation that takes ``request: Request``);
    see :meth:`AuthRoutes.require`. The view finds ``request.state.sso_session``,
    ``request.state.sso_csrf_token`` (a POST must carry it) and
    ``request.state.sso_restored`` (see :attr:`WebConfig.restore_in_place`).
    """

    is_coroutine = inspect.iscoroutinefunction(endpoint)

    @functools.wraps(endpoint)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        request = next((v for v in (*args, *kwargs.values()) if isinstance(v, Request)), None)
        if request is None:
            raise TypeError("a view under require_session must take the request (request: Request)")
        auth = _auth_of(request)
        exchange = _exchange(auth, request)
        try:
            return _answered(exchange, await _guarded(auth, request, args, kwargs))
        finally:
            exchange.close(500)

    async def _guarded(
        auth: AuthRoutes, request: Request, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        read = await _read(auth, request)
        if isinstance(read, Response):
            return read
        web, onward = read  # the view gets the request whose body was read here
        args = tuple(onward if value is request else value for value in args)
        kwargs = {k: onward if v is request else v for k, v in kwargs.items()}
        passed = await _required(auth, web)
        if isinstance(passed, WebResponse):
            return to_response(auth, passed)
        onward.state.sso_session, onward.state.sso_csrf_token = passed.session, passed.csrf_token
        onward.state.sso_restored = passed.restored
        if is_coroutine:
            result = await endpoint(*args, **kwargs)
        else:
            result = await run_in_threadpool(endpoint, *args, **kwargs)
        if isinstance(result, Response):
            passed.write(functools.partial(result.headers.append, "Set-Cookie"))
        return result

    # FastAPI reads the parameters from the signature; give it real types, since the
    # view's string annotations would otherwise be resolved in this module
    with contextlib.suppress(NameError, TypeError, ValueError):
        guarded.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
    return cast(Endpoint, guarded)
