from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from django.test.utils import override_settings
from prometheus_client import CollectorRegistry

from mock_idp.server import RunningIdP, free_port
from sso_bridge.observe import JsonFormatter, Observe
from sso_bridge.observe.logs import RequestIdFilter
from web.support import FRAMEWORKS, Server, World, flask_app, starlette_app

__all__ = ["Lines", "Served", "serve"]

Served = Callable[..., World]


def serve(world: World, observe: Observe) -> override_settings | None:
    """Serve ``world``'s broker again, with ``observe``, and point its browser there."""
    if world.framework == "django":
        bridge = {"BROKER": world.broker, "CONFIG": world.config, "OBSERVE": observe}
        override = override_settings(SSO_BRIDGE=bridge)
        override.enable()
        return override
    old = world.server  # stopped meanwhile (werkzeug takes a poll interval to stop)
    threading.Thread(target=old.stop, daemon=True).start()
    build = flask_app if world.framework == "flask" else starlette_app
    app = build(world.config, world.broker)
    port = free_port()
    world.server = Server(world.framework, _with(app, world, observe), port)
    world.server.start()
    world.browser.close()
    world.browser = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    return None


def _with(app: object, world: World, observe: Observe) -> object:
    """``app`` (the host of the web tests) again, with auth routes built for ``observe``."""
    import flask  # noqa: PLC0415
    from starlette.applications import Starlette  # noqa: PLC0415

    from sso_bridge.web import flask as web_flask  # noqa: PLC0415
    from sso_bridge.web import starlette as web_starlette  # noqa: PLC0415

    if isinstance(app, flask.Flask):
        fresh = flask.Flask("observe_tests")
        web_flask.SsoBridge(fresh, broker=world.broker, config=world.config, observe=observe)
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("sso_bridge.") and rule.endpoint != "static":
                view = app.view_functions[rule.endpoint]
                fresh.add_url_rule(rule.rule, rule.endpoint, view, methods=rule.methods)
        return fresh
    assert isinstance(app, Starlette)
    routes = [web_starlette.auth_routes(world.broker, world.config, observe=observe)]
    routes += [r for r in app.routes if not isinstance(r, web_starlette.AuthMount)]
    return Starlette(routes=routes)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture(params=FRAMEWORKS)
def observed(
    request: pytest.FixtureRequest, mock_idp: RunningIdP, tmp_path: Path
) -> Iterator[Served]:
    """A function that gives the world of this framework served with an ``Observe``."""
    made: list[tuple[World, override_settings | None]] = []

    def make(observe: Observe) -> World:
        world = World(request.param, mock_idp, tmp_path)
        made.append((world, serve(world, observe)))
        return world

    try:
        yield make
    finally:
        for world, override in reversed(made):
            if override is not None:
                override.disable()
            world.close()


class Lines(logging.Handler):
    """Every record logged while installed, formatted as the JSON formatter writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[Lines]:
    root = logging.getLogger()
    handler, level = Lines(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
