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
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from sso_bridge.broker import Broker
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.web.core import ROUTES, AuthRoutes, RouteSpec, WebConfig, WebRequest, WebResponse
from sso_bridge.web.errors import form_too_large

__all__ = ["AuthMount", "auth_routes", "require_session", "to_response", "web_request"]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

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


def _first_values(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in items:
        found.setdefault(name, value)
    return found


def _headers(request: Request) -> dict[str, str]:
    joined: dict[str, str] = {}
    for raw_name, raw_value in request.headers.raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


async def web_request(request: Request, config: WebConfig) -> WebRequest:
    """``request`` as a :class:`WebRequest`, its form read (files left out);
    ``web.form_too_large`` over :attr:`WebConfig.max_form_bytes`."""
    form: list[tuple[str, str]] = []
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if request.method != "GET" and content_type in _FORM_TYPES:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > config.max_form_bytes:
            raise form_too_large(config.max_form_bytes)
        read = await request.form()
        form = [(k, v) for k, v in read.multi_items() if isinstance(v, str)]
    return WebRequest(
        method=request.method,
        path=request.url.path,
        query=_first_values(request.query_params.multi_items()),
        form=form,
        cookies=request.cookies,
        headers=_headers(request),
        remote_addr=request.client.host if request.client else "",
        query_string=request.url.query,
    )


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


async def _read(auth: AuthRoutes, request: Request) -> WebRequest | Response:
    try:
        return await web_request(request, auth.config)
    except BridgeError as exc:
        bare = WebRequest(request.method, request.url.path, cookies=request.cookies)
        return to_response(auth, auth.error_response(exc, bare))


def _endpoint(auth: AuthRoutes, spec: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        web = await _read(auth, request)
        if isinstance(web, Response):
            return web
        params = {k: str(v) for k, v in request.path_params.items()}
        response = await run_in_threadpool(auth.handle, spec.name, web, **params)
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
        web = await _read(auth, request)
        if isinstance(web, Response):
            return web
        passed = await run_in_threadpool(auth.require, web)
        if isinstance(passed, WebResponse):
            return to_response(auth, passed)
        request.state.sso_session = passed.session
        request.state.sso_csrf_token = passed.csrf_token
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
