"""The auth pages in a Flask application::

    app.register_blueprint(auth_blueprint(broker, WebConfig()))

    @app.route("/grades", methods=["GET", "POST"])
    @require_session
    def grades() -> str:
        session = flask.g.sso_session  # and flask.g.sso_csrf_token

Only requests and responses are translated here.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import flask
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.wsgi import get_input_stream

from sso_bridge.broker import Broker
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.web.body import (
    CHUNK_BYTES,
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

__all__ = ["EXTENSION", "auth_blueprint", "require_session", "to_response", "web_request"]

EXTENSION: Final = "sso_bridge"
"""The key of the :class:`AuthRoutes` in ``app.extensions`` once the blueprint is registered."""

View = TypeVar("View", bound=Callable[..., Any])

_PARAMETER: Final = re.compile(r"\{(\w+)\}")


def _body(config: WebConfig) -> bytes:
    environ = flask.request.environ
    counter = BodyCounter(config.max_form_bytes, environ.get("CONTENT_LENGTH"))
    # bounded by Content-Length, or ended by the server (a chunked body, which werkzeug
    # and gunicorn mark with wsgi.input_terminated), else empty; never trusted for size
    stream = get_input_stream(environ, max_content_length=None)
    try:
        while chunk := stream.read(CHUNK_BYTES):
            counter.add(chunk)  # refused past the limit: the rest is never read
    except ClientDisconnected:
        raise RequestRefused("the client went away mid-body", code="web.bad_form") from None
    body = counter.body()
    # the view (and werkzeug's own parser) read the same bytes again, from memory
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    return body


def _multipart(config: WebConfig) -> list[tuple[str, str]]:
    request = flask.request  # the body is in memory already, within max_form_bytes
    request.max_form_memory_size = config.max_field_bytes
    request.max_form_parts = config.max_form_fields
    try:
        items = list(request.form.items(multi=True))
    except HTTPException:
        raise RequestRefused(
            "the multipart form is malformed or over the field limits", code="web.bad_form"
        ) from None
    return check_fields(config, items)


def web_request(config: WebConfig) -> WebRequest:
    """The current request as a :class:`WebRequest`, its form read (files left out),
    within every limit of :mod:`sso_bridge.web.body` (the body's while it streams in);
    the view reads the same body afterwards (``flask.request.form``, ``get_data()``)."""
    request = flask.request
    headers = read_headers(config, request.headers.items())
    query_string = request.query_string.decode("latin-1")
    query = read_query(config, query_string)
    body = _body(config)
    content_type = headers.get("content-type")
    if media_type(content_type) == MULTIPART:
        form = _multipart(config)
    else:
        form = parse_form(config, content_type, body)
    return WebRequest(
        method=request.method,
        path=request.script_root + request.path,
        query=query,
        form=form,
        cookies=dict(request.cookies.items()),
        headers=headers,
        remote_addr=request.remote_addr or "",
        query_string=query_string,
    )


def to_response(auth: AuthRoutes, response: WebResponse) -> flask.Response:
    """A Flask response for ``response`` (rendered; ``Set-Cookie`` may repeat)."""
    status, headers, body = auth.output(response)
    result = flask.Response(body, status=status)
    for name, value in headers:
        if name == "Set-Cookie":
            result.headers.add(name, value)
        else:
            result.headers[name] = value
    return result


def _read(auth: AuthRoutes) -> WebRequest | flask.Response:
    try:
        return web_request(auth.config)
    except BridgeError as exc:
        bare = WebRequest(flask.request.method, flask.request.path)
        return to_response(auth, auth.error_response(exc, bare))


def _view(auth: AuthRoutes, spec: RouteSpec) -> Callable[..., flask.Response]:
    def view(**params: str) -> flask.Response:
        web = _read(auth)
        if isinstance(web, flask.Response):
            return web
        return to_response(auth, auth.handle(spec.name, web, **params))

    view.__name__ = spec.name
    return view


def auth_blueprint(broker: Broker, config: WebConfig | None = None) -> flask.Blueprint:
    """The auth pages of ``broker`` as a blueprint mounted at :attr:`WebConfig.prefix`.

    Registering it sets the application's ``MAX_CONTENT_LENGTH`` to
    :attr:`WebConfig.max_form_bytes` when the host has not set one, so that the host's
    own routes refuse larger bodies (413) as well."""
    auth = AuthRoutes(broker, config)
    blueprint = flask.Blueprint("sso_bridge", __name__, url_prefix=auth.config.prefix)
    for spec in ROUTES:
        blueprint.add_url_rule(
            _PARAMETER.sub(r"<\1>", spec.path),
            endpoint=f"{spec.name}_{spec.method.lower()}",
            view_func=_view(auth, spec),
            methods=[spec.method],
        )

    def remember(state: flask.blueprints.BlueprintSetupState) -> None:
        state.app.extensions[EXTENSION] = auth
        # Every other route of the host is bounded too (werkzeug enforces this limit on
        # chunked bodies while they stream in), unless the host chose a limit of its own.
        if state.app.config.get("MAX_CONTENT_LENGTH") is None:
            state.app.config["MAX_CONTENT_LENGTH"] = auth.config.max_form_bytes

    blueprint.record_once(remember)
    return blueprint


def require_session(view: View) -> View:
    """Let only a live session through to ``view``.

    Without a session the browser goes to the login page and comes back; a request
    that met an expired session is kept and replayed (a GET) or shown filled in (a POST)
    after the login. The view finds ``flask.g.sso_session`` and ``flask.g.sso_csrf_token``;
    a POST must carry that token.
    """

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        auth = flask.current_app.extensions.get(EXTENSION)
        if not isinstance(auth, AuthRoutes):
            raise ConfigError(
                "require_session needs the auth blueprint: register auth_blueprint(...)",
                code="config.invalid",
            )
        web = _read(auth)
        if isinstance(web, flask.Response):
            return web
        passed = auth.require(web)
        if isinstance(passed, WebResponse):
            return to_response(auth, passed)
        flask.g.sso_session = passed.session
        flask.g.sso_csrf_token = passed.csrf_token
        result = flask.current_app.make_response(view(*args, **kwargs))
        for cookie in passed.cookies:
            result.headers.add("Set-Cookie", cookie)
        return result

    return cast(View, guarded)
