"""FastAPI reads ``Form(...)`` parameters before any view or decorator runs: ``BodyLimit``
bounds those reads too, while they stream in, and ``require_session`` takes the form the
framework already parsed instead of failing on a consumed body."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import PlainTextResponse

from helpers.aio import post_asgi
from mock_idp.server import RunningIdP
from sso_bridge.errors import ConfigError
from sso_bridge.web import starlette as web_starlette
from sso_bridge.web.starlette import BodyLimit
from web.support import World


@pytest.fixture(params=("starlette", "flask"))
def world(request: pytest.FixtureRequest, mock_idp: RunningIdP, tmp_path: Path) -> Iterator[World]:
    """Starlette and Flask only: these read the body themselves, chunked too (Django's
    WSGI handler reads a body by its Content-Length; see test_django.py)."""
    served = World(request.param, mock_idp, tmp_path)
    try:
        yield served
    finally:
        served.close()


LIMIT = 64 * 1024
PIECE = 16 * 1024


FORM = (b"content-type", b"application/x-www-form-urlencoded")


def _note_app(limit: int | None) -> FastAPI:
    app = FastAPI()

    @app.post("/note")
    async def note(text: Annotated[str, Form()]) -> PlainTextResponse:
        return PlainTextResponse(f"{len(text)} characters")

    if limit is not None:
        app.add_middleware(BodyLimit, max_bytes=limit)
    return app


def test_body_limit_stops_a_form_the_framework_reads_before_the_view() -> None:
    endless = itertools.repeat(b"a" * PIECE, 64 * 1024 * 1024 // PIECE)
    answer = post_asgi(_note_app(LIMIT), "/note", endless, [FORM])
    status, headers, text, pulled = answer.status, answer.headers, answer.text, answer.pulled
    assert status == 413
    assert headers[b"connection"] == b"close"
    assert text.startswith("web.form_too_large")
    assert pulled <= LIMIT + PIECE


def test_body_limit_refuses_an_announced_length_before_reading() -> None:
    body = iter([b"text=short"])
    headers = [FORM, (b"content-length", str(LIMIT + 1).encode())]
    answer = post_asgi(_note_app(LIMIT), "/note", body, headers)
    status, text, pulled = answer.status, answer.text, answer.pulled
    assert (status, pulled) == (413, 0)
    assert "web.form_too_large" in text


def test_body_limit_lets_a_form_within_it_through() -> None:
    body = iter([b"text=", b"b" * 100])
    answer = post_asgi(_note_app(LIMIT), "/note", body, [FORM])
    status, text = answer.status, answer.text
    assert (status, text) == (200, "100 characters")


def test_without_body_limit_fastapi_would_read_it_all() -> None:
    # The reason for the middleware: FastAPI's own form reading has no limit.
    many = itertools.repeat(b"a" * PIECE, 2 * LIMIT // PIECE)
    answer = post_asgi(_note_app(None), "/note", iter([b"text=", *many]), [FORM])
    status, text, pulled = answer.status, answer.text, answer.pulled
    assert status == 200, text
    assert pulled > LIMIT


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_body_limit_needs_a_positive_whole_limit(bad: Any) -> None:
    with pytest.raises(ConfigError):
        BodyLimit(_note_app(None), max_bytes=bad)


def test_require_session_takes_the_form_fastapi_already_parsed(world: World) -> None:
    if world.framework != "starlette":
        pytest.skip("FastAPI is a Starlette application")
    app = FastAPI()
    app.router.routes.append(web_starlette.auth_routes(world.broker, world.config))

    @app.post("/note")
    @web_starlette.require_session
    async def note(request: Request, text: Annotated[str, Form()]) -> PlainTextResponse:
        return PlainTextResponse(text)

    app.add_middleware(BodyLimit, max_bytes=LIMIT)
    answer = post_asgi(app, "/note", iter([b"text=hello"]), [FORM])
    status, headers, text = answer.status, answer.headers, answer.text
    # No session: sent to log in, not a 500 from a body read twice.
    assert status in (302, 303), text
    assert b"/auth/login" in headers[b"location"]


def test_a_flask_host_route_is_bounded_once_the_blueprint_is_registered(world: World) -> None:
    if world.framework != "flask":
        pytest.skip("werkzeug's MAX_CONTENT_LENGTH is Flask's")
    import flask  # noqa: PLC0415 - only this test needs it

    from sso_bridge.web import flask as web_flask  # noqa: PLC0415

    app = flask.Flask("bounded_host")
    web_flask.SsoBridge(app, broker=world.broker, config=world.config)

    @app.post("/upload")
    def upload() -> str:
        return f"{len(flask.request.get_data())} bytes"

    assert app.config["MAX_CONTENT_LENGTH"] == world.config.max_form_bytes
    client = app.test_client()
    small = client.post("/upload", data=b"x" * 100)
    assert small.get_data(as_text=True) == "100 bytes"
    # chunked, as a server that ends the body itself hands it on
    endless = io.BytesIO(b"x" * (world.config.max_form_bytes + PIECE))
    answer = client.post(
        "/upload", input_stream=endless, environ_overrides={"wsgi.input_terminated": True}
    )
    assert answer.status_code == 413
    assert endless.tell() <= world.config.max_form_bytes + 64 * 1024

    own = flask.Flask("own_limit")
    own.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    web_flask.SsoBridge(own, broker=world.broker, config=world.config)
    assert own.config["MAX_CONTENT_LENGTH"] == 10 * 1024 * 1024
