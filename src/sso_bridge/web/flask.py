"""The auth pages in a Flask application, as a Flask extension::

    bridge = SsoBridge(app, broker=broker, config=WebConfig())  # or SsoBridge() ... init_app(app)

    @app.route("/grades", methods=["GET", "POST"])
    @require_session
    def grades() -> str:
        session = flask.g.sso_session  # and flask.g.sso_csrf_token

Translation only (see :mod:`sso_bridge.web.core`).
"""

from __future__ import annotations

import functools
import io
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, cast

import flask
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.wsgi import get_input_stream

from sso_bridge.broker import Broker
from sso_bridge.errors import ConfigError
from sso_bridge.observe import Exchange, Observe
from sso_bridge.observe.requests import HEADER
from sso_bridge.web.console.config import CONSOLE_ROUTES
from sso_bridge.web.console.pages import ConsolePages
from sso_bridge.web.core import ROUTES, AuthRoutes, Head, Reading, WebConfig, WebRequest
from sso_bridge.web.errors import RequestRefused
from sso_bridge.web.http import WebResponse

__all__ = ["EXTENSION", "SsoBridge", "auth_blueprint", "require_session", "to_response"]
__all__ += ["web_request"]

EXTENSION: Final = "sso_bridge"
"""The key of the :class:`AuthRoutes` in ``app.extensions`` once the extension is set up."""

View = TypeVar("View", bound=Callable[..., Any])


def _body(reading: Reading) -> bytes:
    environ = flask.request.environ
    # bounded by Content-Length, or ended by the server (a chunked body, which werkzeug
    # and gunicorn mark with wsgi.input_terminated), else empty; never trusted for size
    stream = get_input_stream(environ, max_content_length=None)
    try:
        body = reading.read_from(stream.read)
    except ClientDisconnected:
        raise RequestRefused("the client went away mid-body", code="web.bad_form") from None
    # the view (and werkzeug's own parser) read the same bytes again, from memory
    environ["wsgi.input"], environ["wsgi.input_terminated"] = io.BytesIO(body), True
    return body


def _request(reading: Reading) -> WebRequest:
    _body(reading)
    request = flask.request  # the body is in memory already, within max_form_bytes
    request.max_form_memory_size = reading.config.max_field_bytes
    request.max_form_parts = reading.config.max_form_fields
    return reading.request(lambda: request.form.items(multi=True), errors=(HTTPException,))


def _head() -> Head:
    request = flask.request
    query, client = request.query_string.decode("latin-1"), request.remote_addr or ""
    path = request.script_root + request.path
    return Head(request.method, path, query, request.headers.items(), request.cookies, client)


def web_request(config: WebConfig) -> WebRequest:
    """The current request as a :class:`WebRequest` within every limit (refusals raised);
    the view reads the same body afterwards (``flask.request.form``, ``get_data()``)."""
    return _request(Reading(config, _head()))


def to_response(auth: AuthRoutes, response: WebResponse) -> flask.Response:
    """A Flask response for ``response`` (rendered; ``Set-Cookie`` may repeat)."""
    rendered = auth.rendered(response)
    result = flask.Response(rendered.body, status=rendered.status)
    rendered.write(result.headers.__setitem__, functools.partial(result.headers.add, "Set-Cookie"))
    return result


def _view(auth: AuthRoutes, name: str) -> Callable[..., flask.Response]:
    def view(**params: str) -> flask.Response:
        return to_response(auth, auth.serve(name, auth.read(_head(), _request), **params))

    view.__name__ = name
    return view


def _probe(auth: AuthRoutes, name: str) -> Callable[[], flask.Response]:
    def view() -> flask.Response:
        return to_response(auth, auth.probe(name))

    view.__name__ = name
    return view


_EXCHANGE: Final = "sso_bridge_exchange"


def _hooks(blueprint: flask.Blueprint, auth: AuthRoutes) -> None:
    """One log line and a request id for every request of the application."""

    def begin() -> None:
        request = flask.request
        exchange = auth.exchange(
            request.method,
            request.script_root + request.path,
            request.headers.get(HEADER),
            request.remote_addr or "",
        )
        setattr(flask.g, _EXCHANGE, exchange)

    def answered(response: flask.Response) -> flask.Response:
        exchange = getattr(flask.g, _EXCHANGE, None)
        if isinstance(exchange, Exchange):
            rule = flask.request.url_rule
            if rule is not None:
                exchange.route = flask.request.script_root + rule.rule
            response.headers[HEADER] = exchange.request_id
            exchange.close(response.status_code)
        return response

    def ended(error: BaseException | None) -> None:
        exchange = getattr(flask.g, _EXCHANGE, None)
        if isinstance(exchange, Exchange):  # no answer went out: the request failed
            exchange.close(500)

    blueprint.before_app_request(begin)
    blueprint.after_app_request(answered)
    blueprint.teardown_app_request(ended)


class SsoBridge:
    """The auth pages of ``broker`` as a Flask extension, mounted at
    :attr:`WebConfig.prefix`: ``SsoBridge(app, broker=...)`` or, for an application
    factory, ``bridge = SsoBridge(broker=...)`` and then ``bridge.init_app(app)``.

    It sets the application's ``MAX_CONTENT_LENGTH`` to :attr:`WebConfig.max_form_bytes`
    when the host has not set one, so that the host's own routes refuse larger bodies
    (413) as well (werkzeug enforces it on chunked bodies while they stream in)."""

    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        broker: Broker | None = None,
        config: WebConfig | None = None,
        observe: Observe | Mapping[str, Any] | None = None,
    ) -> None:
        self.broker, self.config, self.observe = broker, config, observe
        if app is not None:
            self.init_app(app)

    def init_app(
        self,
        app: flask.Flask,
        *,
        broker: Broker | None = None,
        config: WebConfig | None = None,
        observe: Observe | Mapping[str, Any] | None = None,
    ) -> AuthRoutes:
        """Mount the auth pages (and the probes, and a log line with a request id for
        every request of ``app``); the :class:`AuthRoutes` that serve them."""
        broker = broker or self.broker
        if broker is None:
            raise ConfigError(
                "SsoBridge needs a broker: SsoBridge(broker=...)", code="config.invalid"
            )
        auth = AuthRoutes(broker, config or self.config, observe=observe or self.observe)
        app.register_blueprint(_blueprint(auth))
        if auth.console is not None:
            app.register_blueprint(_console_blueprint(auth, auth.console))
        app.extensions[EXTENSION] = auth
        app.config.setdefault("MAX_CONTENT_LENGTH", None)
        if app.config["MAX_CONTENT_LENGTH"] is None:
            app.config["MAX_CONTENT_LENGTH"] = auth.config.max_form_bytes
        return auth


def _blueprint(auth: AuthRoutes) -> flask.Blueprint:
    blueprint = flask.Blueprint("sso_bridge", __name__, url_prefix=auth.config.prefix)
    for spec in ROUTES:
        endpoint, view = f"{spec.name}_{spec.method.lower()}", _view(auth, spec.name)
        blueprint.add_url_rule(spec.route("<{}>"), endpoint, view, methods=[spec.method])
    for spec in auth.probes:
        blueprint.add_url_rule(spec.path, spec.name, _probe(auth, spec.name), methods=["GET"])
    _hooks(blueprint, auth)
    return blueprint


def _console_view(
    auth: AuthRoutes, console: ConsolePages, name: str
) -> Callable[..., flask.Response]:
    def view() -> flask.Response:
        answer = console.answer(name, flask.request, lambda: auth.read(_head(), _request))
        return to_response(auth, answer)

    view.__name__ = name
    return view


def _console_blueprint(auth: AuthRoutes, console: ConsolePages) -> flask.Blueprint:
    """The operator's console at its own prefix (docs/console.md)."""
    blueprint = flask.Blueprint("sso_bridge_console", __name__)
    for spec in CONSOLE_ROUTES:
        view = _console_view(auth, console, spec.name)
        rule = console.config.url(spec.path)
        blueprint.add_url_rule(rule, spec.name, view, methods=[spec.method])
    return blueprint


def auth_blueprint(broker: Broker, config: WebConfig | None = None) -> flask.Blueprint:
    """Deprecated: ``SsoBridge(app, broker=broker, config=config)``. The auth pages as a
    blueprint; registering it sets up the extension as :meth:`SsoBridge.init_app` does."""
    warnings.warn(
        "auth_blueprint() is deprecated; use SsoBridge(app, broker=...)",
        DeprecationWarning,
        stacklevel=2,
    )
    auth = AuthRoutes(broker, config)
    blueprint = _blueprint(auth)

    def remember(state: flask.blueprints.BlueprintSetupState) -> None:
        state.app.extensions[EXTENSION] = auth
        if state.app.config.get("MAX_CONTENT_LENGTH") is None:
            state.app.config["MAX_CONTENT_LENGTH"] = auth.config.max_form_bytes

    blueprint.record_once(remember)
    return blueprint


def require_session(view: View) -> View:
    """Let only a live session through to ``view`` (see :meth:`AuthRoutes.require`). The
    view finds ``flask.g.sso_session``, ``flask.g.sso_csrf_token`` (a POST must carry it)
    and ``flask.g.sso_restored`` (see :attr:`WebConfig.restore_in_place`)."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        auth = flask.current_app.extensions.get(EXTENSION)
        if not isinstance(auth, AuthRoutes):
            message = "require_session needs the extension: SsoBridge(app, broker=...)"
            raise ConfigError(message, code="config.invalid")
        passed = auth.admit(auth.read(_head(), _request))
        if isinstance(passed, WebResponse):
            return to_response(auth, passed)
        flask.g.sso_session, flask.g.sso_csrf_token = passed.session, passed.csrf_token
        flask.g.sso_restored = passed.restored
        result = flask.current_app.make_response(view(*args, **kwargs))
        passed.write(functools.partial(result.headers.add, "Set-Cookie"))
        return result

    return cast(View, guarded)
