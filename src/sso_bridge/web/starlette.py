"""The auth pages in a Starlette or FastAPI application::

    app = Starlette(routes=[auth_routes(broker, WebConfig()), Route("/grades", grades)])

    @require_session
    async def grades(request: Request) -> Response:
        session = request.state.sso_session  # and request.state.sso_csrf_token

Only requests and responses are translated here; the broker is called in a worker
thread, since its stores block.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar, cast

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sso_bridge.broker import Broker
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.web.body import (
    MULTIPART,
    BodyCounter,
    check_fields,
    media_type,
    parse_form,
    read_headers,
    read_query,
)
from sso_bridge.web.core import ROUTES, AuthRoutes, RouteSpec, WebConfig, WebRequest, WebResponse
from sso_bridge.web.errors import RequestRefused

__all__ = [
    "AuthMount",
    "BodyLimit",
    "auth_routes",
    "read_request",
    "replayed",
    "require_session",
    "to_response",
    "web_request",
]

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class AuthMount(Mount):
    """The auth routes mounted at :attr:`WebConfig.prefix`; :attr:`auth` serves them."""

    def __init__(self, auth: AuthRoutes) -> None:
        routes = [
            Route(spec.path, _endpoint(auth, spec), methods=[spec.method], name=spec.name)
            for spec in ROUTES
        ]
        super().__init__(auth.config.prefix, routes=routes, name="sso_bridge")
        self.auth = auth


def auth_routes(broker: Broker, config: WebConfig | None = None) -> AuthMount:
    """The auth pages of ``broker`` as one mount, to put among the application's routes."""
    return AuthMount(AuthRoutes(broker, config))


async def _body(request: Request, config: WebConfig) -> bytes | None:
    counter = BodyCounter(config.max_form_bytes, request.headers.get("content-length"))
    try:
        async for chunk in request.stream():
            counter.add(chunk)  # refused past the limit: the rest is never received
    except ClientDisconnect:
        raise RequestRefused("the client went away mid-body", code="web.bad_form") from None
    except RuntimeError:
        # The framework read the body before the view (FastAPI's Form parameters): what it
        # parsed is taken from its cache; BodyLimit bounds such reads.
        return None
    return counter.body()


class BodyLimit:
    """ASGI middleware that bounds every request body of an application while it streams
    in, whatever its framing, including bodies the framework reads before any view runs
    (FastAPI's ``Form`` parameters)::

        app.add_middleware(BodyLimit, max_bytes=WebConfig().max_form_bytes)

    Past ``max_bytes`` (or when ``Content-Length`` announces more) the answer is 413
    ``web.form_too_large`` with ``Connection: close``, and the rest is never received.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 1024 * 1024) -> None:
        if type(max_bytes) is not int or max_bytes < 1:
            raise ConfigError("max_bytes must be a positive integer", code="config.invalid")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = dict(scope.get("headers") or ()).get(b"content-length", b"")
        try:
            counter = BodyCounter(self.max_bytes, announced.decode("latin-1"))
        except RequestRefused as exc:
            await _refuse_body(send, exc)
            return
        refusal: RequestRefused | None = None
        started = False

        async def counted() -> Message:
            nonlocal refusal
            message = await receive()
            if message["type"] == "http.request":
                try:
                    counter.count(len(message.get("body", b"")))
                except RequestRefused as exc:
                    refusal = exc
                    raise
            return message

        async def answer(message: Message) -> None:
            nonlocal started
            if refusal is None:  # once refused, what the application says is dropped
                started = True
                await send(message)

        try:
            await self.app(scope, counted, answer)
        except Exception:
            if refusal is None:
                raise
        if refusal is not None and not started:
            await _refuse_body(send, refusal)


async def _refuse_body(send: Send, refusal: RequestRefused) -> None:
    body = f"{refusal.code}: {refusal.message}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


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


async def _parsed_form(request: Request, config: WebConfig) -> list[tuple[str, str]]:
    """The string fields of the form Starlette parses (multipart, or one the framework
    read before the view), within the field limits."""
    try:
        read = await request.form(
            max_files=config.max_form_fields,
            max_fields=config.max_form_fields,
            max_part_size=config.max_field_bytes,
        )
    except HTTPException:
        raise RequestRefused(
            "the multipart form is malformed or over the field limits", code="web.bad_form"
        ) from None
    return check_fields(config, ((k, v) for k, v in read.multi_items() if isinstance(v, str)))


async def read_request(request: Request, config: WebConfig) -> tuple[WebRequest, Request]:
    """``request`` as a :class:`WebRequest` (its form read, files left out), and the
    request to hand on, whose body is the one read here; every limit of
    :mod:`sso_bridge.web.body` applies, the body's while it streams in."""
    headers = read_headers(
        config, ((n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw)
    )
    query = read_query(config, request.url.query)
    body = await _body(request, config)
    content_type = headers.get("content-type")
    if body is None:  # already read and parsed by the framework
        onward = request
        form = await _parsed_form(request, config)
    else:
        onward = replayed(request, body)
        if media_type(content_type) == MULTIPART:
            form = await _parsed_form(onward, config)
        else:
            form = parse_form(config, content_type, body)
    web = WebRequest(
        method=request.method,
        path=request.url.path,
        query=query,
        form=form,
        cookies=request.cookies,
        headers=headers,
        remote_addr=request.client.host if request.client else "",
        query_string=request.url.query,
    )
    return web, onward


async def web_request(request: Request, config: WebConfig) -> WebRequest:
    """``request`` as a :class:`WebRequest`, within the limits (see :func:`read_request`)."""
    return (await read_request(request, config))[0]


def to_response(auth: AuthRoutes, response: WebResponse) -> Response:
    """A Starlette response for ``response`` (rendered; ``Set-Cookie`` may repeat)."""
    status, headers, body = auth.output(response)
    result = Response(body, status_code=status)
    for name, value in headers:
        if name == "Set-Cookie":
            result.headers.append(name, value)
        else:
            result.headers[name] = value
    return result


async def _read(auth: AuthRoutes, request: Request) -> tuple[WebRequest, Request] | Response:
    try:
        return await read_request(request, auth.config)
    except BridgeError as exc:
        bare = WebRequest(request.method, request.url.path)
        return to_response(auth, auth.error_response(exc, bare))


def _endpoint(auth: AuthRoutes, spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        read = await _read(auth, request)
        if isinstance(read, Response):
            return read
        params = {k: str(v) for k, v in request.path_params.items()}
        response = await run_in_threadpool(auth.handle, spec.name, read[0], **params)
        return to_response(auth, response)

    return endpoint


def _find_auth(routes: Iterable[BaseRoute]) -> AuthRoutes | None:
    for route in routes:
        if isinstance(route, AuthMount):
            return route.auth
        if isinstance(route, Mount):
            found = _find_auth(route.routes)
            if found is not None:
                return found
    return None


def _auth_of(request: Request) -> AuthRoutes:
    state = request.app.state
    auth = getattr(state, "sso_bridge", None)
    if auth is None:
        auth = _find_auth(request.app.routes)
        if auth is None:
            raise ConfigError(
                "require_session needs the auth routes: add auth_routes(...) to the app",
                code="config.invalid",
            )
        state.sso_bridge = auth
    return cast(AuthRoutes, auth)


def _request_in(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Request:
    for value in (*args, *kwargs.values()):
        if isinstance(value, Request):
            return value
    raise TypeError("a view under require_session must take the request (request: Request)")


def _handing_on(
    args: tuple[Any, ...], kwargs: dict[str, Any], old: Request, new: Request
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The view's arguments with ``new`` (the body already read) in place of ``old``."""
    swapped = tuple(new if value is old else value for value in args)
    return swapped, {k: new if v is old else v for k, v in kwargs.items()}


def require_session(endpoint: Endpoint) -> Endpoint:
    """Let only a live session through to ``endpoint`` (a Starlette endpoint, a method
    of an ``HTTPEndpoint``, or a FastAPI path operation that takes ``request: Request``).

    Without a session the browser goes to the login page and comes back; a request
    that met an expired session is kept and replayed (a GET) or shown filled in (a POST)
    after the login. The view finds ``request.state.sso_session`` and
    ``request.state.sso_csrf_token``; a POST must carry that token.
    """

    @functools.wraps(endpoint)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        request = _request_in(args, kwargs)
        auth = _auth_of(request)
        read = await _read(auth, request)
        if isinstance(read, Response):
            return read
        web, onward = read
        args, kwargs = _handing_on(args, kwargs, request, onward)
        passed = await run_in_threadpool(auth.require, web)
        if isinstance(passed, WebResponse):
            return to_response(auth, passed)
        onward.state.sso_session = passed.session
        onward.state.sso_csrf_token = passed.csrf_token
        if inspect.iscoroutinefunction(endpoint):
            result = await endpoint(*args, **kwargs)
        else:
            result = await run_in_threadpool(endpoint, *args, **kwargs)
        if passed.cookies and isinstance(result, Response):
            for cookie in passed.cookies:
                result.headers.append("Set-Cookie", cookie)
        return result

    # FastAPI reads the parameters from the signature; give it real types, since the
    # view's string annotations would otherwise be resolved in this module
    with contextlib.suppress(NameError, TypeError, ValueError):
        guarded.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
    return cast(Endpoint, guarded)
